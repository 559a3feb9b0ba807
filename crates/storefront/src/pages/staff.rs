//! For federation staff: bank transfers to confirm, all orders, delivery restrictions.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_common::money::Fen;
use jinguo_order::TransferOutcome;
use jinguo_order::orders::Filter;
use jinguo_order::region::Level;
use jinguo_order::state::OrderStatus;
use serde::{Deserialize, Serialize};

use super::orders::{filter_view, orders_page};
use super::{Req, View, done_notice, label, render};
use crate::app::AppState;
use crate::auth::{CsrfForm, PageUser, require_staff};
use crate::error::{AppError, Msg};
use crate::views::when;

#[derive(Serialize)]
struct AwaitingRow {
    number: String,
    order_url: String,
    reference: String,
    total: String,
    created_at: String,
    expires_at: String,
    buyer: String,
}

#[derive(Serialize)]
struct FlaggedRow {
    reference: String,
    amount: String,
    received_on: String,
    note: String,
    order_url: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct TransferForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    received_on: String,
}

#[derive(Serialize)]
struct PaymentsPage {
    awaiting: Vec<AwaitingRow>,
    flagged: Vec<FlaggedRow>,
    form: TransferForm,
    error: Option<String>,
}

async fn payments_view(
    state: &AppState,
    req: &Req,
    form: TransferForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let awaiting = state
        .orders
        .orders(&Filter {
            status: Some(OrderStatus::AwaitingPayment),
            limit: 200,
            ..Filter::default()
        })
        .await?;
    let ids: Vec<jinguo_accounts::UserId> = awaiting
        .iter()
        .map(|o| jinguo_accounts::UserId(o.buyer_id))
        .collect();
    let logins = state.accounts.logins(&ids).await?;
    let rows: Vec<AwaitingRow> = awaiting
        .iter()
        .map(|o| AwaitingRow {
            number: o.number.clone(),
            order_url: format!("/orders/{}", o.id),
            reference: o.payment_reference.clone(),
            total: o.total.to_string(),
            created_at: when(o.created_at),
            expires_at: when(o.expires_at),
            buyer: logins
                .get(&jinguo_accounts::UserId(o.buyer_id))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    let flagged = state
        .orders
        .flagged_transfers()
        .await?
        .into_iter()
        .map(|f| FlaggedRow {
            order_url: format!("/orders/{}", f.order_id),
            reference: f.reference,
            amount: f.amount.to_string(),
            received_on: f.received_on,
            note: f.note,
        })
        .collect();
    let form = TransferForm {
        received_on: if form.received_on.is_empty() {
            state.today().to_string()
        } else {
            form.received_on
        },
        ..form
    };
    let body = PaymentsPage {
        awaiting: rows,
        flagged,
        form,
        error,
    };
    let t = state.i18n.locale(req.lang);
    let mut view = View::personal(
        "staff_payments.html",
        t.get("staff.payments_title").to_owned(),
        body,
    );
    view.notice = notice;
    render(state, req, view)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    status: Option<String>,
    number: Option<String>,
}

#[derive(Deserialize)]
pub struct RecordedQuery {
    result: Option<String>,
    number: Option<String>,
    order: Option<i64>,
}

pub async fn payments(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<RecordedQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let t = state.i18n.locale(req.lang);
    // What the last transfer recorded did (the form redirects here, so a reload records nothing).
    let notice = match (q.result.as_deref(), q.number, q.order) {
        (Some("accepted"), Some(number), _) => {
            Some(t.fill("staff.transfer_accepted", &[("number", number)]))
        }
        (Some("flagged"), _, Some(order)) => {
            let note = state
                .orders
                .transfers(order)
                .await?
                .last()
                .map(|(_, _, _, note)| note.clone())
                .unwrap_or_default();
            Some(t.fill("staff.transfer_flagged", &[("note", note)]))
        }
        _ => None,
    };
    payments_view(&state, &req, TransferForm::default(), notice, None).await
}

pub async fn record_payment(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let result = match form.amount.trim().parse::<Fen>() {
        Ok(amount) => state
            .orders
            .record_transfer(user.id.0, &form.reference, amount, form.received_on.trim())
            .await
            .map_err(AppError::from),
        Err(_) => Err(AppError::BadRequest(
            Msg::new("errors.bad_amount").with("value", form.amount.trim()),
        )),
    };
    match result {
        Ok((TransferOutcome::Accepted, order)) => {
            let to = format!(
                "/staff/payments?result=accepted&number={}",
                super::encode(&order.number)
            );
            Ok(Redirect::to(&to).into_response())
        }
        Ok((TransferOutcome::Flagged, order)) => Ok(Redirect::to(&format!(
            "/staff/payments?result=flagged&order={}",
            order.id
        ))
        .into_response()),
        Err(error) => {
            let (text, status) = super::form_failure(&state, req.lang, error)?;
            Ok(super::with_status(
                payments_view(&state, &req, form, None, Some(text)).await?,
                status,
            ))
        }
    }
}

pub async fn orders(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(code) => {
            Some(OrderStatus::parse(code).ok_or_else(|| AppError::bad("errors.bad_query"))?)
        }
    };
    let number = q.number.unwrap_or_default();
    let filter = Filter {
        status,
        number: (!number.trim().is_empty()).then(|| number.clone()),
        limit: 200,
        ..Filter::default()
    };
    let orders = state.orders.orders(&filter).await?;
    orders_page(
        &state,
        &req,
        "staff.orders_title",
        &orders,
        Some(filter_view(&state, req.lang, status, &number)),
    )
}

#[derive(Serialize)]
struct RestrictionRow {
    region_code: String,
    region_name: String,
    level: &'static str,
    level_label: String,
    notice: String,
    updated_at: String,
}

#[derive(Serialize)]
struct LevelOption {
    value: &'static str,
    label: String,
}

#[derive(Serialize, Deserialize, Default)]
pub struct RestrictionForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    notice: String,
}

#[derive(Serialize)]
struct RestrictionsPage {
    restrictions: Vec<RestrictionRow>,
    levels: Vec<LevelOption>,
    form: RestrictionForm,
    error: Option<String>,
}

async fn restrictions_view(
    state: &AppState,
    req: &Req,
    form: RestrictionForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let restrictions = state
        .orders
        .restrictions()
        .await?
        .into_iter()
        .map(|r| RestrictionRow {
            level: r.level.as_str(),
            level_label: label(state, lang, "levels", r.level.as_str()),
            region_code: r.region_code,
            region_name: r.region_name,
            notice: r.notice,
            updated_at: when(r.updated_at),
        })
        .collect();
    let levels = [Level::Normal, Level::Restricted, Level::Suspended]
        .into_iter()
        .map(|l| LevelOption {
            value: l.as_str(),
            label: label(state, lang, "levels", l.as_str()),
        })
        .collect();
    let body = RestrictionsPage {
        restrictions,
        levels,
        form,
        error,
    };
    let t = state.i18n.locale(lang);
    let mut view = View::personal(
        "staff_restrictions.html",
        t.get("staff.restrictions_title").to_owned(),
        body,
    );
    view.notice = notice;
    render(state, req, view)
}

pub async fn restrictions(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let notice = done_notice(&state, req.lang, q.done.as_deref());
    restrictions_view(&state, &req, RestrictionForm::default(), notice, None).await
}

pub async fn set_restriction(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<RestrictionForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let result = match Level::parse(&form.level) {
        Some(level) => state
            .orders
            .set_restriction(form.code.trim(), level, form.notice.trim(), user.id.0)
            .await
            .map_err(AppError::from),
        None => Err(AppError::BadRequest(
            Msg::new("errors.invalid")
                .with("field", "level")
                .with("message", "normal, restricted or suspended"),
        )),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/staff/restrictions?done=restriction_saved").into_response()),
        Err(error) => {
            let (text, status) = super::form_failure(&state, req.lang, error)?;
            Ok(super::with_status(
                restrictions_view(&state, &req, form, None, Some(text)).await?,
                status,
            ))
        }
    }
}
