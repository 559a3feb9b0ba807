//! Bank transfers for federation staff to record: the orders awaiting payment, and the
//! transfers kept aside (a wrong amount, an order no longer waiting).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_accounts::UserId;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_common::money::Fen;
use jinguo_order::orders::Filter;
use jinguo_order::state::OrderStatus;
use jinguo_order::{OrderId, TransferOutcome};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, form_failure, label, render, with_status};
use crate::views::when;
use crate::web::{CsrfForm, PageUser, require_staff};

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
    let ids: Vec<UserId> = awaiting.iter().map(|o| o.buyer_id).collect();
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
            buyer: logins.get(&o.buyer_id).cloned().unwrap_or_default(),
        })
        .collect();
    let flagged = state
        .orders
        .flagged_transfers()
        .await?
        .into_iter()
        .map(|f| FlaggedRow {
            order_url: f
                .order_id
                .map(|id| format!("/orders/{id}"))
                .unwrap_or_default(),
            note: f
                .flag
                .map(|flag| label(state, req.lang, "flag_reasons", flag.as_str()))
                .unwrap_or_default(),
            reference: f.reference,
            amount: f.amount.to_string(),
            received_on: f.received_on,
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
pub struct RecordedQuery {
    result: Option<String>,
    number: Option<String>,
    order: Option<OrderId>,
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
                .and_then(|transfer| transfer.flag)
                .map(|flag| label(&state, req.lang, "flag_reasons", flag.as_str()))
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
            .record_transfer(user.id, &form.reference, amount, form.received_on.trim())
            .await
            .map_err(AppError::from),
        Err(_) => Err(AppError::invalid(Invalid::new(
            Field::Amount,
            Problem::NotAnAmount {
                value: form.amount.trim().to_owned(),
            },
        ))),
    };
    match result {
        Ok((TransferOutcome::Accepted, order)) => {
            let to = format!(
                "/staff/payments?result=accepted&number={}",
                crate::pages::encode(&order.number)
            );
            Ok(Redirect::to(&to).into_response())
        }
        Ok((TransferOutcome::Flagged, order)) => Ok(Redirect::to(&format!(
            "/staff/payments?result=flagged&order={}",
            order.id
        ))
        .into_response()),
        Err(error) => {
            let failure = form_failure(&state, req.lang, error)?;
            Ok(with_status(
                payments_view(&state, &req, form, None, Some(failure.text)).await?,
                failure.status,
            ))
        }
    }
}
