//! What the money pages share: amounts as people read them, payout codes and payout rows.

use jinguo_common::money::Fen;
use jinguo_settlement::payout::{Payout, PayoutMethod, PayoutStatus};
use jinguo_settlement::{BatchId, PayoutId};
use serde::Serialize;

use super::label;
use crate::app::AppState;
use crate::i18n::Lang;
use crate::views::when;

/// An amount as people read it, the sign before the currency: `-¥100.00`.
pub fn money(amount: Fen) -> String {
    if amount.0 < 0 {
        format!("-{}", Fen(amount.0.saturating_neg()))
    } else {
        amount.to_string()
    }
}

pub fn payout_code(id: PayoutId) -> String {
    format!("JGP{id}")
}

#[derive(Serialize)]
pub struct PayoutRow {
    id: PayoutId,
    code: String,
    pub batch_id: BatchId,
    producer_name: String,
    amount: String,
    method_label: String,
    status: PayoutStatus,
    status_label: String,
    destination: String,
    reference: Option<String>,
    note: String,
    created_at: String,
    sent_at: Option<String>,
    /// A bank payout still to pay: staff mark it paid or failed.
    pub open_bank: bool,
}

pub fn payout_row(state: &AppState, lang: Lang, p: Payout) -> PayoutRow {
    PayoutRow {
        id: p.id,
        code: payout_code(p.id),
        batch_id: p.batch_id,
        amount: money(p.amount),
        method_label: label(state, lang, "money.method", p.method.as_str()),
        status_label: label(state, lang, "money.payout_status", p.status.as_str()),
        open_bank: p.method == PayoutMethod::Bank && p.status == PayoutStatus::Pending,
        producer_name: p.producer_name,
        status: p.status,
        destination: p.destination,
        reference: p.provider_ref,
        note: p.note,
        created_at: when(p.created_at),
        sent_at: p.sent_at.map(when),
    }
}
