//! For federation staff: payments to record, every order, delivery restrictions, settlement,
//! reconciliation and partial refunds.

mod money;
mod orders;
mod payments;
mod reconciliation;
mod refunds;
mod restrictions;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/staff/payments",
            get(payments::payments).post(payments::record_payment),
        )
        .route("/staff/orders", get(orders::orders))
        .route(
            "/staff/restrictions",
            get(restrictions::restrictions).post(restrictions::set_restriction),
        )
        .route("/staff/money", get(money::staff_money))
        .route("/staff/money/settle", post(money::settle))
        .route("/staff/money/payouts/{id}/paid", post(money::payout_paid))
        .route(
            "/staff/money/payouts/{id}/failed",
            post(money::payout_failed),
        )
        .route(
            "/staff/money/batches/{id}/bank-file.csv",
            get(money::bank_file),
        )
        .route("/staff/money/confirm", post(money::confirm))
        .route("/staff/money/refunds/{id}/paid", post(money::refund_paid))
        .route("/staff/money/refund", get(money::find_order))
        .route("/staff/reconciliation", get(reconciliation::reconciliation))
        .route(
            "/staff/orders/{id}/refund",
            get(refunds::refund_form).post(refunds::refund),
        )
}
