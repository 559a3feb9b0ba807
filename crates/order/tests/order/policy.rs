//! Who sees an order and what each is offered ([`Orders::order_for`], [`policy::offers`]): the
//! buyer, the producer of each part, staff, at every stage of an order's life; a producer sees
//! its own part and its own amounts only; someone with no part in the order, or a producer
//! reaching for another producer's part, finds nothing.
//!
//! [`Orders::order_for`]: jinguo_order::Orders::order_for
//! [`policy::offers`]: jinguo_order::policy::offers

use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::OrderId;
use jinguo_order::PartId;
use jinguo_order::policy::{Offers, Viewer};
use jinguo_order::state::{Action, ActionKind, Actor, OrderStatus, PartStatus, Refusal};
use jinguo_order::{OrderError, OrderView};
use jinguo_shop::testing::TestShop;

use ActionKind::{AcceptReturn, Deliver, RefuseReturn, RequestReturn, Ship};

/// What someone is offered: the whole order's cancel, the actions on each part, the parts staff
/// may refund.
fn offered(cancel: bool, parts: &[(PartId, &[ActionKind])], refund: &[PartId]) -> Offers {
    Offers {
        cancel,
        parts: parts
            .iter()
            .map(|(part, actions)| (*part, actions.to_vec()))
            .collect(),
        refund: refund.to_vec(),
    }
}

fn nothing() -> Offers {
    Offers::default()
}

async fn view(shop: &TestShop, actor: Actor, order: OrderId) -> OrderView {
    shop.orders.order_for(actor, order).await.unwrap()
}

/// Each actor is offered what `expected` says at `stage`, and every outsider finds no order.
async fn assert_offers(
    shop: &TestShop,
    order: OrderId,
    stage: &str,
    expected: &[(Actor, Offers)],
    outsiders: &[Actor],
) {
    for (actor, offers) in expected {
        assert_eq!(
            &view(shop, *actor, order).await.offers,
            offers,
            "{stage}: {actor:?}"
        );
    }
    for outsider in outsiders {
        assert!(
            matches!(
                shop.orders.order_for(*outsider, order).await,
                Err(OrderError::NotFound)
            ),
            "{stage}: {outsider:?} sees the order"
        );
    }
}

/// An order of two parts: A (¥49 and ¥10 shipping, of one producer) and B (¥120, free shipping,
/// of another).
struct TwoParts {
    order: OrderId,
    a: PartId,
    b: PartId,
    buyer: Actor,
    producer_a: Actor,
    producer_b: Actor,
    staff: Actor,
    /// A producer with no part in the order, and another buyer.
    outsiders: [Actor; 2],
}

async fn two_parts(shop: &TestShop) -> TwoParts {
    let me = shop.buyer().await;
    let first = shop.product().price(Fen(4_900)).create(&shop.catalog).await;
    let second = shop
        .product()
        .price(Fen(12_000))
        .create(&shop.catalog)
        .await;
    let placed = shop
        .order(&me, &[(first.skus[0].id, 1), (second.skus[0].id, 1)])
        .await
        .placed;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    let part_of = |producer| {
        order
            .parts
            .iter()
            .find(|p| p.producer_id == producer)
            .unwrap()
            .id
    };
    let (a, b) = (part_of(first.producer.id), part_of(second.producer.id));
    // The offers expected below list A before B: checkout makes the parts in producer order,
    // and A's producer was made first.
    assert!(a < b);
    TwoParts {
        order: order.id,
        a,
        b,
        buyer: Actor::Buyer(me.id),
        producer_a: Actor::Producer(first.producer.id),
        producer_b: Actor::Producer(second.producer.id),
        staff: Actor::Staff(shop.staff().await.id),
        outsiders: [
            Actor::Producer(shop.producer().await.id),
            Actor::Buyer(shop.buyer().await.id),
        ],
    }
}

async fn each_is_offered_what_the_state_machine_allows_at_every_stage(db: TestDb) {
    let shop = TestShop::new(db).await;
    let o = two_parts(&shop).await;
    let (a, b) = (o.a, o.b);
    let act = |action: Action, actor: Actor| {
        let orders = shop.orders.clone();
        async move { orders.act(o.order, action, actor).await.unwrap() }
    };

    assert_offers(
        &shop,
        o.order,
        "placed",
        &[
            (o.buyer, offered(true, &[], &[])),
            (o.producer_a, nothing()),
            (o.producer_b, nothing()),
            (o.staff, offered(true, &[], &[])),
        ],
        &o.outsiders,
    )
    .await;
    assert_eq!(view(&shop, o.buyer, o.order).await.viewer, Viewer::Buyer);
    assert_eq!(view(&shop, o.staff, o.order).await.viewer, Viewer::Staff);

    shop.pay(o.order).await;
    assert_offers(
        &shop,
        o.order,
        "paid",
        &[
            (o.buyer, offered(true, &[], &[])),
            (o.producer_a, offered(false, &[(a, &[Ship])], &[])),
            (o.producer_b, offered(false, &[(b, &[Ship])], &[])),
            (
                o.staff,
                offered(true, &[(a, &[Ship]), (b, &[Ship])], &[a, b]),
            ),
        ],
        &o.outsiders,
    )
    .await;

    for (part, producer) in [(a, o.producer_a), (b, o.producer_b)] {
        let ship = Action::Ship {
            part,
            carrier: "顺丰".into(),
            tracking_no: format!("SF{part}"),
        };
        act(ship, producer).await;
    }
    assert_offers(
        &shop,
        o.order,
        "shipped",
        &[
            (
                o.buyer,
                offered(false, &[(a, &[Deliver]), (b, &[Deliver])], &[]),
            ),
            (o.producer_a, nothing()),
            (o.producer_b, nothing()),
            (
                o.staff,
                offered(false, &[(a, &[Deliver]), (b, &[Deliver])], &[a, b]),
            ),
        ],
        &o.outsiders,
    )
    .await;

    act(Action::Deliver { part: a }, o.buyer).await;
    act(Action::Deliver { part: b }, o.buyer).await;
    assert_offers(
        &shop,
        o.order,
        "delivered",
        &[
            (
                o.buyer,
                offered(false, &[(a, &[RequestReturn]), (b, &[RequestReturn])], &[]),
            ),
            (o.producer_a, nothing()),
            (o.producer_b, nothing()),
            (o.staff, offered(false, &[], &[a, b])),
        ],
        &o.outsiders,
    )
    .await;

    let request = Action::RequestReturn {
        part: a,
        reason: "碎了".into(),
    };
    act(request, o.buyer).await;
    let answer: &[ActionKind] = &[AcceptReturn, RefuseReturn];
    assert_offers(
        &shop,
        o.order,
        "return requested",
        &[
            (o.buyer, offered(false, &[(b, &[RequestReturn])], &[])),
            (o.producer_a, offered(false, &[(a, answer)], &[])),
            (o.producer_b, nothing()),
            (o.staff, offered(false, &[(a, answer)], &[a, b])),
        ],
        &o.outsiders,
    )
    .await;

    // The return window of B closes; the return asked for within it still waits for an answer.
    shop.advance(shop.orders.settings().windows().return_ms + 1);
    assert_offers(
        &shop,
        o.order,
        "after the return window",
        &[
            (o.buyer, nothing()),
            (o.producer_a, offered(false, &[(a, answer)], &[])),
            (o.producer_b, nothing()),
            (o.staff, offered(false, &[(a, answer)], &[a, b])),
        ],
        &o.outsiders,
    )
    .await;
    let late = Action::RequestReturn {
        part: b,
        reason: "晚了".into(),
    };
    assert!(matches!(
        shop.orders.act(o.order, late, o.buyer).await,
        Err(OrderError::Refused(Refusal::ReturnWindowClosed))
    ));

    // B completes; A is taken back: the order is done, and only B, kept, may still be refunded.
    assert_eq!(shop.orders.run_jobs().await.unwrap().completed, 1);
    act(Action::AcceptReturn { part: a }, o.producer_a).await;
    let done = shop.orders.order(o.order).await.unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_offers(
        &shop,
        o.order,
        "completed",
        &[
            (o.buyer, nothing()),
            (o.producer_a, nothing()),
            (o.producer_b, nothing()),
            (o.staff, offered(false, &[], &[b])),
        ],
        &o.outsiders,
    )
    .await;
}

async fn a_producer_sees_only_its_own_part_and_its_own_amounts(db: TestDb) {
    let shop = TestShop::new(db).await;
    let o = two_parts(&shop).await;
    shop.pay(o.order).await;
    let ship = Action::Ship {
        part: o.b,
        carrier: "EMS".into(),
        tracking_no: "E1".into(),
    };
    shop.orders.act(o.order, ship, o.producer_b).await.unwrap();

    let whole = view(&shop, o.buyer, o.order).await.order;
    assert_eq!(whole.parts.len(), 2);
    assert_eq!(
        (whole.items, whole.shipping, whole.total),
        (Fen(16_900), Fen(1_000), Fen(17_900))
    );
    assert!(whole.events.iter().any(|e| e.part_id == Some(o.b)));
    assert_eq!(view(&shop, o.staff, o.order).await.order, whole);

    let mine = view(&shop, o.producer_a, o.order).await;
    assert!(
        matches!(o.producer_a, Actor::Producer(p) if mine.viewer == Viewer::Producer(p)),
        "{:?}",
        mine.viewer
    );
    let own: Vec<PartId> = mine.order.parts.iter().map(|p| p.id).collect();
    assert_eq!(own, vec![o.a], "its own part only");
    assert_eq!(mine.order.parts[0].lines.len(), 1);
    assert_eq!(
        (mine.order.items, mine.order.shipping, mine.order.total),
        (Fen(4_900), Fen(1_000), Fen(5_900)),
        "what its own part cost, not what the buyer paid the other producer"
    );
    assert!(
        mine.order
            .events
            .iter()
            .all(|e| e.part_id.is_none_or(|p| p == o.a)),
        "no history of the other part: {:?}",
        mine.order.events
    );
    assert!(mine.order.events.iter().any(|e| e.part_id == Some(o.a)));
    assert_eq!(mine.order.number, whole.number);

    let theirs = view(&shop, o.producer_b, o.order).await.order;
    assert_eq!(
        (theirs.parts.len(), theirs.parts[0].id, theirs.total),
        (1, o.b, Fen(12_000))
    );
    assert_eq!(
        theirs.parts[0].status,
        PartStatus::Shipped,
        "and its own part as it is"
    );
}

async fn a_producer_cannot_reach_another_producers_part(db: TestDb) {
    let shop = TestShop::new(db).await;
    let o = two_parts(&shop).await;
    let history = |shop: &TestShop| {
        let orders = shop.orders.clone();
        async move { orders.order(o.order).await.unwrap() }
    };
    shop.pay(o.order).await;
    let before = history(&shop).await;
    let ship_a = Action::Ship {
        part: o.a,
        carrier: "顺丰".into(),
        tracking_no: "SF1".into(),
    };
    assert!(matches!(
        shop.orders.act(o.order, ship_a.clone(), o.producer_b).await,
        Err(OrderError::NotFound)
    ));
    assert!(
        matches!(
            shop.orders
                .act(o.order, Action::Cancel { reason: "x".into() }, o.producer_b)
                .await,
            Err(OrderError::Refused(Refusal::Forbidden))
        ),
        "it sees the order, and may not cancel it"
    );
    assert_eq!(history(&shop).await, before, "nothing changed");

    shop.orders
        .act(o.order, ship_a, o.producer_a)
        .await
        .unwrap();
    shop.orders
        .act(o.order, Action::Deliver { part: o.a }, o.buyer)
        .await
        .unwrap();
    let request = Action::RequestReturn {
        part: o.a,
        reason: "碎了".into(),
    };
    shop.orders.act(o.order, request, o.buyer).await.unwrap();
    let before = history(&shop).await;
    let refuse = Action::RefuseReturn {
        part: o.a,
        reason: "没坏".into(),
    };
    for action in [Action::AcceptReturn { part: o.a }, refuse] {
        assert!(
            matches!(
                shop.orders.act(o.order, action.clone(), o.producer_b).await,
                Err(OrderError::NotFound)
            ),
            "{action:?}"
        );
        // A producer with no part in the order at all finds no order either.
        assert!(
            matches!(
                shop.orders
                    .act(o.order, action.clone(), o.outsiders[0])
                    .await,
                Err(OrderError::NotFound)
            ),
            "{action:?}"
        );
    }
    let after = history(&shop).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(
        after.parts.iter().find(|p| p.id == o.a).unwrap().status,
        PartStatus::ReturnRequested
    );
}

db_test!(
    each_is_offered_what_the_state_machine_allows_at_every_stage,
    a_producer_sees_only_its_own_part_and_its_own_amounts,
    a_producer_cannot_reach_another_producers_part,
);
