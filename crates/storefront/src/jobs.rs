//! Background work of a `jinguo serve` process besides search: the order jobs (expire unpaid
//! orders, confirm delivery, complete parts). Safe to run in every process at once.

use std::time::Duration;
use tokio::sync::watch;

use crate::app::AppState;

/// How often the order jobs look for due work.
const EVERY: Duration = Duration::from_secs(5);

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        match state.orders.run_jobs().await {
            Ok(report) if report.any() => {
                tracing::info!(?report, "order jobs");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "order jobs failed; will retry"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
