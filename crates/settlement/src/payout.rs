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
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::SettlementError;
use crate::ledger::{self, Account, Kind, Posting};
use crate::stripe::StripeGateway;

/// Where a producer's money goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PayoutDetails {
    /// A Stripe connected account, `acct_…`.
    Stripe { account: String },
    /// A mainland bank account (对公 or personal), paid by the bank's batch-payment upload.
    Bank {
        account_name: String,
        account_no: String,
        bank_name: String,
    },
}

impl PayoutDetails {
    /// Checks the details a person typed; every problem is named.
    pub fn validate(self) -> Result<PayoutDetails, SettlementError> {
        match self {
            PayoutDetails::Stripe { account } => {
                let account = account.trim().to_owned();
                let ok = account.strip_prefix("acct_").is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.len() <= 64
                        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                });
                if !ok {
                    return Err(SettlementError::invalid(
                        "stripe_account",
                        format!("“{account}” is not a Stripe account id like acct_1A2b3C"),
                    ));
                }
                Ok(PayoutDetails::Stripe { account })
            }
            PayoutDetails::Bank {
                account_name,
                account_no,
                bank_name,
            } => {
                let account_name = account_name.trim().to_owned();
                let bank_name = bank_name.trim().to_owned();
                let account_no: String = account_no.chars().filter(|c| *c != ' ').collect();
                if account_name.is_empty() || account_name.chars().count() > 60 {
                    return Err(SettlementError::invalid(
                        "account_name",
                        "the account holder's name, 1 to 60 characters",
                    ));
                }
                if bank_name.is_empty() || bank_name.chars().count() > 60 {
                    return Err(SettlementError::invalid(
                        "bank_name",
                        "the bank and branch, 1 to 60 characters",
                    ));
                }
                if !(8..=32).contains(&account_no.len())
                    || !account_no.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SettlementError::invalid(
                        "account_no",
                        format!("“{account_no}” is not an account number (8 to 32 digits)"),
                    ));
                }
                Ok(PayoutDetails::Bank {
                    account_name,
                    account_no,
                    bank_name,
                })
            }
        }
    }

    fn method(&self) -> &'static str {
        match self {
            PayoutDetails::Stripe { .. } => "stripe",
            PayoutDetails::Bank { .. } => "bank",
        }
    }

    fn destination(&self) -> String {
        match self {
            PayoutDetails::Stripe { account } => account.clone(),
            PayoutDetails::Bank { account_no, .. } => account_no.clone(),
        }
    }
}

pub async fn set_details(
    db: &Db,
    producer: i64,
    details: PayoutDetails,
    now: Millis,
) -> Result<PayoutDetails, SettlementError> {
    let details = details.validate()?;
    let (stripe, name, no, bank) = match &details {
        PayoutDetails::Stripe { account } => (Some(account.as_str()), None, None, None),
        PayoutDetails::Bank {
            account_name,
            account_no,
            bank_name,
        } => (
            None,
            Some(account_name.as_str()),
            Some(account_no.as_str()),
            Some(bank_name.as_str()),
        ),
    };
    sqlx::query(
        "insert into payout_details (producer_id, method, stripe_account, account_name, account_no, bank_name, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (producer_id) do update set method = excluded.method, stripe_account = excluded.stripe_account,
             account_name = excluded.account_name, account_no = excluded.account_no,
             bank_name = excluded.bank_name, updated_at = excluded.updated_at",
    )
    .bind(producer)
    .bind(details.method())
    .bind(stripe)
    .bind(name)
    .bind(no)
    .bind(bank)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(details)
}

pub async fn details(
    conn: &mut AnyConnection,
    producer: i64,
) -> Result<Option<PayoutDetails>, SettlementError> {
    let Some(row) = sqlx::query(
        "select method, stripe_account, account_name, account_no, bank_name from payout_details where producer_id = $1",
    )
    .bind(producer)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(if row.try_get::<String, _>("method")? == "stripe" {
        PayoutDetails::Stripe {
            account: row.try_get("stripe_account")?,
        }
    } else {
        PayoutDetails::Bank {
            account_name: row.try_get("account_name")?,
            account_no: row.try_get("account_no")?,
            bank_name: row.try_get("bank_name")?,
        }
    }))
}

/// What a producer is owed now: the credit balance of its payable (may be negative after a
/// refund that came after its money was released).
pub async fn payable(conn: &mut AnyConnection, producer: i64) -> Result<Fen, SettlementError> {
    Ok(Fen(-ledger::balance(conn, Account::Payable(producer))
        .await?
        .0))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub id: i64,
    pub batch_id: i64,
    pub producer_id: i64,
    pub producer_name: String,
    pub amount: Fen,
    pub method: String,
    pub status: String,
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

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::NoPayoutDetails => "no payout details",
            SkipReason::PayoutStillOpen => "a payout to it is still open",
        })
    }
}

/// What one `settle` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettleReport {
    /// `None`: nobody was due a payout.
    pub batch_id: Option<i64>,
    pub payouts: Vec<Payout>,
    /// Producers owed at least the minimum who were not paid, and why.
    pub skipped: Vec<(i64, SkipReason)>,
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
            tracing::info!(producer, owed = amount.0, "not paid out: no payout details");
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
                let batch: i64 = sqlx::query_scalar(
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
        let id: i64 = sqlx::query_scalar(
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

const PAYOUT_COLUMNS: &str = "select y.id, y.batch_id, y.producer_id, p.name as producer_name, y.amount_fen, y.method, y.status,
        y.destination, y.provider_ref, y.note, y.created_at, y.sent_at
     from payouts y join producers p on p.id = y.producer_id";

fn read(row: &sqlx::any::AnyRow) -> Result<Payout, SettlementError> {
    Ok(Payout {
        id: row.try_get("id")?,
        batch_id: row.try_get("batch_id")?,
        producer_id: row.try_get("producer_id")?,
        producer_name: row.try_get("producer_name")?,
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

pub async fn load(conn: &mut AnyConnection, id: i64) -> Result<Payout, SettlementError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYOUT_COLUMNS} where y.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(SettlementError::NotFound)?;
    read(&row)
}

/// Payouts, newest first; of one producer, or of one batch, or all.
pub async fn list(
    conn: &mut AnyConnection,
    producer: Option<i64>,
    batch: Option<i64>,
) -> Result<Vec<Payout>, SettlementError> {
    // Only the constant column list is formatted in.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYOUT_COLUMNS} where ($1 is null or y.producer_id = $1) and ($2 is null or y.batch_id = $2)
         order by y.id desc limit 500"
    )))
    .bind(producer)
    .bind(batch)
    .fetch_all(conn)
    .await?;
    rows.iter().map(read).collect()
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
    let ids: Vec<i64> = sqlx::query_scalar(
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
                id,
            )
            .await
        {
            Ok(transfer) => match mark_sent(db, id, &transfer.id, PaymentMethod::Stripe, now).await
            {
                Ok(_) => sent += 1,
                Err(SettlementError::PayoutNotOpen(..)) => {
                    tracing::info!(payout = id, "already marked sent by another process");
                }
                Err(error) => {
                    tracing::error!(payout = id, transfer = %transfer.id, %error, "transfer made but not booked; it is retried with the same key");
                }
            },
            Err(error) => {
                tracing::warn!(payout = id, %error, "Stripe transfer failed; it will be retried");
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
    id: i64,
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
    id: i64,
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
        return Err(SettlementError::PayoutNotOpen(id, payout.status));
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
    id: i64,
    bank_reference: &str,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let reference = bank_reference.trim();
    if reference.is_empty() || reference.chars().count() > 64 {
        return Err(SettlementError::invalid(
            "reference",
            "the bank's reference for the transfer, 1 to 64 characters",
        ));
    }
    let payout = load(&mut *db.pool().acquire().await?, id).await?;
    if payout.method != "bank" {
        return Err(SettlementError::invalid(
            "payout",
            "this payout goes by Stripe, not by bank",
        ));
    }
    mark_sent(db, id, reference, PaymentMethod::BankTransfer, now).await
}

/// Staff mark a bank payout failed (the bank returned it): the money goes back to the payable.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    why: &str,
    now: Millis,
) -> Result<Payout, SettlementError> {
    let why = why.trim();
    if why.is_empty() {
        return Err(SettlementError::invalid(
            "note",
            "say why the payout failed",
        ));
    }
    let mut tx = db.begin_write().await?;
    let payout = load(&mut tx, id).await?;
    if payout.method != "bank" {
        // A Stripe transfer that seemed to fail may have been made: it is retried with its key
        // instead, which can never pay twice.
        return Err(SettlementError::invalid(
            "payout",
            "only a bank payout can be marked failed; a Stripe payout is retried until Stripe takes it",
        ));
    }
    let done = sqlx::query(
        "update payouts set status = 'failed', note = $1 where id = $2 and status = 'pending'",
    )
    .bind(why)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(SettlementError::PayoutNotOpen(id, payout.status));
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

/// The batch's bank payouts still to pay, as the CSV a bank's batch-payment (批量代付) upload
/// takes: 户名, 账号, 开户行, 金额(元), 用途, to the account each payout was booked to. Amounts are yuan with two decimals; the purpose names
/// the payout so that the bank statement can be matched back.
pub async fn bank_file(db: &Db, batch: i64) -> Result<String, SettlementError> {
    let rows = sqlx::query(
        "select y.id, y.amount_fen, y.account_name, y.destination as account_no, y.bank_name
         from payouts y
         where y.batch_id = $1 and y.method = 'bank' and y.status = 'pending' order by y.id",
    )
    .bind(batch)
    .fetch_all(db.pool())
    .await?;
    let mut csv = String::from("户名,账号,开户行,金额(元),用途\r\n");
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let fields = [
            row.try_get::<Option<String>, _>("account_name")?
                .unwrap_or_default(),
            row.try_get::<String, _>("account_no")?,
            row.try_get::<Option<String>, _>("bank_name")?
                .unwrap_or_default(),
            Fen(row.try_get("amount_fen")?).yuan_string(),
            format!("巾帼集市货款 JGP{id}"),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    Ok(csv)
}

/// Quotes a CSV field when it must be, and defuses spreadsheet formulas (text starting with
/// `=`, `+`, `-` or `@` that is not a plain number).
pub fn csv_field(value: &str) -> String {
    let number = value.strip_prefix('-').is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    let value = if value.starts_with(['=', '+', '-', '@']) && !number {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Applies the bank's result file for a batch: lines `payout id,bank reference` (a header line
/// `payout,reference` is allowed), in one transaction: a bad line is named and nothing of the file
/// is applied.
pub async fn confirm_bank_file(
    db: &Db,
    text: &str,
    now: Millis,
) -> Result<Vec<Payout>, SettlementError> {
    let mut tx = db.begin_write().await?;
    let mut seen = std::collections::HashSet::new();
    let mut done = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || (line == 1 && raw.to_ascii_lowercase().starts_with("payout")) {
            continue;
        }
        let bad = |message: String| SettlementError::BadRow { line, message };
        let (id, reference) = raw
            .split_once(',')
            .ok_or_else(|| bad(format!("“{raw}” is not “payout id,bank reference”")))?;
        let id: i64 = id
            .trim()
            .trim_start_matches("JGP")
            .parse()
            .map_err(|_| bad(format!("“{}” is not a payout id", id.trim())))?;
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 64 {
            return Err(bad("the bank reference must be 1 to 64 characters".into()));
        }
        if !seen.insert(id) {
            return Err(bad(format!("payout {id} is listed twice")));
        }
        let payout = load(&mut tx, id)
            .await
            .map_err(|_| bad(format!("there is no payout {id}")))?;
        if payout.method != "bank" || payout.status != "pending" {
            return Err(bad(format!(
                "payout {id} is a {} payout that is {}, not a bank payout waiting to be paid",
                payout.method, payout.status
            )));
        }
        done.push(mark_sent_in(&mut tx, id, reference, PaymentMethod::BankTransfer, now).await?);
    }
    // Dropped without commit on any error above: nothing of the file is applied.
    tx.commit().await?;
    Ok(done)
}
