//! Reconciliation for federation staff: the ledger matched against Stripe's balance history
//! and the bank records, every mismatch listed. It changes nothing.

use axum::extract::State;
use axum::response::Response;
use jinguo_settlement::reconcile::{Mismatch, Source};
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::pages::money::money;
use crate::pages::{Req, View, label, render};
use crate::web::{PageUser, require_staff};

/// What does not match, in words: the kind of mismatch, with Stripe's name for the movement or
/// why a transfer was kept aside.
fn mismatch_text(state: &AppState, lang: Lang, m: &Mismatch) -> String {
    let t = state.i18n.locale(lang);
    let detail = match (&m.stripe_type, m.flag) {
        (Some(kind), _) => kind.clone(),
        (None, Some(flag)) => label(state, lang, "flag_reasons", flag.as_str()),
        (None, None) => String::new(),
    };
    t.fill(
        &format!("money.mismatch.{}", m.kind.as_str()),
        &[("detail", detail)],
    )
}

#[derive(Serialize)]
struct MismatchRow {
    source: Source,
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
                source_label: label(&state, lang, "money.source", m.source.as_str()),
                problem: mismatch_text(&state, lang, &m),
                reference: m.reference,
                ledger: m.ledger.map(money),
                outside: m.outside.map(money),
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
