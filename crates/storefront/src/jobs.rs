//! Background work of a `jinguo serve` process besides search: the order jobs (remind and
//! expire unpaid orders, confirm delivery, complete parts), Stripe refunds and payouts that did
//! not go out the first time, forgetting answers kept for replay once a day old, and, when a
//! mail server is configured, notification emails. Safe to run in every process at once.

use secrecy::ExposeSecret;
use std::time::Duration;
use tokio::sync::watch;

use crate::app::AppState;
use crate::mail::SmtpMailer;

/// How often the jobs look for due work.
const EVERY: Duration = Duration::from_secs(5);

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mailer = match &state.settings.mail.smtp_url {
        Some(url) => match SmtpMailer::new(state.clone(), url.expose_secret()) {
            Ok(mailer) => Some(mailer),
            Err(error) => {
                tracing::error!(%error, "notification emails are off");
                None
            }
        },
        None => None,
    };
    loop {
        match state.orders.run_jobs().await {
            Ok(report) if report.any() => {
                tracing::info!(?report, "order jobs");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "order jobs failed; will retry"),
        }
        if let Err(error) =
            jinguo_accounts::idempotency::purge(&state.db, state.clock.now_ms(), 1000).await
        {
            tracing::warn!(%error, "old idempotency keys not purged; will try again");
        }
        if let Err(error) = state.settlement.retry_stripe().await {
            tracing::warn!(%error, "Stripe refunds and payouts not retried; will try again");
        }
        if let Some(mailer) = &mailer {
            match state.orders.send_notification_emails(mailer).await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "notification emails"),
                Err(error) => tracing::warn!(%error, "notification emails failed; will retry"),
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
