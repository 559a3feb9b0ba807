//! Bank transfers (对公转账) staff read off the bank statement: each recorded with the order it
//! names, its amount and the day it arrived. The exact amount pays the order; anything else is
//! kept and flagged for staff to sort out, never accepted.

use jinguo_common::clock::Millis;
use jinguo_common::ids::UserId;
use jinguo_common::money::Fen;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::ids::OrderId;

jinguo_common::text_enum! {
    /// What happened to a recorded transfer.
    pub enum TransferOutcome {
        /// The exact amount: the order is paid.
        Accepted = "accepted",
        /// Kept for staff to sort out (wrong amount, or the order is no longer waiting for it).
        Flagged = "flagged",
    }
}

jinguo_common::text_enum! {
    /// Why a transfer was flagged.
    pub enum FlagReason {
        /// The buyer chose Stripe: the money is not this order's payment; pay it back.
        PaidByStripe = "paid_by_stripe",
        /// The order no longer waits for payment (cancelled, expired, already paid).
        NotAwaitingPayment = "not_awaiting_payment",
        /// Not the amount due.
        WrongAmount = "wrong_amount",
    }
}

/// A transfer as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub order_id: Option<OrderId>,
    pub reference: String,
    pub amount: Fen,
    /// `YYYY-MM-DD`
    pub received_on: String,
    pub outcome: TransferOutcome,
    pub flag: Option<FlagReason>,
}

/// What is recorded for one transfer.
pub(crate) struct NewTransfer<'a> {
    pub order: OrderId,
    pub reference: &'a str,
    pub amount: Fen,
    pub received_on: &'a str,
    pub outcome: TransferOutcome,
    pub flag: Option<FlagReason>,
    pub staff: UserId,
    pub now: Millis,
}

const COLUMNS: &str = "order_id, reference, amount_fen, received_on, outcome, note";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Transfer, sqlx::Error> {
    let note: String = r.try_get("note")?;
    Ok(Transfer {
        order_id: r.try_get("order_id")?,
        reference: r.try_get("reference")?,
        amount: r.try_get("amount_fen")?,
        received_on: r.try_get("received_on")?,
        outcome: r.try_get("outcome")?,
        flag: FlagReason::parse(&note),
    })
}

pub(crate) async fn record(
    conn: &mut AnyConnection,
    t: &NewTransfer<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into bank_transfers (order_id, reference, amount_fen, received_on, outcome, note, recorded_by, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.order)
    .bind(t.reference)
    .bind(t.amount)
    .bind(t.received_on)
    .bind(t.outcome)
    .bind(t.flag.map_or("", FlagReason::as_str))
    .bind(t.staff)
    .bind(t.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a transfer for `reference` was accepted already.
pub(crate) async fn accepted_for(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from bank_transfers where reference = $1 and outcome = 'accepted'",
    )
    .bind(reference)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// The transfers recorded for an order, oldest first.
pub async fn of_order(
    conn: &mut AnyConnection,
    order: OrderId,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from bank_transfers where order_id = $1 order by id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Transfers with `outcome`, newest first, at most `limit`.
pub async fn with_outcome(
    conn: &mut AnyConnection,
    outcome: TransferOutcome,
    limit: i64,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from bank_transfers where outcome = $1 order by id desc limit $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(outcome)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}
