//! The cart: a guest's (kept by their session) or an account's.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::header;
use jinguo_catalog::SkuId;
use jinguo_order::cart::{CartPart, CartView};
use jinguo_order::shipping::ShippingRule;
use serde::{Deserialize, Serialize};

use super::account::NextQuery;
use super::{Req, View, done_notice, render};
use crate::app::AppState;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::views;
use crate::web::{CsrfForm, Visitor, cart_owner_or_guest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart))
        .route("/cart/items", post(add))
        .route("/cart/items/{sku}", post(update))
        .route("/cart/acknowledge", post(acknowledge))
}

#[derive(Serialize)]
pub struct LineView {
    sku_id: SkuId,
    title: String,
    product_url: String,
    sku_name: String,
    price: String,
    was_price: Option<String>,
    quantity: i64,
    stock: i64,
    short: bool,
    available: bool,
    total: String,
}

#[derive(Serialize)]
pub struct PartView {
    producer_name: String,
    producer_url: String,
    items: String,
    shipping: String,
    rule_text: String,
    lines: Vec<LineView>,
}

#[derive(Serialize)]
struct CartPage {
    empty: bool,
    signed_in: bool,
    parts: Vec<PartView>,
    items: String,
    shipping: String,
    total: String,
    count: i64,
    price_changed: bool,
    blocked: bool,
    checkout_url: String,
}

pub fn rule_text(state: &AppState, lang: Lang, rule: ShippingRule) -> String {
    let t = state.i18n.locale(lang);
    match rule {
        ShippingRule::Flat { fee } => t.fill("shipping_rule.flat", &[("fee", fee.to_string())]),
        ShippingRule::FreeOver { fee, threshold } => t.fill(
            "shipping_rule.free_over",
            &[
                ("fee", fee.to_string()),
                ("threshold", threshold.to_string()),
            ],
        ),
        ShippingRule::ByWeight { first_kg, per_kg } => t.fill(
            "shipping_rule.by_weight",
            &[("first", first_kg.to_string()), ("per", per_kg.to_string())],
        ),
    }
}

fn part_view(state: &AppState, lang: Lang, part: &CartPart) -> PartView {
    PartView {
        producer_name: part.producer_name.clone(),
        producer_url: views::producer_url(&part.producer_slug),
        items: part.items.to_string(),
        shipping: part.shipping.to_string(),
        rule_text: rule_text(state, lang, part.rule),
        lines: part
            .lines
            .iter()
            .map(|l| LineView {
                sku_id: l.sku_id,
                title: lang.pick(&l.title, &l.title_en).to_owned(),
                product_url: views::product_url(&l.product_slug),
                sku_name: l.sku_name.clone(),
                price: l.price.to_string(),
                was_price: l.price_changed().then(|| l.price_seen.to_string()),
                quantity: l.quantity,
                stock: l.stock.max(0),
                short: l.short(),
                available: l.available,
                total: l.total().to_string(),
            })
            .collect(),
    }
}

pub fn parts_view(state: &AppState, lang: Lang, cart: &CartView) -> Vec<PartView> {
    cart.parts
        .iter()
        .map(|p| part_view(state, lang, p))
        .collect()
}

pub async fn cart(
    State(state): State<AppState>,
    req: Req,
    visitor: Visitor,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let view = match visitor.cart_owner() {
        Some(owner) => state.orders.cart(owner).await?,
        None => CartView::default(),
    };
    let signed_in = visitor.user().is_some();
    let body = CartPage {
        empty: view.parts.is_empty(),
        signed_in,
        parts: parts_view(&state, req.lang, &view),
        items: view.items.to_string(),
        shipping: view.shipping.to_string(),
        total: view.total.to_string(),
        count: view.count,
        price_changed: view
            .parts
            .iter()
            .flat_map(|p| &p.lines)
            .any(|l| l.price_changed()),
        blocked: view.blocked,
        checkout_url: if signed_in {
            "/checkout".into()
        } else {
            "/login?next=%2Fcheckout".into()
        },
    };
    let t = state.i18n.locale(req.lang);
    let mut page = View::personal("cart.html", t.get("cart.title").to_owned(), body);
    page.notice = done_notice(&state, req.lang, q.done.as_deref());
    render(&state, &req, page)
}

#[derive(Deserialize)]
pub struct AddForm {
    sku_id: SkuId,
    quantity: i64,
}

pub async fn add(
    State(state): State<AppState>,
    visitor: Visitor,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, AppError> {
    let mut cookies = Vec::new();
    let owner = cart_owner_or_guest(&state, &visitor, &mut cookies).await?;
    state
        .orders
        .put_in_cart(owner, form.sku_id, form.quantity, false)
        .await?;
    let mut response = Redirect::to("/cart?done=added").into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct QuantityForm {
    quantity: i64,
}

pub async fn update(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<SkuId>,
    CsrfForm(form): CsrfForm<QuantityForm>,
) -> Result<Response, AppError> {
    if let Some(owner) = visitor.cart_owner() {
        state
            .orders
            .put_in_cart(owner, sku, form.quantity, true)
            .await?;
    }
    Ok(Redirect::to("/cart?done=updated").into_response())
}

pub async fn acknowledge(
    State(state): State<AppState>,
    visitor: Visitor,
    CsrfForm(_): CsrfForm<super::account::Empty>,
) -> Result<Response, AppError> {
    if let Some(owner) = visitor.cart_owner() {
        state.orders.acknowledge_prices(owner).await?;
    }
    Ok(Redirect::to("/cart").into_response())
}
