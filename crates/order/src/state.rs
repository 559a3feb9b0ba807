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
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Cancelled,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartStatus {
    /// The order is not paid yet.
    Pending,
    ToShip,
    Shipped,
    Delivered,
    ReturnRequested,
    Returned,
    Completed,
    Cancelled,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(OrderStatus {
    AwaitingPayment = "awaiting_payment",
    Paid = "paid",
    Cancelled = "cancelled",
    Completed = "completed",
});

text_enum!(PartStatus {
    Pending = "pending",
    ToShip = "to_ship",
    Shipped = "shipped",
    Delivered = "delivered",
    ReturnRequested = "return_requested",
    Returned = "returned",
    Completed = "completed",
    Cancelled = "cancelled",
});

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
    Buyer(i64),
    /// Staff of a producer, by producer id.
    Producer(i64),
    /// Federation staff, by user id.
    Staff(i64),
    /// The shop's own jobs (expiry, automatic delivery and completion).
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Buyer(_) => "buyer",
            Actor::Producer(_) => "producer",
            Actor::Staff(_) => "staff",
            Actor::System => "system",
        }
    }
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
        part: i64,
        carrier: String,
        tracking_no: String,
    },
    /// The buyer confirms, or the system after the delivery window.
    Deliver {
        part: i64,
    },
    RequestReturn {
        part: i64,
        reason: String,
    },
    AcceptReturn {
        part: i64,
    },
    RefuseReturn {
        part: i64,
        reason: String,
    },
    /// The return window closed.
    Complete {
        part: i64,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pay => "pay",
            Action::Expire => "expire",
            Action::Cancel { .. } => "cancel",
            Action::Ship { .. } => "ship",
            Action::Deliver { .. } => "deliver",
            Action::RequestReturn { .. } => "request_return",
            Action::AcceptReturn { .. } => "accept_return",
            Action::RefuseReturn { .. } => "refuse_return",
            Action::Complete { .. } => "complete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartState {
    pub id: i64,
    pub producer_id: i64,
    pub status: PartStatus,
    /// What the buyer paid for this part (goods and shipping), in fen.
    pub total_fen: i64,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    pub id: i64,
    pub buyer_id: i64,
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

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not allowed for you")]
    Forbidden,
    #[error("the order has no part {0}")]
    NoSuchPart(i64),
    #[error("cannot {action} an order that is {from}")]
    Order {
        action: &'static str,
        from: &'static str,
    },
    #[error("cannot {action} a part that is {from}")]
    Part {
        action: &'static str,
        from: &'static str,
    },
    #[error("too early: {0}")]
    TooEarly(&'static str),
    #[error("too late: {0}")]
    TooLate(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
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
    pub parts: Vec<(i64, PartStatus, PartStatus)>,
    pub stock: Option<StockEffect>,
    /// Money to give back, in fen, and for which part (`None`: the whole order).
    pub refund: Option<(Option<i64>, i64)>,
}

fn part_index(order: &OrderState, id: i64) -> Result<usize, Refusal> {
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
    let refuse_order = || Refusal::Order {
        action: action.name(),
        from: order.status.as_str(),
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
                return Err(Refusal::TooEarly("the order has not expired"));
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
                    t.refund = Some((None, order.total_fen));
                }
                OrderStatus::Paid => {
                    return Err(Refusal::TooLate("a part has already been shipped"));
                }
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
                return Err(Refusal::Invalid(
                    "a shipment needs a carrier and a tracking number",
                ));
            }
            if p.status != PartStatus::ToShip {
                return Err(Refusal::Part {
                    action: "ship",
                    from: p.status.as_str(),
                });
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
                return Err(Refusal::Part {
                    action: "deliver",
                    from: p.status.as_str(),
                });
            }
            if automatic && now < p.shipped_at.unwrap_or(now) + windows.auto_deliver_ms {
                return Err(Refusal::TooEarly("the delivery window is still open"));
            }
            t.parts.push((p.id, p.status, PartStatus::Delivered));
        }
        Action::RequestReturn { part, reason } => {
            let p = &order.parts[part_index(order, *part)?];
            if !is_buyer {
                return Err(Refusal::Forbidden);
            }
            if reason.trim().is_empty() {
                return Err(Refusal::Invalid("say why the goods go back"));
            }
            if p.status != PartStatus::Delivered {
                return Err(Refusal::Part {
                    action: "request_return",
                    from: p.status.as_str(),
                });
            }
            if now > p.delivered_at.unwrap_or(now) + windows.return_ms {
                return Err(Refusal::TooLate("the return window has closed"));
            }
            t.parts.push((p.id, p.status, PartStatus::ReturnRequested));
        }
        Action::AcceptReturn { part } | Action::RefuseReturn { part, .. } => {
            let p = &order.parts[part_index(order, *part)?];
            if !(actor == Actor::Producer(p.producer_id) || is_staff) {
                return Err(Refusal::Forbidden);
            }
            if p.status != PartStatus::ReturnRequested {
                return Err(Refusal::Part {
                    action: action.name(),
                    from: p.status.as_str(),
                });
            }
            if let Action::AcceptReturn { .. } = action {
                t.parts.push((p.id, p.status, PartStatus::Returned));
                t.refund = Some((Some(p.id), p.total_fen));
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
                return Err(Refusal::Part {
                    action: "complete",
                    from: p.status.as_str(),
                });
            }
            if now < p.delivered_at.unwrap_or(now) + windows.return_ms {
                return Err(Refusal::TooEarly("the return window is still open"));
            }
            t.parts.push((p.id, p.status, PartStatus::Completed));
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
