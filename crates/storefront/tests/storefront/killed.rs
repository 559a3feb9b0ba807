//! The real `jinguo` process killed (SIGKILL: no shutdown, no last commit) in the middle of a
//! burst of checkouts and in the middle of `jinguo settle`, then started again: no placed order
//! lost, no unit sold twice, no payout booked twice, the ledger balanced, on both databases.
//! And two processes over one database: a request retried on the other one is answered once.

use jinguo_accounts::SessionKind;
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use jinguo_shop::testing::TestShop;
use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::e2e::{BIN, producers_owed, start};

/// A new buyer and an API token for it.
async fn buyer_with_token(shop: &TestShop) -> (jinguo_accounts::User, String) {
    let user = shop.buyer().await;
    let (_, token) = shop
        .accounts
        .sign_in(
            &user.login,
            jinguo_accounts::testing::PASSWORD,
            "test",
            SessionKind::Api,
        )
        .await
        .unwrap();
    (user, token.as_str().to_owned())
}

/// What a buyer's client saw of its checkout.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// 201 with this order id.
    Placed(i64),
    /// Any other answer (out of stock).
    Refused(u16),
    /// No answer: the process died under it.
    Lost,
}

async fn buy(base: &str, token: &str, sku: i64, key: &str) -> Seen {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let bearer = format!("Bearer {token}");
    let added = client
        .post(format!("{base}/api/v1/cart/items"))
        .header("authorization", &bearer)
        .json(&json!({"sku_id": sku, "quantity": 1}))
        .send()
        .await;
    if added.is_err() {
        return Seen::Lost;
    }
    let placed = client
        .post(format!("{base}/api/v1/checkout"))
        .header("authorization", &bearer)
        .header("idempotency-key", key)
        .json(&json!({"address": {"recipient": "李华", "phone": "13800138000", "region_code": "370102", "detail": "历下区泉城路 1 号"}}))
        .send()
        .await;
    match placed {
        Ok(r) if r.status() == 201 => {
            let body: serde_json::Value = r.json().await.unwrap();
            Seen::Placed(body["id"].as_i64().unwrap())
        }
        Ok(r) => Seen::Refused(r.status().as_u16()),
        Err(_) => Seen::Lost,
    }
}

async fn killed_during_checkouts_loses_no_order_and_sells_no_unit_twice(db: TestDb) {
    const UNITS: i64 = 30;
    const BUYERS: usize = 45;
    let shop = TestShop::new(db).await;
    let url = shop.db.url();
    let product = shop.product().stock(UNITS).create(&shop.catalog).await;
    let sku = product.skus[0].id;
    let mut buyers = Vec::new();
    for _ in 0..BUYERS {
        buyers.push(buyer_with_token(&shop).await);
    }

    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), Some(&url), false);
    let base = server.base.clone();
    let answered = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = buyers
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let (base, token, answered) = (base.clone(), token.clone(), answered.clone());
            tokio::spawn(async move {
                let seen = buy(&base, &token, sku.0, &format!("burst-{i}")).await;
                if seen != Seen::Lost {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                seen
            })
        })
        .collect();
    // Killed once some checkouts are answered and others are under way.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while answered.load(Ordering::SeqCst) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "checkouts are answered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut seen = Vec::new();
    for task in burst {
        seen.push(task.await.unwrap());
    }
    drop(server);
    let placed: Vec<i64> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Placed(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert!(!placed.is_empty(), "{seen:?}");

    // Started again; the buyers whose answer was lost try again with the same key (one whose
    // first try died mid-way is told to wait while its key's lease runs).
    let server = start(dir.path(), Some(&url), false);
    let retries: Vec<_> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == Seen::Lost)
        .map(|(i, _)| {
            let (base, token) = (server.base.clone(), buyers[i].1.clone());
            tokio::spawn(async move { buy(&base, &token, sku.0, &format!("burst-{i}")).await })
        })
        .collect();
    for retry in retries {
        let again = retry.await.unwrap();
        assert_ne!(again, Seen::Lost, "the restarted shop answers");
    }

    // Every order a buyer was told of is there, once; nobody has two.
    for id in placed {
        let order = shop.orders.order(jinguo_order::OrderId(id)).await.unwrap();
        assert!(buyers.iter().any(|(u, _)| u.id == order.buyer_id));
        assert_eq!(
            order.status,
            jinguo_order::state::OrderStatus::AwaitingPayment,
            "placed and still held for its transfer"
        );
        assert_eq!(order.parts.len(), 1, "the order of one unit is whole");
    }
    for (user, _) in &buyers {
        let mine: i64 = sqlx::query_scalar("select count(*) from orders where user_id = $1")
            .bind(user.id)
            .fetch_one(shop.db.pool())
            .await
            .unwrap();
        assert!(mine <= 1, "a buyer who asked once has {mine} orders");
    }
    // No unit sold twice: what is left and what the orders hold is what there was.
    let ordered: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(l.quantity), 0) as bigint) from order_lines l
         join orders o on o.id = l.order_id where o.status <> 'cancelled'",
    )
    .fetch_one(shop.db.pool())
    .await
    .unwrap();
    assert_eq!(shop.stock(sku).await + ordered, UNITS);
    assert!(ordered <= UNITS);

    // Paying every order books money that balances.
    let orders: Vec<i64> = sqlx::query_scalar("select id from orders")
        .fetch_all(shop.db.pool())
        .await
        .unwrap();
    for id in orders {
        shop.pay(jinguo_order::OrderId(id)).await;
    }
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
    drop(server);
}
db_test!(killed_during_checkouts_loses_no_order_and_sells_no_unit_twice);

async fn killed_during_settle_books_no_payout_twice(db: TestDb) {
    use jinguo_common::money::Fen;

    const PRODUCERS: usize = 24;
    let shop = TestShop::new(db).await;
    let (dir, url) = (&shop.data_dir, shop.db.url());
    let (o, owed) = producers_owed(&shop, PRODUCERS).await;
    let owed: Fen = owed.into_iter().sum();

    let settle = || {
        let mut command = Command::new(BIN);
        command
            .args(["settle", "--minimum-fen", "1", "--data-dir"])
            .arg(dir.path())
            .args(["--database-url", &url])
            .env("JINGUO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    // Killed at several points of its run: before it reaches the database, while it books, and
    // (perhaps) after it committed.
    for after_ms in [5, 40, 120, 400] {
        let mut run = settle().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        let _ = run.kill();
        run.wait().unwrap();
    }
    let done = settle().status().unwrap();
    assert!(done.success());

    let payouts = shop.settlement.payouts(None, None).await.unwrap();
    let mut producers: Vec<_> = payouts.iter().map(|p| p.producer_id).collect();
    producers.sort();
    producers.dedup();
    assert_eq!(producers.len(), PRODUCERS);
    assert_eq!(payouts.len(), PRODUCERS, "one payout per producer");
    assert_eq!(payouts.iter().map(|p| p.amount).sum::<Fen>(), owed);
    for p in &o.parts {
        assert_eq!(
            shop.settlement.payable(p.producer_id).await.unwrap(),
            Fen(0)
        );
    }
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
}
db_test!(killed_during_settle_books_no_payout_twice);

/// Two `jinguo serve` processes over one database, as a shop behind a load balancer runs: a
/// checkout sent to both at once with one `Idempotency-Key` (a client retrying on another
/// instance) places one order, and both answer with it.
async fn one_key_sent_to_two_processes_places_one_order(db: TestDb) {
    let shop = TestShop::new(db).await;
    let url = shop.db.url();
    let product = shop.product().stock(5).create(&shop.catalog).await;
    let (_, token) = buyer_with_token(&shop).await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(one.path(), Some(&url), false);
    let b = start(two.path(), Some(&url), false);
    let client = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    let added = client
        .post(format!("{}/api/v1/cart/items", a.base))
        .header("authorization", &bearer)
        .json(&json!({"sku_id": product.skus[0].id.0, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let checkout = |base: String| {
        let (client, bearer) = (client.clone(), bearer.clone());
        async move {
            let r = client
                .post(format!("{base}/api/v1/checkout"))
                .header("authorization", bearer)
                .header("idempotency-key", "two-processes-1")
                .json(&json!({"address": {"recipient": "李华", "phone": "13800138000", "region_code": "370102", "detail": "历下区泉城路 1 号"}}))
                .send()
                .await
                .unwrap();
            let replayed = r.headers().contains_key("idempotent-replayed");
            (
                r.status().as_u16(),
                replayed,
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (first, second) = tokio::join!(checkout(a.base.clone()), checkout(b.base.clone()));
    assert_eq!((first.0, second.0), (201, 201), "{first:?} {second:?}");
    assert_eq!(first.2, second.2, "the one order, from either process");
    assert!(first.1 ^ second.1, "one placed it, the other replayed it");
    let orders: i64 = sqlx::query_scalar("select count(*) from orders")
        .fetch_one(shop.db.pool())
        .await
        .unwrap();
    assert_eq!(orders, 1);
    assert_eq!(shop.stock(product.skus[0].id).await, 3);
}
db_test!(one_key_sent_to_two_processes_places_one_order);
