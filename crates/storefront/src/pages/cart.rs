//! The cart (a guest's or an account's) and checkout.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::header;
use jinguo_common::region::{CHONGQING, regions};
use jinguo_order::address::NewAddress;
use jinguo_order::cart::{CartPart, CartView};
use jinguo_order::shipping::ShippingRule;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use super::account::NextQuery;
use super::{Req, View, done_notice, label, render};
use crate::app::AppState;
use crate::auth::{CsrfForm, PageUser, Visitor, cart_owner_or_guest};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::views;

#[derive(Serialize)]
pub struct LineView {
    sku_id: i64,
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
    sku_id: i64,
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
    Path(sku): Path<i64>,
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

#[derive(Serialize)]
struct DistrictOption {
    code: String,
    name: String,
}

#[derive(Serialize)]
struct RegionGroup {
    label: String,
    districts: Vec<DistrictOption>,
}

/// Every district, grouped by province and city, Chongqing first (for a select without script).
fn region_groups() -> &'static [RegionGroup] {
    static GROUPS: OnceLock<Vec<RegionGroup>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let r = regions();
        let mut provinces: Vec<_> = r.provinces().collect();
        provinces.sort_by_key(|p| (p.code != CHONGQING, p.code.clone()));
        let mut groups = Vec::new();
        for p in provinces {
            for c in r.cities_of(&p.code) {
                let districts: Vec<DistrictOption> = r
                    .districts_of_city(&c.code)
                    .map(|d| DistrictOption {
                        code: d.code.clone(),
                        name: d.name.clone(),
                    })
                    .collect();
                if districts.is_empty() {
                    continue;
                }
                let label = if c.name == p.name {
                    p.name.clone()
                } else {
                    format!("{} {}", p.name, c.name)
                };
                groups.push(RegionGroup { label, districts });
            }
        }
        groups
    })
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct AddressForm {
    #[serde(default)]
    address_id: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    detail: String,
    /// `stripe` or `bank_transfer`; empty: the shop's default.
    #[serde(default)]
    payment_method: String,
}

#[derive(Serialize)]
struct SavedAddress {
    id: i64,
    label: String,
}

#[derive(Serialize)]
struct NoticeView {
    region_name: String,
    level_label: String,
    notice: String,
}

#[derive(Serialize)]
struct CheckoutPage {
    parts: Vec<PartView>,
    items: String,
    shipping: String,
    total: String,
    addresses: Vec<SavedAddress>,
    form: AddressForm,
    regions: &'static [RegionGroup],
    notices: Vec<NoticeView>,
    /// The payment methods offered, the default first (a choice is shown when there are two).
    methods: Vec<&'static str>,
    error: Option<String>,
}

async fn checkout_view(
    state: &AppState,
    req: &Req,
    user: &jinguo_accounts::User,
    form: AddressForm,
    error: Option<String>,
) -> Result<Response, AppError> {
    let cart = state
        .orders
        .cart(jinguo_order::cart::Owner::User(user.id.0))
        .await?;
    if cart.parts.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let addresses = state.orders.addresses(user.id.0).await?;
    let mut form = form;
    if form.address_id.is_empty() && error.is_none() {
        form.address_id = addresses
            .first()
            .map(|a| a.id.to_string())
            .unwrap_or_default();
    }
    let methods: Vec<&'static str> = state
        .orders
        .payment_methods()
        .into_iter()
        .map(|m| m.as_str())
        .collect();
    if !methods.contains(&form.payment_method.as_str()) {
        form.payment_method = methods[0].to_owned();
    }
    let notices = state
        .orders
        .restrictions()
        .await?
        .into_iter()
        .filter(|r| r.level != jinguo_order::region::Level::Normal)
        .map(|r| NoticeView {
            region_name: r.region_name,
            level_label: label(state, req.lang, "levels", r.level.as_str()),
            notice: r.notice,
        })
        .collect();
    let body = CheckoutPage {
        parts: parts_view(state, req.lang, &cart),
        items: cart.items.to_string(),
        shipping: cart.shipping.to_string(),
        total: cart.total.to_string(),
        addresses: addresses
            .iter()
            .map(|a| SavedAddress {
                id: a.id,
                label: format!(
                    "{} · {} · {}{}",
                    a.recipient, a.phone, a.region_name, a.detail
                ),
            })
            .collect(),
        form,
        regions: region_groups(),
        notices,
        methods,
        error,
    };
    let t = state.i18n.locale(req.lang);
    render(
        state,
        req,
        View::personal("checkout.html", t.get("checkout.title").to_owned(), body),
    )
}

pub async fn checkout_page(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
) -> Result<Response, AppError> {
    checkout_view(&state, &req, &user, AddressForm::default(), None).await
}

pub async fn checkout(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<AddressForm>,
) -> Result<Response, AppError> {
    let address = match form.address_id.parse::<i64>() {
        Ok(id) => {
            let a = state.orders.address(user.id.0, id).await?;
            NewAddress {
                recipient: a.recipient,
                phone: a.phone,
                region_code: a.region_code,
                detail: a.detail,
            }
        }
        Err(_) => NewAddress {
            recipient: form.recipient.clone(),
            phone: form.phone.clone(),
            region_code: form.region_code.clone(),
            detail: form.detail.clone(),
        },
    };
    let method = jinguo_order::payment::PaymentMethod::parse(&form.payment_method)
        .unwrap_or(state.orders.payment_methods()[0]);
    let placed = state
        .orders
        .checkout_with(user.id.0, &address, method)
        .await;
    // A new address joins the address book once an order has gone to it (not on every retry).
    if placed.is_ok()
        && form.address_id.is_empty()
        && let Err(error) = state.orders.add_address(user.id.0, &address).await
    {
        tracing::info!(%error, "address not kept in the address book");
    }
    match placed {
        Ok(done) => {
            Ok(Redirect::to(&format!("/orders/{}?placed=1", done.placed.order_id)).into_response())
        }
        Err(error) => {
            let (text, status) = super::form_failure(&state, req.lang, AppError::from(error))?;
            Ok(super::with_status(
                checkout_view(&state, &req, &user, form, Some(text)).await?,
                status,
            ))
        }
    }
}
