//! What pages and API share about orders: who may see which order (and which of its parts), who
//! a user acts as, and the actions on a part by name.

use jinguo_accounts::{Role, User};
use jinguo_order::orders::Order;
use jinguo_order::state::{Action, Actor, OrderStatus, PartStatus};

use crate::app::AppState;
use crate::error::{AppError, Msg};

/// Who is looking at an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Buyer,
    /// Staff of this producer: they see their own part only.
    Producer(i64),
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

/// Who a user acts as. A producer-staff or federation-staff account always acts in that role,
/// never as a buyer (such accounts are for work; people buy with a consumer account).
pub fn actor_of(user: &User) -> Actor {
    match (user.role, user.producer_id) {
        (Role::Producer, Some(producer)) => Actor::Producer(producer),
        (Role::Staff, _) => Actor::Staff(user.id.0),
        _ => Actor::Buyer(user.id.0),
    }
}

/// The order as `user` may see it; an order they have no part in is "not found", so that
/// guessing ids tells nothing.
pub async fn visible_order(
    state: &AppState,
    user: &User,
    id: i64,
) -> Result<(Order, Viewer), AppError> {
    let mut order = state.orders.order(id).await?;
    let viewer = match actor_of(user) {
        Actor::Staff(_) => Viewer::Staff,
        Actor::Producer(producer) => {
            order.parts.retain(|p| p.producer_id == producer);
            if order.parts.is_empty() {
                return Err(AppError::NotFound);
            }
            let own: Vec<i64> = order.parts.iter().map(|p| p.id).collect();
            order
                .events
                .retain(|e| e.part_id.is_none_or(|p| own.contains(&p)));
            // Its own part's amounts, not what the buyer paid the other producers.
            order.items = jinguo_common::money::Fen(order.parts.iter().map(|p| p.items.0).sum());
            order.shipping =
                jinguo_common::money::Fen(order.parts.iter().map(|p| p.shipping.0).sum());
            order.total = jinguo_common::money::Fen(order.items.0 + order.shipping.0);
            Viewer::Producer(producer)
        }
        _ if order.buyer_id == user.id.0 => Viewer::Buyer,
        _ => return Err(AppError::NotFound),
    };
    Ok((order, viewer))
}

/// Whether the viewer is offered to cancel the whole order.
pub fn can_cancel(order: &Order, viewer: Viewer) -> bool {
    matches!(viewer, Viewer::Buyer | Viewer::Staff)
        && match order.status {
            OrderStatus::AwaitingPayment => true,
            OrderStatus::Paid => order.parts.iter().all(|p| p.status == PartStatus::ToShip),
            _ => false,
        }
}

/// The actions the viewer is offered on a part in this status (the state machine still decides).
pub fn part_actions(viewer: Viewer, status: PartStatus) -> &'static [&'static str] {
    match (viewer, status) {
        (Viewer::Buyer, PartStatus::Shipped) => &["deliver"],
        (Viewer::Buyer, PartStatus::Delivered) => &["request_return"],
        (Viewer::Producer(_) | Viewer::Staff, PartStatus::ToShip) => &["ship"],
        (Viewer::Producer(_) | Viewer::Staff, PartStatus::ReturnRequested) => {
            &["accept_return", "refuse_return"]
        }
        (Viewer::Staff, PartStatus::Shipped) => &["deliver"],
        _ => &[],
    }
}

/// What is sent with an action on a part.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PartActionInput {
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

const MAX_TEXT: usize = 200;

pub fn part_action(name: &str, part: i64, input: PartActionInput) -> Result<Action, AppError> {
    for (field, value) in [
        ("carrier", &input.carrier),
        ("tracking_no", &input.tracking_no),
        ("reason", &input.reason),
    ] {
        if value.chars().count() > MAX_TEXT {
            return Err(AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", field)
                    .with("message", format!("at most {MAX_TEXT} characters")),
            ));
        }
    }
    let PartActionInput {
        carrier,
        tracking_no,
        reason,
    } = input;
    Ok(match name {
        "ship" => Action::Ship {
            part,
            carrier: carrier.trim().to_owned(),
            tracking_no: tracking_no.trim().to_owned(),
        },
        "deliver" => Action::Deliver { part },
        "request_return" => Action::RequestReturn {
            part,
            reason: reason.trim().to_owned(),
        },
        "accept_return" => Action::AcceptReturn { part },
        "refuse_return" => Action::RefuseReturn {
            part,
            reason: reason.trim().to_owned(),
        },
        _ => return Err(AppError::NotFound),
    })
}

/// Does an action on an order the user can see.
pub async fn act(
    state: &AppState,
    user: &User,
    order: i64,
    action: Action,
) -> Result<(), AppError> {
    let (seen, _) = visible_order(state, user, order).await?;
    let part = match &action {
        Action::Ship { part, .. }
        | Action::Deliver { part }
        | Action::RequestReturn { part, .. }
        | Action::AcceptReturn { part }
        | Action::RefuseReturn { part, .. }
        | Action::Complete { part } => Some(*part),
        _ => None,
    };
    if let Some(part) = part
        && !seen.parts.iter().any(|p| p.id == part)
    {
        return Err(AppError::NotFound);
    }
    state.orders.act(order, action, actor_of(user)).await?;
    Ok(())
}
