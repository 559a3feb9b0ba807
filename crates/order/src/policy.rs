//! Who may see an order, which of it, and what each may do with it. What is offered is asked of
//! the state machine itself ([`state::decide`] on each candidate action), so the buttons on a
//! page, the API and the rules that apply an action can never disagree.

use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field};
use jinguo_common::money::Fen;
use serde::Serialize;

use crate::OrderError;
use crate::ids::PartId;
use crate::orders::Order;
use crate::state::{self, Action, ActionKind, Actor, OrderState, Windows};

/// Who is looking at an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "producer", rename_all = "snake_case")]
pub enum Viewer {
    Buyer,
    /// Staff of this producer: they see their own part only.
    Producer(ProducerId),
    Staff,
}

impl Viewer {
    pub fn as_str(self) -> &'static str {
        match self {
            Viewer::Buyer => "buyer",
            Viewer::Producer(_) => "producer",
            Viewer::Staff => "staff",
        }
    }
}

/// How `actor` sees `order`, if at all: staff see every order, a buyer their own, producer
/// staff the orders with a part of their producer's. The shop's own jobs act on any.
pub fn viewer(order: &OrderState, actor: Actor) -> Option<Viewer> {
    match actor {
        Actor::Staff(_) | Actor::System => Some(Viewer::Staff),
        Actor::Buyer(user) if user == order.buyer_id => Some(Viewer::Buyer),
        Actor::Producer(producer) if order.parts.iter().any(|p| p.producer_id == producer) => {
            Some(Viewer::Producer(producer))
        }
        _ => None,
    }
}

/// Refuses with "not found" what `actor` may not even see: another buyer's order, an order a
/// producer has no part in, another producer's part, a part the order does not have.
pub(crate) fn may_reach(
    order: &OrderState,
    actor: Actor,
    part: Option<PartId>,
) -> Result<(), OrderError> {
    let viewer = viewer(order, actor).ok_or(OrderError::NotFound)?;
    if let Some(part) = part {
        let p = order
            .parts
            .iter()
            .find(|p| p.id == part)
            .ok_or(OrderError::NotFound)?;
        if let Viewer::Producer(producer) = viewer
            && p.producer_id != producer
        {
            return Err(OrderError::NotFound);
        }
    }
    Ok(())
}

/// The order as `actor` may see it: a producer's staff see their own part, its history and its
/// amounts only, not what the buyer paid the other producers. `None`: not theirs to see.
pub fn visible(mut order: Order, actor: Actor) -> Option<(Order, Viewer)> {
    let viewer = viewer(&order.state(), actor)?;
    if let Viewer::Producer(producer) = viewer {
        order.parts.retain(|p| p.producer_id == producer);
        let own: Vec<PartId> = order.parts.iter().map(|p| p.id).collect();
        order
            .events
            .retain(|e| e.part_id.is_none_or(|p| own.contains(&p)));
        order.items = order.parts.iter().map(|p| p.items).sum();
        order.shipping = order.parts.iter().map(|p| p.shipping).sum();
        order.total = order.items + order.shipping;
    }
    Some((order, viewer))
}

/// What someone is offered to do with an order as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Offers {
    /// Cancel the whole order.
    pub cancel: bool,
    /// Per part, the actions on it, in the order a page shows them.
    pub parts: Vec<(PartId, Vec<ActionKind>)>,
    /// Staff may refund part of what was paid for these parts.
    pub refund: Vec<PartId>,
}

impl Offers {
    pub fn for_part(&self, part: PartId) -> &[ActionKind] {
        self.parts
            .iter()
            .find(|(p, _)| *p == part)
            .map_or(&[], |(_, actions)| actions.as_slice())
    }
}

/// What `actor` may do with `order` at `now`: each action the state machine would allow them.
pub fn offers(order: &OrderState, actor: Actor, now: Millis, windows: Windows) -> Offers {
    let allowed = |action: &Action| {
        may_reach(order, actor, action.part()).is_ok()
            && state::decide(order, action, actor, now, windows).is_ok()
    };
    // Stand-ins for what a person types with the action: any text passes the state machine.
    let text = || "-".to_owned();
    let mut offers = Offers {
        cancel: actor != Actor::System && allowed(&Action::Cancel { reason: text() }),
        ..Offers::default()
    };
    for p in &order.parts {
        let part = p.id;
        let actions: Vec<ActionKind> = ActionKind::ON_PARTS
            .into_iter()
            .filter(|kind| {
                let input = PartInput {
                    carrier: text(),
                    tracking_no: text(),
                    reason: text(),
                };
                part_action(*kind, part, input).is_ok_and(|a| allowed(&a))
            })
            .collect();
        if !actions.is_empty() {
            offers.parts.push((part, actions));
        }
        let refund = Action::Refund {
            part,
            amount: Fen(1),
            reason: text(),
        };
        if allowed(&refund) {
            offers.refund.push(part);
        }
    }
    offers
}

/// What a person sends with an action on a part.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct PartInput {
    /// For `ship`.
    #[serde(default)]
    pub carrier: String,
    /// For `ship`.
    #[serde(default)]
    pub tracking_no: String,
    /// For `request_return` and `refuse_return`.
    #[serde(default)]
    pub reason: String,
}

/// Longest carrier, tracking number or reason.
pub const MAX_TEXT: usize = 200;

/// The action of kind `kind` on `part` with what the person sent. A kind that is not an action
/// on a part is "not found" (as its address would be).
pub fn part_action(kind: ActionKind, part: PartId, input: PartInput) -> Result<Action, OrderError> {
    let carrier = invalid::optional_text(Field::Carrier, &input.carrier, MAX_TEXT)?.to_owned();
    let tracking_no =
        invalid::optional_text(Field::TrackingNo, &input.tracking_no, MAX_TEXT)?.to_owned();
    let reason = invalid::optional_text(Field::Reason, &input.reason, MAX_TEXT)?.to_owned();
    Ok(match kind {
        ActionKind::Ship => Action::Ship {
            part,
            carrier,
            tracking_no,
        },
        ActionKind::Deliver => Action::Deliver { part },
        ActionKind::RequestReturn => Action::RequestReturn { part, reason },
        ActionKind::AcceptReturn => Action::AcceptReturn { part },
        ActionKind::RefuseReturn => Action::RefuseReturn { part, reason },
        _ => return Err(OrderError::NotFound),
    })
}

/// A cancellation with the buyer's or staff's reason (it may be left out; at most
/// [`MAX_TEXT`] characters, none of them invisible).
pub fn cancel(reason: &str) -> Result<Action, OrderError> {
    let reason = invalid::optional_text(Field::Reason, reason, MAX_TEXT)?.to_owned();
    Ok(Action::Cancel { reason })
}
