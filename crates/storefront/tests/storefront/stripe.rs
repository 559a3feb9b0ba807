//! Paying through Stripe, end to end, on both databases: the real async-stripe client talks to
//! localstripe (Stripe's API, emulated) behind a proxy that records what we send; webhooks are
//! signed as Stripe signs them, some delivered by localstripe itself. Skipped, saying so, where
//! localstripe is not installed (`pip install localstripe`); CI installs it and requires it.

use http::{Request, StatusCode};
use jinguo_accounts::Role;
use jinguo_common::db_test;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor, OrderStatus};
use jinguo_order::{OrderId, PartId};
use jinguo_settlement::RefundStatus;
use jinguo_settlement::ledger::{self, Account};
use jinguo_settlement::reconcile::Source;
use jinguo_settlement::stripe::{Intent, IntentStatus};
use jinguo_settlement::testing::{FakeStripe, intent_event, stripe_signature};
use serde_json::json;
use tower::ServiceExt;

use crate::support::{self, PASSWORD, Reply, Shop, api, count, shop_with, token_for};

const WEBHOOK_SECRET: &str = "whsec_jinguo_test";

async fn stripe_shop(db: TestDb, fake: &FakeStripe) -> Shop {
    let stripe = fake.config(WEBHOOK_SECRET);
    shop_with(db, |s| s.stripe = Some(stripe)).await
}

/// A buyer's order of two units of a new product through the API; returns (order id, total,
/// intent id, producer).
async fn stripe_order(shop: &Shop, buyer: &str) -> (OrderId, i64, String, ProducerId) {
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let (sku, producer) = (product.skus[0].id, product.producer.id);
    let put = api(
        shop,
        "POST",
        "/api/v1/cart/items",
        Some(buyer),
        Some(json!({"sku_id": sku.0, "quantity": 2})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let address = json!({"recipient": "李华", "phone": "13800138000", "region_code": "370102", "detail": "历下区泉城路 1 号"});
    let placed = api(
        shop,
        "POST",
        "/api/v1/checkout",
        Some(buyer),
        Some(json!({"address": address})),
    )
    .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let body = placed.json();
    assert_eq!(body["payment"]["method"], "stripe", "{body}");
    assert!(
        body["payment"]["client_secret"]
            .as_str()
            .unwrap()
            .contains("_secret_")
    );
    (
        OrderId(body["id"].as_i64().unwrap()),
        body["total_fen"].as_i64().unwrap(),
        body["payment"]["intent_id"].as_str().unwrap().to_owned(),
        producer,
    )
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn succeeded(intent: &str, order: Option<OrderId>, amount: i64) -> Intent {
    Intent {
        id: intent.to_owned(),
        client_secret: None,
        status: IntentStatus::Succeeded,
        amount: Fen(amount),
        currency: "cny".into(),
        order_id: order.map(|o| o.0),
        latest_charge: None,
    }
}

async fn deliver(shop: &Shop, payload: &str, signature: &str) -> Reply {
    let request = Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(axum::body::Body::from(payload.to_owned()))
        .unwrap();
    Reply::of(
        jinguo_storefront::router(shop.state.clone())
            .oneshot(request)
            .await
            .unwrap(),
    )
    .await
}

async fn owed(shop: &Shop, account: Account) -> i64 {
    let mut conn = shop.db.pool().acquire().await.unwrap();
    -ledger::balance(&mut conn, account).await.unwrap().0
}

async fn transactions(shop: &Shop) -> i64 {
    count(shop, "ledger_transactions").await
}

async fn a_stripe_order_is_paid_by_its_signed_webhook_once(db: TestDb) {
    let Some(fake) = FakeStripe::start().await else {
        return;
    };
    let shop = stripe_shop(db, &fake).await;
    let buyer = token_for(&shop, "13800138001", Role::Consumer, None).await;
    let (order, total, intent, _) = stripe_order(&shop, &buyer).await;

    // What we asked Stripe for: the order's amount in fen, in CNY, once per order.
    let created = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(created.len(), 1);
    let request = &created[0];
    assert_eq!(
        request.form_value("amount"),
        Some(total.to_string().as_str())
    );
    assert_eq!(request.form_value("currency"), Some("cny"));
    let number = shop.orders.order(order).await.unwrap().number;
    assert_eq!(
        request.idempotency_key.as_deref(),
        Some(format!("jinguo-order-{order}-{number}-intent").as_str())
    );
    assert_eq!(
        request.form_value("metadata[order_id]"),
        Some(order.to_string().as_str())
    );
    let shown = api(
        &shop,
        "GET",
        &format!("/api/v1/orders/{order}"),
        Some(&buyer),
        None,
    )
    .await
    .json();
    assert_eq!(
        shown["payment"]["intent_id"],
        intent.as_str(),
        "the same intent on every view"
    );
    assert_eq!(fake.requests_to("POST", "/v1/payment_intents").len(), 1);

    fake.pay_intent(&intent).await;
    let payload = intent_event(
        "evt_paid_1",
        "payment_intent.succeeded",
        &succeeded(&intent, Some(order), total),
        now_unix(),
    );
    let good = stripe_signature(&payload, WEBHOOK_SECRET, now_unix());

    // Refused deliveries change nothing and are answered 400.
    let before = transactions(&shop).await;
    let wrong = stripe_signature(&payload, "whsec_someone_else", now_unix());
    let stale = stripe_signature(&payload, WEBHOOK_SECRET, now_unix() - 600);
    for (what, signature) in [
        ("wrong secret", wrong.as_str()),
        ("ten minutes old", stale.as_str()),
        ("no v1", "t=1"),
    ] {
        let reply = deliver(&shop, &payload, signature).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            reply.text()
        );
    }
    let not_json = "this is not json";
    let reply = deliver(
        &shop,
        not_json,
        &stripe_signature(not_json, WEBHOOK_SECRET, now_unix()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let stranger = intent_event(
        "evt_stranger",
        "payment_intent.succeeded",
        &succeeded("pi_not_ours", None, total),
        now_unix(),
    );
    let reply = deliver(
        &shop,
        &stranger,
        &stripe_signature(&stranger, WEBHOOK_SECRET, now_unix()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pi_not_ours"),
        "{}",
        reply.text()
    );
    assert_eq!(transactions(&shop).await, before, "the ledger is untouched");
    let order_now = api(
        &shop,
        "GET",
        &format!("/api/v1/orders/{order}"),
        Some(&buyer),
        None,
    )
    .await
    .json();
    assert_eq!(order_now["status"], "awaiting_payment");

    // The real delivery pays the order; a replay is answered 200 and applied no second time.
    let reply = deliver(&shop, &payload, &good).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["outcome"], "order paid");
    let after = transactions(&shop).await;
    let reply = deliver(&shop, &payload, &good).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["outcome"], "already applied");
    assert_eq!(transactions(&shop).await, after);
    let order_now = api(
        &shop,
        "GET",
        &format!("/api/v1/orders/{order}"),
        Some(&buyer),
        None,
    )
    .await
    .json();
    assert_eq!(order_now["status"], "paid");
    assert_eq!(owed(&shop, Account::Escrow).await, total);
    assert_eq!(
        -owed(&shop, Account::Clearing(PaymentMethod::Stripe)).await,
        total
    );
}
db_test!(a_stripe_order_is_paid_by_its_signed_webhook_once);

async fn money_that_arrives_after_a_cancel_goes_back_through_stripe(db: TestDb) {
    let Some(fake) = FakeStripe::start().await else {
        return;
    };
    let shop = stripe_shop(db, &fake).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jinguo_storefront::serve(
        listener,
        shop.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    fake.send_webhooks_to(&format!("{base}/webhooks/stripe"), WEBHOOK_SECRET)
        .await;

    let buyer = token_for(&shop, "13800138002", Role::Consumer, None).await;
    let (order, total, intent, _) = stripe_order(&shop, &buyer).await;
    let cancelled = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{order}/cancel"),
        Some(&buyer),
        Some(json!({"reason": "下错了"})),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    // The buyer's payment still goes through at Stripe; localstripe tells us by webhook.
    fake.pay_intent(&intent).await;
    // Wait (up to 10 s) until the refund is sent and booked as paid back.
    for _ in 0..100 {
        let refunds = shop.settlement.refunds(Some(order)).await.unwrap();
        if refunds.iter().any(|r| r.status == RefundStatus::Done) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refunds = fake.requests_to("POST", "/v1/refunds");
    assert_eq!(
        refunds.len(),
        1,
        "the late payment is refunded, not kept and not lost"
    );
    assert_eq!(
        refunds[0].form_value("payment_intent"),
        Some(intent.as_str())
    );
    assert_eq!(
        refunds[0].form_value("amount"),
        Some(total.to_string().as_str())
    );
    assert!(
        refunds[0]
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with("jinguo-refund-")
    );
    let order_now = api(
        &shop,
        "GET",
        &format!("/api/v1/orders/{order}"),
        Some(&buyer),
        None,
    )
    .await
    .json();
    assert_eq!(order_now["status"], "cancelled");
    assert_eq!(
        owed(&shop, Account::RefundsDue).await,
        0,
        "refunded at Stripe and booked"
    );
    assert_eq!(
        owed(&shop, Account::Clearing(PaymentMethod::Stripe)).await,
        0
    );
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
db_test!(money_that_arrives_after_a_cancel_goes_back_through_stripe);

async fn refunds_and_payouts_go_through_stripe_once(db: TestDb) {
    let Some(fake) = FakeStripe::start().await else {
        return;
    };
    let shop = stripe_shop(db, &fake).await;
    let buyer = token_for(&shop, "13800138003", Role::Consumer, None).await;
    let staff = token_for(&shop, "staff@fulian.example", Role::Staff, None).await;
    let (order, total, intent, producer) = stripe_order(&shop, &buyer).await;
    let producer_token = token_for(&shop, "farm@example.cn", Role::Producer, Some(producer)).await;
    fake.pay_intent(&intent).await;
    let payload = intent_event(
        "evt_paid_3",
        "payment_intent.succeeded",
        &succeeded(&intent, Some(order), total),
        now_unix(),
    );
    let reply = deliver(
        &shop,
        &payload,
        &stripe_signature(&payload, WEBHOOK_SECRET, now_unix()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    // A partial refund by staff goes to Stripe with its own key, and more than is left is refused.
    let part = shop.orders.order(order).await.unwrap().parts[0].id;
    let refund = api(
        &shop,
        "POST",
        &format!("/api/v1/staff/orders/{order}/refunds"),
        Some(&staff),
        Some(json!({"part_id": part.0, "amount_fen": 300, "reason": "包装破损"})),
    )
    .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.text());
    let refund = refund.json();
    assert_eq!(refund["status"], "done", "{refund}");
    let sent = fake.requests_to("POST", "/v1/refunds");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].form_value("amount"), Some("300"));
    assert_eq!(
        sent[0].idempotency_key.as_deref(),
        Some(format!("jinguo-refund-{}-{intent}", refund["id"]).as_str())
    );
    let too_much = api(
        &shop,
        "POST",
        &format!("/api/v1/staff/orders/{order}/refunds"),
        Some(&staff),
        Some(json!({"part_id": part.0, "amount_fen": total, "reason": "全部"})),
    )
    .await;
    assert_eq!(too_much.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_much.json()["error"]["code"], "refund_too_large");
    assert_eq!(
        fake.requests_to("POST", "/v1/refunds").len(),
        1,
        "nothing sent for a refused refund"
    );

    // The part completes; the producer is paid by a Connect transfer, once.
    let orders = &shop.orders;
    let _: PartId = part;
    orders
        .act(
            order,
            Action::Ship {
                part,
                carrier: "顺丰".into(),
                tracking_no: "SF1234567890".into(),
            },
            Actor::Producer(producer),
        )
        .await
        .unwrap();
    orders
        .act(order, Action::Deliver { part }, Actor::System)
        .await
        .ok();
    if orders.order(order).await.unwrap().parts[0].status
        != jinguo_order::state::PartStatus::Delivered
    {
        let buyer_id = orders.order(order).await.unwrap().buyer_id;
        orders
            .act(order, Action::Deliver { part }, Actor::Buyer(buyer_id))
            .await
            .unwrap();
    }
    shop.advance(shop.orders.settings().windows().return_ms + 1);
    orders
        .act(order, Action::Complete { part }, Actor::System)
        .await
        .unwrap();
    assert_eq!(
        orders.order(order).await.unwrap().status,
        OrderStatus::Completed
    );
    let owed_now = owed(&shop, Account::Payable(producer)).await;
    assert_eq!(
        owed_now,
        total - 300,
        "no fee configured: the sale less the refund"
    );

    let details = api(
        &shop,
        "PUT",
        "/api/v1/producer/payout-details",
        Some(&producer_token),
        Some(json!({"method": "stripe", "account": "acct_1Jinguo"})),
    )
    .await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.text());
    let settled = api(&shop, "POST", "/api/v1/staff/settle", Some(&staff), None).await;
    assert_eq!(settled.status, StatusCode::OK, "{}", settled.text());
    let payout_id = settled.json()["payouts"][0]["id"].as_i64().unwrap();
    let transfers = fake.requests_to("POST", "/v1/transfers");
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].form_value("destination"), Some("acct_1Jinguo"));
    assert_eq!(
        transfers[0].form_value("amount"),
        Some(owed_now.to_string().as_str())
    );
    assert_eq!(transfers[0].form_value("currency"), Some("cny"));
    assert!(
        transfers[0]
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with(&format!("jinguo-payout-{payout_id}-"))
    );
    let again = api(&shop, "POST", "/api/v1/staff/settle", Some(&staff), None)
        .await
        .json();
    assert_eq!(again["batch_id"], serde_json::Value::Null);
    assert_eq!(
        fake.requests_to("POST", "/v1/transfers").len(),
        1,
        "never sent twice"
    );
    let failed = api(
        &shop,
        "POST",
        &format!("/api/v1/staff/payouts/{payout_id}/failed"),
        Some(&staff),
        Some(json!({"note": "looks failed"})),
    )
    .await;
    assert_eq!(
        failed.status,
        StatusCode::BAD_REQUEST,
        "a Stripe payout is never put back by hand: {}",
        failed.text()
    );
    let mine = api(
        &shop,
        "GET",
        "/api/v1/producer/payouts",
        Some(&producer_token),
        None,
    )
    .await
    .json();
    assert_eq!(mine[0]["status"], "sent");
    assert_eq!(owed(&shop, Account::Payable(producer)).await, 0);
    assert_eq!(owed(&shop, Account::PayoutsInTransit).await, 0);
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
}
db_test!(refunds_and_payouts_go_through_stripe_once);

async fn buyers_choose_stripe_or_bank_transfer_on_the_checkout_page(db: TestDb) {
    let Some(fake) = FakeStripe::start().await else {
        return;
    };
    let shop = stripe_shop(db, &fake).await;
    let sku = shop.product().stock(10).create(&shop.catalog).await.skus[0]
        .id
        .0;
    let mut browser = support::Browser::new(&shop);
    browser.get("/register").await;
    let registered = browser
        .post(
            "/register",
            &[
                ("login", "13900139001"),
                ("password", PASSWORD),
                ("password2", PASSWORD),
                ("next", "/cart"),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.text()
    );
    let mut orders = Vec::new();
    for method in ["stripe", "bank_transfer"] {
        let added = browser
            .post(
                "/cart/items",
                &[("sku_id", &sku.to_string()), ("quantity", "1")],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
        let page = browser.get("/checkout").await.text();
        assert!(
            page.contains("name=\"payment_method\" value=\"stripe\" checked"),
            "Stripe is the default"
        );
        assert!(
            page.contains("name=\"payment_method\" value=\"bank_transfer\""),
            "bank transfer is offered too"
        );
        let placed = browser
            .post(
                "/checkout",
                &[
                    ("address_id", ""),
                    ("recipient", "王芳"),
                    ("phone", "13900139001"),
                    ("region_code", "370102"),
                    ("detail", "泉城路 8 号"),
                    ("payment_method", method),
                ],
            )
            .await;
        assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
        orders.push((method, placed.location()));
    }
    let (_, stripe_order) = &orders[0];
    let page = browser.get(stripe_order).await.text();
    let id = stripe_order
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap();
    assert!(
        page.contains(&format!("href=\"/orders/{id}/pay\"")),
        "a Stripe order links to its payment page"
    );
    let pay = browser.get(&format!("/orders/{id}/pay")).await;
    assert_eq!(pay.status, StatusCode::OK);
    let csp = pay.header(http::header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("script-src 'self' https://js.stripe.com"),
        "{csp}"
    );
    let html = pay.text();
    assert!(
        html.contains("data-secret=\"pi_") && html.contains("<noscript>"),
        "{html}"
    );
    let elsewhere = browser
        .get(stripe_order)
        .await
        .header(http::header::CONTENT_SECURITY_POLICY);
    assert!(
        elsewhere.contains("script-src 'none'"),
        "other pages run no script: {elsewhere}"
    );

    let (_, bank_order) = &orders[1];
    let page = browser.get(bank_order).await.text();
    assert!(
        page.contains(&shop.state.settings.bank.payee_account),
        "a bank-transfer order shows the account to pay into"
    );
    assert!(!page.contains("/pay\""));
    assert_eq!(
        fake.requests_to("POST", "/v1/payment_intents").len(),
        1,
        "no intent for the bank-transfer order"
    );
}
db_test!(buyers_choose_stripe_or_bank_transfer_on_the_checkout_page);

async fn reconciliation_matches_stripe_to_the_ledger_and_lists_the_rest(db: TestDb) {
    let Some(fake) = FakeStripe::start().await else {
        return;
    };
    let shop = stripe_shop(db, &fake).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jinguo_storefront::serve(
        listener,
        shop.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    fake.send_webhooks_to(&format!("{base}/webhooks/stripe"), WEBHOOK_SECRET)
        .await;
    let buyer = token_for(&shop, "13800138004", Role::Consumer, None).await;
    let staff = token_for(&shop, "staff@fulian.example", Role::Staff, None).await;
    let (order, _, intent, _) = stripe_order(&shop, &buyer).await;
    fake.pay_intent(&intent).await;
    // localstripe's own delivery pays the order.
    for _ in 0..100 {
        if shop.orders.order(order).await.unwrap().status == OrderStatus::Paid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        shop.orders.order(order).await.unwrap().status,
        OrderStatus::Paid
    );
    let part = shop.orders.order(order).await.unwrap().parts[0].id;
    let refund = api(
        &shop,
        "POST",
        &format!("/api/v1/staff/orders/{order}/refunds"),
        Some(&staff),
        Some(json!({"part_id": part.0, "amount_fen": 300, "reason": "少发一件"})),
    )
    .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.text());

    let report = shop.settlement.reconcile().await.unwrap();
    assert!(report.stripe_checked);
    assert_eq!(
        report.matched_stripe, 2,
        "the charge and the refund: {report:?}"
    );
    assert!(report.mismatches.is_empty(), "{report:?}");

    // Money moved at Stripe behind the shop's back is listed, and nothing is booked for it.
    let gateway = shop.settlement.stripe().unwrap();
    let outside = gateway
        .refund(&intent, Fen(100), "made-in-the-dashboard", 0)
        .await
        .unwrap();
    let report = shop.settlement.reconcile().await.unwrap();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    let m = &report.mismatches[0];
    assert_eq!(
        (m.source, m.reference.as_str(), m.ledger, m.outside),
        (Source::Stripe, outside.id.as_str(), None, Some(Fen(-100)))
    );
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
db_test!(reconciliation_matches_stripe_to_the_ledger_and_lists_the_rest);
