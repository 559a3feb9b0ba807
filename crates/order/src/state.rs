//! The order state machine, as a pure function: given an order's state, an action and who asks,
//! either the transition (new statuses, stock to give back, money to refund, history entries) or
//! why it is not allowed. The store applies a transition in one transaction, conditional on the
//! statuses it started from, so two racing actions cannot both apply.
//!
//! ```text
//! order:  awaiting_payment ──pay──▶ paid ──(every part done)──▶ completed
//!              │ cancel / expire        │ cancel (nothing shipped yet): refund
//!              ▼                        ▼
//!          cancelled                cancelled
//! part:   pending ──(order paid)──▶ to_ship ──ship──▶ shipped ──deliver──▶ delivered ──complete──▶ completed
//!                                                                  │ request return   ▲ refuse
//!                                                                  ▼                  │
//!                                                          return_requested ──────────┘
//!                                                                  │ accept: refund the part
//!                                                                  ▼
//!                                                               returned
//! ```

use jinguo_common::clock::Millis;
use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::money::Fen;
use serde::Serialize;

use crate::ids::{OrderId, PartId};

jinguo_common::text_enum! {
    pub enum OrderStatus {
        AwaitingPayment = "awaiting_payment",
        Paid = "paid",
        Cancelled = "cancelled",
        Completed = "completed",
    }
}

jinguo_common::text_enum! {
    pub enum PartStatus {
        /// The order is not paid yet.
        Pending = "pending",
        ToShip = "to_ship",
        Shipped = "shipped",
        Delivered = "delivered",
        ReturnRequested = "return_requested",
        Returned = "returned",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

impl PartStatus {
    /// Nothing more happens to a part in these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PartStatus::Returned | PartStatus::Completed | PartStatus::Cancelled
        )
    }
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// The buyer, by user id.
    Buyer(UserId),
    /// Staff of a producer, by producer id.
    Producer(ProducerId),
    /// Federation staff, by user id.
    Staff(UserId),
    /// The shop's own jobs (expiry, automatic delivery and completion).
    System,
}

jinguo_common::text_enum! {
    /// Who acted, as the history records it.
    pub enum ActorKind {
        Buyer = "buyer",
        Producer = "producer",
        Staff = "staff",
        System = "system",
    }
}

impl Actor {
    pub fn kind(self) -> ActorKind {
        match self {
            Actor::Buyer(_) => ActorKind::Buyer,
            Actor::Producer(_) => ActorKind::Producer,
            Actor::Staff(_) => ActorKind::Staff,
            Actor::System => ActorKind::System,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }

    /// The id kept with the history: the user's, or the producer's.
    pub fn id(self) -> Option<i64> {
        match self {
            Actor::Buyer(id) | Actor::Staff(id) => Some(id.0),
            Actor::Producer(id) => Some(id.0),
            Actor::System => None,
        }
    }
}

jinguo_common::text_enum! {
    /// The kinds of [`Action`], as the history, the API's paths and the pages' forms name them.
    pub enum ActionKind {
        Pay = "pay",
        Expire = "expire",
        Cancel = "cancel",
        Ship = "ship",
        Deliver = "deliver",
        RequestReturn = "request_return",
        AcceptReturn = "accept_return",
        RefuseReturn = "refuse_return",
        Complete = "complete",
        Refund = "refund",
    }
}

impl ActionKind {
    /// The actions a person may take on one part (the others are the order's, or the jobs').
    pub const ON_PARTS: [ActionKind; 5] = [
        ActionKind::Ship,
        ActionKind::Deliver,
        ActionKind::RequestReturn,
        ActionKind::AcceptReturn,
        ActionKind::RefuseReturn,
    ];
}

/// What someone wants to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The payment arrived (recorded by staff or confirmed by the provider).
    Pay,
    /// The unpaid order's time ran out.
    Expire,
    Cancel {
        reason: String,
    },
    Ship {
        part: PartId,
        carrier: String,
        tracking_no: String,
    },
    /// The buyer confirms, or the system after the delivery window.
    Deliver {
        part: PartId,
    },
    RequestReturn {
        part: PartId,
        reason: String,
    },
    AcceptReturn {
        part: PartId,
    },
    RefuseReturn {
        part: PartId,
        reason: String,
    },
    /// The return window closed.
    Complete {
        part: PartId,
    },
    /// Staff give back part of what was paid for a part (a damaged item, a shortfall), without
    /// changing any status. At most what is left of the part after earlier refunds.
    Refund {
        part: PartId,
        amount: Fen,
        reason: String,
    },
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Pay => ActionKind::Pay,
            Action::Expire => ActionKind::Expire,
            Action::Cancel { .. } => ActionKind::Cancel,
            Action::Ship { .. } => ActionKind::Ship,
            Action::Deliver { .. } => ActionKind::Deliver,
            Action::RequestReturn { .. } => ActionKind::RequestReturn,
            Action::AcceptReturn { .. } => ActionKind::AcceptReturn,
            Action::RefuseReturn { .. } => ActionKind::RefuseReturn,
            Action::Complete { .. } => ActionKind::Complete,
            Action::Refund { .. } => ActionKind::Refund,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The part this action is about, if it is about one.
    pub fn part(&self) -> Option<PartId> {
        match self {
            Action::Ship { part, .. }
            | Action::Deliver { part }
            | Action::RequestReturn { part, .. }
            | Action::AcceptReturn { part }
            | Action::RefuseReturn { part, .. }
            | Action::Complete { part }
            | Action::Refund { part, .. } => Some(*part),
            Action::Pay | Action::Expire | Action::Cancel { .. } => None,
        }
    }

    /// What is written in the history's "why" column.
    pub fn reason(&self) -> String {
        match self {
            Action::Cancel { reason }
            | Action::RequestReturn { reason, .. }
            | Action::RefuseReturn { reason, .. }
            | Action::Refund { reason, .. } => reason.clone(),
            Action::Ship {
                carrier,
                tracking_no,
                ..
            } => format!("{carrier} {tracking_no}"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartState {
    pub id: PartId,
    pub producer_id: ProducerId,
    pub status: PartStatus,
    /// What the buyer paid for this part (goods and shipping), in fen.
    pub total_fen: i64,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    pub id: OrderId,
    pub buyer_id: UserId,
    pub status: OrderStatus,
    pub total_fen: i64,
    pub expires_at: Millis,
    pub parts: Vec<PartState>,
}

/// The rules' time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// After shipping, delivery counts as confirmed this long later if the buyer has not said.
    pub auto_deliver_ms: Millis,
    /// After delivery, a return may be asked for this long; then the part completes.
    pub return_ms: Millis,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            auto_deliver_ms: 10 * 86_400_000,
            return_ms: 7 * 86_400_000,
        }
    }
}

/// Why an action is refused: each a case a person can be told about in their own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not allowed for you")]
    Forbidden,
    #[error("the order has no part {0}")]
    NoSuchPart(PartId),
    /// The order is not in a status this can be done in (it moved on: another tab, the other
    /// party, a job).
    #[error("cannot {action} an order that is {status}")]
    OrderStatus {
        action: ActionKind,
        status: OrderStatus,
    },
    #[error("cannot {action} a part that is {status}")]
    PartStatus {
        action: ActionKind,
        status: PartStatus,
    },
    #[error("a part has already been shipped")]
    AlreadyShipped,
    #[error("the return window has closed")]
    ReturnWindowClosed,
    #[error("the order has not expired yet")]
    NotExpiredYet,
    #[error("the delivery window is still open")]
    DeliveryWindowOpen,
    #[error("the return window is still open")]
    ReturnWindowOpen,
    #[error("a shipment needs a carrier and a tracking number")]
    NeedsTracking,
    #[error("a return or a refund needs a reason")]
    NeedsReason,
    #[error("a refund is more than zero")]
    NothingToRefund,
}

/// Stock an action gives back, and whether it had been held (unpaid) or sold (paid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    /// Held reservations become sold (payment).
    Sell,
    /// Held reservations are released: their units return to stock.
    ReleaseHeld,
    /// Sold units return to stock (cancelled after payment, before shipping).
    ReleaseSold,
}

/// The outcome of an allowed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub order_from: OrderStatus,
    pub order_to: OrderStatus,
    /// (part id, from, to)
    pub parts: Vec<(PartId, PartStatus, PartStatus)>,
    pub stock: Option<StockEffect>,
    /// Money to give back.
    pub refund: Option<Refund>,
}

/// Money an action gives back to the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refund {
    /// The part it is for (`None`: the whole order).
    pub part: Option<PartId>,
    pub amount: Fen,
    /// Whether `amount` is what is left of it to give back (a cancellation or a return gives
    /// back whatever earlier refunds left), or exactly this much (a partial refund, refused if
    /// more than is left).
    pub whatever_is_left: bool,
}

fn part_index(order: &OrderState, id: PartId) -> Result<usize, Refusal> {
    order
        .parts
        .iter()
        .position(|p| p.id == id)
        .ok_or(Refusal::NoSuchPart(id))
}

/// Decides whether `actor` may do `action` to `order` at `now`, and what follows.
pub fn decide(
    order: &OrderState,
    action: &Action,
    actor: Actor,
    now: Millis,
    windows: Windows,
) -> Result<Transition, Refusal> {
    let refuse_order = || Refusal::OrderStatus {
        action: action.kind(),
        status: order.status,
    };
    let refuse_part = |p: &PartState| Refusal::PartStatus {
        action: action.kind(),
        status: p.status,
    };
    let mut t = Transition {
        order_from: order.status,
        order_to: order.status,
        parts: Vec::new(),
        stock: None,
        refund: None,
    };
    let is_buyer = actor == Actor::Buyer(order.buyer_id);
    let is_staff = matches!(actor, Actor::Staff(_));
    match action {
        Action::Pay => {
            if !(is_staff || actor == Actor::System) {
                return Err(Refusal::Forbidden);
            }
            if order.status != OrderStatus::AwaitingPayment {
                return Err(refuse_order());
            }
            t.order_to = OrderStatus::Paid;
            t.stock = Some(StockEffect::Sell);
            for p in &order.parts {
                t.parts.push((p.id, p.status, PartStatus::ToShip));
            }
        }
        Action::Expire => {
            if actor != Actor::System {
                return Err(Refusal::Forbidden);
            }
            if order.status != OrderStatus::AwaitingPayment {
                return Err(refuse_order());
            }
            if now < order.expires_at {
                return Err(Refusal::NotExpiredYet);
            }
            t.order_to = OrderStatus::Cancelled;
            t.stock = Some(StockEffect::ReleaseHeld);
            for p in &order.parts {
                t.parts.push((p.id, p.status, PartStatus::Cancelled));
            }
        }
        Action::Cancel { .. } => {
            if !(is_buyer || is_staff) {
                return Err(Refusal::Forbidden);
            }
            match order.status {
                OrderStatus::AwaitingPayment => t.stock = Some(StockEffect::ReleaseHeld),
                OrderStatus::Paid if order.parts.iter().all(|p| p.status == PartStatus::ToShip) => {
                    t.stock = Some(StockEffect::ReleaseSold);
                    t.refund = Some(Refund {
                        part: None,
                        amount: Fen(order.total_fen),
                        whatever_is_left: true,
                    });
                }
                OrderStatus::Paid => return Err(Refusal::AlreadyShipped),
                _ => return Err(refuse_order()),
            }
            t.order_to = OrderStatus::Cancelled;
            for p in &order.parts {
                t.parts.push((p.id, p.status, PartStatus::Cancelled));
            }
        }
        Action::Ship {
            part,
            carrier,
            tracking_no,
        } => {
            let p = &order.parts[part_index(order, *part)?];
            if !(actor == Actor::Producer(p.producer_id) || is_staff) {
                return Err(Refusal::Forbidden);
            }
            if carrier.trim().is_empty() || tracking_no.trim().is_empty() {
                return Err(Refusal::NeedsTracking);
            }
            if p.status != PartStatus::ToShip {
                return Err(refuse_part(p));
            }
            t.parts.push((p.id, p.status, PartStatus::Shipped));
        }
        Action::Deliver { part } => {
            let p = &order.parts[part_index(order, *part)?];
            let automatic = actor == Actor::System;
            if !(is_buyer || is_staff || automatic) {
                return Err(Refusal::Forbidden);
            }
            if p.status != PartStatus::Shipped {
                return Err(refuse_part(p));
            }
            if automatic && now < p.shipped_at.unwrap_or(now) + windows.auto_deliver_ms {
                return Err(Refusal::DeliveryWindowOpen);
            }
            t.parts.push((p.id, p.status, PartStatus::Delivered));
        }
        Action::RequestReturn { part, reason } => {
            let p = &order.parts[part_index(order, *part)?];
            if !is_buyer {
                return Err(Refusal::Forbidden);
            }
            if reason.trim().is_empty() {
                return Err(Refusal::NeedsReason);
            }
            if p.status != PartStatus::Delivered {
                return Err(refuse_part(p));
            }
            if now > p.delivered_at.unwrap_or(now) + windows.return_ms {
                return Err(Refusal::ReturnWindowClosed);
            }
            t.parts.push((p.id, p.status, PartStatus::ReturnRequested));
        }
        Action::AcceptReturn { part } | Action::RefuseReturn { part, .. } => {
            let p = &order.parts[part_index(order, *part)?];
            if !(actor == Actor::Producer(p.producer_id) || is_staff) {
                return Err(Refusal::Forbidden);
            }
            if p.status != PartStatus::ReturnRequested {
                return Err(refuse_part(p));
            }
            if let Action::AcceptReturn { .. } = action {
                t.parts.push((p.id, p.status, PartStatus::Returned));
                t.refund = Some(Refund {
                    part: Some(p.id),
                    amount: Fen(p.total_fen),
                    whatever_is_left: true,
                });
            } else {
                t.parts.push((p.id, p.status, PartStatus::Delivered));
            }
        }
        Action::Complete { part } => {
            let p = &order.parts[part_index(order, *part)?];
            if actor != Actor::System {
                return Err(Refusal::Forbidden);
            }
            if p.status != PartStatus::Delivered {
                return Err(refuse_part(p));
            }
            if now < p.delivered_at.unwrap_or(now) + windows.return_ms {
                return Err(Refusal::ReturnWindowOpen);
            }
            t.parts.push((p.id, p.status, PartStatus::Completed));
        }
        Action::Refund {
            part,
            amount,
            reason,
        } => {
            let p = &order.parts[part_index(order, *part)?];
            if !is_staff {
                return Err(Refusal::Forbidden);
            }
            if !matches!(order.status, OrderStatus::Paid | OrderStatus::Completed) {
                return Err(refuse_order());
            }
            if matches!(p.status, PartStatus::Returned | PartStatus::Cancelled) {
                return Err(refuse_part(p));
            }
            if reason.trim().is_empty() {
                return Err(Refusal::NeedsReason);
            }
            if amount.0 <= 0 {
                return Err(Refusal::NothingToRefund);
            }
            t.refund = Some(Refund {
                part: Some(p.id),
                amount: *amount,
                whatever_is_left: false,
            });
        }
    }
    // A paid order whose every part is finished is complete.
    if order.status == OrderStatus::Paid && t.order_to == OrderStatus::Paid {
        let status_after = |p: &PartState| {
            t.parts
                .iter()
                .find(|(id, _, _)| *id == p.id)
                .map_or(p.status, |(_, _, to)| *to)
        };
        if order.parts.iter().all(|p| status_after(p).is_final()) {
            t.order_to = OrderStatus::Completed;
        }
    }
    Ok(t)
}

/// Applies a transition to an in-memory state (what the store does in the database).
pub fn apply(order: &mut OrderState, t: &Transition, now: Millis) {
    order.status = t.order_to;
    for (id, _, to) in &t.parts {
        if let Some(p) = order.parts.iter_mut().find(|p| p.id == *id) {
            p.status = *to;
            match to {
                PartStatus::Shipped => p.shipped_at = Some(now),
                PartStatus::Delivered if p.delivered_at.is_none() => p.delivered_at = Some(now),
                _ => {}
            }
        }
    }
}
