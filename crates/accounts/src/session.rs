//! Sessions: a browser's (in a cookie) or an API client's (a bearer token). The secret is 32
//! random bytes; the database holds only its SHA-256, so a copy of the table signs nobody in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jinguo_common::clock::Millis;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use std::fmt;

use crate::user::{self, User, UserId};

/// How long a browser session lives after its last use.
pub const WEB_TTL_MS: Millis = 30 * 24 * 3_600_000;
/// How long an API token lives.
pub const API_TTL_MS: Millis = 90 * 24 * 3_600_000;
/// A session's expiry is pushed back at most this often (not on every request).
const TOUCH_EVERY_MS: Millis = 10 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Web,
    Api,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Api => "api",
        }
    }

    fn ttl(self) -> Millis {
        match self {
            SessionKind::Web => WEB_TTL_MS,
            SessionKind::Api => API_TTL_MS,
        }
    }
}

/// A session's secret, as the cookie or the bearer header carries it. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub(crate) fn generate() -> Token {
        let bytes: [u8; 32] = rand::random();
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn from_client(value: &str) -> Token {
        Token(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub kind: SessionKind,
    /// `None` for a guest (a cart, no account).
    pub user: Option<User>,
    pub expires_at: Millis,
    pub last_seen_at: Millis,
}

pub(crate) async fn create(
    conn: &mut AnyConnection,
    kind: SessionKind,
    user: Option<UserId>,
    now: Millis,
) -> Result<(Token, i64), sqlx::Error> {
    let token = Token::generate();
    let id: i64 = sqlx::query_scalar(
        "insert into sessions (token_hash, kind, user_id, created_at, expires_at, last_seen_at)
         values ($1, $2, $3, $4, $5, $4) returning id",
    )
    .bind(token.hash())
    .bind(kind.as_str())
    .bind(user.map(|u| u.0))
    .bind(now)
    .bind(now + kind.ttl())
    .fetch_one(conn)
    .await?;
    Ok((token, id))
}

/// The live session behind a token, its expiry pushed back when due.
pub(crate) async fn find(
    conn: &mut AnyConnection,
    token: &Token,
    now: Millis,
) -> Result<Option<Session>, sqlx::Error> {
    let row = sqlx::query(
        "select id, kind, user_id, expires_at, last_seen_at from sessions
         where token_hash = $1 and expires_at > $2",
    )
    .bind(token.hash())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    let kind = match row.try_get::<String, _>("kind")?.as_str() {
        "api" => SessionKind::Api,
        _ => SessionKind::Web,
    };
    let user_id: Option<i64> = row.try_get("user_id")?;
    let mut expires_at: Millis = row.try_get("expires_at")?;
    let last_seen_at: Millis = row.try_get("last_seen_at")?;
    if kind == SessionKind::Web && now - last_seen_at > TOUCH_EVERY_MS {
        expires_at = now + kind.ttl();
        sqlx::query("update sessions set last_seen_at = $1, expires_at = $2 where id = $3")
            .bind(now)
            .bind(expires_at)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let user = match user_id {
        Some(uid) => user::by_id(conn, UserId(uid)).await?,
        None => None,
    };
    Ok(Some(Session {
        id,
        kind,
        user,
        expires_at,
        last_seen_at,
    }))
}

pub(crate) async fn delete(conn: &mut AnyConnection, token: &Token) -> Result<(), sqlx::Error> {
    sqlx::query("delete from sessions where token_hash = $1")
        .bind(token.hash())
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user but `keep` (after a password change).
pub(crate) async fn delete_others(
    conn: &mut AnyConnection,
    user: UserId,
    keep: Option<&Token>,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from sessions where user_id = $1 and token_hash <> $2")
        .bind(user.0)
        .bind(keep.map(Token::hash).unwrap_or_default())
        .execute(conn)
        .await?;
    Ok(())
}
