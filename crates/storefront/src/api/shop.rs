//! Buying through the API: accounts and bearer tokens, the cart, checkout, orders, and the
//! producer's and staff's actions. The same rules as the pages (they share [`crate::shop`]).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use jinguo_accounts::{Role, SessionKind, User};
use jinguo_common::money::Fen;
use jinguo_order::TransferOutcome;
use jinguo_order::address::NewAddress;
use jinguo_order::cart::{CartView, Owner};
use jinguo_order::orders::{Filter, Order};
use jinguo_order::payment::{PaymentInstructions, PaymentMethod};
use jinguo_order::shipping::ShippingRule;
use jinguo_order::state::{Action, OrderStatus, PartStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorBody;
use crate::app::AppState;
use crate::auth::{ApiUser, Visitor, producer_of, require_staff};
use crate::error::{AppError, Msg};
use crate::shop::{self, PartActionInput, Viewer};

/// A JSON body; a body that is not the JSON expected is a 400 in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", "body")
                    .with("message", json_problem(&rejection)),
            )),
        }
    }
}

/// A JSON body that may be left out (then it is `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;
    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::bad("errors.bad_query"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| {
                AppError::BadRequest(
                    Msg::new("errors.invalid")
                        .with("field", "body")
                        .with("message", e),
                )
            })
    }
}

fn json_problem(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "send Content-Type: application/json".to_owned()
        }
        other => other.body_text(),
    }
}

// ---- accounts ----------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// A mainland mobile number or an email address.
    pub login: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    pub id: i64,
    pub login: String,
    /// consumer, producer or staff.
    pub role: String,
}

impl AccountBody {
    fn of(user: &User) -> AccountBody {
        AccountBody {
            id: user.id.0,
            login: user.login.clone(),
            role: user.role.as_str().to_owned(),
        }
    }
}

/// Opens a consumer account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = Credentials,
    responses((status = 201, body = AccountBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, AppError> {
    let user = state
        .accounts
        .register(&c.login, &c.password, Role::Consumer, None)
        .await?;
    Ok((StatusCode::CREATED, Json(AccountBody::of(&user))).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    pub account: AccountBody,
}

/// Signs in and returns a bearer token. Failed attempts are limited per account and per address.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "accounts", request_body = Credentials,
    responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Json<TokenBody>, AppError> {
    let (user, token) = state
        .accounts
        .sign_in(&c.login, &c.password, &visitor.address, SessionKind::Api)
        .await?;
    let session = state
        .accounts
        .session(&token)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(TokenBody {
        token: token.as_str().to_owned(),
        expires_at: session.expires_at,
        account: AccountBody::of(&user),
    }))
}

/// Ends the token's session.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    _: ApiUser,
    visitor: Visitor,
) -> Result<StatusCode, AppError> {
    if let Some(token) = &visitor.token {
        state.accounts.sign_out(token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- cart --------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct CartLineBody {
    pub sku_id: i64,
    pub product_slug: String,
    pub title: String,
    pub sku_name: String,
    pub quantity: i64,
    /// The price now.
    pub price_fen: i64,
    /// The price when the line was added; differs from `price_fen` when it changed since.
    pub price_seen_fen: i64,
    pub price_changed: bool,
    pub stock: i64,
    /// Fewer in stock than wanted.
    pub short: bool,
    pub available: bool,
    pub total_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CartPartBody {
    pub producer: ProducerRef,
    pub lines: Vec<CartLineBody>,
    pub items_fen: i64,
    pub shipping_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CartBody {
    pub parts: Vec<CartPartBody>,
    pub items_fen: i64,
    pub shipping_fen: i64,
    pub total_fen: i64,
    /// Units over all lines.
    pub count: i64,
    /// Some line cannot be bought as it stands.
    pub blocked: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ProducerRef {
    pub slug: String,
    pub name: String,
}

impl CartBody {
    fn of(view: &CartView) -> CartBody {
        CartBody {
            parts: view
                .parts
                .iter()
                .map(|p| CartPartBody {
                    producer: ProducerRef {
                        slug: p.producer_slug.clone(),
                        name: p.producer_name.clone(),
                    },
                    lines: p
                        .lines
                        .iter()
                        .map(|l| CartLineBody {
                            sku_id: l.sku_id,
                            product_slug: l.product_slug.clone(),
                            title: l.title.clone(),
                            sku_name: l.sku_name.clone(),
                            quantity: l.quantity,
                            price_fen: l.price.0,
                            price_seen_fen: l.price_seen.0,
                            price_changed: l.price_changed(),
                            stock: l.stock,
                            short: l.short(),
                            available: l.available,
                            total_fen: l.total().0,
                        })
                        .collect(),
                    items_fen: p.items.0,
                    shipping_fen: p.shipping.0,
                })
                .collect(),
            items_fen: view.items.0,
            shipping_fen: view.shipping.0,
            total_fen: view.total.0,
            count: view.count,
            blocked: view.blocked,
        }
    }
}

/// The cart, with prices and stock as they are now.
#[utoipa::path(get, path = "/api/v1/cart/items", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = CartBody), (status = 401, body = ErrorBody)))]
pub async fn cart(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<CartBody>, AppError> {
    Ok(Json(CartBody::of(
        &state.orders.cart(Owner::User(user.id.0)).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct CartItemInput {
    pub sku_id: i64,
    /// The quantity the line should have, 1 to 99 (`DELETE` removes a line).
    pub quantity: i64,
}

/// Sets the quantity of a SKU in the cart.
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "orders", security(("bearer" = [])), request_body = CartItemInput,
    responses((status = 200, body = CartBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn put_item(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<CartItemInput>,
) -> Result<Json<CartBody>, AppError> {
    let owner = Owner::User(user.id.0);
    if input.quantity < 1 {
        let max = jinguo_order::cart::MAX_QUANTITY;
        return Err(jinguo_order::OrderError::BadQuantity { max }.into());
    }
    state
        .orders
        .put_in_cart(owner, input.sku_id, input.quantity, true)
        .await?;
    Ok(Json(CartBody::of(&state.orders.cart(owner).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct CartRemoveInput {
    pub sku_id: i64,
}

/// Removes a SKU from the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items", tag = "orders", security(("bearer" = [])), request_body = CartRemoveInput,
    responses((status = 200, body = CartBody), (status = 401, body = ErrorBody)))]
pub async fn remove_item(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<CartRemoveInput>,
) -> Result<Json<CartBody>, AppError> {
    let owner = Owner::User(user.id.0);
    state.orders.remove_from_cart(owner, input.sku_id).await?;
    Ok(Json(CartBody::of(&state.orders.cart(owner).await?)))
}

// ---- checkout and orders -------------------------------------------------------------------------

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
    /// default: the shop's first.
    #[serde(default)]
    pub payment_method: Option<String>,
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
    fn of(order: &Order, payment: Option<PaymentBody>) -> OrderBody {
        OrderBody {
            id: order.id,
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
                    id: p.id,
                    producer: ProducerRef {
                        slug: p.producer_slug.clone(),
                        name: p.producer_name.clone(),
                    },
                    status: p.status.as_str().to_owned(),
                    lines: p
                        .lines
                        .iter()
                        .map(|l| LineBody {
                            sku_id: l.sku_id,
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
                    part_id: e.part_id,
                    actor: e.actor.clone(),
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
async fn order_body(state: &AppState, user: &User, id: i64) -> Result<OrderBody, AppError> {
    let (order, viewer) = shop::visible_order(state, user, id).await?;
    // Without the provider (unreachable just now) the order is shown with `payment` null.
    let payment = if viewer == Viewer::Buyer && order.status == OrderStatus::AwaitingPayment {
        match state.orders.payment_instructions(&order).await {
            Ok(instructions) => Some(payment_body(instructions, order.expires_at)),
            Err(error) => {
                tracing::warn!(order = order.id, %error, "payment instructions unavailable");
                None
            }
        }
    } else {
        None
    };
    Ok(OrderBody::of(&order, payment))
}

/// Places the cart as an order to the address. Totals are the shop's own; stock is taken at once
/// (a SKU that runs out answers 409 `out_of_stock`).
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
    let address = NewAddress {
        recipient: a.recipient,
        phone: a.phone,
        region_code: a.region_code,
        detail: a.detail,
    };
    let method = match input.payment_method.as_deref() {
        None => state.orders.payment_methods()[0],
        Some(m) => PaymentMethod::parse(m).ok_or_else(|| {
            AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", "payment_method")
                    .with("message", format!("“{m}” is stripe or bank_transfer")),
            )
        })?,
    };
    let placed = state
        .orders
        .checkout_with(user.id.0, &address, method)
        .await?;
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
            buyer: Some(user.id.0),
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
    Path(id): Path<i64>,
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
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<CancelInput>,
) -> Result<Json<OrderBody>, AppError> {
    let reason: String = body.reason.trim().chars().take(200).collect();
    shop::act(&state, &user, id, Action::Cancel { reason }).await?;
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
    Path((id, part, name)): Path<(i64, i64, String)>,
    OptionalJson(input): OptionalJson<PartActionInput>,
) -> Result<Json<OrderBody>, AppError> {
    let action = shop::part_action(&name, part, input)?;
    shop::act(&state, &user, id, action).await?;
    Ok(Json(order_body(&state, &user, id).await?))
}

// ---- producer staff and federation staff --------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct StockInput {
    pub stock: i64,
}

#[derive(Serialize, ToSchema)]
pub struct StockBody {
    pub sku_id: i64,
    pub stock: i64,
}

/// Sets the stock of one of the producer's own SKUs (a stock-take). Another producer's SKU is 404.
#[utoipa::path(put, path = "/api/v1/producer/skus/{id}/stock", tag = "producer", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The SKU's id")), request_body = StockInput,
    responses((status = 200, body = StockBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_stock(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(sku): Path<i64>,
    ApiJson(input): ApiJson<StockInput>,
) -> Result<Json<StockBody>, AppError> {
    let producer = producer_of(&user)?;
    state.orders.set_stock(producer, sku, input.stock).await?;
    Ok(Json(StockBody {
        sku_id: sku,
        stock: input.stock,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ShippingRuleBody {
    /// `flat` (fee_fen), `free_over` (fee_fen below threshold_fen, free from it) or `by_weight`
    /// (fee_fen for the first kilogram, per_kg_fen for each further one begun).
    pub kind: String,
    pub fee_fen: i64,
    #[serde(default)]
    pub threshold_fen: Option<i64>,
    #[serde(default)]
    pub per_kg_fen: Option<i64>,
}

impl ShippingRuleBody {
    fn of(rule: ShippingRule) -> ShippingRuleBody {
        match rule {
            ShippingRule::Flat { fee } => ShippingRuleBody {
                kind: "flat".into(),
                fee_fen: fee.0,
                threshold_fen: None,
                per_kg_fen: None,
            },
            ShippingRule::FreeOver { fee, threshold } => ShippingRuleBody {
                kind: "free_over".into(),
                fee_fen: fee.0,
                threshold_fen: Some(threshold.0),
                per_kg_fen: None,
            },
            ShippingRule::ByWeight { first_kg, per_kg } => ShippingRuleBody {
                kind: "by_weight".into(),
                fee_fen: first_kg.0,
                threshold_fen: None,
                per_kg_fen: Some(per_kg.0),
            },
        }
    }

    fn rule(&self) -> Result<ShippingRule, AppError> {
        let missing = |field: &'static str| {
            AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", field)
                    .with("message", "required for this kind"),
            )
        };
        Ok(match self.kind.as_str() {
            "flat" => ShippingRule::Flat {
                fee: Fen(self.fee_fen),
            },
            "free_over" => ShippingRule::FreeOver {
                fee: Fen(self.fee_fen),
                threshold: Fen(self.threshold_fen.ok_or_else(|| missing("threshold_fen"))?),
            },
            "by_weight" => ShippingRule::ByWeight {
                first_kg: Fen(self.fee_fen),
                per_kg: Fen(self.per_kg_fen.ok_or_else(|| missing("per_kg_fen"))?),
            },
            _ => {
                return Err(AppError::BadRequest(
                    Msg::new("errors.invalid")
                        .with("field", "kind")
                        .with("message", "flat, free_over or by_weight"),
                ));
            }
        })
    }
}

/// The producer's shipping rule (the shop's default until it sets one: ¥10, free from ¥99).
#[utoipa::path(get, path = "/api/v1/producer/shipping-rule", tag = "producer", security(("bearer" = [])),
    responses((status = 200, body = ShippingRuleBody), (status = 403, body = ErrorBody)))]
pub async fn shipping_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<ShippingRuleBody>, AppError> {
    let producer = producer_of(&user)?;
    Ok(Json(ShippingRuleBody::of(
        state.orders.shipping_rule(producer).await?,
    )))
}

/// Sets the producer's shipping rule; orders placed from now on pay it.
#[utoipa::path(put, path = "/api/v1/producer/shipping-rule", tag = "producer", security(("bearer" = [])),
    request_body = ShippingRuleBody,
    responses((status = 200, body = ShippingRuleBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_shipping_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<ShippingRuleBody>,
) -> Result<Json<ShippingRuleBody>, AppError> {
    let producer = producer_of(&user)?;
    let rule = input.rule()?;
    state.orders.set_shipping_rule(producer, rule).await?;
    Ok(Json(ShippingRuleBody::of(rule)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PartsQuery {
    /// A part status (default `to_ship`), or `all`.
    pub status: Option<String>,
}

/// The producer's parts of orders (only its own part of each order is included).
#[utoipa::path(get, path = "/api/v1/producer/orders", tag = "producer", security(("bearer" = [])), params(PartsQuery),
    responses((status = 200, body = OrderList), (status = 403, body = ErrorBody)))]
pub async fn producer_orders(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<PartsQuery>,
) -> Result<Json<OrderList>, AppError> {
    let producer = producer_of(&user)?;
    let part_status = match q.status.as_deref() {
        None | Some("") => Some(PartStatus::ToShip),
        Some("all") => None,
        Some(code) => Some(PartStatus::parse(code).ok_or_else(|| {
            AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", "status")
                    .with("message", code),
            )
        })?),
    };
    let filter = Filter {
        producer: Some(producer),
        part_status,
        limit: 200,
        ..Filter::default()
    };
    let orders = state.orders.orders(&filter).await?;
    Ok(Json(OrderList {
        orders: orders.iter().map(|o| OrderBody::of(o, None)).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct TransferInput {
    /// The order's payment reference, as written in the transfer's purpose.
    pub reference: String,
    pub amount_fen: i64,
    /// The day it arrived, like 2026-11-29.
    pub received_on: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransferBody {
    /// `accepted` (the order is paid) or `flagged` (kept for staff; the order is unchanged).
    pub outcome: String,
    pub order: OrderBody,
}

/// Records a bank transfer received (federation staff). The exact amount pays the order; any
/// other amount is recorded and flagged.
#[utoipa::path(post, path = "/api/v1/staff/transfers", tag = "staff", security(("bearer" = [])), request_body = TransferInput,
    responses((status = 200, body = TransferBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn record_transfer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<TransferInput>,
) -> Result<Json<TransferBody>, AppError> {
    require_staff(&user)?;
    let (outcome, order) = state
        .orders
        .record_transfer(
            user.id.0,
            &input.reference,
            Fen(input.amount_fen),
            &input.received_on,
        )
        .await?;
    Ok(Json(TransferBody {
        outcome: match outcome {
            TransferOutcome::Accepted => "accepted",
            TransferOutcome::Flagged => "flagged",
        }
        .to_owned(),
        order: OrderBody::of(&order, None),
    }))
}
