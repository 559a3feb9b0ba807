//! Notifications: every change to an order that someone should know of is written here (shown on
//! their account pages, and emailed when the shop has a mail server).

use jinguo_common::Backend;
use jinguo_common::clock::Millis;
use jinguo_common::db::SqlBuf;
use jinguo_common::ids::{ProducerId, UserId};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::ids::OrderId;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub order_id: Option<OrderId>,
    /// A key of the locale files' `[notifications]` section.
    pub kind: String,
    /// Values for the message's `{name}`s.
    pub args: serde_json::Map<String, serde_json::Value>,
    pub created_at: Millis,
    pub read: bool,
}

pub async fn notify(
    conn: &mut AnyConnection,
    user: UserId,
    order: Option<OrderId>,
    kind: &str,
    args: serde_json::Value,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into notifications (user_id, order_id, kind, args, created_at) values ($1, $2, $3, $4, $5)")
        .bind(user)
        .bind(order)
        .bind(kind)
        .bind(args.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Notifies every staff account of a producer.
pub async fn notify_producer(
    conn: &mut AnyConnection,
    producer: ProducerId,
    order: OrderId,
    kind: &str,
    args: serde_json::Value,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let users = jinguo_accounts::user::staff_of_producer(conn, producer).await?;
    for user in users {
        notify(conn, user, Some(order), kind, args.clone(), now).await?;
    }
    Ok(())
}

pub async fn of_user(
    conn: &mut AnyConnection,
    user: UserId,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, order_id, kind, args, created_at, read_at from notifications where user_id = $1
         order by id desc limit $2",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Notification, sqlx::Error> {
    let args: String = r.try_get("args")?;
    Ok(Notification {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        kind: r.try_get("kind")?,
        args: serde_json::from_str(&args).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
    })
}

pub async fn unread_count(conn: &mut AnyConnection, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from notifications where user_id = $1 and read_at is null")
        .bind(user)
        .fetch_one(conn)
        .await
}

pub async fn mark_all_read(
    conn: &mut AnyConnection,
    user: UserId,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("update notifications set read_at = $1 where user_id = $2 and read_at is null")
        .bind(now)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` notifications not yet emailed (to users who sign in by email, as the
/// accounts crate's `account_emails` view lists them; made in the last day) for `lease_ms`, so that another process leaves them alone meanwhile; returns
/// them with the address, oldest first. A claim that is not marked sent runs out and is retried.
pub async fn claim_unsent_emails(
    conn: &mut AnyConnection,
    backend: Backend,
    limit: i64,
    lease_ms: Millis,
    now: Millis,
) -> Result<Vec<(Notification, String)>, sqlx::Error> {
    let sql = format!(
        "update notifications set email_lease_until = $1 where id in (
             select n.id from notifications n join account_emails a on a.user_id = n.user_id
             where n.emailed_at is null and n.created_at > $2
               and (n.email_lease_until is null or n.email_lease_until < $3)
             order by n.id limit $4{})
         returning id",
        backend.claim_suffix()
    );
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(now + lease_ms)
        .bind(now - 86_400_000)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new(
        "select n.id, n.order_id, n.kind, n.args, n.created_at, n.read_at, a.email from notifications n
         join account_emails a on a.user_id = n.user_id where n.id in ",
    );
    sql.bind_list(ids.iter().copied()).push(" order by n.id");
    let rows = sql.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((from_row(r)?, r.try_get("email")?)))
        .collect()
}

pub async fn mark_emailed(
    conn: &mut AnyConnection,
    id: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("update notifications set emailed_at = $1, email_lease_until = null where id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Delivers a notification by email (the storefront words it in the shop's languages).
#[async_trait::async_trait]
pub trait EmailSender: Send + Sync {
    async fn send(&self, to: &str, notification: &Notification) -> Result<(), String>;
}
