//! For producer staff: their parts of orders, their stock and shipping rule, and their money.

mod money;
mod orders;
mod stock;

use axum::Router;
use axum::routing::{get, post};
use jinguo_common::ids::ProducerId;

use crate::app::AppState;
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/producer/orders", get(orders::orders))
        .route("/producer/stock", get(stock::stock))
        .route("/producer/stock/{sku}", post(stock::set_stock))
        .route("/producer/shipping", post(stock::set_rule))
        .route("/producer/money", get(money::producer_money))
        .route("/producer/money/statement.csv", get(money::statement_csv))
        .route("/producer/money/details", post(money::save_details))
}

/// The producer's name, for its pages' headings.
async fn producer_name(state: &AppState, producer: ProducerId) -> Result<String, AppError> {
    Ok(state
        .catalog
        .producer_names(&[producer])
        .await?
        .remove(&producer)
        .map(|n| n.name)
        .unwrap_or_default())
}
