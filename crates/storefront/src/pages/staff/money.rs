//! Settlement for federation staff: payout runs, payouts and the bank's files, refunds owed,
//! and the ledger check. The settlement crate does the work; these handlers show it and take
//! the forms.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_order::OrderId;
use jinguo_order::orders::Filter;
use jinguo_settlement::payout::SkipReason;
use jinguo_settlement::{BatchId, PayoutId, RefundId};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::pages::money::{PayoutRow, money, payout_code, payout_row};
use crate::pages::{Req, View, encode, form_failure, label, render, with_status};
use crate::views::{csv_response, when};
use crate::web::{CsrfForm, PageUser, require_staff};

#[derive(Serialize)]
struct LedgerView {
    ok: bool,
    summary: String,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct SkippedRow {
    producer: String,
    reason: String,
}

#[derive(Serialize)]
struct BatchLink {
    id: BatchId,
    url: String,
    label: String,
}

#[derive(Serialize)]
struct RefundRow {
    id: RefundId,
    order_url: String,
    order_number: String,
    refund_page_url: String,
    amount: String,
    reason: String,
    created_at: String,
}

/// Messages beside the staff page's forms (at most one is set).
#[derive(Serialize, Default)]
struct StaffErrors {
    settle: Option<String>,
    payouts: Option<String>,
    confirm: Option<String>,
    refunds: Option<String>,
    find: Option<String>,
}

#[derive(Serialize)]
struct StaffMoneyPage {
    ledger: LedgerView,
    minimum: String,
    skipped: Vec<SkippedRow>,
    batches: Vec<BatchLink>,
    payouts: Vec<PayoutRow>,
    refunds: Vec<RefundRow>,
    confirm_text: String,
    find_number: String,
    errors: StaffErrors,
}

/// What the staff page shows besides what it reads.
#[derive(Default)]
struct StaffInput {
    notice: Option<String>,
    skipped: Vec<SkippedRow>,
    confirm_text: String,
    find_number: String,
    errors: StaffErrors,
    status: Option<StatusCode>,
}

async fn ledger_view(state: &AppState, lang: Lang) -> Result<LedgerView, AppError> {
    let t = state.i18n.locale(lang);
    let check = state.settlement.check_ledger().await?;
    let mut problems = Vec::new();
    if check.debits != check.credits {
        problems.push(t.fill(
            "money.ledger_totals",
            &[
                ("debits", money(Fen(check.debits))),
                ("credits", money(Fen(check.credits))),
            ],
        ));
    }
    for (id, cause, off) in &check.unbalanced {
        problems.push(t.fill(
            "money.ledger_unbalanced",
            &[
                ("id", id.to_string()),
                ("cause", cause.clone()),
                ("amount", money(Fen(*off))),
            ],
        ));
    }
    for (id, cause) in &check.open {
        problems.push(t.fill(
            "money.ledger_open",
            &[("id", id.to_string()), ("cause", cause.clone())],
        ));
    }
    for account in &check.unknown_accounts {
        problems.push(t.fill("money.ledger_unknown", &[("account", account.clone())]));
    }
    let ok = check.is_ok();
    let summary = t.fill(
        if ok {
            "money.ledger_ok"
        } else {
            "money.ledger_bad"
        },
        &[
            ("n", check.transactions.to_string()),
            ("amount", money(Fen(check.debits))),
        ],
    );
    Ok(LedgerView {
        ok,
        summary,
        problems,
    })
}

async fn staff_page(state: &AppState, req: &Req, input: StaffInput) -> Result<Response, AppError> {
    let lang = req.lang;
    let t = state.i18n.locale(lang);
    let payouts: Vec<PayoutRow> = state
        .settlement
        .payouts(None, None)
        .await?
        .into_iter()
        .map(|p| payout_row(state, lang, p))
        .collect();
    let mut batch_ids: Vec<BatchId> = payouts
        .iter()
        .filter(|p| p.open_bank)
        .map(|p| p.batch_id)
        .collect();
    batch_ids.sort_unstable_by(|a, b| b.cmp(a));
    batch_ids.dedup();
    let batches = batch_ids
        .into_iter()
        .map(|id| BatchLink {
            id,
            url: format!("/staff/money/batches/{id}/bank-file.csv"),
            label: t.fill("money.bank_file_link", &[("batch", id.to_string())]),
        })
        .collect();
    let owed = state.settlement.refunds(None).await?;
    let orders: Vec<OrderId> = owed.iter().map(|r| r.order_id).collect();
    let numbers = state.orders.numbers(&orders).await?;
    let mut refunds = Vec::with_capacity(owed.len());
    for r in owed {
        refunds.push(RefundRow {
            id: r.id,
            order_url: format!("/orders/{}", r.order_id),
            order_number: numbers.get(&r.order_id).cloned().unwrap_or_default(),
            refund_page_url: format!("/staff/orders/{}/refund", r.order_id),
            amount: money(r.amount),
            reason: r.reason,
            created_at: when(r.created_at),
        });
    }
    let body = StaffMoneyPage {
        ledger: ledger_view(state, lang).await?,
        minimum: state.settlement.settings().minimum_payout.to_string(),
        skipped: input.skipped,
        batches,
        payouts,
        refunds,
        confirm_text: input.confirm_text,
        find_number: input.find_number,
        errors: input.errors,
    };
    let mut view = View::personal(
        "staff_money.html",
        t.get("money.staff_title").to_owned(),
        body,
    );
    view.notice = input.notice;
    let status = input.status.unwrap_or(StatusCode::OK);
    Ok(with_status(render(state, req, view)?, status))
}

#[derive(Deserialize)]
pub struct StaffQuery {
    done: Option<String>,
    batch: Option<BatchId>,
    n: Option<usize>,
    id: Option<i64>,
    /// Producers the last run passed over: `12:details,15:open`.
    skipped: Option<String>,
}

pub async fn staff_money(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<StaffQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let t = state.i18n.locale(req.lang);
    let id = || payout_code(PayoutId(q.id.unwrap_or_default()));
    let notice = match q.done.as_deref() {
        Some("settled") => Some(t.fill(
            "money.settled",
            &[
                ("batch", q.batch.map(|b| b.to_string()).unwrap_or_default()),
                ("n", q.n.unwrap_or_default().to_string()),
            ],
        )),
        Some("settled_none") => Some(t.get("money.settled_none").to_owned()),
        Some("payout_paid") => Some(t.fill("money.payout_paid_done", &[("id", id())])),
        Some("payout_failed") => Some(t.fill("money.payout_failed_done", &[("id", id())])),
        Some("confirmed") => Some(t.fill(
            "money.confirmed",
            &[("n", q.n.unwrap_or_default().to_string())],
        )),
        Some("refund_paid") => Some(t.fill(
            "money.refund_paid_done",
            &[("id", q.id.unwrap_or_default().to_string())],
        )),
        _ => None,
    };
    let mut skipped = Vec::new();
    if let Some(list) = q.skipped.as_deref().filter(|s| !s.is_empty()) {
        let listed: Vec<(ProducerId, &str)> = list
            .split(',')
            .filter_map(|item| {
                let (producer, why) = item.split_once(':').unwrap_or((item, "other"));
                Some((producer.parse().ok()?, why))
            })
            .collect();
        let ids: Vec<ProducerId> = listed.iter().map(|(p, _)| *p).collect();
        let names = state.catalog.producer_names(&ids).await?;
        for (producer, why) in listed {
            let why = match why {
                "details" | "open" => why,
                _ => "other",
            };
            skipped.push(SkippedRow {
                producer: names
                    .get(&producer)
                    .map(|n| n.name.clone())
                    .unwrap_or_else(|| producer.to_string()),
                reason: label(&state, req.lang, "money.skip", why),
            });
        }
    }
    let input = StaffInput {
        notice,
        skipped,
        ..StaffInput::default()
    };
    staff_page(&state, &req, input).await
}

/// Shows the staff page again with a form's message (or passes on an error not theirs to fix).
async fn staff_failure(
    state: &AppState,
    req: &Req,
    error: AppError,
    put: impl FnOnce(&mut StaffInput, String),
) -> Result<Response, AppError> {
    let failure = form_failure(state, req.lang, error)?;
    let mut input = StaffInput {
        status: Some(failure.status),
        ..StaffInput::default()
    };
    put(&mut input, failure.text);
    staff_page(state, req, input).await
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn settle(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let report = match state.settlement.settle(&format!("staff {}", user.id)).await {
        Ok(report) => report,
        Err(error) => {
            return staff_failure(&state, &req, error.into(), |i, text| {
                i.errors.settle = Some(text);
            })
            .await;
        }
    };
    let skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|(producer, why)| {
            let code = match why {
                SkipReason::NoPayoutDetails => "details",
                SkipReason::PayoutStillOpen => "open",
            };
            format!("{producer}:{code}")
        })
        .collect();
    let skipped = encode(&skipped.join(","));
    let to = match report.batch_id {
        Some(batch) => format!(
            "/staff/money?done=settled&batch={batch}&n={}&skipped={skipped}",
            report.payouts.len()
        ),
        None => format!("/staff/money?done=settled_none&skipped={skipped}"),
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub struct ReferenceForm {
    #[serde(default)]
    reference: String,
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

pub async fn payout_paid(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<PayoutId>,
    CsrfForm(form): CsrfForm<ReferenceForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    match state.settlement.mark_payout_paid(id, &form.reference).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/staff/money?done=payout_paid&id={id}")).into_response())
        }
        Err(error) => {
            staff_failure(&state, &req, error.into(), |i, text| {
                i.errors.payouts = Some(format!("{}: {text}", payout_code(id)));
            })
            .await
        }
    }
}

pub async fn payout_failed(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<PayoutId>,
    CsrfForm(form): CsrfForm<NoteForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    match state.settlement.mark_payout_failed(id, &form.note).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/staff/money?done=payout_failed&id={id}")).into_response())
        }
        Err(error) => {
            staff_failure(&state, &req, error.into(), |i, text| {
                i.errors.payouts = Some(format!("{}: {text}", payout_code(id)));
            })
            .await
        }
    }
}

pub async fn bank_file(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    Path(batch): Path<BatchId>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let csv = state.settlement.bank_file(batch).await?;
    Ok(csv_response(csv, &format!("jinguo-payouts-{batch}.csv")))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    lines: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    match state.settlement.confirm_bank_file(&form.lines).await {
        Ok(done) => Ok(
            Redirect::to(&format!("/staff/money?done=confirmed&n={}", done.len())).into_response(),
        ),
        Err(error) => {
            let text = form.lines;
            staff_failure(&state, &req, error.into(), move |i, message| {
                i.errors.confirm = Some(message);
                i.confirm_text = text;
            })
            .await
        }
    }
}

pub async fn refund_paid(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<RefundId>,
    CsrfForm(form): CsrfForm<ReferenceForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    match state.settlement.mark_refund_paid(id, &form.reference).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/staff/money?done=refund_paid&id={id}")).into_response())
        }
        Err(error) => {
            staff_failure(&state, &req, error.into(), |i, text| {
                i.errors.refunds = Some(text);
            })
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    number: String,
}

/// From an order number to the order's refund page.
pub async fn find_order(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<FindQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let number = q.number.trim().to_owned();
    let found = if number.is_empty() {
        Vec::new()
    } else {
        state
            .orders
            .orders(&Filter {
                number: Some(number.clone()),
                limit: 1,
                ..Filter::default()
            })
            .await?
    };
    match found.first() {
        Some(order) => {
            Ok(Redirect::to(&format!("/staff/orders/{}/refund", order.id)).into_response())
        }
        None => {
            let t = state.i18n.locale(req.lang);
            let input = StaffInput {
                errors: StaffErrors {
                    find: Some(t.fill("money.no_such_order", &[("number", number.clone())])),
                    ..StaffErrors::default()
                },
                find_number: number,
                status: Some(StatusCode::NOT_FOUND),
                ..StaffInput::default()
            };
            staff_page(&state, &req, input).await
        }
    }
}
