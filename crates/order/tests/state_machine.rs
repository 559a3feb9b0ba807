//! Random sequences of actions by random people at random times never reach an illegal state,
//! never change stock except as the rules say, and never let the wrong person act.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_order::state::{
    Action, Actor, OrderState, OrderStatus, PartState, PartStatus, StockEffect, Windows, apply,
    decide,
};
use proptest::prelude::*;

const BUYER: i64 = 1;
const STRANGER: i64 = 2;
const DAY: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Step {
    Wait(i64),
    Do(Action, Actor),
}

fn actors(producers: &[i64]) -> impl Strategy<Value = Actor> + use<> {
    let p = producers.to_vec();
    prop_oneof![
        Just(Actor::Buyer(BUYER)),
        Just(Actor::Buyer(STRANGER)),
        Just(Actor::Staff(9)),
        Just(Actor::System),
        proptest::sample::select(p).prop_map(Actor::Producer),
        Just(Actor::Producer(999)),
    ]
}

fn actions(parts: Vec<i64>) -> impl Strategy<Value = Action> {
    let part = proptest::sample::select(parts);
    prop_oneof![
        Just(Action::Pay),
        Just(Action::Expire),
        Just(Action::Cancel {
            reason: "changed my mind".into()
        }),
        part.clone().prop_map(|p| Action::Ship {
            part: p,
            carrier: "顺丰".into(),
            tracking_no: "SF1".into()
        }),
        part.clone().prop_map(|p| Action::Deliver { part: p }),
        part.clone().prop_map(|p| Action::RequestReturn {
            part: p,
            reason: "broken".into()
        }),
        part.clone().prop_map(|p| Action::AcceptReturn { part: p }),
        part.clone().prop_map(|p| Action::RefuseReturn {
            part: p,
            reason: "fine".into()
        }),
        part.prop_map(|p| Action::Complete { part: p }),
    ]
}

fn scenario() -> impl Strategy<Value = (OrderState, Vec<Step>)> {
    (1usize..=3).prop_flat_map(|n| {
        let parts: Vec<PartState> = (0..n)
            .map(|i| PartState {
                id: 100 + i as i64,
                producer_id: 10 + i as i64,
                status: PartStatus::Pending,
                total_fen: 1_000 * (i as i64 + 1),
                shipped_at: None,
                delivered_at: None,
            })
            .collect();
        let producers: Vec<i64> = parts.iter().map(|p| p.producer_id).collect();
        let part_ids: Vec<i64> = parts.iter().map(|p| p.id).collect();
        let order = OrderState {
            id: 1,
            buyer_id: BUYER,
            status: OrderStatus::AwaitingPayment,
            total_fen: parts.iter().map(|p| p.total_fen).sum(),
            expires_at: 15 * 60_000,
            parts,
        };
        let step = prop_oneof![
            1 => (0i64..12 * DAY).prop_map(Step::Wait),
            4 => (actions(part_ids.clone()), actors(&producers)).prop_map(|(a, who)| Step::Do(a, who)),
        ];
        (Just(order), proptest::collection::vec(step, 0..40))
    })
}

/// Units in the order's reservations: held while unpaid, sold once paid, back in stock when given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stock {
    available: i64,
    held: i64,
    sold: i64,
}

fn check(order: &OrderState, stock: Stock) {
    let parts: Vec<PartStatus> = order.parts.iter().map(|p| p.status).collect();
    match order.status {
        OrderStatus::AwaitingPayment => {
            assert!(parts.iter().all(|s| *s == PartStatus::Pending), "{parts:?}");
            assert_eq!((stock.held, stock.sold), (3, 0));
        }
        OrderStatus::Cancelled => {
            assert!(
                parts.iter().all(|s| *s == PartStatus::Cancelled),
                "{parts:?}"
            );
            assert_eq!(
                (stock.held, stock.sold, stock.available),
                (0, 0, 3),
                "everything back in stock"
            );
        }
        OrderStatus::Paid => {
            assert!(
                !parts
                    .iter()
                    .any(|s| matches!(s, PartStatus::Pending | PartStatus::Cancelled)),
                "{parts:?}"
            );
            assert!(
                !parts.iter().all(|s| s.is_final()),
                "a paid order with every part done is completed"
            );
            assert_eq!((stock.held, stock.sold), (0, 3));
        }
        OrderStatus::Completed => {
            assert!(
                parts
                    .iter()
                    .all(|s| matches!(s, PartStatus::Completed | PartStatus::Returned)),
                "{parts:?}"
            );
            assert_eq!(
                (stock.held, stock.sold),
                (0, 3),
                "returned goods are not restocked"
            );
        }
    }
    for p in &order.parts {
        if matches!(
            p.status,
            PartStatus::Shipped
                | PartStatus::Delivered
                | PartStatus::ReturnRequested
                | PartStatus::Returned
                | PartStatus::Completed
        ) {
            assert!(p.shipped_at.is_some(), "{p:?}");
        }
        if matches!(
            p.status,
            PartStatus::Delivered
                | PartStatus::ReturnRequested
                | PartStatus::Returned
                | PartStatus::Completed
        ) {
            assert!(p.delivered_at.is_some(), "{p:?}");
        }
    }
    assert_eq!(
        stock.available + stock.held + stock.sold,
        3,
        "units are neither made nor lost"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, .. ProptestConfig::default() })]

    #[test]
    fn random_histories_stay_legal((initial, steps) in scenario()) {
        let windows = Windows::default();
        let mut order = initial;
        let mut now = 0i64;
        let mut stock = Stock { available: 0, held: 3, sold: 0 };
        let mut refunded = 0i64;
        check(&order, stock);
        for step in steps {
            match step {
                Step::Wait(ms) => now += ms,
                Step::Do(action, actor) => {
                    let before = order.clone();
                    match decide(&order, &action, actor, now, windows) {
                        Ok(t) => {
                            // Nobody acts on an order that is not theirs.
                            prop_assert!(actor != Actor::Buyer(STRANGER), "{action:?} by a stranger");
                            prop_assert!(actor != Actor::Producer(999), "{action:?} by another producer");
                            if let Actor::Producer(p) = actor {
                                let part = match &action {
                                    Action::Ship { part, .. } | Action::AcceptReturn { part } | Action::RefuseReturn { part, .. } => *part,
                                    other => panic!("a producer did {other:?}"),
                                };
                                prop_assert_eq!(order.parts.iter().find(|x| x.id == part).unwrap().producer_id, p);
                            }
                            prop_assert_eq!(t.order_from, before.status);
                            for (id, from, _) in &t.parts {
                                prop_assert_eq!(before.parts.iter().find(|p| p.id == *id).unwrap().status, *from);
                            }
                            match t.stock {
                                Some(StockEffect::Sell) => { stock.sold += stock.held; stock.held = 0; }
                                Some(StockEffect::ReleaseHeld) => { prop_assert!(stock.held > 0); stock.available += stock.held; stock.held = 0; }
                                Some(StockEffect::ReleaseSold) => { prop_assert!(stock.sold > 0); stock.available += stock.sold; stock.sold = 0; }
                                None => {}
                            }
                            if let Some((_, amount)) = t.refund {
                                refunded += amount;
                            }
                            apply(&mut order, &t, now);
                        }
                        Err(_) => prop_assert_eq!(&order, &before, "a refused action changes nothing"),
                    }
                    check(&order, stock);
                    prop_assert!(refunded <= order.total_fen, "never more back than was paid");
                }
            }
        }
    }
}

#[test]
fn the_happy_path_and_a_return() {
    let windows = Windows::default();
    let mut order = OrderState {
        id: 1,
        buyer_id: BUYER,
        status: OrderStatus::AwaitingPayment,
        total_fen: 5_000,
        expires_at: 900_000,
        parts: vec![
            PartState {
                id: 1,
                producer_id: 10,
                status: PartStatus::Pending,
                total_fen: 2_000,
                shipped_at: None,
                delivered_at: None,
            },
            PartState {
                id: 2,
                producer_id: 11,
                status: PartStatus::Pending,
                total_fen: 3_000,
                shipped_at: None,
                delivered_at: None,
            },
        ],
    };
    let mut now = 1_000;
    let go = |order: &mut OrderState, action: Action, actor: Actor, now: i64| {
        let t = decide(order, &action, actor, now, windows).unwrap();
        apply(order, &t, now);
        t
    };
    assert!(
        decide(&order, &Action::Expire, Actor::System, now, windows).is_err(),
        "not expired yet"
    );
    go(&mut order, Action::Pay, Actor::Staff(9), now);
    assert_eq!(order.status, OrderStatus::Paid);
    go(
        &mut order,
        Action::Ship {
            part: 1,
            carrier: "顺丰".into(),
            tracking_no: "SF123".into(),
        },
        Actor::Producer(10),
        now,
    );
    assert!(
        decide(
            &order,
            &Action::Cancel {
                reason: "late".into()
            },
            Actor::Buyer(BUYER),
            now,
            windows
        )
        .is_err(),
        "a part has shipped"
    );
    go(
        &mut order,
        Action::Ship {
            part: 2,
            carrier: "EMS".into(),
            tracking_no: "E1".into(),
        },
        Actor::Producer(11),
        now,
    );
    go(
        &mut order,
        Action::Deliver { part: 1 },
        Actor::Buyer(BUYER),
        now,
    );
    now += 10 * DAY;
    go(&mut order, Action::Deliver { part: 2 }, Actor::System, now);
    let t = go(
        &mut order,
        Action::RequestReturn {
            part: 2,
            reason: "碎了".into(),
        },
        Actor::Buyer(BUYER),
        now,
    );
    assert_eq!(
        t.parts,
        vec![(2, PartStatus::Delivered, PartStatus::ReturnRequested)]
    );
    let t = go(
        &mut order,
        Action::AcceptReturn { part: 2 },
        Actor::Producer(11),
        now,
    );
    assert_eq!(t.refund, Some((Some(2), 3_000)));
    now += 7 * DAY;
    let t = go(&mut order, Action::Complete { part: 1 }, Actor::System, now);
    assert_eq!(t.order_to, OrderStatus::Completed);
}
