//! Payouts: producers are paid what the ledger says they are owed, in batches.
//!
//! [`settle`] takes every producer whose payable is at least the minimum and who has payout
//! details and no payout still open, books a payout for the whole payable (payable →
//! `payouts_in_transit`) and groups them in one batch. It runs in one transaction that first
//! takes the settlement lock row, so two runs at once take turns and the second finds nothing
//! left to pay. A payout then goes out once: a Stripe Connect transfer (claimed before the call,
//! its idempotency key made of its id and when it was booked, so that a retry after a crash
//! cannot pay twice), or a row of the batch's bank file, which staff mark sent (or failed, which
//! puts the money back in the payable) once the bank has paid.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field};
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::SettlementError;
use crate::ledger::{self, Account, Kind, Posting};
use crate::stripe::StripeGateway;

mod bank_file;
mod details;

pub use bank_file::{bank_file, confirm_bank_file, csv_field};
pub use details::{PayoutDetails, details, set_details};

jinguo_common::id_type!(
    /// A payout to one producer (`payouts`).
    PayoutId
);
jinguo_common::id_type!(
    /// One settle run's payouts (`payout_batches`).
    BatchId
);

jinguo_common::text_enum! {
    /// How a payout goes out.
    pub enum PayoutMethod {
        Stripe = "stripe",
        Bank = "bank",
    }
}

jinguo_common::text_enum! {
    pub enum PayoutStatus {
        /// Booked, not sent.
        Pending = "pending",
        /// A process is calling Stripe.
        Sending = "sending",
        /// The transfer exists, or staff marked the bank transfer paid.
        Sent = "sent",
        /// Not sent; the money is back in the payable.
        Failed = "failed",
    }
}

/// What a producer is owed now: the credit balance of its payable (may be negative after a
/// refund that came after its money was released).
pub async fn payable(
    conn: &mut AnyConnection,
    producer: ProducerId,
) -> Result<Fen, SettlementError> {
    Ok(Fen(-ledger::balance(conn, Account::Payable(producer))
        .await?
        .0))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub id: PayoutId,
    pub batch_id: BatchId,
    pub producer_id: ProducerId,
    pub producer_name: String,
    pub amount: Fen,
    pub method: PayoutMethod,
    pub status: PayoutStatus,
    pub destination: String,
    pub provider_ref: Option<String>,
    pub note: String,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

/// Why a producer owed at least the minimum was not paid in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No bank account or Stripe account to pay into yet.
    NoPayoutDetails,
    /// A payout to it is still waiting to be sent or confirmed.
    PayoutStillOpen,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::NoPayoutDetails => "no_payout_details",
            SkipReason::PayoutStillOpen => "payout_still_open",
        }
    }
}

/// What one `settle` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettleReport {
    /// `None`: nobody was due a payout.
    pub batch_id: Option<BatchId>,
    pub payouts: Vec<Payout>,
    /// Producers owed at least the minimum who were not paid, and why.
    pub skipped: Vec<(ProducerId, SkipReason)>,
}

/// Books a payout for every producer owed at least `minimum`; see the module documentation.
pub async fn settle(
    db: &Db,
    minimum: Fen,
    by: &str,
    now: Millis,
) -> Result<SettleReport, SettlementError> {
    let minimum = Fen(minimum.0.max(1));
    let mut tx = db.begin_write().await?;
    // Take turns with any other run: this row stays locked until the commit.
    sqlx::query("update settlement_lock set runs = runs + 1 where id = 1")
        .execute(&mut *tx)
        .await?;
    let owed = sqlx::query(
        "select account, cast(-sum(amount_fen) as bigint) as owed from ledger_entries
         where account like 'payable:producer:%' group by account having -sum(amount_fen) >= $1
         order by account",
    )
    .bind(minimum.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut report = SettleReport::default();
    for row in owed {
        let code: String = row.try_get("account")?;
        let Some(Account::Payable(producer)) = Account::parse(&code) else {
            continue;
        };
        let amount = Fen(row.try_get("owed")?);
        let Some(details) = details(&mut tx, producer).await? else {
            tracing::info!(%producer, owed = amount.0, "not paid out: no payout details");
            report.skipped.push((producer, SkipReason::NoPayoutDetails));
            continue;
        };
        let open: i64 = sqlx::query_scalar(
            "select count(*) from payouts where producer_id = $1 and status in ('pending', 'sending')",
        )
        .bind(producer)
        .fetch_one(&mut *tx)
        .await?;
        if open > 0 {
            report.skipped.push((producer, SkipReason::PayoutStillOpen));
            continue;
        }
        let batch = match report.batch_id {
            Some(batch) => batch,
            None => {
                let batch: BatchId = sqlx::query_scalar(
                    "insert into payout_batches (created_at, created_by, minimum_fen) values ($1, $2, $3) returning id",
                )
                .bind(now)
                .bind(by)
                .bind(minimum.0)
                .fetch_one(&mut *tx)
                .await?;
                report.batch_id = Some(batch);
                batch
            }
        };
        let id: PayoutId = sqlx::query_scalar(
            "insert into payouts (batch_id, producer_id, amount_fen, method, status, destination,
                 account_name, bank_name, created_at)
             values ($1, $2, $3, $4, 'pending', $5, $6, $7, $8) returning id",
        )
        .bind(batch)
        .bind(producer)
        .bind(amount.0)
        .bind(details.method())
        .bind(details.destination())
        .bind(match &details {
            PayoutDetails::Bank { account_name, .. } => Some(account_name.as_str()),
            PayoutDetails::Stripe { .. } => None,
        })
        .bind(match &details {
            PayoutDetails::Bank { bank_name, .. } => Some(bank_name.as_str()),
            PayoutDetails::Stripe { .. } => None,
        })
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let posting = Posting {
            payout_id: Some(id),
            producer_id: Some(producer),
            ..Posting::new(Kind::Payout, format!("payout:{id}"))
        }
        .debit(Account::Payable(producer), amount)
        .credit(Account::PayoutsInTransit, amount);
        ledger::post(&mut tx, &posting, now).await?;
        report.payouts.push(load(&mut tx, id).await?);
    }
    tx.commit().await?;
    Ok(report)
}

const PAYOUT_COLUMNS: &str =
    "select y.id, y.batch_id, y.producer_id, y.amount_fen, y.method, y.status,
        y.destination, y.provider_ref, y.note, y.created_at, y.sent_at
     from payouts y";

/// Payouts as read, with their producers' names from the catalog.
async fn read_all(
    conn: &mut AnyConnection,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<Payout>, SettlementError> {
    let producers: Vec<ProducerId> = rows
        .iter()
        .map(|r| r.try_get("producer_id"))
        .collect::<Result<_, _>>()?;
    let names = jinguo_catalog::producer::names(conn, &producers).await?;
    rows.iter()
        .map(|row| {
            let producer: ProducerId = row.try_get("producer_id")?;
            let name = names
                .get(&producer)
                .map(|n| n.name.clone())
                .unwrap_or_default();
            read(row, name)
        })
        .collect()
}

fn read(row: &sqlx::any::AnyRow, producer_name: String) -> Result<Payout, SettlementError> {
    Ok(Payout {
        id: row.try_get("id")?,
        batch_id: row.try_get("batch_id")?,
        producer_id: row.try_get("producer_id")?,
        producer_name,
        amount: Fen(row.try_get("amount_fen")?),
        method: row.try_get("method")?,
        status: row.try_get("status")?,
        destination: row.try_get("destination")?,
        provider_ref: row.try_get("provider_ref")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

pub async fn load(conn: &mut AnyConnection, id: PayoutId) -> Result<Payout, SettlementError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYOUT_COLUMNS} where y.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(SettlementError::NotFound)?;
    read_all(conn, &[row])
        .await?
        .pop()
        .ok_or(SettlementError::NotFound)
}

/// Payouts, newest first; of one producer, or of one batch, or all.
pub async fn list(
    conn: &mut AnyConnection,
    producer: Option<ProducerId>,
    batch: Option<BatchId>,
) -> Result<Vec<Payout>, SettlementError> {
    // Only the constant column list is formatted in.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYOUT_COLUMNS} where ($1 is null or y.producer_id = $1) and ($2 is null or y.batch_id = $2)
         order by y.id desc limit 500"
    )))
    .bind(producer)
    .bind(batch)
    .fetch_all(&mut *conn)
    .await?;
    read_all(conn, &rows).await
}

/// Sends every Stripe payout still pending, or left sending by a process that stopped more than
/// five minutes ago. Each is claimed first (one process at a time), sent with its idempotency
/// key (a retry gets the same transfer back from Stripe, not a second one), then marked sent and
/// booked out of clearing. A failed call leaves it pending, to be retried; one booked meanwhile
/// by another process is left as it is. Returns how many this call sent.
pub async fn send_stripe(
    db: &Db,
    stripe: &StripeGateway,
    now: Millis,
) -> Result<usize, SettlementError> {
    const STALE_MS: Millis = 5 * 60_000;
    let ids: Vec<PayoutId> = sqlx::query_scalar(
        "select id from payouts where method = 'stripe'
           and (status = 'pending' or (status = 'sending' and claimed_at < $1)) order by id",
    )
    .bind(now - STALE_MS)
    .fetch_all(db.pool())
    .await?;
    let mut sent = 0;
    for id in ids {
        let claimed = sqlx::query(
            "update payouts set status = 'sending', claimed_at = $1
             where id = $2 and (status = 'pending' or (status = 'sending' and claimed_at < $3))",
        )
        .bind(now)
        .bind(id)
        .bind(now - STALE_MS)
        .execute(db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            continue;
        }
        let payout = load(&mut *db.pool().acquire().await?, id).await?;
        match stripe
            .transfer(
                &payout.destination,
                payout.amount,
                &crate::keys::payout(id, payout.created_at),
                id.0,
            )
            .await
        {
            Ok(transfer) => match mark_sent(db, id, &transfer.id, PaymentMethod::Stripe, now).await
            {
                Ok(_) => sent += 1,
                Err(SettlementError::PayoutNotOpen { .. }) => {
                    tracing::info!(payout = %id, "already marked sent by another process");
                }
                Err(error) => {
                    tracing::error!(payout = %id, transfer = %transfer.id, %error, "transfer made but not booked; it is retried with the same key");
                }
            },
            Err(error) => {
                tracing::warn!(payout = %id, %error, "Stripe transfer failed; it will be retried");
                sqlx::query("update payouts set status = 'pending', note = $1 where id = $2 and status = 'sending'")
                    .bind(error.to_string())
                    .bind(id)
                    .execute(db.pool())
                    .await?;
            }
        }
    }
    Ok(sent)
}

async fn mark_sent(
    db: &Db,
    id: PayoutId,
    reference: &str,
    method: PaymentMethod,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let mut tx = db.begin_write().await?;
    let payout = mark_sent_in(&mut tx, id, reference, method, now).await?;
    tx.commit().await?;
    Ok(payout)
}

async fn mark_sent_in(
    conn: &mut AnyConnection,
    id: PayoutId,
    reference: &str,
    method: PaymentMethod,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let payout = load(conn, id).await?;
    let done = sqlx::query(
        "update payouts set status = 'sent', provider_ref = $1, sent_at = $2, note = ''
         where id = $3 and status in ('pending', 'sending')",
    )
    .bind(reference)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(SettlementError::PayoutNotOpen {
            id,
            status: payout.status,
        });
    }
    let posting = Posting {
        payout_id: Some(id),
        producer_id: Some(payout.producer_id),
        ..Posting::new(Kind::PayoutPaid, format!("payout_paid:{id}"))
    }
    .memo(reference)
    .debit(Account::PayoutsInTransit, payout.amount)
    .credit(Account::Clearing(method), payout.amount);
    ledger::post(conn, &posting, now).await?;
    load(conn, id).await
}

/// Staff mark a bank payout paid, with the bank's reference for it.
pub async fn mark_bank_paid(
    db: &Db,
    id: PayoutId,
    bank_reference: &str,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let reference = invalid::text(Field::Reference, bank_reference, 64)?;
    let payout = load(&mut *db.pool().acquire().await?, id).await?;
    if payout.method != PayoutMethod::Bank {
        return Err(SettlementError::PayoutByStripe(id));
    }
    mark_sent(db, id, reference, PaymentMethod::BankTransfer, now).await
}

/// Staff mark a bank payout failed (the bank returned it): the money goes back to the payable.
pub async fn mark_failed(
    db: &Db,
    id: PayoutId,
    why: &str,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let why = invalid::text(Field::Note, why, 200)?;
    let mut tx = db.begin_write().await?;
    let payout = load(&mut tx, id).await?;
    if payout.method != PayoutMethod::Bank {
        // A Stripe transfer that seemed to fail may have been made: it is retried with its key
        // instead, which can never pay twice.
        return Err(SettlementError::PayoutByStripe(id));
    }
    let done = sqlx::query(
        "update payouts set status = 'failed', note = $1 where id = $2 and status = 'pending'",
    )
    .bind(why)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(SettlementError::PayoutNotOpen {
            id,
            status: payout.status,
        });
    }
    let posting = Posting {
        payout_id: Some(id),
        producer_id: Some(payout.producer_id),
        ..Posting::new(Kind::PayoutFailed, format!("payout_failed:{id}"))
    }
    .memo(why)
    .debit(Account::PayoutsInTransit, payout.amount)
    .credit(Account::Payable(payout.producer_id), payout.amount);
    ledger::post(&mut tx, &posting, now).await?;
    let payout = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(payout)
}
