//! Every call and form that creates or moves something, sent twice at once (a retry while the
//! first still runs, a double click), does its work once and gives both the same answer; sent
//! again later, it gives that answer without undoing what happened since (a stock count set
//! from a stale retry would sell a unit twice). Checkout and the staff refund are in `hostile`.

use http::StatusCode;
use jinguo_accounts::Role;
use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use serde_json::{Value, json};

use crate::hostile::call;
use crate::input::{post_forms, typed_value};
use crate::support::{self, Browser, Reply, Shop, count, shop_with, signed_in, token_for};

/// `state`'s answer to two requests sent at once with one `Idempotency-Key`.
async fn twice(
    shop: &Shop,
    token: &str,
    method: &str,
    uri: &str,
    key: &str,
    body: Value,
) -> (Reply, Reply) {
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str()), ("idempotency-key", key)];
    tokio::join!(
        call(&shop.state, method, uri, &headers, Some(body.clone())),
        call(&shop.state, method, uri, &headers, Some(body.clone())),
    )
}

/// Both got the one answer, and one of them was the kept answer.
fn same_answer(what: &str, (a, b): &(Reply, Reply)) {
    assert!(a.status.is_success(), "{what}: {} {}", a.status, a.text());
    assert_eq!(a.status, b.status, "{what}");
    assert_eq!(a.json(), b.json(), "{what}");
    let replayed = [a, b]
        .iter()
        .filter(|r| r.header(http::HeaderName::from_static("idempotent-replayed")) == "true")
        .count();
    assert_eq!(replayed, 1, "{what}: one ran, one was the kept answer");
}

async fn shop_owing_two_producers(db: TestDb) -> Shop {
    let shop = shop_with(db, |s| s.settlement.minimum_payout = Fen(1)).await;
    crate::e2e::producers_owed(&shop, 2).await;
    shop
}

async fn each_idempotent_api_call_runs_once(db: TestDb) {
    let shop = shop_owing_two_producers(db).await;
    let staff = token_for(&shop, "fed@example.cn", Role::Staff, None).await;

    let settled = twice(
        &shop,
        &staff,
        "POST",
        "/api/v1/staff/settle",
        "settle-1",
        json!({}),
    )
    .await;
    same_answer("settle", &settled);
    assert_eq!(count(&shop, "payouts").await, 2, "one payout each, once");
    let payouts = settled.0.json()["payouts"].clone();
    let (first, second) = (
        payouts[0]["id"].as_i64().unwrap(),
        payouts[1]["id"].as_i64().unwrap(),
    );

    let ledger = count(&shop, "ledger_transactions").await;
    let paid = twice(
        &shop,
        &staff,
        "POST",
        &format!("/api/v1/staff/payouts/{first}/paid"),
        "paid-1",
        json!({"reference": "B20261202-1"}),
    )
    .await;
    same_answer("payout paid", &paid);
    assert_eq!(
        count(&shop, "ledger_transactions").await,
        ledger + 1,
        "booked once"
    );
    let failed = twice(
        &shop,
        &staff,
        "POST",
        &format!("/api/v1/staff/payouts/{second}/failed"),
        "failed-1",
        json!({"note": "账号有误"}),
    )
    .await;
    same_answer("payout failed", &failed);
    assert_eq!(
        count(&shop, "ledger_transactions").await,
        ledger + 2,
        "returned once"
    );

    // A producer's stock set with a key, then a sale: the retried call is answered as before
    // and does not put back the unit sold.
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let (sku, producer) = (product.skus[0].id, product.producer.id);
    let maker = token_for(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    let uri = format!("/api/v1/producer/skus/{sku}/stock");
    let set = twice(&shop, &maker, "PUT", &uri, "stock-1", json!({"stock": 5})).await;
    same_answer("stock", &set);
    assert_eq!(support::stock_of(&shop, sku).await, 5);
    let buyer = shop.buyer().await;
    shop.order(&buyer, &[(sku, 1)]).await;
    let bearer = format!("Bearer {maker}");
    let retried = call(
        &shop.state,
        "PUT",
        &uri,
        &[("authorization", &bearer), ("idempotency-key", "stock-1")],
        Some(json!({"stock": 5})),
    )
    .await;
    assert_eq!(retried.json(), set.0.json());
    assert_eq!(support::stock_of(&shop, sku).await, 4, "the sale stands");
}
db_test!(each_idempotent_api_call_runs_once);

/// Sends the form on `page` that posts to an address starting with `action` twice at once,
/// as a double click does, with `fields` over what the page filled in.
async fn double_click(
    browser: &mut Browser<'_>,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (String, Vec<(String, String)>, Reply) {
    let html = browser.get(page).await.text();
    let form = post_forms(&html)
        .into_iter()
        .find(|f| f.action.starts_with(action))
        .unwrap_or_else(|| panic!("{page} has no form posting to {action}"));
    let sent: Vec<(String, String)> = form
        .fields
        .iter()
        .filter(|f| f.name != "csrf")
        .map(|f| {
            let value = match fields.iter().find(|(name, _)| *name == f.name) {
                Some((_, value)) => (*value).to_owned(),
                None if f.value.is_empty() => typed_value(&f.name).to_owned(),
                None => f.value.clone(),
            };
            (f.name.clone(), value)
        })
        .collect();
    assert!(
        sent.iter().any(|(k, _)| k == "once"),
        "{} has a single-use token",
        form.action
    );
    let owned = sent.clone();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut other = Browser {
        shop: browser.shop,
        cookies: browser.cookies.clone(),
    };
    let (a, b) = tokio::join!(
        browser.post(&form.action, &sent),
        other.post(&form.action, &sent)
    );
    for reply in [&a, &b] {
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            form.action,
            reply.text()
        );
    }
    assert_eq!(
        a.location(),
        b.location(),
        "{}: both land on one result",
        form.action
    );
    // Sent once more later (a reload, the back button): the same place, nothing more done.
    let again = browser.post(&form.action, &sent).await;
    assert_eq!(again.location(), a.location(), "{}", form.action);
    (form.action, owned, a)
}

async fn each_creating_form_double_clicked_works_once(db: TestDb) {
    let shop = shop_owing_two_producers(db).await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let (sku, producer) = (product.skus[0].id, product.producer.id);
    let mut staff = signed_in(&shop, "13900139003", Role::Staff, None).await;
    let mut maker = signed_in(&shop, "13900139002", Role::Producer, Some(producer)).await;

    double_click(&mut staff, "/staff/money", "/staff/money/settle", &[]).await;
    assert_eq!(count(&shop, "payouts").await, 2, "one payout each, once");
    let ledger = count(&shop, "ledger_transactions").await;
    double_click(
        &mut staff,
        "/staff/money",
        "/staff/money/payouts/",
        &[("reference", "B-1")],
    )
    .await;
    assert_eq!(
        count(&shop, "ledger_transactions").await,
        ledger + 1,
        "paid once"
    );
    let waiting: i64 = sqlx::query_scalar("select id from payouts where status = 'pending'")
        .fetch_one(shop.db.pool())
        .await
        .unwrap();
    double_click(
        &mut staff,
        "/staff/money",
        &format!("/staff/money/payouts/{waiting}/failed"),
        &[("note", "账号有误")],
    )
    .await;
    assert_eq!(
        count(&shop, "ledger_transactions").await,
        ledger + 2,
        "returned once"
    );

    // A transfer for an order awaiting one.
    let buyer = shop.buyer().await;
    let placed = shop.order(&buyer, &[(sku, 1)]).await.placed;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    let amount = order.total.yuan_string();
    let transfers = count(&shop, "bank_transfers").await;
    double_click(
        &mut staff,
        "/staff/payments",
        "/staff/payments",
        &[("reference", &order.payment_reference), ("amount", &amount)],
    )
    .await;
    assert_eq!(
        count(&shop, "bank_transfers").await,
        transfers + 1,
        "recorded once"
    );

    // The producer ships it with one double click.
    let paid = shop.orders.order(placed.order_id).await.unwrap();
    assert!(paid.paid_at.is_some(), "the transfer paid it");
    let (action, _, _) = double_click(&mut maker, "/producer/orders", "/orders/", &[]).await;
    assert!(action.ends_with("/ship"), "{action}");
    let shipped = shop.orders.order(placed.order_id).await.unwrap();
    assert_eq!(
        shipped.parts[0].status,
        jinguo_order::state::PartStatus::Shipped
    );

    // Stock set, a unit sold, the form sent again: the sale stands.
    let sku_action = format!("/producer/stock/{sku}");
    let (action, sent, first) = double_click(
        &mut maker,
        "/producer/stock",
        &sku_action,
        &[("stock", "6")],
    )
    .await;
    assert_eq!(support::stock_of(&shop, sku).await, 6);
    shop.order(&buyer, &[(sku, 1)]).await;
    let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let stale = maker.post(&action, &sent).await;
    assert_eq!(stale.location(), first.location());
    assert_eq!(support::stock_of(&shop, sku).await, 5, "the sale stands");
}
db_test!(each_creating_form_double_clicked_works_once);
