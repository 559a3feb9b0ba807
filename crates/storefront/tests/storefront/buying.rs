//! Buying, on both databases: accounts, the cart, checkout, orders and who may see and change
//! them, through the API (bearer tokens) and through the pages (cookies and forms).

use http::StatusCode;
use jinguo_accounts::Role;
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use jinguo_order::orders::{self, Filter};
use serde_json::json;

use crate::support::{self, Browser, api, count, shop, stock_of, token_for, two_producers};

/// A delivery address in Jinan (Shandong), where partner units buy from.
fn address() -> serde_json::Value {
    json!({"recipient": "李华", "phone": "138 0013 8000", "region_code": "370102", "detail": "历下区泉城路 1 号"})
}

/// Units of a SKU held by orders still awaiting payment.
async fn held(shop: &support::Shop, sku: jinguo_catalog::SkuId) -> i64 {
    orders::held_units(&mut shop.db.pool().acquire().await.unwrap(), sku)
        .await
        .unwrap()
}

async fn two_hundred_buyers_race_for_twenty_units(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    shop.catalog.set_stock(sku, 20).await.unwrap();
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

    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for i in 0..200 {
        tokens.push(token_for(&shop, &format!("buyer{i}@example.cn"), Role::Consumer, None).await);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let mut buyers = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, base, barrier) = (client.clone(), base.clone(), barrier.clone());
        buyers.push(tokio::spawn(async move {
            let auth = format!("Bearer {token}");
            // Half check out their cart, half buy in one request with the items in the body.
            let one_request = i % 2 == 0;
            if !one_request {
                let put = client
                    .post(format!("{base}/api/v1/cart/items"))
                    .header("authorization", &auth)
                    .json(&json!({"sku_id": sku.0, "quantity": 1}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(put.status(), 200);
            }
            barrier.wait().await;
            let body = if one_request {
                json!({"address": address(), "items": [{"sku_id": sku.0, "quantity": 1}]})
            } else {
                json!({"address": address()})
            };
            let placed = client
                .post(format!("{base}/api/v1/checkout"))
                .header("authorization", &auth)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = placed.status().as_u16();
            let body: serde_json::Value = placed.json().await.unwrap();
            (status, body)
        }));
    }
    let mut sold = 0;
    for buyer in buyers {
        let (status, body) = buyer.await.unwrap();
        match status {
            201 => {
                sold += 1;
                assert_eq!(body["status"], "awaiting_payment");
                assert_eq!(body["payment"]["method"], "bank_transfer");
            }
            409 => {
                assert_eq!(body["error"]["code"], "out_of_stock", "{body}");
                assert!(!body["error"]["message"].as_str().unwrap().is_empty());
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(sold, 20, "exactly the units in stock are sold");
    assert_eq!(
        stock_of(&shop, sku).await,
        0,
        "no stock left and none below zero"
    );
    assert_eq!(held(&shop, sku).await, 20, "reservations match the orders");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
db_test!(two_hundred_buyers_race_for_twenty_units);

async fn an_order_goes_from_cart_to_delivered_through_the_api(db: TestDb) {
    let shop = shop(db).await;
    let [(sku_a, producer_a), (sku_b, producer_b)] = two_producers(&shop).await;
    let buyer = token_for(&shop, "13800138000", Role::Consumer, None).await;
    let producer = token_for(&shop, "farm@example.cn", Role::Producer, Some(producer_a)).await;
    let staff = token_for(&shop, "staff@example.cn", Role::Staff, None).await;
    let before = stock_of(&shop, sku_a).await;

    // Unauthenticated: 401 in the API's error shape.
    let anonymous = api(&shop, "GET", "/api/v1/cart/items", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"]["code"], "unauthorized");

    for (sku, quantity) in [(sku_a, 2), (sku_b, 1)] {
        let r = api(
            &shop,
            "POST",
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"sku_id": sku.0, "quantity": quantity})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let cart = api(&shop, "GET", "/api/v1/cart/items", Some(&buyer), None)
        .await
        .json();
    assert_eq!(
        cart["parts"].as_array().unwrap().len(),
        2,
        "one part per producer"
    );
    assert_eq!(cart["count"], 3);

    // A price sent by the client is ignored.
    let mut body = json!({"address": address(), "total_fen": 1});
    body["address"]["price_fen"] = json!(1);
    let placed = api(&shop, "POST", "/api/v1/checkout", Some(&buyer), Some(body)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json();
    let id = order["id"].as_i64().unwrap();
    let parts = order["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    let lines_total: i64 = parts
        .iter()
        .map(|p| p["items_fen"].as_i64().unwrap() + p["shipping_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(
        order["total_fen"].as_i64().unwrap(),
        lines_total,
        "total = goods + shipping of every part"
    );
    assert!(order["total_fen"].as_i64().unwrap() > 100);
    assert_eq!(
        order["address"]["phone"], "13800138000",
        "the phone number is normalised"
    );
    assert_eq!(
        stock_of(&shop, sku_a).await,
        before - 2,
        "stock is reserved at once"
    );
    let cart = api(&shop, "GET", "/api/v1/cart/items", Some(&buyer), None)
        .await
        .json();
    assert_eq!(cart["count"], 0, "the cart is emptied");

    // Paid by bank transfer: a wrong amount is flagged, the exact one accepted.
    let reference = order["payment"]["reference"].as_str().unwrap().to_owned();
    let total = order["total_fen"].as_i64().unwrap();
    let short = api(
        &shop,
        "POST",
        "/api/v1/staff/transfers",
        Some(&staff),
        Some(
            json!({"reference": reference, "amount_fen": total - 100, "received_on": "2026-11-29"}),
        ),
    )
    .await;
    assert_eq!(short.json()["outcome"], "flagged");
    assert_eq!(short.json()["order"]["status"], "awaiting_payment");
    let paid = api(
        &shop,
        "POST",
        "/api/v1/staff/transfers",
        Some(&staff),
        Some(json!({"reference": reference, "amount_fen": total, "received_on": "2026-11-29"})),
    )
    .await;
    assert_eq!(paid.json()["outcome"], "accepted", "{}", paid.text());
    assert_eq!(paid.json()["order"]["status"], "paid");
    let buyer_may_not = api(
        &shop,
        "POST",
        "/api/v1/staff/transfers",
        Some(&buyer),
        Some(json!({"reference": reference, "amount_fen": total, "received_on": "2026-11-29"})),
    )
    .await;
    assert_eq!(buyer_may_not.status, StatusCode::FORBIDDEN);

    // The producer sees its part only, and ships it.
    let seen = api(
        &shop,
        "GET",
        &format!("/api/v1/orders/{id}"),
        Some(&producer),
        None,
    )
    .await
    .json();
    let own = seen["parts"].as_array().unwrap();
    assert_eq!(own.len(), 1, "a producer sees only its own part");
    assert_eq!(
        seen["total_fen"].as_i64().unwrap(),
        own[0]["items_fen"].as_i64().unwrap() + own[0]["shipping_fen"].as_i64().unwrap(),
        "and only its own amounts"
    );
    let part = own[0]["id"].as_i64().unwrap();
    let other_part = parts
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .find(|p| *p != part)
        .unwrap();
    let foreign = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{other_part}/ship"),
        Some(&producer),
        Some(json!({"carrier": "顺丰", "tracking_no": "SF1"})),
    )
    .await;
    assert_eq!(
        foreign.status,
        StatusCode::NOT_FOUND,
        "another producer's part cannot be shipped"
    );
    let rule = api(
        &shop,
        "PUT",
        "/api/v1/producer/shipping-rule",
        Some(&producer),
        Some(json!({"kind": "by_weight", "fee_fen": 1200, "per_kg_fen": 500})),
    )
    .await;
    assert_eq!(rule.status, StatusCode::OK, "{}", rule.text());
    let read = api(
        &shop,
        "GET",
        "/api/v1/producer/shipping-rule",
        Some(&producer),
        None,
    )
    .await
    .json();
    assert_eq!(
        (read["kind"].as_str(), read["per_kg_fen"].as_i64()),
        (Some("by_weight"), Some(500))
    );
    let incomplete = api(
        &shop,
        "PUT",
        "/api/v1/producer/shipping-rule",
        Some(&producer),
        Some(json!({"kind": "free_over", "fee_fen": 1000})),
    )
    .await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    let no_tracking = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{part}/ship"),
        Some(&producer),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        no_tracking.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_tracking.text()
    );
    assert_eq!(no_tracking.json()["error"]["code"], "need_tracking");
    let shipped = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{part}/ship"),
        Some(&producer),
        Some(json!({"carrier": "顺丰速运", "tracking_no": "SF1234567890"})),
    )
    .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.text());
    let again = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{part}/ship"),
        Some(&producer),
        Some(json!({"carrier": "顺丰速运", "tracking_no": "SF1234567890"})),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "shipping twice is refused"
    );
    assert_eq!(again.json()["error"]["code"], "wrong_state");

    // Once shipped, the order cannot be cancelled; the buyer confirms delivery.
    let cancel = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/cancel"),
        Some(&buyer),
        None,
    )
    .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT);
    assert_eq!(cancel.json()["error"]["code"], "already_shipped");
    let delivered = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{part}/deliver"),
        Some(&buyer),
        None,
    )
    .await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.text());
    let order = delivered.json();
    let mine = order["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == part)
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "delivered");
    assert_eq!(mine["tracking_no"], "SF1234567890");
    let history: Vec<&str> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    for step in ["awaiting_payment", "paid", "shipped", "delivered"] {
        assert!(history.contains(&step), "history has {step}: {history:?}");
    }
    let listed = api(&shop, "GET", "/api/v1/orders", Some(&buyer), None)
        .await
        .json();
    assert_eq!(listed["orders"].as_array().unwrap().len(), 1);
    let twice = api(
        &shop,
        "POST",
        "/api/v1/staff/transfers",
        Some(&staff),
        Some(json!({"reference": reference, "amount_fen": total, "received_on": "2026-11-29"})),
    )
    .await;
    assert_eq!(
        twice.status,
        StatusCode::CONFLICT,
        "a transfer recorded twice is refused"
    );
    assert_eq!(twice.json()["error"]["code"], "already_paid");
    let _ = producer_b;
}
db_test!(an_order_goes_from_cart_to_delivered_through_the_api);

async fn nobody_reads_or_changes_what_is_not_theirs(db: TestDb) {
    let shop = shop(db).await;
    let [(sku_a, _), (_, producer_b)] = two_producers(&shop).await;
    let alice = token_for(&shop, "alice@example.cn", Role::Consumer, None).await;
    let bob = token_for(&shop, "bob@example.cn", Role::Consumer, None).await;
    let other_producer =
        token_for(&shop, "other@example.cn", Role::Producer, Some(producer_b)).await;
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&alice),
        Some(json!({"sku_id": sku_a.0, "quantity": 1})),
    )
    .await;
    let order = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&alice),
        Some(json!({"address": address()})),
    )
    .await
    .json();
    let id = order["id"].as_i64().unwrap();
    let part = order["parts"][0]["id"].as_i64().unwrap();

    for (who, token) in [
        ("another buyer", &bob),
        ("another producer", &other_producer),
    ] {
        let read = api(
            &shop,
            "GET",
            &format!("/api/v1/orders/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(
            read.status,
            StatusCode::NOT_FOUND,
            "{who} cannot read the order"
        );
        let cancel = api(
            &shop,
            "POST",
            &format!("/api/v1/orders/{id}/cancel"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(
            cancel.status,
            StatusCode::NOT_FOUND,
            "{who} cannot cancel it"
        );
        let ship = api(
            &shop,
            "POST",
            &format!("/api/v1/orders/{id}/parts/{part}/ship"),
            Some(token),
            Some(json!({"carrier": "EMS", "tracking_no": "E1"})),
        )
        .await;
        assert_eq!(ship.status, StatusCode::NOT_FOUND, "{who} cannot ship it");
    }
    for guess in [id + 1, id + 1000, 0, -1] {
        let read = api(
            &shop,
            "GET",
            &format!("/api/v1/orders/{guess}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
    }
    let stock = api(
        &shop,
        "PUT",
        &format!("/api/v1/producer/skus/{}/stock", sku_a.0),
        Some(&other_producer),
        Some(json!({"stock": 0})),
    )
    .await;
    assert_eq!(
        stock.status,
        StatusCode::NOT_FOUND,
        "a producer cannot set another's stock"
    );
    let stock = api(
        &shop,
        "PUT",
        &format!("/api/v1/producer/skus/{}/stock", sku_a.0),
        Some(&bob),
        Some(json!({"stock": 0})),
    )
    .await;
    assert_eq!(
        stock.status,
        StatusCode::FORBIDDEN,
        "a consumer has no stock to set"
    );
    assert!(stock_of(&shop, sku_a).await > 0);
    let cancelled = api(
        &shop,
        "POST",
        &format!("/api/v1/orders/{id}/cancel"),
        Some(&alice),
        Some(json!({"reason": "买错了"})),
    )
    .await;
    assert_eq!(cancelled.json()["status"], "cancelled");

    // By page: Bob's browser session gets 404 for Alice's order; a producer's page too.
    let mut bob_browser = Browser::new(&shop);
    bob_browser.sign_in("bob@example.cn").await;
    assert_eq!(
        bob_browser.get(&format!("/orders/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let mut alice_browser = Browser::new(&shop);
    alice_browser.sign_in("alice@example.cn").await;
    let page = alice_browser.get(&format!("/orders/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(order["number"].as_str().unwrap()));
    // A bearer token is not a cookie and a cookie is not a bearer token.
    let cookie_on_api = alice_browser.get("/api/v1/orders").await;
    assert_eq!(cookie_on_api.status, StatusCode::UNAUTHORIZED);
}
db_test!(nobody_reads_or_changes_what_is_not_theirs);

async fn a_shopper_buys_with_forms_alone(db: TestDb) {
    let shop = shop(db).await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let (sku, slug) = (product.skus[0].id, product.product.slug.clone());
    let mut browser = Browser::new(&shop);
    let product = browser.get(&format!("/products/{slug}")).await;
    assert!(
        product.text().contains("action=\"/cart/items\""),
        "the product page has an add-to-cart form"
    );
    let sku_text = sku.0.to_string();
    let added = browser
        .post("/cart/items", &[("sku_id", &sku_text), ("quantity", "2")])
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let cart = browser.get("/cart").await;
    assert_eq!(cart.status, StatusCode::OK);
    assert!(
        cart.text().contains("/login?next=%2Fcheckout"),
        "a guest is asked to sign in to check out"
    );

    // Registering keeps the guest's cart.
    browser.get("/register").await;
    let registered = browser
        .post(
            "/register",
            &[
                ("login", "13900139000"),
                ("password", "correct horse battery"),
                ("password2", "correct horse battery"),
                ("next", "/checkout"),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.text()
    );
    let checkout = browser.get("/checkout").await;
    assert_eq!(checkout.status, StatusCode::OK, "{}", checkout.text());
    assert!(
        checkout.text().contains("370102"),
        "districts to choose from"
    );
    let placed = browser
        .post(
            "/checkout",
            &[
                ("address_id", ""),
                ("recipient", "王芳"),
                ("phone", "13900139000"),
                ("region_code", "370102"),
                ("detail", "泉城路 8 号"),
            ],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text());
    let confirmation = browser.get(&placed.location()).await;
    let html = confirmation.text();
    assert_eq!(confirmation.status, StatusCode::OK);
    let reference = shop
        .orders
        .orders(&Filter {
            limit: 1,
            ..Filter::default()
        })
        .await
        .unwrap()[0]
        .payment_reference
        .clone();
    assert!(html.contains(&reference), "the payment reference is shown");
    assert!(
        html.contains(&shop.state.settings.bank.payee_account),
        "the payee account is shown"
    );

    // Bad input keeps the form and says what is wrong, writing nothing.
    browser
        .post("/cart/items", &[("sku_id", &sku_text), ("quantity", "1")])
        .await;
    let orders_before = count(&shop, "orders").await;
    let bad = browser
        .post(
            "/checkout",
            &[
                ("address_id", ""),
                ("recipient", "王芳"),
                ("phone", "12345"),
                ("region_code", "370102"),
                ("detail", "泉城路 8 号"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("王芳"), "the form keeps what was typed");
    let orders_after = count(&shop, "orders").await;
    assert_eq!(orders_before, orders_after);

    // Signing out ends the session.
    browser.post("/logout", &[]).await;
    assert_eq!(browser.get("/orders").await.status, StatusCode::SEE_OTHER);
}
db_test!(a_shopper_buys_with_forms_alone);

async fn a_form_without_its_csrf_token_is_refused(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    let sku_text = sku.0.to_string();
    let mut browser = Browser::new(&shop);
    browser.get("/login").await;
    let missing = browser
        .post_raw("/cart/items", &[("sku_id", &sku_text), ("quantity", "1")])
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = browser
        .post_raw(
            "/cart/items",
            &[
                ("csrf", "x".repeat(43).as_str()),
                ("sku_id", &sku_text),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let mut fresh = Browser::new(&shop);
    let no_cookie = fresh
        .post_raw(
            "/login",
            &[("csrf", "abc"), ("login", "a@b.cn"), ("password", "x")],
        )
        .await;
    assert_eq!(
        no_cookie.status,
        StatusCode::FORBIDDEN,
        "a token without its cookie is refused"
    );
    let carts = count(&shop, "cart_items").await;
    assert_eq!(carts, 0, "nothing was written");
    let ok = browser
        .post("/cart/items", &[("sku_id", &sku_text), ("quantity", "1")])
        .await;
    assert_eq!(
        ok.status,
        StatusCode::SEE_OTHER,
        "the same form with its token goes through"
    );
}
db_test!(a_form_without_its_csrf_token_is_refused);

async fn sign_in_is_rate_limited_per_account(db: TestDb) {
    let shop = shop(db).await;
    token_for(&shop, "carol@example.cn", Role::Consumer, None).await;
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = api(
            &shop,
            "POST",
            "/api/v1/auth/token",
            None,
            Some(json!({"login": "carol@example.cn", "password": "wrong password"})),
        )
        .await
        .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let right = api(
        &shop,
        "POST",
        "/api/v1/auth/token",
        None,
        Some(json!({"login": "carol@example.cn", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "from the guessing address even the right password waits out the window"
    );
    assert_eq!(right.json()["error"]["code"], "throttled");
    let wait: u64 = right.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "Retry-After: {wait}");
    let registered = api(
        &shop,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(json!({"login": "not-a-login", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(registered.status, StatusCode::BAD_REQUEST);
    assert_eq!(registered.json()["error"]["code"], "bad_login");
    let token = api(
        &shop,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(json!({"login": "dave@example.cn", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let openapi = api(&shop, "GET", "/api/v1/openapi.json", None, None)
        .await
        .json();
    for path in [
        "/api/v1/checkout",
        "/api/v1/cart/items",
        "/api/v1/orders/{id}/cancel",
        "/api/v1/producer/skus/{id}/stock",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
}
db_test!(sign_in_is_rate_limited_per_account);

async fn bad_quantities_and_skus_are_refused_and_change_nothing(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    let buyer = token_for(&shop, "erin@example.cn", Role::Consumer, None).await;
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": sku.0, "quantity": 2})),
    )
    .await;
    for quantity in [0, -1, 100] {
        let r = api(
            &shop,
            "POST",
            "/api/v1/cart/items",
            Some(&buyer),
            Some(json!({"sku_id": sku.0, "quantity": quantity})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "quantity {quantity}");
        assert_eq!(r.json()["error"]["code"], "invalid");
        assert_eq!(r.json()["error"]["field"], "quantity");
    }
    let unknown = api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": 99_999_999, "quantity": 1})),
    )
    .await;
    assert!(unknown.status.is_client_error(), "{}", unknown.text());
    let garbage = api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku": "x"})),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sku_id"),
        "{}",
        garbage.text()
    );
    let cart = api(&shop, "GET", "/api/v1/cart/items", Some(&buyer), None)
        .await
        .json();
    assert_eq!(cart["count"], 2, "the cart is as it was");
    let mut bad_phone = json!({"address": address()});
    bad_phone["address"]["phone"] = json!("1234");
    let r = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(bad_phone),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let mut bad_region = json!({"address": address()});
    bad_region["address"]["region_code"] = json!("999999");
    let r = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(bad_region),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let orders = count(&shop, "orders").await;
    assert_eq!(orders, 0, "no order was written");
}
db_test!(bad_quantities_and_skus_are_refused_and_change_nothing);

async fn notifications_are_emailed_once_and_retried_when_the_relay_is_down(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    let buyer = token_for(&shop, "fang@example.cn", Role::Consumer, None).await;
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": sku.0, "quantity": 1})),
    )
    .await;
    let order = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(json!({"address": address()})),
    )
    .await
    .json();
    let number = order["number"].as_str().unwrap().to_owned();

    // The relay is down: nothing is marked sent.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let down = jinguo_storefront::mail::SmtpMailer::new(shop.state.clone(), &dead).unwrap();
    assert_eq!(
        shop.state
            .orders
            .send_notification_emails(&down)
            .await
            .unwrap(),
        0
    );

    // Back up, once the failed claim has run out: sent once, then never again.
    let (port, inbox) = support::smtp_sink().await;
    let mailer = jinguo_storefront::mail::SmtpMailer::new(
        shop.state.clone(),
        &format!("smtp://user:pw@127.0.0.1:{port}"),
    )
    .unwrap();
    shop.advance(121_000);
    assert_eq!(
        shop.state
            .orders
            .send_notification_emails(&mailer)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        shop.state
            .orders
            .send_notification_emails(&mailer)
            .await
            .unwrap(),
        0
    );
    let kept = inbox.lock().unwrap().clone();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, vec!["fang@example.cn".to_owned()]);
    let text = decoded_body(&kept[0].1);
    assert!(text.contains(&number), "the email names the order: {text}");
    assert!(
        text.contains("已提交") || text.contains(&number),
        "in Chinese first: {text}"
    );
    assert!(
        text.contains(&format!("/orders/{}", order["id"])),
        "and links to it: {text}"
    );
    assert!(
        jinguo_storefront::mail::SmtpMailer::new(shop.state.clone(), "smtps://x").is_err(),
        "only smtp:// is accepted"
    );
}
db_test!(notifications_are_emailed_once_and_retried_when_the_relay_is_down);

/// The text of a one-part email, undoing base64 or quoted-printable.
fn decoded_body(data: &str) -> String {
    use base64::Engine;
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if head.contains("content-transfer-encoding: quoted-printable") {
        let soft = body.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let raw = soft.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'=' && i + 2 < raw.len() {
                bytes.push(u8::from_str_radix(&soft[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
        String::from_utf8(bytes).unwrap()
    } else {
        body.to_owned()
    }
}

async fn staff_and_producers_work_from_their_pages(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, producer), _] = two_producers(&shop).await;
    let buyer = token_for(&shop, "gina@example.cn", Role::Consumer, None).await;
    token_for(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    token_for(&shop, "fed@example.cn", Role::Staff, None).await;
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": sku.0, "quantity": 1})),
    )
    .await;
    let order = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(json!({"address": address()})),
    )
    .await
    .json();
    let (id, reference) = (
        order["id"].as_i64().unwrap(),
        order["payment"]["reference"].as_str().unwrap().to_owned(),
    );
    let total = format!(
        "{}.{:02}",
        order["total_fen"].as_i64().unwrap() / 100,
        order["total_fen"].as_i64().unwrap() % 100
    );

    // Federation staff confirm the transfer from the payments page.
    let mut staff = Browser::new(&shop);
    staff.sign_in("fed@example.cn").await;
    let payments = staff.get("/staff/payments").await;
    assert_eq!(payments.status, StatusCode::OK);
    assert!(
        payments.text().contains(&reference),
        "the order awaiting payment is listed"
    );
    let wrong = staff
        .post(
            "/staff/payments",
            &[
                ("reference", &reference),
                ("amount", "abc"),
                ("received_on", "2026-11-29"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let recorded = staff
        .post(
            "/staff/payments",
            &[
                ("reference", &reference),
                ("amount", &total),
                ("received_on", "2026-11-29"),
            ],
        )
        .await;
    assert_eq!(
        recorded.status,
        StatusCode::SEE_OTHER,
        "{}",
        recorded.text()
    );
    let after = staff.get(&recorded.location()).await;
    assert!(
        after.text().contains(order["number"].as_str().unwrap()),
        "the notice names the order"
    );
    let transfers = count(&shop, "bank_transfers").await;
    assert_eq!(transfers, 1, "showing the result records nothing again");
    let all = staff.get("/staff/orders?status=paid").await;
    assert!(all.text().contains(order["number"].as_str().unwrap()));
    let saved = staff
        .post(
            "/staff/restrictions",
            &[
                ("code", "3701"),
                ("level", "suspended"),
                ("notice", "暂停配送"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert!(
        staff
            .get("/staff/restrictions")
            .await
            .text()
            .contains("暂停配送")
    );
    let bad = staff
        .post(
            "/staff/restrictions",
            &[("code", "12"), ("level", "nonsense"), ("notice", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // The restriction is enforced at checkout.
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": sku.0, "quantity": 1})),
    )
    .await;
    let refused = api(
        &shop,
        "POST",
        "/api/v1/checkout",
        Some(&buyer),
        Some(json!({"address": address()})),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert_eq!(refused.json()["error"]["code"], "suspended");

    // The producer ships from its orders page and takes stock.
    let mut maker = Browser::new(&shop);
    maker.sign_in("maker@example.cn").await;
    let to_ship = maker.get("/producer/orders").await;
    assert_eq!(to_ship.status, StatusCode::OK);
    let html = to_ship.text();
    let ship_url = format!("/orders/{id}/parts/");
    assert!(
        html.contains(&ship_url) && html.contains("/ship\""),
        "a ship form: {html}"
    );
    let part = order["parts"][0]["id"].as_i64().unwrap();
    let shipped = maker
        .post(
            &format!("/orders/{id}/parts/{part}/ship"),
            &[("carrier", "中国邮政"), ("tracking_no", "EMS0001")],
        )
        .await;
    assert_eq!(shipped.status, StatusCode::SEE_OTHER, "{}", shipped.text());
    assert!(
        maker
            .get("/producer/orders?status=shipped")
            .await
            .text()
            .contains("EMS0001")
            || maker
                .get(&format!("/orders/{id}"))
                .await
                .text()
                .contains("EMS0001")
    );
    let stock = maker.get("/producer/stock").await;
    assert!(stock.text().contains(&format!("/producer/stock/{}", sku.0)));
    let set = maker
        .post(&format!("/producer/stock/{}", sku.0), &[("stock", "7")])
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert_eq!(stock_of(&shop, sku).await, 7);
    let rule = maker
        .post(
            "/producer/shipping",
            &[
                ("kind", "flat"),
                ("fee", "8.50"),
                ("threshold", ""),
                ("per_kg", ""),
            ],
        )
        .await;
    assert_eq!(rule.status, StatusCode::SEE_OTHER, "{}", rule.text());
    assert!(
        maker.get("/producer/stock").await.text().contains("8.50"),
        "the rule is shown"
    );
    let bad_rule = maker
        .post(
            "/producer/shipping",
            &[
                ("kind", "free_over"),
                ("fee", "8"),
                ("threshold", "lots"),
                ("per_kg", ""),
            ],
        )
        .await;
    assert_eq!(bad_rule.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_rule.text().contains("lots"),
        "the error names what was wrong"
    );
    api(
        &shop,
        "POST",
        "/api/v1/cart/items",
        Some(&buyer),
        Some(json!({"sku_id": sku.0, "quantity": 1})),
    )
    .await;
    let cart = api(&shop, "GET", "/api/v1/cart/items", Some(&buyer), None)
        .await
        .json();
    assert_eq!(
        cart["parts"][0]["shipping_fen"], 850,
        "the buyer pays the producer's new fee"
    );
    let negative = maker
        .post(&format!("/producer/stock/{}", sku.0), &[("stock", "-3")])
        .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        stock_of(&shop, sku).await,
        7,
        "a bad stock-take changes nothing"
    );

    // The buyer sees the tracking number and history; a consumer has no dashboards.
    let mut gina = Browser::new(&shop);
    gina.sign_in("gina@example.cn").await;
    let page = gina.get(&format!("/orders/{id}")).await.text();
    assert!(page.contains("EMS0001"), "tracking on the order page");
    assert!(
        page.contains(&format!("/orders/{id}/parts/{part}/deliver")),
        "the buyer can confirm receipt"
    );
    assert_eq!(
        gina.get("/producer/orders").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        gina.get("/staff/payments").await.status,
        StatusCode::FORBIDDEN
    );
    let account = gina.get("/account").await.text();
    assert!(
        account.contains(order["number"].as_str().unwrap()),
        "notifications on the account page"
    );
}
db_test!(staff_and_producers_work_from_their_pages);
