//! For producer staff through the API: their stock, shipping rule and parts of orders, and
//! their money (statement, payouts, payout details).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, put};
use jinguo_catalog::SkuId;
use jinguo_common::invalid::{self, Field, Invalid, Problem};
use jinguo_common::money::Fen;
use jinguo_order::orders::Filter;
use jinguo_order::shipping::ShippingRule;
use jinguo_order::state::PartStatus;
use jinguo_settlement::payout::PayoutDetails;
use jinguo_settlement::statement::{self, Statement};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::orders::{OrderBody, OrderList};
use super::types::PayoutBody;
use super::{ApiJson, ErrorBody};
use crate::app::AppState;
use crate::error::AppError;
use crate::views::{csv_response, month_of};
use crate::web::{ApiUser, producer_of};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/producer/skus/{id}/stock", put(set_stock))
        .route("/producer/orders", get(producer_orders))
        .route(
            "/producer/shipping-rule",
            get(shipping_rule).put(set_shipping_rule),
        )
        .route("/producer/statement", get(producer_statement))
        .route("/producer/statement.csv", get(producer_statement_csv))
        .route("/producer/payouts", get(producer_payouts))
        .route("/producer/payout-details", put(set_payout_details))
}

#[derive(Deserialize, ToSchema)]
pub struct StockInput {
    pub stock: i64,
}

#[derive(Serialize, ToSchema)]
pub struct StockBody {
    pub sku_id: i64,
    pub stock: i64,
}

/// Sets the stock of one of the producer's own SKUs (a stock-take). Another producer's SKU is 404.
#[utoipa::path(put, path = "/api/v1/producer/skus/{id}/stock", tag = "producer", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The SKU's id")), request_body = StockInput,
    responses((status = 200, body = StockBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_stock(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(sku): Path<SkuId>,
    ApiJson(input): ApiJson<StockInput>,
) -> Result<Json<StockBody>, AppError> {
    let producer = producer_of(&user)?;
    state
        .catalog
        .set_stock_of(producer, sku, input.stock)
        .await?;
    Ok(Json(StockBody {
        sku_id: sku.0,
        stock: input.stock,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ShippingRuleBody {
    /// `flat` (fee_fen), `free_over` (fee_fen below threshold_fen, free from it) or `by_weight`
    /// (fee_fen for the first kilogram, per_kg_fen for each further one begun).
    pub kind: String,
    pub fee_fen: i64,
    #[serde(default)]
    pub threshold_fen: Option<i64>,
    #[serde(default)]
    pub per_kg_fen: Option<i64>,
}

impl ShippingRuleBody {
    fn of(rule: ShippingRule) -> ShippingRuleBody {
        match rule {
            ShippingRule::Flat { fee } => ShippingRuleBody {
                kind: "flat".into(),
                fee_fen: fee.0,
                threshold_fen: None,
                per_kg_fen: None,
            },
            ShippingRule::FreeOver { fee, threshold } => ShippingRuleBody {
                kind: "free_over".into(),
                fee_fen: fee.0,
                threshold_fen: Some(threshold.0),
                per_kg_fen: None,
            },
            ShippingRule::ByWeight { first_kg, per_kg } => ShippingRuleBody {
                kind: "by_weight".into(),
                fee_fen: first_kg.0,
                threshold_fen: None,
                per_kg_fen: Some(per_kg.0),
            },
        }
    }

    fn rule(&self) -> Result<ShippingRule, AppError> {
        let missing = |field: Field| AppError::invalid(Invalid::new(field, Problem::Required));
        Ok(match self.kind.as_str() {
            "flat" => ShippingRule::Flat {
                fee: Fen(self.fee_fen),
            },
            "free_over" => ShippingRule::FreeOver {
                fee: Fen(self.fee_fen),
                threshold: Fen(self
                    .threshold_fen
                    .ok_or_else(|| missing(Field::Threshold))?),
            },
            "by_weight" => ShippingRule::ByWeight {
                first_kg: Fen(self.fee_fen),
                per_kg: Fen(self.per_kg_fen.ok_or_else(|| missing(Field::PerKg))?),
            },
            other => {
                return Err(AppError::invalid(Invalid::new(
                    Field::Kind,
                    Problem::Unknown {
                        value: other.to_owned(),
                        choices: "flat, free_over, by_weight".to_owned(),
                    },
                )));
            }
        })
    }
}

/// The producer's shipping rule (the shop's default until it sets one: ¥10, free from ¥99).
#[utoipa::path(get, path = "/api/v1/producer/shipping-rule", tag = "producer", security(("bearer" = [])),
    responses((status = 200, body = ShippingRuleBody), (status = 403, body = ErrorBody)))]
pub async fn shipping_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<ShippingRuleBody>, AppError> {
    let producer = producer_of(&user)?;
    Ok(Json(ShippingRuleBody::of(
        state.orders.shipping_rule(producer).await?,
    )))
}

/// Sets the producer's shipping rule; orders placed from now on pay it.
#[utoipa::path(put, path = "/api/v1/producer/shipping-rule", tag = "producer", security(("bearer" = [])),
    request_body = ShippingRuleBody,
    responses((status = 200, body = ShippingRuleBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_shipping_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<ShippingRuleBody>,
) -> Result<Json<ShippingRuleBody>, AppError> {
    let producer = producer_of(&user)?;
    let rule = input.rule()?;
    state.orders.set_shipping_rule(producer, rule).await?;
    Ok(Json(ShippingRuleBody::of(rule)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PartsQuery {
    /// A part status (default `to_ship`), or `all`.
    pub status: Option<String>,
}

/// The producer's parts of orders (only its own part of each order is included).
#[utoipa::path(get, path = "/api/v1/producer/orders", tag = "producer", security(("bearer" = [])), params(PartsQuery),
    responses((status = 200, body = OrderList), (status = 403, body = ErrorBody)))]
pub async fn producer_orders(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<PartsQuery>,
) -> Result<Json<OrderList>, AppError> {
    let producer = producer_of(&user)?;
    let part_status = match q.status.as_deref() {
        None | Some("") => Some(PartStatus::ToShip),
        Some("all") => None,
        Some(code) => Some(invalid::choice::<PartStatus>(Field::Status, code)?),
    };
    let filter = Filter {
        producer: Some(producer),
        part_status,
        limit: 200,
        ..Filter::default()
    };
    let orders = state.orders.orders(&filter).await?;
    Ok(Json(OrderList {
        orders: orders.iter().map(|o| OrderBody::of(o, None)).collect(),
    }))
}

// ---- a producer's money --------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
pub struct MonthQuery {
    /// `2026-11`; default: this month.
    month: Option<String>,
}

/// The producer's statement for a month: opening balance, every sale with its fee, refunds and
/// payouts with the order or payout behind each, closing balance (producer staff).
#[utoipa::path(get, path = "/api/v1/producer/statement", tag = "producer", security(("bearer" = [])),
    params(MonthQuery), responses((status = 200, content_type = "application/json"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn producer_statement(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<MonthQuery>,
) -> Result<Json<Statement>, AppError> {
    let producer = producer_of(&user)?;
    let month = month_of(&state.clock, q.month.as_deref())?;
    Ok(Json(state.settlement.statement(producer, month).await?))
}

/// The same statement as CSV.
#[utoipa::path(get, path = "/api/v1/producer/statement.csv", tag = "producer", security(("bearer" = [])),
    params(MonthQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody)))]
pub async fn producer_statement_csv(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let month = month_of(&state.clock, q.month.as_deref())?;
    let s = state.settlement.statement(producer, month).await?;
    Ok(csv_response(
        statement::to_csv(&s),
        &format!("jinguo-statement-{month}.csv"),
    ))
}

/// The producer's payouts, newest first.
#[utoipa::path(get, path = "/api/v1/producer/payouts", tag = "producer", security(("bearer" = [])),
    responses((status = 200, body = [PayoutBody]), (status = 403, body = ErrorBody)))]
pub async fn producer_payouts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<PayoutBody>>, AppError> {
    let producer = producer_of(&user)?;
    let payouts = state.settlement.payouts(Some(producer), None).await?;
    Ok(Json(payouts.into_iter().map(PayoutBody::from).collect()))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PayoutDetailsInput {
    /// A Stripe connected account, `acct_…`.
    Stripe { account: String },
    /// A bank account: holder's name, number, bank and branch.
    Bank {
        account_name: String,
        account_no: String,
        bank_name: String,
    },
}

impl From<PayoutDetailsInput> for PayoutDetails {
    fn from(d: PayoutDetailsInput) -> Self {
        match d {
            PayoutDetailsInput::Stripe { account } => PayoutDetails::Stripe { account },
            PayoutDetailsInput::Bank {
                account_name,
                account_no,
                bank_name,
            } => PayoutDetails::Bank {
                account_name,
                account_no,
                bank_name,
            },
        }
    }
}

/// Where the producer's payouts go (producer staff).
#[utoipa::path(put, path = "/api/v1/producer/payout-details", tag = "producer", security(("bearer" = [])),
    request_body = PayoutDetailsInput,
    responses((status = 200, body = PayoutDetailsInput), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_payout_details(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<PayoutDetailsInput>,
) -> Result<Json<PayoutDetails>, AppError> {
    let producer = producer_of(&user)?;
    let details = state
        .settlement
        .set_payout_details(producer, input.into())
        .await?;
    Ok(Json(details))
}
