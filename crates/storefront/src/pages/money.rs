//! Money pages. For producer staff: what they are owed, the month's statement (and its CSV),
//! their payouts and where payouts go. For federation staff: settlement runs, payouts and the
//! bank's files, refunds owed, the ledger check, reconciliation, and partial refunds of an order.
//! The settlement crate does the work; these handlers show it and take the forms.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use jinguo_common::money::Fen;
use jinguo_order::orders::Filter;
use jinguo_order::state::OrderStatus;
use jinguo_settlement::payout::{Payout, PayoutDetails, SkipReason};
use jinguo_settlement::statement::{self, Month};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::{Req, View, encode, label, render, with_status};
use crate::api::settlement::{csv_response, month_of};
use crate::app::AppState;
use crate::auth::{CsrfForm, PageUser, producer_of, require_staff};
use crate::error::{AppError, Msg};
use crate::i18n::Lang;
use crate::views::when;

// ---- shared --------------------------------------------------------------------------------

/// What went wrong with a form, in the person's words, and the field to mark.
struct Failure {
    text: String,
    status: StatusCode,
    /// The form field the message is about, when it names one this page knows.
    field: Option<String>,
}

/// Like [`super::form_failure`], and an `errors.invalid` message names the field by its label
/// (`money.field.*`) rather than its code. An error that is not the person's to fix is passed on.
fn explain(state: &AppState, lang: Lang, error: AppError) -> Result<Failure, AppError> {
    let Some(msg) = error.msg() else {
        return Err(error);
    };
    let t = state.i18n.locale(lang);
    let mut args = msg.args.clone();
    let mut field = match msg.key {
        // The only amount on the pages that take one.
        "errors.bad_amount" | "errors.refund_too_large" => Some("amount".to_owned()),
        _ => None,
    };
    if msg.key == "errors.invalid" {
        for (name, value) in &mut args {
            let key = format!("money.field.{value}");
            if *name == "field" && t.get(&key) != key {
                field = Some(value.clone());
                *value = t.get(&key).to_owned();
            }
        }
    }
    Ok(Failure {
        text: t.fill(msg.key, &args),
        status: error.status_code(),
        field,
    })
}

/// An amount as people read it, the sign before the currency: `-¥100.00`.
fn money(amount: Fen) -> String {
    if amount.0 < 0 {
        format!("-{}", Fen(amount.0.saturating_neg()))
    } else {
        amount.to_string()
    }
}

fn payout_code(id: i64) -> String {
    format!("JGP{id}")
}

/// The names of producers by id (for payouts and skipped producers).
async fn producer_names(state: &AppState) -> Result<HashMap<i64, String>, AppError> {
    Ok(state
        .catalog
        .producers()
        .await?
        .into_iter()
        .map(|p| (p.id.0, p.name))
        .collect())
}

#[derive(Serialize)]
struct PayoutRow {
    id: i64,
    code: String,
    batch_id: i64,
    producer_name: String,
    amount: String,
    method_label: String,
    status: String,
    status_label: String,
    destination: String,
    reference: Option<String>,
    note: String,
    created_at: String,
    sent_at: Option<String>,
    /// A bank payout still to pay: staff mark it paid or failed.
    open_bank: bool,
}

fn payout_row(state: &AppState, lang: Lang, p: Payout) -> PayoutRow {
    PayoutRow {
        id: p.id,
        code: payout_code(p.id),
        batch_id: p.batch_id,
        amount: money(p.amount),
        method_label: label(state, lang, "money.method", &p.method),
        status_label: label(state, lang, "money.payout_status", &p.status),
        open_bank: p.method == "bank" && p.status == "pending",
        producer_name: p.producer_name,
        status: p.status,
        destination: p.destination,
        reference: p.provider_ref,
        note: p.note,
        created_at: when(p.created_at),
        sent_at: p.sent_at.map(when),
    }
}

// ---- producer: /producer/money ---------------------------------------------------------------

#[derive(Serialize)]
struct StatementRow {
    date: String,
    kind: &'static str,
    kind_label: String,
    order_url: Option<String>,
    order_number: Option<String>,
    payout: Option<String>,
    gross: Option<String>,
    fee: Option<String>,
    commission: Option<String>,
    amount: String,
    negative: bool,
    balance: String,
}

/// The payout details form, as typed or as saved.
#[derive(Serialize, Deserialize, Default)]
pub struct DetailsForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    account_name: String,
    #[serde(default)]
    account_no: String,
    #[serde(default)]
    bank_name: String,
    #[serde(default)]
    stripe_account: String,
}

impl DetailsForm {
    fn of(details: &PayoutDetails) -> DetailsForm {
        match details {
            PayoutDetails::Stripe { account } => DetailsForm {
                method: "stripe".into(),
                stripe_account: account.clone(),
                ..DetailsForm::default()
            },
            PayoutDetails::Bank {
                account_name,
                account_no,
                bank_name,
            } => DetailsForm {
                method: "bank".into(),
                account_name: account_name.clone(),
                account_no: account_no.clone(),
                bank_name: bank_name.clone(),
                ..DetailsForm::default()
            },
        }
    }

    /// The details the form describes (checked by the settlement crate when saved).
    fn details(&self, stripe_available: bool) -> Result<PayoutDetails, AppError> {
        match self.method.as_str() {
            "bank" => Ok(PayoutDetails::Bank {
                account_name: self.account_name.clone(),
                account_no: self.account_no.clone(),
                bank_name: self.bank_name.clone(),
            }),
            // Stripe payouts would wait forever where Stripe is not configured.
            "stripe" if stripe_available => Ok(PayoutDetails::Stripe {
                account: self.stripe_account.clone(),
            }),
            "stripe" => Err(AppError::bad("money.stripe_unavailable")),
            _ => Err(AppError::bad("money.choose_method")),
        }
    }
}

#[derive(Serialize)]
struct ProducerMoneyPage {
    producer_name: String,
    payable: String,
    payable_negative: bool,
    minimum: String,
    has_details: bool,
    month: String,
    statement_heading: String,
    prev_url: String,
    prev_label: String,
    next_url: Option<String>,
    next_label: String,
    csv_url: String,
    opening: String,
    closing: String,
    sales: String,
    fees: String,
    refunds: String,
    payouts_total: String,
    lines: Vec<StatementRow>,
    month_error: Option<String>,
    payouts: Vec<PayoutRow>,
    current: Option<DetailsForm>,
    form: DetailsForm,
    details_error: Option<String>,
    error_field: Option<String>,
    stripe_available: bool,
}

fn month_name(state: &AppState, lang: Lang, month: Month) -> String {
    state.i18n.locale(lang).fill(
        "money.month_name",
        &[
            ("year", month.year.to_string()),
            ("month", month.month.to_string()),
            ("mm", format!("{:02}", month.month)),
        ],
    )
}

/// What the producer page shows besides the statement.
struct ProducerInput {
    month: Month,
    /// What is in the month box (as typed when it was not a month).
    month_text: String,
    month_error: Option<String>,
    form: Option<DetailsForm>,
    details_error: Option<Failure>,
    notice: Option<String>,
}

async fn producer_page(
    state: &AppState,
    req: &Req,
    producer: i64,
    input: ProducerInput,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let t = state.i18n.locale(lang);
    let month = input.month;
    let s = state.settlement.statement(producer, month).await?;
    let payable = state.settlement.payable(producer).await?;
    let current = state.settlement.payout_details(producer).await?;
    let mut balance = s.opening;
    let lines = s
        .lines
        .iter()
        .map(|l| {
            balance.0 += l.amount.0;
            StatementRow {
                date: when(l.at),
                kind: l.kind.as_str(),
                kind_label: label(state, lang, "money.kind", l.kind.as_str()),
                order_url: l.order_id.map(|id| format!("/orders/{id}")),
                order_number: l.order_number.clone(),
                payout: l.payout_id.map(payout_code),
                gross: l.gross.map(money),
                fee: l.fee.map(money),
                commission: l.commission.filter(|c| c.0 != 0).map(money),
                amount: money(l.amount),
                negative: l.amount.0 < 0,
                balance: money(balance),
            }
        })
        .collect();
    let payouts = state
        .settlement
        .payouts(Some(producer), None)
        .await?
        .into_iter()
        .map(|p| payout_row(state, lang, p))
        .collect();
    let this_month = Month::of(state.catalog.clock().now_ms());
    let (prev, next) = (month.previous(), month.next());
    let stripe_available = state.settlement.stripe().is_some()
        || matches!(current, Some(PayoutDetails::Stripe { .. }));
    let producer_name = state
        .catalog
        .producers()
        .await?
        .into_iter()
        .find(|p| p.id.0 == producer)
        .map(|p| p.name)
        .unwrap_or_default();
    let current_form = current.as_ref().map(DetailsForm::of);
    let form = input.form.unwrap_or_else(|| {
        current
            .as_ref()
            .map(DetailsForm::of)
            .unwrap_or(DetailsForm {
                method: "bank".into(),
                ..DetailsForm::default()
            })
    });
    let body = ProducerMoneyPage {
        producer_name,
        payable: money(payable),
        payable_negative: payable.0 < 0,
        minimum: state.settlement.settings().minimum_payout.to_string(),
        has_details: current.is_some(),
        month: input.month_text,
        statement_heading: t.fill(
            "money.statement_heading",
            &[("month", month_name(state, lang, month))],
        ),
        prev_url: format!("/producer/money?month={prev}"),
        prev_label: month_name(state, lang, prev),
        next_url: ((next.year, next.month) <= (this_month.year, this_month.month))
            .then(|| format!("/producer/money?month={next}")),
        next_label: month_name(state, lang, next),
        csv_url: format!("/producer/money/statement.csv?month={month}"),
        opening: money(s.opening),
        closing: money(s.closing),
        sales: money(s.sales),
        fees: money(s.fees),
        refunds: money(s.refunds),
        payouts_total: money(s.payouts),
        lines,
        month_error: input.month_error,
        payouts,
        current: current_form,
        form,
        error_field: input.details_error.as_ref().and_then(|f| f.field.clone()),
        details_error: input.details_error.map(|f| f.text),
        stripe_available,
    };
    let mut view = View::personal(
        "producer_money.html",
        t.get("money.producer_title").to_owned(),
        body,
    );
    view.notice = input.notice;
    render(state, req, view)
}

#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
    done: Option<String>,
}

pub async fn producer_money(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let notice = (q.done.as_deref() == Some("details_saved")).then(|| {
        state
            .i18n
            .locale(req.lang)
            .get("money.details_saved")
            .to_owned()
    });
    let typed = q.month.clone().unwrap_or_default();
    let (month, month_error) = match month_of(&state, q.month.as_deref()) {
        Ok(month) => (month, None),
        Err(error) => (
            Month::of(state.catalog.clock().now_ms()),
            Some(explain(&state, req.lang, error)?),
        ),
    };
    let status = month_error
        .as_ref()
        .map_or(StatusCode::OK, |failure| failure.status);
    let input = ProducerInput {
        month,
        month_text: if month_error.is_some() {
            typed
        } else {
            month.to_string()
        },
        month_error: month_error.map(|f| f.text),
        form: None,
        details_error: None,
        notice,
    };
    Ok(with_status(
        producer_page(&state, &req, producer, input).await?,
        status,
    ))
}

pub async fn statement_csv(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let month = month_of(&state, q.month.as_deref())?;
    let s = state.settlement.statement(producer, month).await?;
    Ok(csv_response(
        statement::to_csv(&s),
        &format!("jinguo-statement-{month}.csv"),
    ))
}

pub async fn save_details(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<DetailsForm>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let current = state.settlement.payout_details(producer).await?;
    let stripe_available = state.settlement.stripe().is_some()
        || matches!(current, Some(PayoutDetails::Stripe { .. }));
    let saved = match form.details(stripe_available) {
        Ok(details) => state
            .settlement
            .set_payout_details(producer, details)
            .await
            .map_err(AppError::from),
        Err(error) => Err(error),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/producer/money?done=details_saved").into_response()),
        Err(error) => {
            let failure = explain(&state, req.lang, error)?;
            let status = failure.status;
            let month = Month::of(state.catalog.clock().now_ms());
            let input = ProducerInput {
                month,
                month_text: month.to_string(),
                month_error: None,
                form: Some(form),
                details_error: Some(failure),
                notice: None,
            };
            Ok(with_status(
                producer_page(&state, &req, producer, input).await?,
                status,
            ))
        }
    }
}

// ---- staff: /staff/money -------------------------------------------------------------------

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
    id: i64,
    url: String,
    label: String,
}

#[derive(Serialize)]
struct RefundRow {
    id: i64,
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
    let mut batch_ids: Vec<i64> = payouts
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
    // Refunds still owed are few; their orders are read one by one for the numbers.
    let mut numbers: HashMap<i64, String> = HashMap::new();
    let mut refunds = Vec::with_capacity(owed.len());
    for r in owed {
        if let Entry::Vacant(slot) = numbers.entry(r.order_id) {
            slot.insert(state.orders.order(r.order_id).await?.number);
        }
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
    batch: Option<i64>,
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
    let id = || payout_code(q.id.unwrap_or_default());
    let notice = match q.done.as_deref() {
        Some("settled") => Some(t.fill(
            "money.settled",
            &[
                ("batch", q.batch.unwrap_or_default().to_string()),
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
        let names = producer_names(&state).await?;
        for item in list.split(',') {
            let (producer, why) = item.split_once(':').unwrap_or((item, "other"));
            let Ok(producer) = producer.parse::<i64>() else {
                continue;
            };
            let why = match why {
                "details" | "open" => why,
                _ => "other",
            };
            skipped.push(SkippedRow {
                producer: names
                    .get(&producer)
                    .cloned()
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
    let failure = explain(state, req.lang, error)?;
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
    let report = match state
        .settlement
        .settle(&format!("staff {}", user.id.0))
        .await
    {
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
    Path(id): Path<i64>,
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
    Path(id): Path<i64>,
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
    Path(batch): Path<i64>,
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
    Path(id): Path<i64>,
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

// ---- staff: /staff/reconciliation ----------------------------------------------------------

#[derive(Serialize)]
struct MismatchRow {
    source: &'static str,
    source_label: String,
    reference: String,
    ledger: Option<String>,
    outside: Option<String>,
    problem: String,
    order_url: Option<String>,
}

#[derive(Serialize)]
struct ReconciliationPage {
    matched_stripe: usize,
    matched_bank: usize,
    stripe_checked: bool,
    fees_booked: String,
    fees_unbooked: String,
    mismatches: Vec<MismatchRow>,
}

pub async fn reconciliation(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let lang = req.lang;
    let r = state.settlement.reconcile().await?;
    let body = ReconciliationPage {
        matched_stripe: r.matched_stripe,
        matched_bank: r.matched_bank,
        stripe_checked: r.stripe_checked,
        fees_booked: money(r.fees_booked),
        fees_unbooked: money(r.fees_unbooked),
        mismatches: r
            .mismatches
            .into_iter()
            .map(|m| MismatchRow {
                source: m.source,
                source_label: label(&state, lang, "money.source", m.source),
                reference: m.reference,
                ledger: m.ledger.map(money),
                outside: m.outside.map(money),
                problem: m.problem,
                order_url: m.order_id.map(|id| format!("/orders/{id}")),
            })
            .collect(),
    };
    let t = state.i18n.locale(lang);
    let view = View::personal(
        "staff_reconciliation.html",
        t.get("money.reconcile_title").to_owned(),
        body,
    );
    render(&state, &req, view)
}

// ---- staff: /staff/orders/{id}/refund ------------------------------------------------------

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
    id: i64,
    producer_name: String,
    amount: String,
    status: String,
    status_label: String,
    reason: String,
    reference: Option<String>,
    created_at: String,
}

#[derive(Serialize)]
struct RefundPage {
    order_id: i64,
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
    id: i64,
    form: RefundForm,
    notice: Option<String>,
    error: Option<Failure>,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let t = state.i18n.locale(lang);
    let order = state.orders.order(id).await?;
    let refunds = state.settlement.refunds(Some(id)).await?;
    let producer_of_part: HashMap<i64, String> = order
        .parts
        .iter()
        .map(|p| (p.id, p.producer_name.clone()))
        .collect();
    let parts = order
        .parts
        .iter()
        .map(|p| {
            let total = Fen(p.items.0 + p.shipping.0);
            let refunded = Fen(refunds
                .iter()
                .filter(|r| r.part_id == Some(p.id))
                .map(|r| r.amount.0)
                .sum());
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
            status_label: label(state, lang, "money.refund_status", &r.status),
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
        refundable: matches!(order.status, OrderStatus::Paid | OrderStatus::Completed),
        parts,
        refunds,
        form,
        error_field: error.as_ref().and_then(|f| f.field.clone()),
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
    refund: Option<i64>,
}

pub async fn refund_form(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<i64>,
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
    refund_page(&state, &req, id, RefundForm::default(), notice, None).await
}

pub async fn refund(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RefundForm>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let part = form.part.trim().parse::<i64>().map_err(|_| {
        AppError::BadRequest(
            Msg::new("errors.invalid")
                .with("field", "part")
                .with("message", "choose a part of the order"),
        )
    });
    let amount = form.amount.trim().parse::<Fen>().map_err(|_| {
        AppError::BadRequest(Msg::new("errors.bad_amount").with("value", form.amount.trim()))
    });
    let done = match (part, amount) {
        (Ok(part), Ok(amount)) => state
            .settlement
            .refund_part(user.id.0, id, part, amount, &form.reason)
            .await
            .map_err(AppError::from),
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match done {
        Ok(refund) => Ok(
            Redirect::to(&format!("/staff/orders/{id}/refund?refund={}", refund.id))
                .into_response(),
        ),
        Err(error) => {
            let failure = explain(&state, req.lang, error)?;
            let status = failure.status;
            Ok(with_status(
                refund_page(&state, &req, id, form, None, Some(failure)).await?,
                status,
            ))
        }
    }
}
