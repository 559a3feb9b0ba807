//! Checkout: where the cart goes and how it is paid. Placing the order (and keeping a new
//! address in the address book, and refusing a payment method the shop does not take) is the
//! order crate's; this page shows the form and says what went wrong in the visitor's words.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use jinguo_common::region::{CHONGQING, regions};
use jinguo_order::address::NewAddress;
use jinguo_order::cart::Owner;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::{AddressChoice, AddressId, CheckoutRequest};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use super::cart::{PartView, parts_view};
use super::{Req, View, label, render};
use crate::app::AppState;
use crate::error::AppError;
use crate::web::{CsrfForm, PageUser};

pub fn router() -> Router<AppState> {
    Router::new().route("/checkout", get(checkout_page).post(checkout))
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
    id: AddressId,
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
    let cart = state.orders.cart(Owner::User(user.id)).await?;
    if cart.parts.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let addresses = state.orders.addresses(user.id).await?;
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

/// The request the form describes: a saved address or a new one, and the payment method (an
/// unknown one is refused, never replaced by the default).
fn request_of(form: &AddressForm) -> Result<CheckoutRequest, AppError> {
    let address = match form.address_id.trim() {
        "" => AddressChoice::New(NewAddress {
            recipient: form.recipient.clone(),
            phone: form.phone.clone(),
            region_code: form.region_code.clone(),
            detail: form.detail.clone(),
        }),
        id => AddressChoice::Saved(id.parse().map_err(|_| AppError::NotFound)?),
    };
    Ok(CheckoutRequest {
        address,
        method: PaymentMethod::from_input(&form.payment_method)?,
    })
}

pub async fn checkout(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<AddressForm>,
) -> Result<Response, AppError> {
    let placed = match request_of(&form) {
        Ok(request) => state
            .orders
            .checkout(user.id, &request)
            .await
            .map_err(AppError::from),
        Err(error) => Err(error),
    };
    match placed {
        Ok(done) => {
            Ok(Redirect::to(&format!("/orders/{}?placed=1", done.placed.order_id)).into_response())
        }
        Err(error) => {
            let failure = super::form_failure(&state, req.lang, error)?;
            Ok(super::with_status(
                checkout_view(&state, &req, &user, form, Some(failure.text)).await?,
                failure.status,
            ))
        }
    }
}
