//! The search outbox. Every write that changes what a product's search document contains adds a
//! row here in the same transaction; a worker sends the current documents of pending rows to the
//! search backend and deletes the rows only once the backend has confirmed. A row whose sending
//! failed is retried later with backoff; a row claimed by a worker that then died is claimed again
//! once its lease runs out. On PostgreSQL, workers in several processes claim disjoint rows.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::db::SqlBuf;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeSet;

use crate::product::ProductId;
use crate::search::{self, ProductSearch, SearchError};

/// How long a claimed row stays with its worker before another may take it, unless configured:
/// longer than a batch can take (a search server's write may take up to a minute to confirm).
pub const LEASE_MS: Millis = 180_000;
/// Longest wait between retries of a failing row.
pub const MAX_BACKOFF_MS: Millis = 5 * 60_000;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// Queues the search documents of these products to be sent.
pub async fn enqueue(
    conn: &mut AnyConnection,
    products: &[ProductId],
    now: Millis,
) -> Result<(), sqlx::Error> {
    for product in products {
        sqlx::query("insert into search_outbox (product_id, created_at, next_attempt_at) values ($1, $2, $2)")
            .bind(product.0)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rows waiting to be sent (including ones being retried).
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from search_outbox")
        .fetch_one(db.pool())
        .await
}

struct Claimed {
    row: i64,
    product: ProductId,
    attempts: i64,
}

/// Takes up to `limit` due rows for this worker, leasing them for `lease` milliseconds.
async fn claim(
    db: &Db,
    limit: i64,
    now: Millis,
    lease: Millis,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut sql =
        SqlBuf::new("update search_outbox set attempts = attempts + 1, next_attempt_at = ");
    sql.bind(now + lease)
        .push(" where id in (select id from search_outbox where next_attempt_at <= ")
        .bind(now)
        .push(" order by id limit ")
        .bind(limit)
        .push(db.backend().claim_suffix())
        .push(") returning id, product_id, attempts");
    let rows = sql.query().fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                row: r.try_get("id")?,
                product: ProductId(r.try_get("product_id")?),
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Sends one batch of due rows, leased for `lease` ms. Returns how many rows it took (0 when
/// nothing was due).
pub async fn process_batch(
    db: &Db,
    backend: &dyn ProductSearch,
    limit: i64,
    now: Millis,
    lease: Millis,
) -> Result<usize, OutboxError> {
    let claimed = claim(db, limit, now, lease).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let products: Vec<ProductId> = claimed
        .iter()
        .map(|c| c.product)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sent = async {
        let mut conn = db.pool().acquire().await?;
        let (docs, gone) = search::documents_for(&mut conn, &products).await?;
        drop(conn);
        backend.upsert(docs).await?;
        backend.delete(gone).await?;
        Ok::<_, OutboxError>(())
    }
    .await;
    match sent {
        Ok(()) => {
            let mut sql = SqlBuf::new("delete from search_outbox where id in ");
            sql.bind_list(claimed.iter().map(|c| c.row));
            sql.query().execute(db.pool()).await?;
            Ok(claimed.len())
        }
        Err(error) => {
            let message = error.to_string();
            for c in &claimed {
                let backoff = (1_000_i64 << c.attempts.clamp(0, 20)).min(MAX_BACKOFF_MS);
                sqlx::query(
                    "update search_outbox set next_attempt_at = $1, last_error = $2 where id = $3",
                )
                .bind(now + backoff)
                .bind(&message)
                .bind(c.row)
                .execute(db.pool())
                .await?;
            }
            Err(error)
        }
    }
}
