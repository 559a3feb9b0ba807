//! For federation staff through the API: bank transfers received, refunds, payout runs and
//! payouts, the ledger check; and Stripe's webhooks.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field};
use jinguo_common::money::Fen;
use jinguo_order::state::Action;
use jinguo_order::{OrderId, PartId};
use jinguo_settlement::payout::SettleReport;
use jinguo_settlement::{
    BatchId, PayoutId, Refund, RefundId, SettlementError, WebhookOutcome, WebhookRefusal,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::orders::OrderBody;
use super::types::PayoutBody;
use super::{ApiJson, ErrorBody};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::views::csv_response;
use crate::web::{ApiUser, actor_of, require_staff};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/transfers", post(record_transfer))
        .route("/staff/orders/{id}/refunds", post(refund))
        .route("/staff/refunds", get(refunds_owed))
        .route("/staff/refunds/{id}/paid", post(refund_paid))
        .route("/staff/settle", post(settle))
        .route("/staff/payouts", get(payouts))
        .route("/staff/payouts/batches/{id}/bank-file", get(bank_file))
        .route("/staff/payouts/{id}/paid", post(payout_paid))
        .route("/staff/payouts/{id}/failed", post(payout_failed))
        .route("/staff/ledger/check", get(ledger_check))
}

#[derive(Deserialize, ToSchema)]
pub struct TransferInput {
    /// The order's payment reference, as written in the transfer's purpose.
    pub reference: String,
    pub amount_fen: i64,
    /// The day it arrived, like 2026-11-29.
    pub received_on: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransferBody {
    /// `accepted` (the order is paid) or `flagged` (kept for staff; the order is unchanged).
    pub outcome: String,
    pub order: OrderBody,
}

/// Records a bank transfer received (federation staff). The exact amount pays the order; any
/// other amount is recorded and flagged.
#[utoipa::path(post, path = "/api/v1/staff/transfers", tag = "staff", security(("bearer" = [])), request_body = TransferInput,
    responses((status = 200, body = TransferBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn record_transfer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<TransferInput>,
) -> Result<Json<TransferBody>, AppError> {
    require_staff(&user)?;
    let (outcome, order) = state
        .orders
        .record_transfer(
            user.id,
            &input.reference,
            Fen(input.amount_fen),
            &input.received_on,
        )
        .await?;
    Ok(Json(TransferBody {
        outcome: outcome.as_str().to_owned(),
        order: OrderBody::of(&order, None),
    }))
}

// ---- refunds -------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct RefundInput {
    /// The part of the order to refund from.
    pub part_id: i64,
    pub amount_fen: i64,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefundBody {
    pub id: i64,
    pub order_id: i64,
    pub part_id: Option<i64>,
    pub amount_fen: i64,
    /// `pending` (owed, not yet paid back) or `done`.
    pub status: String,
    pub reason: String,
    /// The provider's refund id or the bank reference, once paid back.
    pub provider_ref: Option<String>,
}

impl From<Refund> for RefundBody {
    fn from(r: Refund) -> Self {
        RefundBody {
            id: r.id.0,
            order_id: r.order_id.0,
            part_id: r.part_id.map(|p| p.0),
            amount_fen: r.amount.0,
            status: r.status.as_str().to_owned(),
            reason: r.reason,
            provider_ref: r.provider_ref,
        }
    }
}

/// Refunds part of a paid order (federation staff): out of escrow before the part's money is
/// released to the producer, out of the producer's payable after. More than is left is refused.
#[utoipa::path(post, path = "/api/v1/staff/orders/{id}/refunds", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")), request_body = RefundInput,
    responses((status = 200, body = RefundBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refund(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(order): Path<OrderId>,
    ApiJson(input): ApiJson<RefundInput>,
) -> Result<Json<RefundBody>, AppError> {
    require_staff(&user)?;
    let action = Action::Refund {
        part: PartId(input.part_id),
        amount: Fen(input.amount_fen),
        reason: invalid::text(Field::Reason, &input.reason, 200)?.to_owned(),
    };
    let acted = state.orders.act(order, action, actor_of(&user)).await?;
    let refund = acted
        .refund
        .ok_or(AppError::bad(ErrorCode::NothingToRefund))?;
    Ok(Json(state.settlement.refund(refund.id).await?.into()))
}

/// Refunds still owed to buyers (federation staff).
#[utoipa::path(get, path = "/api/v1/staff/refunds", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = [RefundBody]), (status = 403, body = ErrorBody)))]
pub async fn refunds_owed(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<RefundBody>>, AppError> {
    require_staff(&user)?;
    let refunds = state.settlement.refunds(None).await?;
    Ok(Json(refunds.into_iter().map(RefundBody::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct ReferenceInput {
    /// The bank's or provider's reference for the transfer.
    pub reference: String,
}

/// Records that a refund has been paid back (a bank transfer staff made).
#[utoipa::path(post, path = "/api/v1/staff/refunds/{id}/paid", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Refund id")), request_body = ReferenceInput,
    responses((status = 200, body = RefundBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refund_paid(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<RefundId>,
    ApiJson(input): ApiJson<ReferenceInput>,
) -> Result<Json<RefundBody>, AppError> {
    require_staff(&user)?;
    let refund = state
        .settlement
        .mark_refund_paid(id, &input.reference)
        .await?;
    Ok(Json(refund.into()))
}

// ---- payouts -------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct SettleBody {
    /// `null` when nobody was due a payout.
    pub batch_id: Option<i64>,
    pub payouts: Vec<PayoutBody>,
    /// Producers owed at least the minimum who were not paid: `[producer id, why]`, why being
    /// `no_payout_details` or `payout_still_open`.
    pub skipped: Vec<(i64, String)>,
}

impl From<SettleReport> for SettleBody {
    fn from(r: SettleReport) -> Self {
        SettleBody {
            batch_id: r.batch_id.map(|b| b.0),
            payouts: r.payouts.into_iter().map(PayoutBody::from).collect(),
            skipped: r
                .skipped
                .into_iter()
                .map(|(producer, why)| (producer.0, why.code().to_owned()))
                .collect(),
        }
    }
}

/// Runs settlement (federation staff): a payout for every producer owed at least the minimum.
/// Safe to repeat: a second run finds nothing more to pay.
#[utoipa::path(post, path = "/api/v1/staff/settle", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = SettleBody), (status = 403, body = ErrorBody)))]
pub async fn settle(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<SettleBody>, AppError> {
    require_staff(&user)?;
    let report = state
        .settlement
        .settle(&format!("staff {}", user.id))
        .await?;
    Ok(Json(report.into()))
}

#[derive(Deserialize, IntoParams)]
pub struct PayoutsQuery {
    /// Only this batch.
    batch: Option<i64>,
    /// Only this producer.
    producer: Option<i64>,
}

/// Payouts, newest first (federation staff).
#[utoipa::path(get, path = "/api/v1/staff/payouts", tag = "staff", security(("bearer" = [])),
    params(PayoutsQuery), responses((status = 200, body = [PayoutBody]), (status = 403, body = ErrorBody)))]
pub async fn payouts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<PayoutsQuery>,
) -> Result<Json<Vec<PayoutBody>>, AppError> {
    require_staff(&user)?;
    let payouts = state
        .settlement
        .payouts(q.producer.map(ProducerId), q.batch.map(BatchId))
        .await?;
    Ok(Json(payouts.into_iter().map(PayoutBody::from).collect()))
}

/// A batch's unpaid bank payouts as the bank's batch-payment CSV (户名,账号,开户行,金额(元),用途).
#[utoipa::path(get, path = "/api/v1/staff/payouts/batches/{id}/bank-file", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Batch id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody)))]
pub async fn bank_file(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(batch): Path<BatchId>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let csv = state.settlement.bank_file(batch).await?;
    Ok(csv_response(csv, &format!("jinguo-payouts-{batch}.csv")))
}

/// Marks a bank payout paid, with the bank's reference.
#[utoipa::path(post, path = "/api/v1/staff/payouts/{id}/paid", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Payout id")), request_body = ReferenceInput,
    responses((status = 200, body = PayoutBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn payout_paid(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<PayoutId>,
    ApiJson(input): ApiJson<ReferenceInput>,
) -> Result<Json<PayoutBody>, AppError> {
    require_staff(&user)?;
    let payout = state
        .settlement
        .mark_payout_paid(id, &input.reference)
        .await?;
    Ok(Json(payout.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct FailedInput {
    /// Why the bank returned it.
    pub note: String,
}

/// Marks a bank payout failed (returned by the bank): its money goes back to the producer's
/// payable for the next run.
#[utoipa::path(post, path = "/api/v1/staff/payouts/{id}/failed", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Payout id")), request_body = FailedInput,
    responses((status = 200, body = PayoutBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn payout_failed(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<PayoutId>,
    ApiJson(input): ApiJson<FailedInput>,
) -> Result<Json<PayoutBody>, AppError> {
    require_staff(&user)?;
    let payout = state.settlement.mark_payout_failed(id, &input.note).await?;
    Ok(Json(payout.into()))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerCheckBody {
    pub ok: bool,
    pub transactions: i64,
    pub entries: i64,
    pub debits_fen: i64,
    pub credits_fen: i64,
    /// `[transaction id, cause, off by (fen)]`
    pub unbalanced: Vec<(i64, String, i64)>,
}

/// Checks the whole ledger (federation staff).
#[utoipa::path(get, path = "/api/v1/staff/ledger/check", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = LedgerCheckBody), (status = 403, body = ErrorBody)))]
pub async fn ledger_check(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<LedgerCheckBody>, AppError> {
    require_staff(&user)?;
    let check = state.settlement.check_ledger().await?;
    Ok(Json(LedgerCheckBody {
        ok: check.is_ok(),
        transactions: check.transactions,
        entries: check.entries,
        debits_fen: check.debits,
        credits_fen: check.credits,
        unbalanced: check.unbalanced,
    }))
}

// ---- Stripe webhooks -----------------------------------------------------------------------

/// Stripe's events (`payment_intent.succeeded`, refunds…). Verified against `Stripe-Signature`
/// with the endpoint's signing secret and a 5-minute tolerance; each event applied at most once.
/// A bad signature, an old timestamp or a body that is not an event is answered 400 and changes
/// nothing; an event already applied is answered 200 and applied no second time.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |message: String| {
        let body =
            serde_json::json!({"error": {"code": ErrorCode::WebhookRefused, "message": message}});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let Some(signature) = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
    else {
        tracing::warn!("Stripe webhook without a Stripe-Signature header refused");
        return refuse("no Stripe-Signature header".into());
    };
    let Ok(payload) = std::str::from_utf8(&body) else {
        tracing::warn!("Stripe webhook body that is not UTF-8 refused");
        return refuse("the body is not UTF-8".into());
    };
    match state.settlement.stripe_webhook(payload, signature).await {
        Ok(outcome) => {
            let outcome = match outcome {
                WebhookOutcome::Applied(what) => what,
                WebhookOutcome::Replay => "already applied".to_owned(),
                WebhookOutcome::Ignored => "ignored".to_owned(),
            };
            Json(serde_json::json!({"received": true, "outcome": outcome})).into_response()
        }
        // The database failed: Stripe will deliver it again.
        Err(WebhookRefusal::Settlement(SettlementError::Database(error))) => {
            tracing::error!(%error, "Stripe webhook not applied: database");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(refusal) => {
            tracing::warn!(%refusal, "Stripe webhook refused; nothing applied");
            refuse(refusal.to_string())
        }
    }
}
