//! The cart through the API.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jinguo_catalog::SkuId;
use jinguo_order::cart::{CartView, MAX_QUANTITY, Owner};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::ProducerRef;
use super::{ApiJson, ErrorBody};
use crate::app::AppState;
use crate::error::AppError;
use crate::web::ApiUser;

pub fn router() -> Router<AppState> {
    Router::new().route("/cart/items", get(cart).post(put_item).delete(remove_item))
}

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
                            sku_id: l.sku_id.0,
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
        &state.orders.cart(Owner::User(user.id)).await?,
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
    let owner = Owner::User(user.id);
    // 0 would remove the line; that is DELETE's.
    jinguo_common::invalid::range(
        jinguo_common::invalid::Field::Quantity,
        input.quantity,
        1,
        MAX_QUANTITY,
    )?;
    state
        .orders
        .put_in_cart(owner, SkuId(input.sku_id), input.quantity, true)
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
    let owner = Owner::User(user.id);
    state
        .orders
        .remove_from_cart(owner, SkuId(input.sku_id))
        .await?;
    Ok(Json(CartBody::of(&state.orders.cart(owner).await?)))
}
