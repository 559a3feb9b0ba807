use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use super::types::{Images, ProducerInfo, Provenance};
use crate::app::AppState;
use crate::error::AppError;
use crate::views;

#[derive(Serialize, ToSchema)]
pub struct TracedProduct {
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub url: String,
    pub image: Option<Images>,
}

#[derive(Serialize, ToSchema)]
pub struct TraceResult {
    pub code: String,
    pub batch: Provenance,
    pub product: TracedProduct,
    pub producer: ProducerInfo,
}

/// What a provenance code on a package stands for: the batch, its product and its producer.
#[utoipa::path(
    get,
    path = "/api/v1/trace/{code}",
    tag = "catalog",
    params(("code" = String, Path, description = "The eight-character code on the package; case and dashes ignored")),
    responses((status = 200, body = TraceResult), (status = 404, body = ErrorBody))
)]
pub async fn trace(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<TraceResult>, AppError> {
    let t = state.catalog.trace(&code).await?;
    Ok(Json(TraceResult {
        code: t.batch.code.clone(),
        batch: Provenance::of(&t.batch, &t.producer),
        product: TracedProduct {
            slug: t.product.slug.clone(),
            title: t.product.title.clone(),
            title_en: t.product.title_en.clone(),
            url: views::product_url(&t.product.slug),
            image: t.image_id.map(Images::of),
        },
        producer: ProducerInfo::of(&t.producer, state.today()),
    }))
}
