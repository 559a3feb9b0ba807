use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use super::types::{ProducerInfo, ProductItem};
use crate::app::AppState;
use crate::error::AppError;

#[derive(Serialize, ToSchema)]
pub struct ProducerDetail {
    #[serde(flatten)]
    pub producer: ProducerInfo,
    /// Its published products.
    pub products: Vec<ProductItem>,
}

/// A producer: place, story, verification and certificate, and its products.
#[utoipa::path(
    get,
    path = "/api/v1/producers/{slug}",
    tag = "catalog",
    params(("slug" = String, Path, description = "The producer's slug")),
    responses((status = 200, body = ProducerDetail), (status = 404, body = ErrorBody))
)]
pub async fn detail(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<ProducerDetail>, AppError> {
    let found = state.catalog.producer(&slug).await?;
    let (producer, products) = (&found.0, &found.1);
    Ok(Json(ProducerDetail {
        producer: ProducerInfo::of(producer, state.today()),
        products: products.iter().map(|p| ProductItem::of(p, None)).collect(),
    }))
}
