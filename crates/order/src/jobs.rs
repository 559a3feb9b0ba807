//! The shop's own order jobs: expire unpaid orders (giving their stock back), confirm delivery
//! after the delivery window, complete parts after the return window. Each candidate is acted on
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
    pub expired: usize,
    pub delivered: usize,
    pub completed: usize,
}

impl JobReport {
    pub fn any(&self) -> bool {
        self.expired + self.delivered + self.completed > 0
    }
}

/// Most orders a job takes on in one run.
const BATCH: i64 = 200;

impl Orders {
    /// Runs every job once.
    pub async fn run_jobs(&self) -> Result<JobReport, crate::OrderError> {
        let now = self.now();
        let windows = self.settings().windows();
        let mut report = JobReport::default();

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
