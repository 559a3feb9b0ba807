//! Requests an account may safely send twice: an API call with an `Idempotency-Key`, a form with
//! its single-use token. The first one runs and its answer is kept for a day; a second one with
//! the same key gets that answer again instead of doing the work twice, also when it reaches
//! another `jinguo serve` process (the keys live in the database). A key sent again with another
//! request is refused; a request still running makes the second wait for its answer.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use sqlx::Row;

use crate::AccountError;
use crate::user::UserId;

/// How long an answer is kept for replay.
pub const KEEP_MS: Millis = 24 * 3_600_000;
/// How long a request may run before another with its key may take over (its process died).
const LEASE_MS: Millis = 60_000;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A kept answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// What to do with a request that came with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The first with this key: run it, then [`finish`] or [`abandon`] it.
    Run(i64),
    /// Done before: answer this.
    Replay(Answer),
    /// Another request with this key is running now.
    Running,
    /// The key was used for another request.
    Mismatch,
}

/// Claims `key` for a request whose method, path and body hash to `fingerprint`.
pub async fn begin(
    db: &Db,
    user: UserId,
    key: &str,
    fingerprint: &str,
    now: Millis,
) -> Result<Begin, AccountError> {
    for _ in 0..2 {
        let inserted: Option<i64> = sqlx::query_scalar(
            "insert into idempotent_requests (user_id, key, fingerprint, created_at, lease_until)
             values ($1, $2, $3, $4, $5) on conflict (user_id, key) do nothing returning id",
        )
        .bind(user)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .bind(now + LEASE_MS)
        .fetch_optional(db.pool())
        .await?;
        if let Some(id) = inserted {
            return Ok(Begin::Run(id));
        }
        let Some(row) = sqlx::query(
            "select id, fingerprint, status, content_type, location, body, created_at, lease_until
             from idempotent_requests where user_id = $1 and key = $2",
        )
        .bind(user)
        .bind(key)
        .fetch_optional(db.pool())
        .await?
        else {
            continue; // abandoned meanwhile: try again
        };
        let id: i64 = row.try_get("id")?;
        let created_at: Millis = row.try_get("created_at")?;
        if created_at <= now - KEEP_MS {
            // Older than a day: the key is free again.
            sqlx::query("delete from idempotent_requests where id = $1")
                .bind(id)
                .execute(db.pool())
                .await?;
            continue;
        }
        if row.try_get::<String, _>("fingerprint")? != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if let Some(status) = row.try_get::<Option<i64>, _>("status")? {
            return Ok(Begin::Replay(Answer {
                status: u16::try_from(status).unwrap_or(500),
                content_type: row.try_get("content_type")?,
                location: row.try_get("location")?,
                body: row
                    .try_get::<Option<String>, _>("body")?
                    .unwrap_or_default(),
            }));
        }
        let lease_until: Millis = row.try_get("lease_until")?;
        if lease_until > now {
            return Ok(Begin::Running);
        }
        // The request that claimed it never finished (its process died): take it over.
        let taken = sqlx::query(
            "update idempotent_requests set lease_until = $1
             where id = $2 and status is null and lease_until = $3",
        )
        .bind(now + LEASE_MS)
        .bind(id)
        .bind(lease_until)
        .execute(db.pool())
        .await?
        .rows_affected();
        return Ok(if taken == 1 {
            Begin::Run(id)
        } else {
            Begin::Running
        });
    }
    Ok(Begin::Running)
}

/// Keeps the answer of the request that ran.
pub async fn finish(db: &Db, id: i64, answer: &Answer) -> Result<(), AccountError> {
    sqlx::query(
        "update idempotent_requests set status = $1, content_type = $2, location = $3, body = $4
         where id = $5",
    )
    .bind(i64::from(answer.status))
    .bind(answer.content_type.as_deref())
    .bind(answer.location.as_deref())
    .bind(&answer.body)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets a request that did not get an answer worth keeping (it failed on the shop's side,
/// or a form is shown again to be corrected): the key may be used again.
pub async fn abandon(db: &Db, id: i64) -> Result<(), AccountError> {
    sqlx::query("delete from idempotent_requests where id = $1 and status is null")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets answers older than a day, at most `limit` of them; answers how many.
pub async fn purge(db: &Db, now: Millis, limit: i64) -> Result<u64, AccountError> {
    Ok(sqlx::query(
        "delete from idempotent_requests where id in
           (select id from idempotent_requests where created_at <= $1 order by created_at limit $2)",
    )
    .bind(now - KEEP_MS)
    .bind(limit)
    .execute(db.pool())
    .await?
    .rows_affected())
}
