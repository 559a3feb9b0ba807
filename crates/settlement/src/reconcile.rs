//! Reconciliation: the ledger's money movements matched one by one against what the outside
//! world recorded (Stripe's balance transactions; the bank transfers staff read off the bank
//! statement, and the bank payouts and refunds they confirmed), with every mismatch listed.
//!
//! Stripe: each charge, refund and transfer in the balance history is matched by its source id
//! to the order payment, refund or payout the ledger booked, and the amounts compared; any other
//! kind of balance transaction (a dispute, a reversal) is listed, since the ledger books none.
//! The fee Stripe kept on each matched one can be booked once to `provider_fees` (cause
//! `provider_fee:{txn id}`), so that `clearing:stripe` follows Stripe's balance; the report itself
//! writes nothing ([`book_stripe_fees`] does). Bank: each accepted transfer must have paid
//! exactly one order for its amount, each transfer kept aside (wrong amount, order gone) is
//! money the ledger does not hold and is listed, and each bank payout marked paid must have left
//! clearing for its amount.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use jinguo_order::OrderId;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::transfer::{self, FlagReason, TransferOutcome};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

use crate::SettlementError;
use crate::ledger::{self, Account, Kind, Posting};
use crate::stripe::BalanceTxn;

jinguo_common::text_enum! {
    /// Whose record a mismatch is with.
    pub enum Source {
        Stripe = "stripe",
        Bank = "bank",
    }
}

jinguo_common::text_enum! {
    /// What does not match.
    pub enum MismatchKind {
        /// A kind of Stripe movement the ledger books nothing for (a dispute, a reversal).
        StripeUnbooked = "stripe_unbooked",
        /// A Stripe movement of a kind the ledger books, but this one it does not have.
        MissingInLedger = "missing_in_ledger",
        /// Booked in the ledger, not in Stripe's balance history.
        MissingAtStripe = "missing_at_stripe",
        /// The ledger and Stripe differ on the amount.
        AmountsDiffer = "amounts_differ",
        /// An accepted transfer and the payment booked for its order differ.
        TransferDiffers = "transfer_differs",
        /// Booked as paid by transfer, but no transfer was recorded.
        NoTransfer = "no_transfer",
        /// Money received and kept aside (wrong amount, order gone): the ledger does not hold it.
        KeptAside = "kept_aside",
        /// A bank payout marked paid and what left the bank account differ.
        PayoutDiffers = "payout_differs",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub source: Source,
    /// The provider's id, the payment reference, or the payout.
    pub reference: String,
    pub ledger: Option<Fen>,
    pub outside: Option<Fen>,
    pub kind: MismatchKind,
    /// Stripe's `type` of the movement, for the Stripe kinds.
    pub stripe_type: Option<String>,
    /// Why a transfer was kept aside.
    pub flag: Option<FlagReason>,
    pub order_id: Option<OrderId>,
}

impl Mismatch {
    fn new(source: Source, reference: String, kind: MismatchKind) -> Mismatch {
        Mismatch {
            source,
            reference,
            ledger: None,
            outside: None,
            kind,
            stripe_type: None,
            flag: None,
            order_id: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Movements that matched, per source.
    pub matched_stripe: usize,
    pub matched_bank: usize,
    /// Stripe fees on matched movements booked to `provider_fees` (by this run, when it books).
    pub fees_booked: Fen,
    /// Stripe fees on matched movements not booked yet.
    pub fees_unbooked: Fen,
    pub mismatches: Vec<Mismatch>,
    /// Whether Stripe's side was compared (Stripe configured and answering).
    pub stripe_checked: bool,
}

/// What the ledger says moved through one Stripe object.
struct Booked {
    amount: Fen,
    order_id: Option<OrderId>,
}

/// Matches Stripe's balance history (when given) and the bank records against the ledger.
/// Writes nothing.
pub async fn reconcile(
    db: &Db,
    stripe: Option<Vec<BalanceTxn>>,
    now: Millis,
) -> Result<Reconciliation, SettlementError> {
    let mut report = Reconciliation::default();
    if let Some(history) = stripe {
        report.stripe_checked = true;
        stripe_side(db, &history, now, false, &mut report).await?;
    }
    bank_side(db, &mut report).await?;
    Ok(report)
}

/// Books the fee Stripe kept on each movement that matches the ledger, once each; returns the
/// Stripe side of the reconciliation.
pub async fn book_stripe_fees(
    db: &Db,
    history: &[BalanceTxn],
    now: Millis,
) -> Result<Reconciliation, SettlementError> {
    let mut report = Reconciliation {
        stripe_checked: true,
        ..Reconciliation::default()
    };
    stripe_side(db, history, now, true, &mut report).await?;
    Ok(report)
}

async fn stripe_side(
    db: &Db,
    history: &[BalanceTxn],
    now: Millis,
    book_fees: bool,
    report: &mut Reconciliation,
) -> Result<(), SettlementError> {
    let pool = db.pool();
    // The ledger's Stripe movements by the Stripe object behind them.
    let mut booked: HashMap<String, Booked> = HashMap::new();
    for r in sqlx::query(
        "select s.charge_id, s.intent_id, t.order_id, cast(e.amount_fen as bigint) as amount
         from ledger_transactions t
         join ledger_entries e on e.transaction_id = t.id and e.account = 'clearing:stripe'
         join stripe_payments s on s.order_id = t.order_id
         where t.kind in ('payment', 'unmatched_payment')",
    )
    .fetch_all(pool)
    .await?
    {
        let key: Option<String> = r.try_get("charge_id")?;
        let key = match key {
            Some(k) => k,
            None => r.try_get("intent_id")?,
        };
        let entry = booked.entry(key).or_insert(Booked {
            amount: Fen(0),
            order_id: r.try_get("order_id")?,
        });
        entry.amount.0 += r.try_get::<i64, _>("amount")?;
    }
    for r in sqlx::query(
        "select f.provider_ref, t.order_id, cast(-e.amount_fen as bigint) as amount
         from ledger_transactions t
         join ledger_entries e on e.transaction_id = t.id and e.account = 'clearing:stripe'
         join refunds f on f.id = t.refund_id
         where t.kind = 'refund_paid' and f.provider_ref is not null",
    )
    .fetch_all(pool)
    .await?
    {
        booked.insert(
            r.try_get("provider_ref")?,
            Booked {
                amount: Fen(-r.try_get::<i64, _>("amount")?),
                order_id: r.try_get("order_id")?,
            },
        );
    }
    for r in sqlx::query(
        "select y.provider_ref, cast(-e.amount_fen as bigint) as amount
         from ledger_transactions t
         join ledger_entries e on e.transaction_id = t.id and e.account = 'clearing:stripe'
         join payouts y on y.id = t.payout_id
         where t.kind = 'payout_paid' and y.provider_ref is not null",
    )
    .fetch_all(pool)
    .await?
    {
        booked.insert(
            r.try_get("provider_ref")?,
            Booked {
                amount: Fen(-r.try_get::<i64, _>("amount")?),
                order_id: None,
            },
        );
    }

    let mut seen = std::collections::HashSet::new();
    for txn in history {
        let Some(source) = txn.source.clone() else {
            continue;
        };
        if !matches!(
            txn.kind.as_str(),
            "charge" | "payment" | "refund" | "payment_refund" | "transfer"
        ) {
            report.mismatches.push(Mismatch {
                outside: Some(txn.amount),
                stripe_type: Some(txn.kind.clone()),
                ..Mismatch::new(Source::Stripe, source, MismatchKind::StripeUnbooked)
            });
            continue;
        }
        seen.insert(source.clone());
        let matched = match booked.get(&source) {
            None => {
                report.mismatches.push(Mismatch {
                    outside: Some(txn.amount),
                    stripe_type: Some(txn.kind.clone()),
                    ..Mismatch::new(
                        Source::Stripe,
                        source.clone(),
                        MismatchKind::MissingInLedger,
                    )
                });
                false
            }
            Some(b) if b.amount != txn.amount => {
                report.mismatches.push(Mismatch {
                    ledger: Some(b.amount),
                    outside: Some(txn.amount),
                    order_id: b.order_id,
                    stripe_type: Some(txn.kind.clone()),
                    ..Mismatch::new(Source::Stripe, source.clone(), MismatchKind::AmountsDiffer)
                });
                false
            }
            Some(_) => {
                report.matched_stripe += 1;
                true
            }
        };
        if matched && txn.fee.0 != 0 {
            let cause = format!("provider_fee:{}", txn.id);
            if book_fees {
                let posting = Posting {
                    event_id: Some(txn.id.clone()),
                    ..Posting::new(Kind::ProviderFee, cause)
                }
                .memo(source)
                .debit(Account::ProviderFees, txn.fee)
                .credit(Account::Clearing(PaymentMethod::Stripe), txn.fee);
                let mut tx = db.begin_write().await?;
                if ledger::post(&mut tx, &posting, now).await?.is_some() {
                    report.fees_booked.0 += txn.fee.0;
                }
                tx.commit().await?;
            } else {
                if ledger::is_posted(&mut *pool.acquire().await?, &cause).await? {
                    report.fees_booked.0 += txn.fee.0;
                } else {
                    report.fees_unbooked.0 += txn.fee.0;
                }
            }
        }
    }
    for (reference, b) in booked {
        if !seen.contains(&reference) {
            report.mismatches.push(Mismatch {
                ledger: Some(b.amount),
                order_id: b.order_id,
                ..Mismatch::new(Source::Stripe, reference, MismatchKind::MissingAtStripe)
            });
        }
    }
    Ok(())
}

async fn bank_side(db: &Db, report: &mut Reconciliation) -> Result<(), SettlementError> {
    let pool = db.pool();
    let mut conn = pool.acquire().await?;
    // What the ledger booked as paid by transfer, per order.
    let mut booked: HashMap<OrderId, Fen> = HashMap::new();
    for r in sqlx::query(
        "select t.order_id, cast(sum(e.amount_fen) as bigint) as amount
         from ledger_transactions t
         join ledger_entries e on e.transaction_id = t.id and e.account = 'clearing:bank_transfer'
         where t.kind = 'payment' group by t.order_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        booked.insert(r.try_get("order_id")?, r.try_get("amount")?);
    }
    // Accepted transfers against the payments booked for their orders.
    let accepted = transfer::with_outcome(&mut conn, TransferOutcome::Accepted, i64::MAX).await?;
    let mut transferred = std::collections::HashSet::new();
    for t in accepted.iter().rev() {
        let Some(order) = t.order_id else { continue };
        transferred.insert(order);
        let in_ledger = booked.get(&order).copied().unwrap_or(Fen::ZERO);
        if in_ledger == t.amount {
            report.matched_bank += 1;
        } else {
            report.mismatches.push(Mismatch {
                ledger: Some(in_ledger),
                outside: Some(t.amount),
                order_id: Some(order),
                ..Mismatch::new(
                    Source::Bank,
                    t.reference.clone(),
                    MismatchKind::TransferDiffers,
                )
            });
        }
    }
    // Payments booked to the bank with no accepted transfer behind them.
    let mut unbacked: Vec<(OrderId, Fen)> = booked
        .into_iter()
        .filter(|(order, _)| !transferred.contains(order))
        .collect();
    unbacked.sort();
    let ids: Vec<OrderId> = unbacked.iter().map(|(o, _)| *o).collect();
    let references = jinguo_order::orders::numbers(&mut conn, &ids).await?;
    for (order, amount) in unbacked {
        let reference = references
            .get(&order)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        report.mismatches.push(Mismatch {
            ledger: Some(amount),
            order_id: Some(order),
            ..Mismatch::new(Source::Bank, reference, MismatchKind::NoTransfer)
        });
    }
    // Money in the bank the ledger does not hold: transfers kept aside.
    let flagged = transfer::with_outcome(&mut conn, TransferOutcome::Flagged, i64::MAX).await?;
    for t in flagged.into_iter().rev() {
        report.mismatches.push(Mismatch {
            outside: Some(t.amount),
            flag: t.flag,
            order_id: t.order_id,
            ..Mismatch::new(Source::Bank, t.reference, MismatchKind::KeptAside)
        });
    }
    // Bank payouts marked paid must have left clearing for their amount.
    for r in sqlx::query(
        "select y.id, y.amount_fen,
                (select cast(coalesce(-sum(e.amount_fen), 0) as bigint)
                   from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
                  where t.payout_id = y.id and t.kind = 'payout_paid'
                    and e.account = 'clearing:bank_transfer') as booked
         from payouts y where y.method = 'bank' and y.status = 'sent' order by y.id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let amount: i64 = r.try_get("amount_fen")?;
        let booked: i64 = r.try_get("booked")?;
        if amount == booked {
            report.matched_bank += 1;
        } else {
            report.mismatches.push(Mismatch {
                ledger: Some(Fen(booked)),
                outside: Some(Fen(amount)),
                ..Mismatch::new(
                    Source::Bank,
                    format!("JGP{}", r.try_get::<i64, _>("id")?),
                    MismatchKind::PayoutDiffers,
                )
            });
        }
    }
    Ok(())
}
