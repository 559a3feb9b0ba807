//! Carts, checkout and the order lifecycle on both databases: stock taken exactly once under
//! concurrency, released exactly once when unpaid orders expire, bank transfers that pay or are
//! flagged, delivery restrictions, and illegal or unauthorised actions that change nothing.

use jinguo_catalog::SkuId;
use jinguo_common::db_test;
use jinguo_common::invalid::{Field, Invalid};
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::cart::Owner;
use jinguo_order::payment::PaymentInstructions;
use jinguo_order::region::Level;
use jinguo_order::state::{Action, ActionKind, Actor, ActorKind, OrderStatus, PartStatus, Refusal};
use jinguo_order::{FlagReason, OrderError, TransferOutcome};
use jinguo_settlement::RefundStatus;
use jinguo_shop::testing::{TestShop, checkout_request};

/// Units of `sku` held by unpaid orders.
async fn held(shop: &TestShop, sku: SkuId) -> i64 {
    let mut conn = shop.db.pool().acquire().await.unwrap();
    jinguo_order::orders::held_units(&mut conn, sku)
        .await
        .unwrap()
}

async fn checkout_splits_by_producer_and_takes_stock(db: TestDb) {
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let larou = shop
        .product()
        .price(Fen(6_800))
        .stock(5)
        .create(&shop.catalog)
        .await;
    let honey = shop
        .product()
        .price(Fen(4_500))
        .stock(5)
        .create(&shop.catalog)
        .await;
    let (larou_sku, honey_sku) = (larou.skus[0].id, honey.skus[0].id);
    let before = (shop.stock(larou_sku).await, shop.stock(honey_sku).await);
    shop.orders
        .put_in_cart(Owner::User(me.id), larou_sku, 2, false)
        .await
        .unwrap();
    shop.orders
        .put_in_cart(Owner::User(me.id), honey_sku, 1, false)
        .await
        .unwrap();
    let cart = shop.orders.cart(Owner::User(me.id)).await.unwrap();
    assert_eq!(cart.parts.len(), 2, "two producers, two parts");
    assert_eq!(cart.items, Fen(6_800 * 2 + 4_500));

    let checkout = shop.checkout(&me).await.unwrap();
    let order = shop.orders.order(checkout.placed.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::AwaitingPayment);
    assert_eq!(order.parts.len(), 2);
    assert_eq!(order.items, cart.items);
    assert_eq!(order.total, order.items + order.shipping);
    assert_eq!(
        order.shipping, cart.shipping,
        "the fee shown in the cart is the fee charged"
    );
    let larou_part = order
        .parts
        .iter()
        .find(|p| p.producer_id == larou.producer.id)
        .unwrap();
    assert_eq!(larou_part.lines[0].quantity, 2);
    assert_eq!(order.region_name, "山东省济南市历下区");
    assert_eq!(
        (shop.stock(larou_sku).await, shop.stock(honey_sku).await),
        (before.0 - 2, before.1 - 1)
    );
    assert_eq!(
        shop.orders.cart(Owner::User(me.id)).await.unwrap().count,
        0,
        "the cart is emptied"
    );
    assert!(matches!(
        checkout.instructions,
        Some(PaymentInstructions::BankTransfer { ref reference, amount_fen, .. })
            if *reference == order.number && amount_fen == order.total.0
    ));
    assert!(matches!(
        shop.checkout(&me).await,
        Err(OrderError::EmptyCart)
    ));
}

async fn concurrent_buyers_never_buy_the_same_unit(db: TestDb) {
    let shop = TestShop::new(db).await;
    // Twenty units, forty buyers who each want one.
    let product = shop.product().stock(20).create(&shop.catalog).await;
    let sku = product.skus[0].id;
    let mut buyers = Vec::new();
    for _ in 0..40 {
        let me = shop.buyer().await;
        shop.orders
            .put_in_cart(Owner::User(me.id), sku, 1, false)
            .await
            .unwrap();
        buyers.push(me.id);
    }
    let attempts: Vec<_> = buyers
        .iter()
        .map(|me| {
            let (orders, me) = (shop.orders.clone(), *me);
            tokio::spawn(async move { orders.checkout(me, &checkout_request()).await })
        })
        .collect();
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }
    let placed = results.iter().filter(|r| r.is_ok()).count();
    let sold_out = results
        .iter()
        .filter(|r| matches!(r, Err(OrderError::OutOfStock { available: 0, .. })))
        .count();
    assert_eq!(placed, 20, "exactly the units there were");
    assert_eq!(sold_out, 20, "everyone else is told it is sold out");
    assert_eq!(shop.stock(sku).await, 0);
    assert_eq!(held(&shop, sku).await, 20);
}

async fn unpaid_orders_give_their_stock_back_once(db: TestDb) {
    let shop = TestShop::new(db).await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let sku = product.skus[0].id;
    // Three late buyers fill their carts while the units are still there.
    let mut late = Vec::new();
    for _ in 0..3 {
        let me = shop.buyer().await;
        shop.orders
            .put_in_cart(Owner::User(me.id), sku, 3, false)
            .await
            .unwrap();
        late.push(me.id);
    }
    let mut first = Vec::new();
    for _ in 0..5 {
        let me = shop.buyer().await;
        first.push(shop.order(&me, &[(sku, 2)]).await.placed.order_id);
    }
    assert_eq!(shop.stock(sku).await, 0);
    // Time runs out for all of them; three job runners race to expire them while three new
    // buyers try to take the units being freed.
    shop.advance(
        shop.orders
            .settings()
            .hold_ms_for(jinguo_order::payment::PaymentMethod::BankTransfer),
    );
    let runners: Vec<_> = (0..3)
        .map(|_| {
            let orders = shop.orders.clone();
            tokio::spawn(async move { orders.run_jobs().await.unwrap().expired })
        })
        .collect();
    let buyers: Vec<_> = late
        .iter()
        .map(|me| {
            let (orders, me) = (shop.orders.clone(), *me);
            tokio::spawn(async move { orders.checkout(me, &checkout_request()).await })
        })
        .collect();
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
    let held = held(&shop, sku).await;
    assert_eq!(held, 3 * bought, "what is held is what the new orders took");
    assert_eq!(
        shop.stock(sku).await + held,
        10,
        "nothing leaked, nothing counted twice"
    );
    for id in first {
        let order = shop.orders.order(id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert!(
            order
                .events
                .iter()
                .any(|e| e.actor == ActorKind::System && e.to == "cancelled")
        );
    }
    assert_eq!(shop.orders.run_jobs().await.unwrap().expired, 0);
}

async fn a_bank_transfer_holds_for_days_with_one_reminder(db: TestDb) {
    const MINUTE: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MINUTE;
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let sku = shop.product().stock(5).create(&shop.catalog).await.skus[0].id;
    let placed = shop.order(&me, &[(sku, 2)]).await.placed;
    let reminders = |shop: &TestShop| {
        let orders = shop.orders.clone();
        async move {
            orders
                .notifications(me.id)
                .await
                .unwrap()
                .iter()
                .filter(|n| n.kind == "payment_reminder")
                .count()
        }
    };
    // A card payment's quarter of an hour is not a bank transfer's hold.
    shop.advance(16 * MINUTE);
    let report = shop.orders.run_jobs().await.unwrap();
    assert_eq!((report.expired, report.reminded), (0, 0));
    assert_eq!(shop.stock(sku).await, 3, "still held for the transfer");
    // A day before the three days are up, the buyer is reminded, once.
    shop.advance(2 * DAY - 16 * MINUTE + MINUTE);
    assert_eq!(shop.orders.run_jobs().await.unwrap().reminded, 1);
    assert_eq!(shop.orders.run_jobs().await.unwrap().reminded, 0);
    assert_eq!(reminders(&shop).await, 1);
    let reminder = shop
        .orders
        .notifications(me.id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.kind == "payment_reminder")
        .unwrap();
    assert_eq!(reminder.order_id, Some(placed.order_id));
    assert_eq!(reminder.args["number"], placed.number.as_str());
    assert!(
        reminder.args["deadline"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-0")
    );
    // Then the hold ends and the stock comes back.
    shop.advance(DAY);
    assert_eq!(shop.orders.run_jobs().await.unwrap().expired, 1);
    assert_eq!(shop.stock(sku).await, 5);
    assert_eq!(
        shop.orders.order(placed.order_id).await.unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(
        reminders(&shop).await,
        1,
        "no reminder for a cancelled order"
    );
}

async fn bank_transfers_pay_or_are_flagged(db: TestDb) {
    let shop = TestShop::new(db).await;
    let staff = shop.staff().await.id;
    let me = shop.buyer().await;
    let product = shop.product().create(&shop.catalog).await;
    let placed = shop.order(&me, &[(product.skus[0].id, 1)]).await.placed;

    let short = placed.total - Fen(100);
    let (outcome, order) = shop
        .orders
        .record_transfer(staff, &placed.number, short, "2026-11-29")
        .await
        .unwrap();
    assert_eq!(outcome, TransferOutcome::Flagged);
    assert_eq!(
        order.status,
        OrderStatus::AwaitingPayment,
        "a partial amount does not pay"
    );
    let kept = shop.orders.transfers(order.id).await.unwrap();
    assert_eq!(
        (kept.len(), kept[0].amount, kept[0].flag),
        (1, short, Some(FlagReason::WrongAmount)),
        "it is kept, and why"
    );

    assert!(matches!(
        shop.orders
            .record_transfer(staff, "JG000000-NOSUCH", placed.total, "2026-11-29")
            .await,
        Err(OrderError::UnknownReference(_))
    ));
    assert!(matches!(
        shop.orders
            .record_transfer(staff, &placed.number, placed.total, "2027-01-01")
            .await,
        Err(OrderError::Invalid(Invalid {
            field: Field::ReceivedOn,
            ..
        }))
    ));
    let (outcome, order) = shop
        .orders
        .record_transfer(
            staff,
            &placed.number.to_lowercase(),
            placed.total,
            "2026-11-29",
        )
        .await
        .unwrap();
    assert_eq!(outcome, TransferOutcome::Accepted);
    assert_eq!(order.status, OrderStatus::Paid);
    assert!(order.parts.iter().all(|p| p.status == PartStatus::ToShip));

    let transfers_before = shop.orders.transfers(order.id).await.unwrap().len();
    assert!(matches!(
        shop.orders
            .record_transfer(staff, &placed.number, placed.total, "2026-11-29")
            .await,
        Err(OrderError::AlreadyPaid(_))
    ));
    assert_eq!(
        shop.orders.transfers(order.id).await.unwrap().len(),
        transfers_before,
        "the second one is not written"
    );
    // Paid: the expiry job leaves it alone.
    shop.advance(
        shop.orders
            .settings()
            .hold_ms_for(jinguo_order::payment::PaymentMethod::BankTransfer)
            * 2,
    );
    assert_eq!(shop.orders.run_jobs().await.unwrap().expired, 0);
}

async fn suspended_regions_take_no_orders(db: TestDb) {
    let shop = TestShop::new(db).await;
    let staff = shop.staff().await.id;
    let me = shop.buyer().await;
    let product = shop.product().create(&shop.catalog).await;
    let sku = product.skus[0].id;
    let before = shop.stock(sku).await;
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    // All of Shandong suspended; a restriction on one district is more specific and wins there.
    shop.orders
        .set_restriction("37", Level::Suspended, "疫情高风险地区，暂停发货", staff)
        .await
        .unwrap();
    match shop.checkout(&me).await {
        Err(OrderError::Suspended { notice, .. }) => assert!(notice.contains("暂停")),
        other => panic!("expected a suspended region, got {other:?}"),
    }
    assert_eq!(shop.stock(sku).await, before, "nothing taken");
    assert_eq!(
        shop.orders.cart(Owner::User(me.id)).await.unwrap().count,
        1,
        "the cart is kept"
    );
    shop.orders
        .set_restriction("370102", Level::Restricted, "中风险地区，可能延迟", staff)
        .await
        .unwrap();
    let placed = shop.checkout(&me).await.unwrap().placed;
    assert_eq!(placed.notice.as_deref(), Some("中风险地区，可能延迟"));
    assert!(matches!(
        shop.orders
            .set_restriction("999999", Level::Suspended, "x", staff)
            .await,
        Err(OrderError::Invalid(Invalid {
            field: Field::RegionCode,
            ..
        }))
    ));
}

async fn wrong_or_unauthorised_actions_change_nothing(db: TestDb) {
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let other = shop.buyer().await;
    let larou = shop.product().create(&shop.catalog).await;
    let tea = shop.product().create(&shop.catalog).await;
    let (larou_producer, tea_producer) = (larou.producer.id, tea.producer.id);
    let placed = shop
        .order(&me, &[(larou.skus[0].id, 1), (tea.skus[0].id, 1)])
        .await
        .placed;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    let larou_part = order
        .parts
        .iter()
        .find(|p| p.producer_id == larou_producer)
        .unwrap()
        .id;
    let ship = Action::Ship {
        part: larou_part,
        carrier: "顺丰".into(),
        tracking_no: "SF100".into(),
    };

    // Unpaid: nobody ships.
    assert!(matches!(
        shop.orders
            .act(order.id, ship.clone(), Actor::Producer(larou_producer))
            .await,
        Err(OrderError::Refused(Refusal::PartStatus {
            action: ActionKind::Ship,
            status: PartStatus::Pending
        }))
    ));
    // Someone else's order: as if there were none.
    assert!(matches!(
        shop.orders
            .act(
                order.id,
                Action::Cancel { reason: "x".into() },
                Actor::Buyer(other.id)
            )
            .await,
        Err(OrderError::NotFound)
    ));
    shop.pay(order.id).await;
    // Another producer of the same order cannot reach this producer's part.
    assert!(matches!(
        shop.orders
            .act(order.id, ship.clone(), Actor::Producer(tea_producer))
            .await,
        Err(OrderError::NotFound)
    ));
    let unchanged = shop.orders.order(order.id).await.unwrap();
    assert_eq!(
        unchanged
            .parts
            .iter()
            .find(|p| p.id == larou_part)
            .unwrap()
            .status,
        PartStatus::ToShip
    );
    shop.orders
        .act(order.id, ship.clone(), Actor::Producer(larou_producer))
        .await
        .unwrap();
    // Shipping twice is refused; cancelling after a part shipped is refused.
    assert!(matches!(
        shop.orders
            .act(order.id, ship, Actor::Producer(larou_producer))
            .await,
        Err(OrderError::Refused(Refusal::PartStatus {
            action: ActionKind::Ship,
            status: PartStatus::Shipped
        }))
    ));
    assert!(matches!(
        shop.orders
            .act(
                order.id,
                Action::Cancel { reason: "x".into() },
                Actor::Buyer(me.id)
            )
            .await,
        Err(OrderError::Refused(Refusal::AlreadyShipped))
    ));
    let shipped = shop.orders.order(order.id).await.unwrap();
    assert_eq!(shipped.status, OrderStatus::Paid);
    let part = shipped.parts.iter().find(|p| p.id == larou_part).unwrap();
    assert_eq!(
        (part.carrier.as_deref(), part.tracking_no.as_deref()),
        (Some("顺丰"), Some("SF100"))
    );
    let history: Vec<(ActorKind, String)> = shipped
        .events
        .iter()
        .map(|e| (e.actor, e.to.clone()))
        .collect();
    assert!(
        history.contains(&(ActorKind::Producer, "shipped".into())),
        "{history:?}"
    );
    assert!(
        history.contains(&(ActorKind::Staff, "paid".into())),
        "{history:?}"
    );
}

async fn a_paid_order_cancelled_before_shipping_is_refunded_and_restocked(db: TestDb) {
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let sku = product.skus[0].id;
    let before = shop.stock(sku).await;
    let placed = shop.order(&me, &[(sku, 3)]).await.placed;
    shop.pay(placed.order_id).await;
    assert_eq!(shop.stock(sku).await, before - 3);
    let acted = shop
        .orders
        .act(
            placed.order_id,
            Action::Cancel {
                reason: "不要了".into(),
            },
            Actor::Buyer(me.id),
        )
        .await
        .unwrap();
    let order = shop.orders.order(placed.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(acted.refund.map(|r| r.amount), Some(placed.total));
    let refunds = shop
        .settlement
        .refunds(Some(placed.order_id))
        .await
        .unwrap();
    let pending: Vec<_> = refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Pending)
        .map(|r| (r.part_id, r.amount, r.reason.as_str()))
        .collect();
    assert_eq!(
        pending,
        vec![(None, placed.total, "不要了")],
        "the whole order is owed back, once"
    );
    assert_eq!(shop.stock(sku).await, before);
    let notes = shop.orders.notifications(me.id).await.unwrap();
    assert!(notes.iter().any(|n| n.kind == "order_cancelled"));
    assert!(notes.iter().any(|n| n.kind == "order_paid"));
}

async fn carts_say_what_changed_and_merge_on_sign_in(db: TestDb) {
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let (sku, price) = (product.skus[0].id, product.skus[0].price);
    let (_, session) = shop.accounts.guest_session().await.unwrap();
    shop.orders
        .put_in_cart(Owner::Session(session.id), sku, 2, false)
        .await
        .unwrap();
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    shop.orders.merge_cart(session.id, me.id).await.unwrap();
    let cart = shop.orders.cart(Owner::User(me.id)).await.unwrap();
    assert_eq!(cart.count, 3, "the guest's two and the account's one");
    assert_eq!(
        shop.orders
            .cart(Owner::Session(session.id))
            .await
            .unwrap()
            .count,
        0
    );

    let new_price = price + Fen(500);
    shop.catalog.set_price(sku, new_price).await.unwrap();
    shop.catalog
        .set_stock_of(product.producer.id, sku, 2)
        .await
        .unwrap();
    let cart = shop.orders.cart(Owner::User(me.id)).await.unwrap();
    let line = &cart.parts[0].lines[0];
    assert!(line.price_changed() && line.price == new_price && line.price_seen == price);
    assert!(line.short() && cart.blocked, "3 wanted, 2 left");
    assert!(matches!(
        shop.checkout(&me).await,
        Err(OrderError::OutOfStock { available: 2, .. })
    ));
    assert!(matches!(
        shop.orders
            .put_in_cart(Owner::User(me.id), sku, 0, false)
            .await,
        Err(OrderError::Invalid(Invalid {
            field: Field::Quantity,
            ..
        }))
    ));
    assert!(matches!(
        shop.orders
            .put_in_cart(Owner::User(me.id), sku, 100, true)
            .await,
        Err(OrderError::Invalid(Invalid {
            field: Field::Quantity,
            ..
        }))
    ));
    assert!(matches!(
        shop.orders
            .put_in_cart(Owner::User(me.id), SkuId(999_999), 1, false)
            .await,
        Err(OrderError::NotFound)
    ));
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 2, true)
        .await
        .unwrap();
    assert!(
        matches!(shop.checkout(&me).await, Err(OrderError::PriceChanged(_))),
        "a price the buyer has not accepted is never charged"
    );
    assert_eq!(
        shop.stock(sku).await,
        2,
        "the refused checkout took nothing"
    );
    shop.orders
        .acknowledge_prices(Owner::User(me.id))
        .await
        .unwrap();
    let cart = shop.orders.cart(Owner::User(me.id)).await.unwrap();
    assert!(!cart.blocked && !cart.parts[0].lines[0].price_changed());
    let placed = shop.checkout(&me).await.unwrap();
    let items = new_price.0 * 2;
    let shipping = if items >= 9_900 { 0 } else { 1_000 };
    assert_eq!(
        placed.placed.total.0,
        items + shipping,
        "the accepted new price, with the default shipping rule"
    );
}

db_test!(
    checkout_splits_by_producer_and_takes_stock,
    concurrent_buyers_never_buy_the_same_unit,
    unpaid_orders_give_their_stock_back_once,
    a_bank_transfer_holds_for_days_with_one_reminder,
    bank_transfers_pay_or_are_flagged,
    suspended_regions_take_no_orders,
    wrong_or_unauthorised_actions_change_nothing,
    a_paid_order_cancelled_before_shipping_is_refunded_and_restocked,
    carts_say_what_changed_and_merge_on_sign_in,
);
