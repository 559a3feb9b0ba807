//! Users and their roles.

use jinguo_common::clock::Millis;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

pub use jinguo_common::ids::{ProducerId, UserId};

jinguo_common::text_enum! {
    pub enum Role {
        /// Buys.
        Consumer = "consumer",
        /// Works for one producer: sees and ships that producer's parts of orders.
        Producer = "producer",
        /// Federation staff: verifies, confirms payments, sets delivery restrictions.
        Staff = "staff",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub role: Role,
    /// The producer a producer-staff account works for (its id in the catalog).
    pub producer_id: Option<ProducerId>,
    pub display_name: String,
    pub created_at: Millis,
}

pub(crate) const COLUMNS: &str =
    "u.id, u.login, u.role, u.producer_id, u.display_name, u.created_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        role: row.try_get("role")?,
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

/// The staff accounts of a producer (to tell them of orders to ship and returns to decide).
pub async fn staff_of_producer(
    conn: &mut AnyConnection,
    producer: ProducerId,
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar("select id from users where producer_id = $1 order by id")
        .bind(producer)
        .fetch_all(conn)
        .await
}
