//! Staff partial refunds, an order action ([`Action::Refund`]): part of what was paid for a
//! part goes back, no status moves, and never more than is left of the part, even when staff
//! refund the same part at the same time.

use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::state::{Action, ActionKind, Actor, OrderStatus, PartStatus, Refusal};
use jinguo_order::{OrderError, OrderId, PartId};
use jinguo_settlement::RefundStatus;
use jinguo_settlement::ledger::{self, Account};
use jinguo_shop::testing::TestShop;

fn refund(part: PartId, amount: i64) -> Action {
    Action::Refund {
        part,
        amount: Fen(amount),
        reason: "一盒破损".into(),
    }
}

/// A paid order of one part that cost ¥100 (free shipping): its id, its part, the producer.
async fn paid_order(shop: &TestShop) -> (OrderId, PartId, Actor, Actor) {
    let me = shop.buyer().await;
    let product = shop
        .product()
        .price(Fen(10_000))
        .create(&shop.catalog)
        .await;
    let placed = shop.order(&me, &[(product.skus[0].id, 1)]).await.placed;
    assert_eq!(placed.total, Fen(10_000));
    shop.pay(placed.order_id).await;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    (
        order.id,
        order.parts[0].id,
        Actor::Buyer(me.id),
        Actor::Producer(product.producer.id),
    )
}

/// The refunds of `order` as (part, amount), and what the ledger says is owed back.
async fn refunded(shop: &TestShop, order: OrderId) -> (Vec<(Option<PartId>, Fen)>, Fen) {
    let refunds = shop.settlement.refunds(Some(order)).await.unwrap();
    assert!(refunds.iter().all(|r| r.status == RefundStatus::Pending));
    let made = refunds.iter().map(|r| (r.part_id, r.amount)).collect();
    let mut conn = shop.db.pool().acquire().await.unwrap();
    // Owed back is a credit: the negative of the account's balance.
    let owed = Fen(0)
        - ledger::balance(&mut conn, Account::RefundsDue)
            .await
            .unwrap();
    (made, owed)
}

async fn staff_refund_part_of_a_part_and_never_more_than_is_left(db: TestDb) {
    let shop = TestShop::new(db).await;
    let staff = Actor::Staff(shop.staff().await.id);
    let (order, part, buyer, producer) = paid_order(&shop).await;
    let before = shop.orders.order(order).await.unwrap();

    let acted = shop
        .orders
        .act(order, refund(part, 3_000), staff)
        .await
        .unwrap();
    assert_eq!(acted.refund.map(|r| r.amount), Some(Fen(3_000)));
    let t = &acted.transition;
    assert_eq!(
        (t.order_from, t.order_to),
        (OrderStatus::Paid, OrderStatus::Paid)
    );
    assert!(t.parts.is_empty() && t.stock.is_none(), "{t:?}");
    assert_eq!(
        shop.orders.order(order).await.unwrap(),
        before,
        "no status moves, nothing in the history"
    );
    let refunds = shop.settlement.refunds(Some(order)).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (
            refunds[0].part_id,
            refunds[0].amount,
            refunds[0].reason.as_str()
        ),
        (Some(part), Fen(3_000), "一盒破损")
    );
    let after_first = refunded(&shop, order).await;
    assert_eq!(after_first, (vec![(Some(part), Fen(3_000))], Fen(3_000)));

    // More than is left: refused, and nothing written.
    assert!(matches!(
        shop.orders.act(order, refund(part, 8_000), staff).await,
        Err(OrderError::RefundTooLarge {
            asked: Fen(8_000),
            left: Fen(7_000)
        })
    ));
    assert_eq!(refunded(&shop, order).await, after_first);
    assert_eq!(shop.orders.order(order).await.unwrap(), before);
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());

    // Only staff; someone with no part in the order finds none; nothing or no reason is no refund.
    for who in [buyer, producer] {
        assert!(
            matches!(
                shop.orders.act(order, refund(part, 100), who).await,
                Err(OrderError::Refused(Refusal::Forbidden))
            ),
            "{who:?}"
        );
    }
    let outsider = Actor::Producer(shop.producer().await.id);
    assert!(matches!(
        shop.orders.act(order, refund(part, 100), outsider).await,
        Err(OrderError::NotFound)
    ));
    assert!(matches!(
        shop.orders.act(order, refund(part, 0), staff).await,
        Err(OrderError::Refused(Refusal::NothingToRefund))
    ));
    let no_reason = Action::Refund {
        part,
        amount: Fen(100),
        reason: " ".into(),
    };
    assert!(matches!(
        shop.orders.act(order, no_reason, staff).await,
        Err(OrderError::Refused(Refusal::NeedsReason))
    ));
    assert_eq!(refunded(&shop, order).await, after_first);

    // Exactly what is left, then nothing is.
    shop.orders
        .act(order, refund(part, 7_000), staff)
        .await
        .unwrap();
    assert!(matches!(
        shop.orders.act(order, refund(part, 1), staff).await,
        Err(OrderError::RefundTooLarge {
            asked: Fen(1),
            left: Fen(0)
        })
    ));
    let all = vec![(Some(part), Fen(3_000)), (Some(part), Fen(7_000))];
    assert_eq!(refunded(&shop, order).await, (all.clone(), Fen(10_000)));

    // Cancelled now, the order gives back what earlier refunds left: nothing.
    let cancel = Action::Cancel {
        reason: "不要了".into(),
    };
    let acted = shop.orders.act(order, cancel, buyer).await.unwrap();
    assert_eq!(acted.refund, None);
    let cancelled = shop.orders.order(order).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.parts[0].status, PartStatus::Cancelled);
    assert_eq!(refunded(&shop, order).await, (all, Fen(10_000)));
    assert!(matches!(
        shop.orders.act(order, refund(part, 1), staff).await,
        Err(OrderError::Refused(Refusal::OrderStatus {
            action: ActionKind::Refund,
            status: OrderStatus::Cancelled
        }))
    ));
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
}

async fn concurrent_partial_refunds_give_back_at_most_what_is_left(db: TestDb) {
    let shop = TestShop::new(db).await;
    let (order, part, _, _) = paid_order(&shop).await;
    // Six staff each give back 40% of the part at once: two fit, four do not.
    let mut staff = Vec::new();
    for _ in 0..6 {
        staff.push(Actor::Staff(shop.staff().await.id));
    }
    let attempts: Vec<_> = staff
        .into_iter()
        .map(|staff| {
            let orders = shop.orders.clone();
            tokio::spawn(async move { orders.act(order, refund(part, 4_000), staff).await })
        })
        .collect();
    let (mut made, mut too_large) = (0, 0);
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(acted) => {
                assert_eq!(acted.refund.map(|r| r.amount), Some(Fen(4_000)));
                made += 1;
            }
            Err(OrderError::RefundTooLarge { asked, left }) => {
                assert_eq!((asked, left), (Fen(4_000), Fen(2_000)));
                too_large += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((made, too_large), (2, 4));
    let four_thousand = (Some(part), Fen(4_000));
    assert_eq!(
        refunded(&shop, order).await,
        (vec![four_thousand, four_thousand], Fen(8_000))
    );
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
    assert_eq!(
        shop.orders.order(order).await.unwrap().status,
        OrderStatus::Paid
    );
}

async fn a_return_after_a_partial_refund_gives_back_the_rest(db: TestDb) {
    let shop = TestShop::new(db).await;
    let staff = Actor::Staff(shop.staff().await.id);
    let (order, part, buyer, producer) = paid_order(&shop).await;
    shop.orders
        .act(order, refund(part, 2_500), staff)
        .await
        .unwrap();
    let ship = Action::Ship {
        part,
        carrier: "顺丰".into(),
        tracking_no: "SF1".into(),
    };
    shop.orders.act(order, ship, producer).await.unwrap();
    shop.orders
        .act(order, Action::Deliver { part }, buyer)
        .await
        .unwrap();
    let request = Action::RequestReturn {
        part,
        reason: "还是坏的".into(),
    };
    shop.orders.act(order, request, buyer).await.unwrap();
    let acted = shop
        .orders
        .act(order, Action::AcceptReturn { part }, producer)
        .await
        .unwrap();
    assert_eq!(
        acted.refund.map(|r| r.amount),
        Some(Fen(7_500)),
        "what the partial refund left"
    );
    assert_eq!(
        refunded(&shop, order).await,
        (
            vec![(Some(part), Fen(2_500)), (Some(part), Fen(7_500))],
            Fen(10_000)
        )
    );
    assert_eq!(
        shop.orders.order(order).await.unwrap().status,
        OrderStatus::Completed
    );
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
}

db_test!(
    staff_refund_part_of_a_part_and_never_more_than_is_left,
    a_return_after_a_partial_refund_gives_back_the_rest,
    concurrent_partial_refunds_give_back_at_most_what_is_left,
);
