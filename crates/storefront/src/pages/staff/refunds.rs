//! A partial refund of an order by federation staff (a damaged item, a shortfall): which part,
//! how much (at most what is left of it), why. The order crate decides whether it may be given;
//! the books record it.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_accounts::User;
use jinguo_common::invalid::{self, Field, Invalid, Problem};
use jinguo_common::money::Fen;
use jinguo_order::policy;
use jinguo_order::state::Action;
use jinguo_order::{Acted, OrderId, PartId};
use jinguo_settlement::{RefundId, RefundStatus};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::money::money;
use crate::pages::{Failure, Req, View, form_failure, label, render, with_status};
use crate::views::when;
use crate::web::{CsrfForm, PageUser, actor_of, require_staff};

#[derive(Serialize, Deserialize, Default)]
pub struct RefundForm {
    #[serde(default)]
    part: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

#[derive(Serialize)]
struct RefundPartRow {
    id: String,
    producer_name: String,
    status: &'static str,
    status_label: String,
    total: String,
    refunded: String,
    option_label: String,
}

#[derive(Serialize)]
struct RefundDoneRow {
    id: RefundId,
    producer_name: String,
    amount: String,
    status: RefundStatus,
    status_label: String,
    reason: String,
    reference: Option<String>,
    created_at: String,
}

#[derive(Serialize)]
struct RefundPage {
    order_id: OrderId,
    order_number: String,
    order_url: String,
    order_status: &'static str,
    order_status_label: String,
    total: String,
    refundable: bool,
    parts: Vec<RefundPartRow>,
    refunds: Vec<RefundDoneRow>,
    form: RefundForm,
    error: Option<String>,
    error_field: Option<String>,
}

async fn refund_page(
    state: &AppState,
    req: &Req,
    staff: &User,
    id: OrderId,
    form: RefundForm,
    notice: Option<String>,
    error: Option<Failure>,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let t = state.i18n.locale(lang);
    let order = state.orders.order(id).await?;
    let offers = policy::offers(
        &order.state(),
        actor_of(staff),
        state.clock.now_ms(),
        state.orders.settings().windows(),
    );
    let refunds = state.settlement.refunds(Some(id)).await?;
    let producer_of_part: HashMap<PartId, String> = order
        .parts
        .iter()
        .map(|p| (p.id, p.producer_name.clone()))
        .collect();
    let parts = order
        .parts
        .iter()
        .map(|p| {
            let total = p.total();
            let refunded: Fen = refunds
                .iter()
                .filter(|r| r.part_id == Some(p.id))
                .map(|r| r.amount)
                .sum();
            let status_label = label(state, lang, "part_status", p.status.as_str());
            RefundPartRow {
                id: p.id.to_string(),
                option_label: t.fill(
                    "money.part_option",
                    &[
                        ("producer", p.producer_name.clone()),
                        ("status", status_label.clone()),
                        ("total", money(total)),
                        ("refunded", money(refunded)),
                    ],
                ),
                producer_name: p.producer_name.clone(),
                status: p.status.as_str(),
                status_label,
                total: money(total),
                refunded: money(refunded),
            }
        })
        .collect();
    let refunds = refunds
        .into_iter()
        .map(|r| RefundDoneRow {
            id: r.id,
            producer_name: r
                .part_id
                .and_then(|p| producer_of_part.get(&p).cloned())
                .unwrap_or_default(),
            amount: money(r.amount),
            status_label: label(state, lang, "money.refund_status", r.status.as_str()),
            status: r.status,
            reason: r.reason,
            reference: r.provider_ref,
            created_at: when(r.created_at),
        })
        .collect();
    let body = RefundPage {
        order_id: id,
        order_url: format!("/orders/{id}"),
        order_status: order.status.as_str(),
        order_status_label: label(state, lang, "order_status", order.status.as_str()),
        total: money(order.total),
        refundable: !offers.refund.is_empty(),
        parts,
        refunds,
        form,
        error_field: error.as_ref().and_then(Failure::field_name),
        error: error.map(|f| f.text),
        order_number: order.number,
    };
    let title = t.fill(
        "money.refund_title",
        &[("number", body.order_number.clone())],
    );
    let mut view = View::personal("staff_refund.html", title, body);
    view.notice = notice;
    render(state, req, view)
}

#[derive(Deserialize)]
pub struct RefundQuery {
    refund: Option<RefundId>,
}

pub async fn refund_form(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<OrderId>,
    Query(q): Query<RefundQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let notice = match q.refund {
        Some(refund) => {
            let refund = state.settlement.refund(refund).await?;
            Some(state.i18n.locale(req.lang).fill(
                "money.refunded",
                &[
                    ("amount", money(refund.amount)),
                    ("id", refund.id.to_string()),
                ],
            ))
        }
        None => None,
    };
    refund_page(&state, &req, &user, id, RefundForm::default(), notice, None).await
}

pub async fn refund(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<OrderId>,
    CsrfForm(form): CsrfForm<RefundForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let action = form_action(&form);
    let done = match action {
        Ok(action) => state
            .orders
            .act(id, action, actor_of(&user))
            .await
            .map_err(AppError::from),
        Err(error) => Err(error),
    };
    match done {
        Ok(Acted {
            refund: Some(refund),
            ..
        }) => Ok(
            Redirect::to(&format!("/staff/orders/{id}/refund?refund={}", refund.id))
                .into_response(),
        ),
        Ok(_) => Ok(Redirect::to(&format!("/staff/orders/{id}/refund")).into_response()),
        Err(error) => {
            let failure = form_failure(&state, req.lang, error)?;
            let status = failure.status;
            Ok(with_status(
                refund_page(&state, &req, &user, id, form, None, Some(failure)).await?,
                status,
            ))
        }
    }
}

/// The refund the form asks for: which part, how much, why.
fn form_action(form: &RefundForm) -> Result<Action, AppError> {
    let part: PartId = form
        .part
        .trim()
        .parse()
        .map_err(|_| AppError::invalid(Invalid::new(Field::Part, Problem::Required)))?;
    let amount = form.amount.trim().parse::<Fen>().map_err(|_| {
        AppError::invalid(Invalid::new(
            Field::Amount,
            Problem::NotAnAmount {
                value: form.amount.trim().to_owned(),
            },
        ))
    })?;
    let reason = invalid::text(Field::Reason, &form.reason, 200)?.to_owned();
    Ok(Action::Refund {
        part,
        amount,
        reason,
    })
}
