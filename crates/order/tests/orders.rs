//! Carts, checkout and the order lifecycle on both databases: stock taken exactly once under
//! concurrency, released exactly once when unpaid orders expire, bank transfers that pay or are
//! flagged, delivery restrictions, and illegal or unauthorised actions that change nothing.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_accounts::{Accounts, HashCost, Limits, Role};
use jinguo_catalog::Catalog;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_common::{Clock, db_test};
use jinguo_order::address::NewAddress;
use jinguo_order::cart::Owner;
use jinguo_order::payment::{BankTransfer, Payee};
use jinguo_order::region::Level;
use jinguo_order::service::TransferOutcome;
use jinguo_order::state::{Action, Actor, OrderStatus, PartStatus};
use jinguo_order::{OrderError, OrderSettings, Orders};
use std::sync::Arc;

const NOW: i64 = 1_795_924_800_000;

struct Shop {
    orders: Orders,
    accounts: Accounts,
    catalog: Catalog,
    clock: Clock,
    db: TestDb,
    _index: tempfile::TempDir,
}

async fn shop(db: TestDb) -> Shop {
    let index = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW);
    let (search, _) = EmbeddedSearch::open(index.path()).unwrap();
    let catalog = Catalog::new(db.db.clone(), clock.clone(), Arc::new(search));
    demo::seed(&catalog, SeedOptions { pictures: false }, &|_, _| {})
        .await
        .unwrap();
    let payee = Payee {
        name: "重庆巾帼集市".into(),
        bank: "重庆农村商业银行".into(),
        account_no: "6230 0000 0000 0001".into(),
    };
    let bank = Arc::new(BankTransfer::new(db.db.clone(), payee, None));
    let orders = Orders::new(
        db.db.clone(),
        clock.clone(),
        catalog.clone(),
        OrderSettings::default(),
        bank,
    );
    let accounts = Accounts::new(
        db.db.clone(),
        clock.clone(),
        HashCost::Fast,
        Limits::default(),
    );
    Shop {
        orders,
        accounts,
        catalog,
        clock,
        db,
        _index: index,
    }
}

fn address() -> NewAddress {
    NewAddress {
        recipient: "李华".into(),
        phone: "13905310000".into(),
        region_code: "370102".into(),
        detail: "泉城路 188 号 3 单元 502".into(),
    }
}

async fn buyer(s: &Shop, login: &str) -> i64 {
    s.accounts
        .register(login, "password-123", Role::Consumer, None)
        .await
        .unwrap()
        .id
        .0
}

async fn sku_of(s: &Shop, slug: &str) -> (i64, Fen, i64) {
    let d = s.catalog.product(slug).await.unwrap();
    (d.skus[0].id.0, d.skus[0].price, d.producer.id.0)
}

async fn stock(s: &Shop, sku: i64) -> i64 {
    sqlx::query_scalar("select stock from skus where id = $1")
        .bind(sku)
        .fetch_one(s.db.pool())
        .await
        .unwrap()
}

db_test!(async fn checkout_splits_by_producer_and_takes_stock(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000001").await;
    let (larou, larou_price, larou_producer) = sku_of(&s, "chengkou-larou-500g").await;
    let (honey, honey_price, _) = sku_of(&s, "chengkou-zhongfeng-honey-500g").await;
    let before = (stock(&s, larou).await, stock(&s, honey).await);
    s.orders.put_in_cart(Owner::User(me), larou, 2, false).await.unwrap();
    s.orders.put_in_cart(Owner::User(me), honey, 1, false).await.unwrap();
    let cart = s.orders.cart(Owner::User(me)).await.unwrap();
    assert_eq!(cart.parts.len(), 2, "two producers, two parts");
    assert_eq!(cart.items, Fen(larou_price.0 * 2 + honey_price.0));

    let checkout = s.orders.checkout(me, &address()).await.unwrap();
    let order = s.orders.order(checkout.placed.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::AwaitingPayment);
    assert_eq!(order.parts.len(), 2);
    assert_eq!(order.items, cart.items);
    assert_eq!(order.total, Fen(order.items.0 + order.shipping.0));
    assert_eq!(order.shipping, cart.shipping, "the fee shown in the cart is the fee charged");
    let larou_part = order.parts.iter().find(|p| p.producer_id == larou_producer).unwrap();
    assert_eq!(larou_part.lines[0].quantity, 2);
    assert_eq!(order.region_name, "山东省济南市历下区");
    assert_eq!((stock(&s, larou).await, stock(&s, honey).await), (before.0 - 2, before.1 - 1));
    assert_eq!(s.orders.cart(Owner::User(me)).await.unwrap().count, 0, "the cart is emptied");
    assert!(matches!(
        checkout.instructions,
        Some(jinguo_order::payment::PaymentInstructions::BankTransfer { ref reference, amount_fen, .. })
            if *reference == order.number && amount_fen == order.total.0
    ));
    assert!(matches!(s.orders.checkout(me, &address()).await, Err(OrderError::EmptyCart)));
});

db_test!(async fn concurrent_buyers_never_buy_the_same_unit(db) {
    let s = shop(db).await;
    let (sku, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    // Twenty units, forty buyers who each want one.
    sqlx::query("update skus set stock = 20 where id = $1").bind(sku).execute(s.db.pool()).await.unwrap();
    let mut buyers = Vec::new();
    for i in 0..40 {
        let me = buyer(&s, &format!("1370000{i:04}")).await;
        s.orders.put_in_cart(Owner::User(me), sku, 1, false).await.unwrap();
        buyers.push(me);
    }
    let attempts = buyers.iter().map(|me| {
        let orders = s.orders.clone();
        let me = *me;
        tokio::spawn(async move { orders.checkout(me, &address()).await })
    });
    let results = futures_join(attempts).await;
    let placed = results.iter().filter(|r| r.is_ok()).count();
    let sold_out = results.iter().filter(|r| matches!(r, Err(OrderError::OutOfStock { available: 0, .. }))).count();
    assert_eq!(placed, 20, "exactly the units there were");
    assert_eq!(sold_out, 20, "everyone else is told it is sold out");
    assert_eq!(stock(&s, sku).await, 0);
    let mut conn = s.db.pool().acquire().await.unwrap();
    assert_eq!(jinguo_order::orders::held_units(&mut conn, sku).await.unwrap(), 20);
});

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

db_test!(async fn unpaid_orders_give_their_stock_back_once(db) {
    let s = shop(db).await;
    let (sku, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    sqlx::query("update skus set stock = 10 where id = $1").bind(sku).execute(s.db.pool()).await.unwrap();
    // Three late buyers fill their carts while the units are still there.
    let mut late = Vec::new();
    for i in 0..3 {
        let me = buyer(&s, &format!("1350000{i:04}")).await;
        s.orders.put_in_cart(Owner::User(me), sku, 3, false).await.unwrap();
        late.push(me);
    }
    let mut first = Vec::new();
    for i in 0..5 {
        let me = buyer(&s, &format!("1360000{i:04}")).await;
        s.orders.put_in_cart(Owner::User(me), sku, 2, false).await.unwrap();
        first.push(s.orders.checkout(me, &address()).await.unwrap().placed.order_id);
    }
    assert_eq!(stock(&s, sku).await, 0);
    // Time runs out for all of them; three job runners race to expire them while three new
    // buyers try to take the units being freed.
    s.clock.advance(OrderSettings::default().hold_ms);
    let runners: Vec<_> = (0..3).map(|_| {
        let orders = s.orders.clone();
        tokio::spawn(async move { orders.run_jobs().await.unwrap().expired })
    }).collect();
    let buyers: Vec<_> = late.iter().map(|me| {
        let (orders, me) = (s.orders.clone(), *me);
        tokio::spawn(async move { orders.checkout(me, &address()).await })
    }).collect();
    let mut expired = 0;
    for r in runners {
        expired += r.await.unwrap();
    }
    let mut bought = 0;
    for b in buyers {
        match b.await.unwrap() {
            Ok(_) => bought += 1,
            Err(OrderError::OutOfStock { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(expired, 5, "each order expired exactly once");
    let mut conn = s.db.pool().acquire().await.unwrap();
    let held = jinguo_order::orders::held_units(&mut conn, sku).await.unwrap();
    drop(conn);
    assert_eq!(held, 3 * bought, "what is held is what the new orders took");
    assert_eq!(stock(&s, sku).await + held, 10, "nothing leaked, nothing counted twice");
    for id in first {
        let order = s.orders.order(id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert!(order.events.iter().any(|e| e.actor == "system" && e.to == "cancelled"));
    }
    assert_eq!(s.orders.run_jobs().await.unwrap().expired, 0);
});

db_test!(async fn bank_transfers_pay_or_are_flagged(db) {
    let s = shop(db).await;
    let staff = s.accounts.register("staff@fulian.cq.cn", "password-123", Role::Staff, None).await.unwrap().id.0;
    let me = buyer(&s, "13800000002").await;
    let (sku, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    s.orders.put_in_cart(Owner::User(me), sku, 1, false).await.unwrap();
    let placed = s.orders.checkout(me, &address()).await.unwrap().placed;

    let short = Fen(placed.total.0 - 100);
    let (outcome, order) = s.orders.record_transfer(staff, &placed.number, short, "2026-11-29").await.unwrap();
    assert_eq!(outcome, TransferOutcome::Flagged);
    assert_eq!(order.status, OrderStatus::AwaitingPayment, "a partial amount does not pay");

    assert!(matches!(
        s.orders.record_transfer(staff, "JG000000-NOSUCH", placed.total, "2026-11-29").await,
        Err(OrderError::UnknownReference(_))
    ));
    assert!(matches!(
        s.orders.record_transfer(staff, &placed.number, placed.total, "2027-01-01").await,
        Err(OrderError::Invalid { field: "received_on", .. })
    ));
    let (outcome, order) = s.orders.record_transfer(staff, &placed.number.to_lowercase(), placed.total, "2026-11-29").await.unwrap();
    assert_eq!(outcome, TransferOutcome::Accepted);
    assert_eq!(order.status, OrderStatus::Paid);
    assert!(order.parts.iter().all(|p| p.status == PartStatus::ToShip));

    let transfers_before = s.orders.transfers(order.id).await.unwrap().len();
    assert!(matches!(
        s.orders.record_transfer(staff, &placed.number, placed.total, "2026-11-29").await,
        Err(OrderError::AlreadyPaid(_))
    ));
    assert_eq!(s.orders.transfers(order.id).await.unwrap().len(), transfers_before, "the second one is not written");
    // Paid: the expiry job leaves it alone.
    s.clock.advance(OrderSettings::default().hold_ms * 2);
    assert_eq!(s.orders.run_jobs().await.unwrap().expired, 0);
});

db_test!(async fn suspended_regions_take_no_orders(db) {
    let s = shop(db).await;
    let staff = s.accounts.register("staff2@fulian.cq.cn", "password-123", Role::Staff, None).await.unwrap().id.0;
    let me = buyer(&s, "13800000003").await;
    let (sku, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    let before = stock(&s, sku).await;
    s.orders.put_in_cart(Owner::User(me), sku, 1, false).await.unwrap();
    // All of Shandong suspended; a restriction on one district is more specific and wins there.
    s.orders.set_restriction("37", Level::Suspended, "疫情高风险地区，暂停发货", staff).await.unwrap();
    match s.orders.checkout(me, &address()).await {
        Err(OrderError::Suspended { notice, .. }) => assert!(notice.contains("暂停")),
        other => panic!("expected a suspended region, got {other:?}"),
    }
    assert_eq!(stock(&s, sku).await, before, "nothing taken");
    assert_eq!(s.orders.cart(Owner::User(me)).await.unwrap().count, 1, "the cart is kept");
    s.orders.set_restriction("370102", Level::Restricted, "中风险地区，可能延迟", staff).await.unwrap();
    let placed = s.orders.checkout(me, &address()).await.unwrap().placed;
    assert_eq!(placed.notice.as_deref(), Some("中风险地区，可能延迟"));
    assert!(matches!(
        s.orders.set_restriction("999999", Level::Suspended, "x", staff).await,
        Err(OrderError::Invalid { .. })
    ));
});

db_test!(async fn wrong_or_unauthorised_actions_change_nothing(db) {
    let s = shop(db).await;
    let staff = s.accounts.register("staff3@fulian.cq.cn", "password-123", Role::Staff, None).await.unwrap().id.0;
    let me = buyer(&s, "13800000004").await;
    let other = buyer(&s, "13800000005").await;
    let (larou, _, larou_producer) = sku_of(&s, "chengkou-larou-500g").await;
    let (tea, _, tea_producer) = sku_of(&s, "xiushan-maojian-yuqian-250g").await;
    s.orders.put_in_cart(Owner::User(me), larou, 1, false).await.unwrap();
    s.orders.put_in_cart(Owner::User(me), tea, 1, false).await.unwrap();
    let placed = s.orders.checkout(me, &address()).await.unwrap().placed;
    let order = s.orders.order(placed.order_id).await.unwrap();
    let larou_part = order.parts.iter().find(|p| p.producer_id == larou_producer).unwrap().id;
    let ship = Action::Ship { part: larou_part, carrier: "顺丰".into(), tracking_no: "SF100".into() };

    // Unpaid: nobody ships.
    assert!(matches!(s.orders.act(order.id, ship.clone(), Actor::Producer(larou_producer)).await, Err(OrderError::Refused(_))));
    // Someone else's order: nothing.
    assert!(matches!(
        s.orders.act(order.id, Action::Cancel { reason: "x".into() }, Actor::Buyer(other)).await,
        Err(OrderError::Refused(_))
    ));
    s.orders.record_transfer(staff, &placed.number, placed.total, "2026-11-29").await.unwrap();
    // Another producer cannot ship this producer's part.
    assert!(matches!(s.orders.act(order.id, ship.clone(), Actor::Producer(tea_producer)).await, Err(OrderError::Refused(_))));
    let unchanged = s.orders.order(order.id).await.unwrap();
    assert_eq!(unchanged.parts.iter().find(|p| p.id == larou_part).unwrap().status, PartStatus::ToShip);
    s.orders.act(order.id, ship.clone(), Actor::Producer(larou_producer)).await.unwrap();
    // Shipping twice is refused; cancelling after a part shipped is refused.
    assert!(s.orders.act(order.id, ship, Actor::Producer(larou_producer)).await.is_err());
    assert!(s.orders.act(order.id, Action::Cancel { reason: "x".into() }, Actor::Buyer(me)).await.is_err());
    let shipped = s.orders.order(order.id).await.unwrap();
    let part = shipped.parts.iter().find(|p| p.id == larou_part).unwrap();
    assert_eq!((part.carrier.as_deref(), part.tracking_no.as_deref()), (Some("顺丰"), Some("SF100")));
    let history: Vec<(String, String)> = shipped.events.iter().map(|e| (e.actor.clone(), e.to.clone())).collect();
    assert!(history.contains(&("producer".into(), "shipped".into())), "{history:?}");
    assert!(history.contains(&("staff".into(), "paid".into())), "{history:?}");
});

db_test!(async fn a_paid_order_cancelled_before_shipping_is_refunded_and_restocked(db) {
    let s = shop(db).await;
    let staff = s.accounts.register("staff4@fulian.cq.cn", "password-123", Role::Staff, None).await.unwrap().id.0;
    let me = buyer(&s, "13800000006").await;
    let (sku, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    let before = stock(&s, sku).await;
    s.orders.put_in_cart(Owner::User(me), sku, 3, false).await.unwrap();
    let placed = s.orders.checkout(me, &address()).await.unwrap().placed;
    s.orders.record_transfer(staff, &placed.number, placed.total, "2026-11-29").await.unwrap();
    assert_eq!(stock(&s, sku).await, before - 3);
    s.orders.act(placed.order_id, Action::Cancel { reason: "不要了".into() }, Actor::Buyer(me)).await.unwrap();
    let order = s.orders.order(placed.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(order.refunds_pending, placed.total);
    assert_eq!(stock(&s, sku).await, before);
    let notes = s.orders.notifications(me).await.unwrap();
    assert!(notes.iter().any(|n| n.kind == "order_cancelled"));
    assert!(notes.iter().any(|n| n.kind == "order_paid"));
});

db_test!(async fn carts_say_what_changed_and_merge_on_sign_in(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000007").await;
    let (sku, price, _) = sku_of(&s, "chengkou-larou-500g").await;
    let (guest, session) = s.accounts.guest_session().await.unwrap();
    let _ = guest;
    s.orders.put_in_cart(Owner::Session(session.id), sku, 2, false).await.unwrap();
    s.orders.put_in_cart(Owner::User(me), sku, 1, false).await.unwrap();
    s.orders.merge_cart(session.id, me).await.unwrap();
    let cart = s.orders.cart(Owner::User(me)).await.unwrap();
    assert_eq!(cart.count, 3, "the guest's two and the account's one");
    assert_eq!(s.orders.cart(Owner::Session(session.id)).await.unwrap().count, 0);

    s.catalog.set_price(jinguo_catalog::SkuId(sku), Fen(price.0 + 500)).await.unwrap();
    sqlx::query("update skus set stock = 2 where id = $1").bind(sku).execute(s.db.pool()).await.unwrap();
    let cart = s.orders.cart(Owner::User(me)).await.unwrap();
    let line = &cart.parts[0].lines[0];
    assert!(line.price_changed() && line.price == Fen(price.0 + 500) && line.price_seen == price);
    assert!(line.short() && cart.blocked, "3 wanted, 2 left");
    assert!(matches!(s.orders.checkout(me, &address()).await, Err(OrderError::OutOfStock { available: 2, .. })));
    assert!(matches!(s.orders.put_in_cart(Owner::User(me), sku, 0, false).await, Err(OrderError::BadQuantity { .. })));
    assert!(matches!(s.orders.put_in_cart(Owner::User(me), sku, 100, true).await, Err(OrderError::BadQuantity { .. })));
    assert!(matches!(s.orders.put_in_cart(Owner::User(me), 999_999, 1, false).await, Err(OrderError::NotFound)));
    s.orders.put_in_cart(Owner::User(me), sku, 2, true).await.unwrap();
    assert!(
        matches!(s.orders.checkout(me, &address()).await, Err(OrderError::PriceChanged(_))),
        "a price the buyer has not accepted is never charged"
    );
    assert_eq!(stock(&s, sku).await, 2, "the refused checkout took nothing");
    s.orders.acknowledge_prices(Owner::User(me)).await.unwrap();
    let cart = s.orders.cart(Owner::User(me)).await.unwrap();
    assert!(!cart.blocked && !cart.parts[0].lines[0].price_changed());
    let placed = s.orders.checkout(me, &address()).await.unwrap();
    let items = (price.0 + 500) * 2;
    let shipping = if items >= 9_900 { 0 } else { 1_000 };
    assert_eq!(placed.placed.total.0, items + shipping, "the accepted new price, with the default shipping rule");
});
