//! Random sequences of actions by random people at random times never reach an illegal state,
//! never change stock except as the rules say, never let the wrong person act, and never give
//! back more than was paid; staff partial refunds never change a status.

use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::money::Fen;
use jinguo_order::ids::{OrderId, PartId};
use jinguo_order::policy::{self, Offers};
use jinguo_order::state::{
    Action, ActionKind, Actor, OrderState, OrderStatus, PartState, PartStatus, Refund, Refusal,
    StockEffect, Transition, Windows, apply, decide,
};
use proptest::prelude::*;

const BUYER: UserId = UserId(1);
const STRANGER: UserId = UserId(2);
const STAFF: UserId = UserId(9);
const OTHER_PRODUCER: ProducerId = ProducerId(999);
const DAY: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Step {
    Wait(i64),
    Do(Action, Actor),
}

fn actors(producers: &[ProducerId]) -> impl Strategy<Value = Actor> + use<> {
    let p = producers.to_vec();
    prop_oneof![
        Just(Actor::Buyer(BUYER)),
        Just(Actor::Buyer(STRANGER)),
        Just(Actor::Staff(STAFF)),
        Just(Actor::System),
        proptest::sample::select(p).prop_map(Actor::Producer),
        Just(Actor::Producer(OTHER_PRODUCER)),
    ]
}

fn actions(parts: Vec<PartId>) -> impl Strategy<Value = Action> {
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
        part.clone().prop_map(|p| Action::Complete { part: p }),
        // Sometimes nothing, sometimes more than the part is worth, sometimes without a reason.
        (part, 0i64..=3_500, proptest::bool::weighted(0.9)).prop_map(|(p, amount, why)| {
            Action::Refund {
                part: p,
                amount: Fen(amount),
                reason: if why { "破损".into() } else { " ".into() },
            }
        }),
    ]
}

/// An order of one to three parts, and what is then done to it: refunds by staff come up
/// about as often as anything else.
fn scenario() -> impl Strategy<Value = (OrderState, Vec<Step>)> {
    (1usize..=3).prop_flat_map(|n| {
        let parts: Vec<PartState> = (0..n as i64)
            .map(|i| PartState {
                id: PartId(100 + i),
                producer_id: ProducerId(10 + i),
                status: PartStatus::Pending,
                total_fen: 1_000 * (i + 1),
                shipped_at: None,
                delivered_at: None,
            })
            .collect();
        let producers: Vec<ProducerId> = parts.iter().map(|p| p.producer_id).collect();
        let part_ids: Vec<PartId> = parts.iter().map(|p| p.id).collect();
        let order = OrderState {
            id: OrderId(1),
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

/// The refunds made, kept as the books keep them (`jinguo_order::books::RefundDue`): a
/// cancellation or a return gives back what earlier refunds left, a partial refund more than
/// is left is refused.
#[derive(Debug, Default)]
struct Refunds {
    made: Vec<(Option<PartId>, i64)>,
}

impl Refunds {
    fn of_part(&self, part: PartId) -> i64 {
        self.made
            .iter()
            .filter(|(p, _)| *p == Some(part))
            .map(|(_, a)| a)
            .sum()
    }

    fn total(&self) -> i64 {
        self.made.iter().map(|(_, a)| a).sum()
    }

    /// Books `refund`; `false` when the books refuse it (more than is left).
    fn book(&mut self, order: &OrderState, refund: Refund) -> bool {
        let left = match refund.part {
            Some(part) => {
                let p = order.parts.iter().find(|p| p.id == part).unwrap();
                p.total_fen - self.of_part(part)
            }
            None => refund.amount.0 - self.total(),
        }
        .max(0);
        let amount = if refund.whatever_is_left {
            refund.amount.0.min(left)
        } else if refund.amount.0 > left {
            return false;
        } else {
            refund.amount.0
        };
        if amount > 0 {
            self.made.push((refund.part, amount));
        }
        true
    }
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
        let mut refunds = Refunds::default();
        check(&order, stock);
        for step in steps {
            match step {
                Step::Wait(ms) => now += ms,
                Step::Do(action, actor) => {
                    // Someone with no part in the order is offered nothing.
                    for outsider in [Actor::Buyer(STRANGER), Actor::Producer(OTHER_PRODUCER)] {
                        prop_assert_eq!(policy::offers(&order, outsider, now, windows), Offers::default());
                    }
                    let before = order.clone();
                    match decide(&order, &action, actor, now, windows) {
                        Ok(t) => {
                            // Nobody acts on an order that is not theirs.
                            prop_assert!(actor != Actor::Buyer(STRANGER), "{action:?} by a stranger");
                            prop_assert!(actor != Actor::Producer(OTHER_PRODUCER), "{action:?} by another producer");
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
                            if let Action::Refund { part, amount, .. } = &action {
                                // Only staff, only on a paid or completed order, only on a part
                                // still kept, and no status moves.
                                prop_assert!(matches!(actor, Actor::Staff(_)), "a refund by {actor:?}");
                                prop_assert!(matches!(before.status, OrderStatus::Paid | OrderStatus::Completed), "{:?}", before.status);
                                let p = before.parts.iter().find(|p| p.id == *part).unwrap();
                                prop_assert!(!matches!(p.status, PartStatus::Returned | PartStatus::Cancelled), "{p:?}");
                                prop_assert_eq!(t.order_to, t.order_from);
                                prop_assert!(t.parts.is_empty(), "{:?}", t.parts);
                                prop_assert_eq!(t.stock, None);
                                prop_assert_eq!(t.refund, Some(Refund { part: Some(*part), amount: *amount, whatever_is_left: false }));
                            }
                            // A refund the books refuse rolls the whole change back.
                            if !t.refund.is_none_or(|r| refunds.book(&order, r)) {
                                prop_assert!(matches!(action, Action::Refund { .. }), "{action:?} refused by the books");
                                continue;
                            }
                            match t.stock {
                                Some(StockEffect::Sell) => { stock.sold += stock.held; stock.held = 0; }
                                Some(StockEffect::ReleaseHeld) => { prop_assert!(stock.held > 0); stock.available += stock.held; stock.held = 0; }
                                Some(StockEffect::ReleaseSold) => { prop_assert!(stock.sold > 0); stock.available += stock.sold; stock.sold = 0; }
                                None => {}
                            }
                            apply(&mut order, &t, now);
                            if matches!(action, Action::Refund { .. }) {
                                prop_assert_eq!(&order, &before, "a refund changes no status");
                            }
                        }
                        Err(refusal) => {
                            prop_assert_eq!(&order, &before, "a refused action changes nothing");
                            if matches!(action, Action::Refund { .. }) && !matches!(actor, Actor::Staff(_)) {
                                prop_assert_eq!(refusal, Refusal::Forbidden);
                            }
                        }
                    }
                    check(&order, stock);
                    prop_assert!(refunds.total() <= order.total_fen, "never more back than was paid");
                    for p in &order.parts {
                        prop_assert!(refunds.of_part(p.id) <= p.total_fen, "never more back for a part than it cost");
                    }
                }
            }
        }
    }
}

/// An unpaid order of two parts, each of its own producer.
fn two_parts() -> OrderState {
    OrderState {
        id: OrderId(1),
        buyer_id: BUYER,
        status: OrderStatus::AwaitingPayment,
        total_fen: 5_000,
        expires_at: 900_000,
        parts: vec![
            PartState {
                id: PartId(1),
                producer_id: ProducerId(10),
                status: PartStatus::Pending,
                total_fen: 2_000,
                shipped_at: None,
                delivered_at: None,
            },
            PartState {
                id: PartId(2),
                producer_id: ProducerId(11),
                status: PartStatus::Pending,
                total_fen: 3_000,
                shipped_at: None,
                delivered_at: None,
            },
        ],
    }
}

/// Does what must be allowed, and returns what it did.
fn go(order: &mut OrderState, action: Action, actor: Actor, now: i64) -> Transition {
    let t = decide(order, &action, actor, now, Windows::default()).unwrap();
    apply(order, &t, now);
    t
}

#[test]
fn the_happy_path_and_a_return() {
    let windows = Windows::default();
    let mut order = two_parts();
    let mut now = 1_000;
    assert_eq!(
        decide(&order, &Action::Expire, Actor::System, now, windows),
        Err(Refusal::NotExpiredYet),
        "not expired yet"
    );
    go(&mut order, Action::Pay, Actor::Staff(STAFF), now);
    assert_eq!(order.status, OrderStatus::Paid);
    go(
        &mut order,
        Action::Ship {
            part: PartId(1),
            carrier: "顺丰".into(),
            tracking_no: "SF123".into(),
        },
        Actor::Producer(ProducerId(10)),
        now,
    );
    assert_eq!(
        decide(
            &order,
            &Action::Cancel {
                reason: "late".into()
            },
            Actor::Buyer(BUYER),
            now,
            windows
        ),
        Err(Refusal::AlreadyShipped),
        "a part has shipped"
    );
    go(
        &mut order,
        Action::Ship {
            part: PartId(2),
            carrier: "EMS".into(),
            tracking_no: "E1".into(),
        },
        Actor::Producer(ProducerId(11)),
        now,
    );
    go(
        &mut order,
        Action::Deliver { part: PartId(1) },
        Actor::Buyer(BUYER),
        now,
    );
    now += 10 * DAY;
    go(
        &mut order,
        Action::Deliver { part: PartId(2) },
        Actor::System,
        now,
    );
    let t = go(
        &mut order,
        Action::RequestReturn {
            part: PartId(2),
            reason: "碎了".into(),
        },
        Actor::Buyer(BUYER),
        now,
    );
    assert_eq!(
        t.parts,
        vec![(
            PartId(2),
            PartStatus::Delivered,
            PartStatus::ReturnRequested
        )]
    );
    let t = go(
        &mut order,
        Action::AcceptReturn { part: PartId(2) },
        Actor::Producer(ProducerId(11)),
        now,
    );
    assert_eq!(
        t.refund,
        Some(Refund {
            part: Some(PartId(2)),
            amount: Fen(3_000),
            whatever_is_left: true,
        })
    );
    now += 7 * DAY;
    let t = go(
        &mut order,
        Action::Complete { part: PartId(1) },
        Actor::System,
        now,
    );
    assert_eq!(t.order_to, OrderStatus::Completed);
}

#[test]
fn only_staff_refund_part_of_a_kept_part_and_no_status_moves() {
    let windows = Windows::default();
    let refund = |part: i64, amount: i64, reason: &str| Action::Refund {
        part: PartId(part),
        amount: Fen(amount),
        reason: reason.into(),
    };
    let staff = Actor::Staff(STAFF);
    let mut order = two_parts();
    assert_eq!(
        decide(&order, &refund(1, 500, "破损"), staff, 0, windows),
        Err(Refusal::OrderStatus {
            action: ActionKind::Refund,
            status: OrderStatus::AwaitingPayment
        }),
        "nothing is paid yet"
    );
    go(&mut order, Action::Pay, staff, 0);
    let t = decide(&order, &refund(1, 500, "破损"), staff, 0, windows).unwrap();
    assert_eq!(
        (t.order_from, t.order_to, t.parts.clone(), t.stock),
        (OrderStatus::Paid, OrderStatus::Paid, vec![], None)
    );
    assert_eq!(
        t.refund,
        Some(Refund {
            part: Some(PartId(1)),
            amount: Fen(500),
            whatever_is_left: false,
        }),
        "exactly this much: the books refuse more than is left"
    );
    for who in [
        Actor::Buyer(BUYER),
        Actor::Producer(ProducerId(10)),
        Actor::System,
    ] {
        assert_eq!(
            decide(&order, &refund(1, 500, "破损"), who, 0, windows),
            Err(Refusal::Forbidden),
            "{who:?}"
        );
    }
    assert_eq!(
        decide(&order, &refund(1, 0, "破损"), staff, 0, windows),
        Err(Refusal::NothingToRefund)
    );
    assert_eq!(
        decide(&order, &refund(1, 500, "  "), staff, 0, windows),
        Err(Refusal::NeedsReason)
    );
    assert_eq!(
        decide(&order, &refund(3, 500, "破损"), staff, 0, windows),
        Err(Refusal::NoSuchPart(PartId(3)))
    );
    // Part 2 returned: nothing more to give back on it; part 1 completes the order, and a
    // completed part may still be refunded.
    let ship = |part: i64| Action::Ship {
        part: PartId(part),
        carrier: "EMS".into(),
        tracking_no: "E1".into(),
    };
    go(&mut order, ship(1), staff, 0);
    go(&mut order, ship(2), staff, 0);
    go(&mut order, Action::Deliver { part: PartId(1) }, staff, 0);
    go(&mut order, Action::Deliver { part: PartId(2) }, staff, 0);
    go(
        &mut order,
        Action::RequestReturn {
            part: PartId(2),
            reason: "碎了".into(),
        },
        Actor::Buyer(BUYER),
        0,
    );
    go(
        &mut order,
        Action::AcceptReturn { part: PartId(2) },
        staff,
        0,
    );
    go(
        &mut order,
        Action::Complete { part: PartId(1) },
        Actor::System,
        7 * DAY,
    );
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(
        decide(&order, &refund(2, 500, "破损"), staff, 7 * DAY, windows),
        Err(Refusal::PartStatus {
            action: ActionKind::Refund,
            status: PartStatus::Returned
        })
    );
    assert!(decide(&order, &refund(1, 500, "破损"), staff, 7 * DAY, windows).is_ok());
}
