//! The shop's own order jobs: remind buyers paying by bank transfer a day before their order's
//! hold ends, expire unpaid orders (giving their stock back), confirm delivery after the
//! delivery window, complete parts after the return window. Each candidate is acted on
//! in its own transaction through the state machine, conditional on its status, so several
//! processes may run these at once: only one applies each change, the others find nothing to do.

use jinguo_common::clock::Millis;
use sqlx::Row;

use crate::Orders;
use crate::ids::{OrderId, PartId};
use crate::state::{Action, Actor};

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    pub reminded: usize,
    pub expired: usize,
    pub delivered: usize,
    pub completed: usize,
}

impl JobReport {
    pub fn any(&self) -> bool {
        self.reminded + self.expired + self.delivered + self.completed > 0
    }
}

/// Most orders a job takes on in one run.
const BATCH: i64 = 200;

/// How long before its hold ends an unpaid order's buyer is reminded.
const REMIND_BEFORE_MS: Millis = 86_400_000;

impl Orders {
    /// Runs every job once.
    pub async fn run_jobs(&self) -> Result<JobReport, crate::OrderError> {
        let now = self.now();
        let windows = self.settings().windows();
        let mut report = JobReport {
            reminded: self.remind_unpaid(now).await?,
            ..JobReport::default()
        };

        let due: Vec<OrderId> = sqlx::query_scalar(
            "select id from orders where status = 'awaiting_payment' and expires_at <= $1 order by expires_at limit $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(self.db().pool())
        .await?;
        for id in due {
            if self.act_quietly(id, Action::Expire).await {
                report.expired += 1;
            }
        }

        let shipped = sqlx::query(
            "select order_id, id from order_parts where status = 'shipped' and shipped_at <= $1 order by shipped_at limit $2",
        )
        .bind(now - windows.auto_deliver_ms)
        .bind(BATCH)
        .fetch_all(self.db().pool())
        .await?;
        for r in shipped {
            let (order, part): (OrderId, PartId) = (r.try_get("order_id")?, r.try_get("id")?);
            if self.act_quietly(order, Action::Deliver { part }).await {
                report.delivered += 1;
            }
        }

        let delivered = sqlx::query(
            "select order_id, id from order_parts where status = 'delivered' and delivered_at <= $1 order by delivered_at limit $2",
        )
        .bind(now - windows.return_ms)
        .bind(BATCH)
        .fetch_all(self.db().pool())
        .await?;
        for r in delivered {
            let (order, part): (OrderId, PartId) = (r.try_get("order_id")?, r.try_get("id")?);
            if self.act_quietly(order, Action::Complete { part }).await {
                report.completed += 1;
            }
        }
        Ok(report)
    }

    /// Reminds the buyers of unpaid orders whose hold ends within a day, once each. Only holds
    /// longer than a day are reminded of (bank transfers; a card payment's minutes are not).
    async fn remind_unpaid(&self, now: Millis) -> Result<usize, crate::OrderError> {
        let due = sqlx::query(
            "select id, user_id, number, expires_at from orders
             where status = 'awaiting_payment' and expires_at > $1 and expires_at <= $2
               and payment_reminded_at is null and expires_at - created_at > $3
             order by expires_at limit $4",
        )
        .bind(now)
        .bind(now + REMIND_BEFORE_MS)
        .bind(REMIND_BEFORE_MS)
        .bind(BATCH)
        .fetch_all(self.db().pool())
        .await?;
        let mut reminded = 0;
        for r in due {
            let id: OrderId = r.try_get("id")?;
            let mut tx = self.db().begin_write().await?;
            // Conditional, so that of several processes only one reminds.
            let claimed = sqlx::query(
                "update orders set payment_reminded_at = $1 where id = $2 and payment_reminded_at is null
                 and status = 'awaiting_payment'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 1 {
                let expires_at: Millis = r.try_get("expires_at")?;
                crate::notify::notify(
                    &mut tx,
                    r.try_get("user_id")?,
                    Some(id),
                    "payment_reminder",
                    serde_json::json!({
                        "number": r.try_get::<String, _>("number")?,
                        "deadline": jinguo_common::clock::to_china_minute(expires_at),
                    }),
                    now,
                )
                .await?;
                reminded += 1;
            }
            tx.commit().await?;
        }
        Ok(reminded)
    }

    /// Acts as the system; another process having done it first is not an error.
    async fn act_quietly(&self, order: OrderId, action: Action) -> bool {
        match self.act(order, action, Actor::System).await {
            Ok(_) => true,
            Err(
                crate::OrderError::Refused(_)
                | crate::OrderError::Conflict
                | crate::OrderError::NotFound,
            ) => false,
            Err(error) => {
                tracing::warn!(%order, %error, "order job failed; will retry");
                false
            }
        }
    }
}

/// When the next unpaid order expires (to sleep until then), if any.
pub async fn next_expiry(db: &jinguo_common::Db) -> Result<Option<Millis>, sqlx::Error> {
    sqlx::query_scalar("select min(expires_at) from orders where status = 'awaiting_payment'")
        .fetch_one(db.pool())
        .await
}
