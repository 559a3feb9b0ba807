//! A buyer's orders and an order's page (also what producer staff and federation staff see of
//! it, each only their share).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jinguo_common::money::Fen;
use jinguo_order::orders::{Filter, Order};
use jinguo_order::payment::PaymentInstructions;
use jinguo_order::policy::{self, Offers, PartInput, Viewer};
use jinguo_order::state::{ActionKind, Actor, OrderStatus};
use jinguo_order::{OrderId, PartId};
use jinguo_settlement::RefundStatus;
use serde::{Deserialize, Serialize};

use super::{Req, View, done_notice, label, render};
use crate::app::AppState;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::views::{self, when};
use crate::web::{CsrfForm, PageUser, actor_of};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(mine))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/pay", get(pay))
        .route("/orders/{id}/parts/{part}/{action}", post(part_action))
}

#[derive(Serialize)]
pub struct ActionView {
    url: String,
    label: String,
    needs_tracking: bool,
    needs_reason: bool,
    danger: bool,
}

#[derive(Serialize)]
struct LineView {
    title: String,
    product_url: String,
    sku_name: String,
    price: String,
    quantity: i64,
    total: String,
}

#[derive(Serialize)]
pub struct PartView {
    id: PartId,
    producer_name: String,
    producer_url: String,
    status: &'static str,
    status_label: String,
    items: String,
    shipping: String,
    carrier: Option<String>,
    tracking_no: Option<String>,
    shipped_at: Option<String>,
    delivered_at: Option<String>,
    lines: Vec<LineView>,
    actions: Vec<ActionView>,
}

#[derive(Serialize)]
struct OrderView {
    id: OrderId,
    number: String,
    status: &'static str,
    status_label: String,
    created_at: String,
    expires_at: String,
    paid_at: Option<String>,
    recipient: String,
    phone: String,
    region_name: String,
    address_detail: String,
    items: String,
    shipping: String,
    total: String,
    refunds_pending: Option<String>,
    cancel_url: Option<String>,
}

#[derive(Serialize)]
struct PaymentView {
    /// `bank_transfer` or `stripe`
    method: &'static str,
    payee_name: String,
    bank: String,
    account_no: String,
    reference: String,
    amount: String,
    deadline: String,
}

#[derive(Serialize)]
struct EventView {
    at: String,
    actor_label: String,
    from_label: Option<String>,
    to_label: String,
    reason: String,
}

#[derive(Serialize)]
struct TransferView {
    amount: String,
    received_on: String,
    outcome_label: String,
    note: String,
}

#[derive(Serialize)]
struct OrderPage {
    just_placed: bool,
    viewer: &'static str,
    order: OrderView,
    payment: Option<PaymentView>,
    transfers: Vec<TransferView>,
    parts: Vec<PartView>,
    events: Vec<EventView>,
}

pub fn actions_view(
    state: &AppState,
    lang: Lang,
    order: OrderId,
    part: PartId,
    kinds: &[ActionKind],
) -> Vec<ActionView> {
    kinds
        .iter()
        .map(|kind| ActionView {
            url: format!("/orders/{order}/parts/{part}/{kind}"),
            label: label(state, lang, "part_actions", kind.as_str()),
            needs_tracking: *kind == ActionKind::Ship,
            needs_reason: matches!(kind, ActionKind::RequestReturn | ActionKind::RefuseReturn),
            danger: *kind == ActionKind::RefuseReturn,
        })
        .collect()
}

/// A status code of an order or a part, translated (`to` of an event may be either).
fn status_label(state: &AppState, lang: Lang, code: &str) -> String {
    if OrderStatus::parse(code).is_some() && code != "completed" && code != "cancelled" {
        label(state, lang, "order_status", code)
    } else {
        label(state, lang, "part_status", code)
    }
}

pub fn part_views(state: &AppState, lang: Lang, order: &Order, offers: &Offers) -> Vec<PartView> {
    order
        .parts
        .iter()
        .map(|p| PartView {
            id: p.id,
            producer_name: p.producer_name.clone(),
            producer_url: views::producer_url(&p.producer_slug),
            status: p.status.as_str(),
            status_label: label(state, lang, "part_status", p.status.as_str()),
            items: p.items.to_string(),
            shipping: p.shipping.to_string(),
            carrier: p.carrier.clone(),
            tracking_no: p.tracking_no.clone(),
            shipped_at: p.shipped_at.map(when),
            delivered_at: p.delivered_at.map(when),
            lines: p
                .lines
                .iter()
                .map(|l| LineView {
                    title: l.title.clone(),
                    product_url: views::product_url(&l.product_slug),
                    sku_name: l.sku_name.clone(),
                    price: l.unit_price.to_string(),
                    quantity: l.quantity,
                    total: l.total.to_string(),
                })
                .collect(),
            actions: actions_view(state, lang, order.id, p.id, offers.for_part(p.id)),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct OrderQuery {
    placed: Option<String>,
    done: Option<String>,
}

pub async fn order(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<OrderId>,
    Query(q): Query<OrderQuery>,
) -> Result<Response, AppError> {
    let seen = state.orders.order_for(actor_of(&user), id).await?;
    let (order, viewer, offers) = (seen.order, seen.viewer, seen.offers);
    let lang = req.lang;
    // When the provider cannot be reached, the order is shown without the payment box (the
    // buyer can still see and cancel it) and the next view asks again.
    let instructions = if viewer == Viewer::Buyer && order.status == OrderStatus::AwaitingPayment {
        match state.orders.payment_instructions(&order).await {
            Ok(instructions) => Some(instructions),
            Err(error) => {
                tracing::warn!(order = %order.id, %error, "payment instructions unavailable");
                None
            }
        }
    } else {
        None
    };
    let payment = if let Some(instructions) = instructions {
        match instructions {
            PaymentInstructions::BankTransfer {
                payee_name,
                bank,
                account_no,
                reference,
                amount_fen,
            } => Some(PaymentView {
                method: "bank_transfer",
                payee_name,
                bank,
                account_no,
                reference,
                amount: Fen(amount_fen).to_string(),
                deadline: when(order.expires_at),
            }),
            PaymentInstructions::Stripe { amount_fen, .. } => Some(PaymentView {
                method: "stripe",
                payee_name: String::new(),
                bank: String::new(),
                account_no: String::new(),
                reference: order.payment_reference.clone(),
                amount: Fen(amount_fen).to_string(),
                deadline: when(order.expires_at),
            }),
        }
    } else {
        None
    };
    let (transfers, refunds_pending) = if matches!(viewer, Viewer::Producer(_)) {
        (Vec::new(), Fen::ZERO)
    } else {
        let transfers = state
            .orders
            .transfers(order.id)
            .await?
            .into_iter()
            .map(|t| TransferView {
                amount: t.amount.to_string(),
                received_on: t.received_on,
                outcome_label: label(&state, lang, "transfer_outcome", t.outcome.as_str()),
                note: t
                    .flag
                    .map(|f| label(&state, lang, "flag_reasons", f.as_str()))
                    .unwrap_or_default(),
            })
            .collect();
        let owed: Fen = state
            .settlement
            .refunds(Some(order.id))
            .await?
            .iter()
            .filter(|r| r.status == RefundStatus::Pending)
            .map(|r| r.amount)
            .sum();
        (transfers, owed)
    };
    let body = OrderPage {
        just_placed: q.placed.is_some() && viewer == Viewer::Buyer,
        viewer: viewer.as_str(),
        order: OrderView {
            id: order.id,
            number: order.number.clone(),
            status: order.status.as_str(),
            status_label: label(&state, lang, "order_status", order.status.as_str()),
            created_at: when(order.created_at),
            expires_at: when(order.expires_at),
            paid_at: order.paid_at.map(when),
            recipient: order.recipient.clone(),
            phone: order.phone.clone(),
            region_name: order.region_name.clone(),
            address_detail: order.address_detail.clone(),
            items: order.items.to_string(),
            shipping: order.shipping.to_string(),
            total: order.total.to_string(),
            refunds_pending: (refunds_pending.0 > 0).then(|| refunds_pending.to_string()),
            cancel_url: offers
                .cancel
                .then(|| format!("/orders/{}/cancel", order.id)),
        },
        payment,
        transfers,
        parts: part_views(&state, lang, &order, &offers),
        events: order
            .events
            .iter()
            .rev()
            .map(|e| EventView {
                at: when(e.at),
                actor_label: label(&state, lang, "actors", e.actor.as_str()),
                from_label: e.from.as_deref().map(|f| status_label(&state, lang, f)),
                to_label: status_label(&state, lang, &e.to),
                reason: e.reason.clone(),
            })
            .collect(),
    };
    let title = state
        .i18n
        .locale(lang)
        .fill("order.title", &[("number", order.number.clone())]);
    let mut view = View::personal("order.html", title, body);
    view.notice = done_notice(&state, lang, q.done.as_deref());
    render(&state, &req, view)
}

#[derive(Serialize)]
struct OrderRow {
    url: String,
    number: String,
    created_at: String,
    status: &'static str,
    status_label: String,
    total: String,
    summary: String,
}

#[derive(Serialize)]
pub struct StatusOption {
    value: &'static str,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
pub struct FilterView {
    action: &'static str,
    statuses: Vec<StatusOption>,
    number: String,
}

#[derive(Serialize)]
struct OrdersPage {
    heading: String,
    orders: Vec<OrderRow>,
    filter: Option<FilterView>,
}

fn rows(state: &AppState, lang: Lang, orders: &[Order]) -> Vec<OrderRow> {
    let t = state.i18n.locale(lang);
    orders
        .iter()
        .map(|o| {
            let producers: Vec<&str> = o.parts.iter().map(|p| p.producer_name.as_str()).collect();
            OrderRow {
                url: format!("/orders/{}", o.id),
                number: o.number.clone(),
                created_at: when(o.created_at),
                status: o.status.as_str(),
                status_label: label(state, lang, "order_status", o.status.as_str()),
                total: o.total.to_string(),
                summary: producers.join(t.get("orders.separator")),
            }
        })
        .collect()
}

/// The orders page for a buyer, or for staff (`filter` set) with the filter form.
pub fn orders_page(
    state: &AppState,
    req: &Req,
    title_key: &str,
    orders: &[Order],
    filter: Option<FilterView>,
) -> Result<Response, AppError> {
    let t = state.i18n.locale(req.lang);
    let heading = t.get(title_key).to_owned();
    let body = OrdersPage {
        heading: heading.clone(),
        orders: rows(state, req.lang, orders),
        filter,
    };
    render(state, req, View::personal("orders.html", heading, body))
}

pub fn filter_view(
    state: &AppState,
    lang: Lang,
    status: Option<OrderStatus>,
    number: &str,
) -> FilterView {
    let statuses = OrderStatus::ALL
        .iter()
        .copied()
        .map(|s| StatusOption {
            value: s.as_str(),
            label: label(state, lang, "order_status", s.as_str()),
            selected: Some(s) == status,
        })
        .collect();
    FilterView {
        action: "/staff/orders",
        statuses,
        number: number.to_owned(),
    }
}

pub async fn mine(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
) -> Result<Response, AppError> {
    let orders = state
        .orders
        .orders(&Filter {
            buyer: Some(user.id),
            limit: 100,
            ..Filter::default()
        })
        .await?;
    orders_page(&state, &req, "orders.title", &orders, None)
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    Path(id): Path<OrderId>,
    CsrfForm(form): CsrfForm<CancelForm>,
) -> Result<Response, AppError> {
    state
        .orders
        .act(id, policy::cancel(&form.reason)?, actor_of(&user))
        .await?;
    Ok(Redirect::to(&format!("/orders/{id}?done=cancelled")).into_response())
}

pub async fn part_action(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    Path((id, part, name)): Path<(OrderId, PartId, String)>,
    CsrfForm(form): CsrfForm<PartInput>,
) -> Result<Response, AppError> {
    let kind = ActionKind::parse(&name).ok_or(AppError::NotFound)?;
    let action = policy::part_action(kind, part, form)?;
    let actor = actor_of(&user);
    state.orders.act(id, action, actor).await?;
    let back = if matches!(actor, Actor::Producer(_)) {
        "/producer/orders?done=action_done".to_owned()
    } else {
        format!("/orders/{id}?done=action_done")
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Serialize)]
struct PayPage {
    order_id: OrderId,
    amount: String,
    deadline: String,
    submit_label: String,
    publishable_key: String,
    client_secret: String,
    return_url: String,
    stripe_locale: &'static str,
    pay_js: &'static str,
}

/// Where Stripe's checkout may load from, on this page only; every other page allows no script.
const PAY_PAGE_CSP: &str = "default-src 'self'; img-src 'self' data: https://*.stripe.com; \
     style-src 'self' 'unsafe-inline'; script-src 'self' https://js.stripe.com https://*.js.stripe.com; \
     frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The buyer's Stripe payment page for an unpaid order: Stripe's Payment Element, given the
/// PaymentIntent's client secret. The order is paid when Stripe's webhook arrives.
pub async fn pay(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<OrderId>,
) -> Result<Response, AppError> {
    let seen = state.orders.order_for(actor_of(&user), id).await?;
    let (order, viewer) = (seen.order, seen.viewer);
    if viewer != Viewer::Buyer || order.status != OrderStatus::AwaitingPayment {
        return Ok(Redirect::to(&format!("/orders/{id}")).into_response());
    }
    let PaymentInstructions::Stripe {
        publishable_key,
        client_secret,
        amount_fen,
        ..
    } = state.orders.payment_instructions(&order).await?
    else {
        return Ok(Redirect::to(&format!("/orders/{id}")).into_response());
    };
    let t = state.i18n.locale(req.lang);
    let amount = Fen(amount_fen).to_string();
    let body = PayPage {
        order_id: id,
        submit_label: t.fill("order.stripe_submit", &[("amount", amount.clone())]),
        amount,
        deadline: when(order.expires_at),
        publishable_key,
        client_secret,
        return_url: format!("{}/orders/{id}", state.settings.server.base_url()),
        stripe_locale: match req.lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        },
        pay_js: crate::assets::pay_js_url(),
    };
    let title = t.fill(
        "order.stripe_page_title",
        &[("number", order.number.clone())],
    );
    let mut response = render(&state, &req, View::personal("order_pay.html", title, body))?;
    response.headers_mut().insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(PAY_PAGE_CSP),
    );
    Ok(response)
}
