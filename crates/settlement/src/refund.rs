//! Refunds: money owed back to a buyer (a cancelled paid order, an accepted return, a partial
//! refund by staff, a payment that arrived for an order already closed) until the provider or
//! staff pay it back.

use jinguo_common::clock::Millis;
use jinguo_common::ids::UserId;
use jinguo_common::money::Fen;
use jinguo_order::{OrderId, PartId};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::RefundId;

jinguo_common::text_enum! {
    pub enum RefundStatus {
        /// Owed: not paid back yet.
        Pending = "pending",
        /// Paid back.
        Done = "done",
    }
}

/// A refund as staff and buyers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    pub id: RefundId,
    pub order_id: OrderId,
    pub part_id: Option<PartId>,
    pub amount: Fen,
    pub status: RefundStatus,
    pub reason: String,
    /// The provider's id for it (Stripe's `re_…`) or the bank reference it went back with.
    pub provider_ref: Option<String>,
    pub created_at: Millis,
}

const COLUMNS: &str =
    "id, order_id, part_id, amount_fen, status, reason, provider_ref, created_at from refunds";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Refund, sqlx::Error> {
    Ok(Refund {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        part_id: r.try_get("part_id")?,
        amount: r.try_get("amount_fen")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        provider_ref: r.try_get("provider_ref")?,
        created_at: r.try_get("created_at")?,
    })
}

/// What is recorded for a new refund.
pub(crate) struct NewRefund<'a> {
    pub order: OrderId,
    pub part: Option<PartId>,
    pub amount: Fen,
    pub reason: &'a str,
    pub by: Option<UserId>,
    pub now: Millis,
}

pub(crate) async fn create(
    conn: &mut AnyConnection,
    new: &NewRefund<'_>,
) -> Result<RefundId, sqlx::Error> {
    sqlx::query_scalar(
        "insert into refunds (order_id, part_id, amount_fen, status, reason, requested_by, created_at)
         values ($1, $2, $3, 'pending', $4, $5, $6) returning id",
    )
    .bind(new.order)
    .bind(new.part)
    .bind(new.amount)
    .bind(new.reason)
    .bind(new.by)
    .bind(new.now)
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut AnyConnection, id: RefundId) -> Result<Option<Refund>, sqlx::Error> {
    let sql = format!("select {COLUMNS} where id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Refunds of an order, or every refund still owed (`None`), oldest first.
pub async fn list(
    conn: &mut AnyConnection,
    order: Option<OrderId>,
) -> Result<Vec<Refund>, sqlx::Error> {
    let sql = match order {
        Some(_) => format!("select {COLUMNS} where order_id = $1 order by id limit 500"),
        None => format!("select {COLUMNS} where status = 'pending' order by id limit 500"),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(order) = order {
        query = query.bind(order);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// What has been refunded of a part, or (`None`) of a whole order.
pub(crate) async fn refunded(
    conn: &mut AnyConnection,
    order: OrderId,
    part: Option<PartId>,
) -> Result<Fen, sqlx::Error> {
    match part {
        Some(part) => sqlx::query_scalar(
            "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where part_id = $1",
        )
        .bind(part),
        None => sqlx::query_scalar(
            "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where order_id = $1",
        )
        .bind(order),
    }
    .fetch_one(conn)
    .await
}

/// Marks a refund paid back, once: `false` when it was not owed any more.
pub(crate) async fn mark_done(
    conn: &mut AnyConnection,
    id: RefundId,
    reference: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update refunds set status = 'done', provider_ref = $1, done_at = $2 where id = $3 and status = 'pending'",
    )
    .bind(reference)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps the provider's id of a refund still on its way (not final at the provider yet).
pub(crate) async fn set_provider_ref(
    conn: &mut AnyConnection,
    id: RefundId,
    reference: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update refunds set provider_ref = $1 where id = $2 and status = 'pending'")
        .bind(reference)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The refund the provider knows as `reference`.
pub(crate) async fn by_provider_ref(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<Refund>, sqlx::Error> {
    let sql = format!("select {COLUMNS} where provider_ref = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Refunds of Stripe-paid orders owed since before `before` and never sent to Stripe (Stripe was
/// down, or the process stopped between booking and sending), with the PaymentIntent each goes
/// back through; at most 100.
pub(crate) async fn unsent_stripe(
    conn: &mut AnyConnection,
    before: Millis,
) -> Result<Vec<(RefundId, Fen, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "select r.id, r.amount_fen, s.intent_id from refunds r
         join stripe_payments s on s.order_id = r.order_id
         where r.status = 'pending' and r.provider_ref is null and r.created_at < $1
         order by r.id limit 100",
    )
    .bind(before)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("amount_fen")?,
                r.try_get("intent_id")?,
            ))
        })
        .collect()
}
