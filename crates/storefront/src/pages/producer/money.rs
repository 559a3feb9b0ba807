//! A producer's money: what it is owed, the month's statement (and its CSV), its payouts and
//! where payouts go.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::Field;
use jinguo_settlement::payout::PayoutDetails;
use jinguo_settlement::statement::{self, Month};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::{AppError, ErrorCode, Msg};
use crate::i18n::Lang;
use crate::pages::money::{PayoutRow, money, payout_code, payout_row};
use crate::pages::{Failure, Req, View, form_failure, label, render, with_status};
use crate::views::{csv_response, month_of, when};
use crate::web::{CsrfForm, PageUser, producer_of};

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
            "stripe" => Err(AppError::bad(ErrorCode::NoStripe)),
            _ => Err(AppError::Said {
                status: StatusCode::BAD_REQUEST,
                code: ErrorCode::Invalid,
                msg: Msg::new("money.choose_method"),
                field: Some(Field::Method),
            }),
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
    producer: ProducerId,
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
    let this_month = Month::of(state.clock.now_ms());
    let (prev, next) = (month.previous(), month.next());
    let stripe_available = state.settlement.stripe().is_some()
        || matches!(current, Some(PayoutDetails::Stripe { .. }));
    let producer_name = super::producer_name(state, producer).await?;
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
        error_field: input.details_error.as_ref().and_then(Failure::field_name),
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
    let (month, month_error) = match month_of(&state.clock, q.month.as_deref()) {
        Ok(month) => (month, None),
        Err(error) => (
            Month::of(state.clock.now_ms()),
            Some(form_failure(&state, req.lang, error)?),
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
    let month = month_of(&state.clock, q.month.as_deref())?;
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
            let failure = form_failure(&state, req.lang, error)?;
            let status = failure.status;
            let month = Month::of(state.clock.now_ms());
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
