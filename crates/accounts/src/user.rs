//! Users and their roles.

use jinguo_common::clock::Millis;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::fmt;
use std::str::FromStr;

jinguo_common::id_type!(UserId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Buys.
    Consumer,
    /// Works for one producer: sees and ships that producer's parts of orders.
    Producer,
    /// Federation staff: verifies, confirms payments, sets delivery restrictions.
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Consumer => "consumer",
            Role::Producer => "producer",
            Role::Staff => "staff",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "consumer" => Ok(Role::Consumer),
            "producer" => Ok(Role::Producer),
            "staff" => Ok(Role::Staff),
            other => Err(format!("“{other}” is not consumer, producer or staff")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub role: Role,
    /// The producer a producer-staff account works for (its id in the catalog).
    pub producer_id: Option<i64>,
    pub display_name: String,
    pub created_at: Millis,
}

pub(crate) const COLUMNS: &str =
    "u.id, u.login, u.role, u.producer_id, u.display_name, u.created_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        login: row.try_get("login")?,
        role: role
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        producer_id: row.try_get("producer_id")?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn by_id(conn: &mut AnyConnection, id: UserId) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from users u where u.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user with this (normalised) login and their password hash.
pub(crate) async fn with_hash(
    conn: &mut AnyConnection,
    login: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let sql = format!("select {COLUMNS}, u.password_hash from users u where u.login = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(login)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((from_row(&r)?, r.try_get("password_hash")?)))
        .transpose()
}
