//! Checkout and a buyer's orders through the API, and the actions on an order and its parts.
//! The same rules as the pages: the order crate decides who may see and do what.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use jinguo_accounts::User;
use jinguo_catalog::SkuId;
use jinguo_order::address::NewAddress;
use jinguo_order::orders::{Filter, Order};
use jinguo_order::payment::{PaymentInstructions, PaymentMethod};
use jinguo_order::policy::{self, PartInput, Viewer};
use jinguo_order::state::{ActionKind, OrderStatus};
use jinguo_order::{AddressChoice, CheckoutRequest, OrderId, PartId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::ProducerRef;
use super::{ApiJson, ErrorBody, OptionalJson};
use crate::app::AppState;
use crate::error::AppError;
use crate::web::{ApiUser, actor_of};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkout", post(checkout))
        .route("/orders", get(orders))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/parts/{part}/{action}", post(part_action))
}

/// What is sent with an action on a part.
#[derive(Debug, Default, Deserialize, ToSchema)]
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

impl From<PartActionInput> for PartInput {
    fn from(input: PartActionInput) -> PartInput {
        PartInput {
            carrier: input.carrier,
            tracking_no: input.tracking_no,
            reason: input.reason,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct AddressInput {
    pub recipient: String,
    /// An 11-digit mainland mobile number.
    pub phone: String,
    /// The six-digit GB/T 2260 code of the district or county.
    pub region_code: String,
    /// Street, building, room.
    pub detail: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CheckoutInput {
    pub address: AddressInput,
    /// `stripe` (card, Alipay, WeChat Pay; when the shop takes it) or `bank_transfer`;
    /// default: the shop's first. A method the shop does not take is refused.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// What to buy, in this one request, at today's prices: the cart is then neither read nor
    /// emptied. Without it, the cart is the order. Up to 50 SKUs, each once, 1 to 99 units.
    #[serde(default)]
    pub items: Option<Vec<ItemInput>>,
}

#[derive(Deserialize, ToSchema)]
pub struct ItemInput {
    pub sku_id: i64,
    pub quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LineBody {
    pub sku_id: i64,
    pub product_slug: String,
    pub title: String,
    pub sku_name: String,
    pub unit_price_fen: i64,
    pub quantity: i64,
    pub total_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PartBody {
    pub id: i64,
    pub producer: ProducerRef,
    /// pending, to_ship, shipped, delivered, return_requested, returned, completed, cancelled.
    pub status: String,
    pub lines: Vec<LineBody>,
    pub items_fen: i64,
    pub shipping_fen: i64,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AddressBody {
    pub recipient: String,
    pub phone: String,
    pub region_code: String,
    pub region_name: String,
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventBody {
    pub part_id: Option<i64>,
    /// buyer, producer, staff or system.
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentBody {
    /// `bank_transfer`: transfer exactly `amount_fen` to the payee with `reference` as the
    /// purpose. `stripe`: confirm the PaymentIntent `intent_id` with Stripe.js (or a mobile SDK)
    /// using `client_secret` and `publishable_key`; the order is paid when Stripe's webhook says so.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publishable_key: Option<String>,
    pub payee_name: String,
    pub bank: String,
    pub account_no: String,
    pub reference: String,
    pub amount_fen: i64,
    /// Milliseconds since the Unix epoch; unpaid after it, the order is cancelled.
    pub pay_by: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OrderBody {
    pub id: i64,
    pub number: String,
    /// awaiting_payment, paid, cancelled or completed.
    pub status: String,
    pub items_fen: i64,
    pub shipping_fen: i64,
    pub total_fen: i64,
    pub address: AddressBody,
    pub parts: Vec<PartBody>,
    /// How to pay, while the order awaits payment (buyer only).
    pub payment: Option<PaymentBody>,
    /// Oldest first.
    pub history: Vec<EventBody>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl OrderBody {
    pub(super) fn of(order: &Order, payment: Option<PaymentBody>) -> OrderBody {
        OrderBody {
            id: order.id.0,
            number: order.number.clone(),
            status: order.status.as_str().to_owned(),
            items_fen: order.items.0,
            shipping_fen: order.shipping.0,
            total_fen: order.total.0,
            address: AddressBody {
                recipient: order.recipient.clone(),
                phone: order.phone.clone(),
                region_code: order.region_code.clone(),
                region_name: order.region_name.clone(),
                detail: order.address_detail.clone(),
            },
            parts: order
                .parts
                .iter()
                .map(|p| PartBody {
                    id: p.id.0,
                    producer: ProducerRef {
                        slug: p.producer_slug.clone(),
                        name: p.producer_name.clone(),
                    },
                    status: p.status.as_str().to_owned(),
                    lines: p
                        .lines
                        .iter()
                        .map(|l| LineBody {
                            sku_id: l.sku_id.0,
                            product_slug: l.product_slug.clone(),
                            title: l.title.clone(),
                            sku_name: l.sku_name.clone(),
                            unit_price_fen: l.unit_price.0,
                            quantity: l.quantity,
                            total_fen: l.total.0,
                        })
                        .collect(),
                    items_fen: p.items.0,
                    shipping_fen: p.shipping.0,
                    carrier: p.carrier.clone(),
                    tracking_no: p.tracking_no.clone(),
                })
                .collect(),
            payment,
            history: order
                .events
                .iter()
                .map(|e| EventBody {
                    part_id: e.part_id.map(|p| p.0),
                    actor: e.actor.as_str().to_owned(),
                    from: e.from.clone(),
                    to: e.to.clone(),
                    reason: e.reason.clone(),
                    at: e.at,
                })
                .collect(),
            created_at: order.created_at,
        }
    }
}

fn payment_body(instructions: PaymentInstructions, pay_by: i64) -> PaymentBody {
    match instructions {
        PaymentInstructions::BankTransfer {
            payee_name,
            bank,
            account_no,
            reference,
            amount_fen,
        } => PaymentBody {
            method: "bank_transfer".to_owned(),
            intent_id: None,
            client_secret: None,
            publishable_key: None,
            payee_name,
            bank,
            account_no,
            reference,
            amount_fen,
            pay_by,
        },
        PaymentInstructions::Stripe {
            publishable_key,
            intent_id,
            client_secret,
            amount_fen,
        } => PaymentBody {
            method: "stripe".to_owned(),
            intent_id: Some(intent_id),
            client_secret: Some(client_secret),
            publishable_key: Some(publishable_key),
            payee_name: String::new(),
            bank: String::new(),
            account_no: String::new(),
            reference: String::new(),
            amount_fen,
            pay_by,
        },
    }
}

/// The order as `user` may see it, with payment instructions for its buyer while unpaid.
async fn order_body(state: &AppState, user: &User, id: OrderId) -> Result<OrderBody, AppError> {
    let seen = state.orders.order_for(actor_of(user), id).await?;
    let (order, viewer) = (seen.order, seen.viewer);
    // Without the provider (unreachable just now) the order is shown with `payment` null.
    let payment = if viewer == Viewer::Buyer && order.status == OrderStatus::AwaitingPayment {
        match state.orders.payment_instructions(&order).await {
            Ok(instructions) => Some(payment_body(instructions, order.expires_at)),
            Err(error) => {
                tracing::warn!(order = %order.id, %error, "payment instructions unavailable");
                None
            }
        }
    } else {
        None
    };
    Ok(OrderBody::of(&order, payment))
}

/// Places the cart, or the `items` sent with it (one request: apps, bulk buyers), as an order to
/// the address. Totals are the shop's own; stock is taken at once (a SKU that runs out answers
/// 409 `out_of_stock`).
#[utoipa::path(post, path = "/api/v1/checkout", tag = "orders", security(("bearer" = [])), request_body = CheckoutInput,
    responses((status = 201, body = OrderBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "out_of_stock: another buyer took the last units", body = ErrorBody),
        (status = 422, description = "suspended: no delivery to this region now", body = ErrorBody)))]
pub async fn checkout(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> Result<Response, AppError> {
    let a = input.address;
    let request = CheckoutRequest {
        address: AddressChoice::New(NewAddress {
            recipient: a.recipient,
            phone: a.phone,
            region_code: a.region_code,
            detail: a.detail,
        }),
        method: PaymentMethod::from_input(input.payment_method.as_deref().unwrap_or(""))?,
    };
    let placed = match &input.items {
        Some(items) => {
            let lines: Vec<(SkuId, i64)> = items
                .iter()
                .map(|i| (SkuId(i.sku_id), i.quantity))
                .collect();
            state.orders.buy(user.id, &lines, &request).await?
        }
        None => state.orders.checkout(user.id, &request).await?,
    };
    let order = state.orders.order(placed.placed.order_id).await?;
    let body = OrderBody::of(
        &order,
        placed
            .instructions
            .map(|i| payment_body(i, order.expires_at)),
    );
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderBody>,
}

/// The buyer's orders, newest first (parts without lines; fetch one order for its lines).
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = OrderList), (status = 401, body = ErrorBody)))]
pub async fn orders(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<OrderList>, AppError> {
    let orders = state
        .orders
        .orders(&Filter {
            buyer: Some(user.id),
            limit: 100,
            ..Filter::default()
        })
        .await?;
    Ok(Json(OrderList {
        orders: orders.iter().map(|o| OrderBody::of(o, None)).collect(),
    }))
}

/// One order: the buyer sees it all, producer staff their own part, federation staff everything.
/// Anyone else gets 404.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The order's id")),
    responses((status = 200, body = OrderBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn order(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderBody>, AppError> {
    Ok(Json(order_body(&state, &user, id).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: String,
}

/// Cancels an order before anything is shipped: its stock goes back; a paid order is refunded.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The order's id")), request_body(content = CancelInput, description = "Optional"),
    responses((status = 200, body = OrderBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<OrderId>,
    OptionalJson(body): OptionalJson<CancelInput>,
) -> Result<Json<OrderBody>, AppError> {
    state
        .orders
        .act(id, policy::cancel(&body.reason)?, actor_of(&user))
        .await?;
    Ok(Json(order_body(&state, &user, id).await?))
}

/// An action on one part: `ship` (producer or staff; carrier and tracking_no), `deliver` (the
/// buyer confirms receipt), `request_return` (buyer; reason), `accept_return` and
/// `refuse_return` (producer or staff; a reason for refusing).
#[utoipa::path(post, path = "/api/v1/orders/{id}/parts/{part}/{action}", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The order's id"), ("part" = i64, Path, description = "The part's id"),
        ("action" = String, Path, description = "ship, deliver, request_return, accept_return or refuse_return")),
    request_body = PartActionInput,
    responses((status = 200, body = OrderBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn part_action(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((id, part, name)): Path<(OrderId, PartId, String)>,
    OptionalJson(input): OptionalJson<PartActionInput>,
) -> Result<Json<OrderBody>, AppError> {
    let kind = ActionKind::parse(&name).ok_or(AppError::NotFound)?;
    let action = policy::part_action(kind, part, input.into())?;
    state.orders.act(id, action, actor_of(&user)).await?;
    Ok(Json(order_body(&state, &user, id).await?))
}
