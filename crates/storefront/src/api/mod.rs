//! The JSON API under `/api/v1`: the same catalog as the pages, for apps and partners. Its
//! OpenAPI document is generated from these handlers and types (`/api/v1/openapi.json`).

pub mod health;
mod producers;
mod products;
mod trace;
mod types;

use axum::Router;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::OpenApi;

use crate::app::AppState;
use crate::error::ErrorReport;
use crate::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(products::list))
        .route("/products/{slug}", get(products::detail))
        .route("/producers/{slug}", get(producers::detail))
        .route("/trace/{code}", get(trace::trace))
        .route("/openapi.json", get(openapi))
        .fallback(crate::pages::not_found)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jinguo Market API",
        description = "巾帼集市: products of Chongqing's women's workshops, bases, cooperatives and households. Prices are integer fen (1 yuan = 100 fen). Errors are `{\"error\": {\"code\", \"message\"}}`; messages follow the `lang` cookie or Accept-Language (zh-CN by default)."
    ),
    paths(products::list, products::detail, producers::detail, trace::trace, health::healthz),
    tags((name = "catalog", description = "Products, producers and provenance"))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `unknown_sort`, `negative_price`, `search_unavailable`…
    pub code: String,
    /// For a person, in their language.
    pub message: String,
}

pub fn error_response(state: &AppState, lang: Lang, report: &ErrorReport) -> Response {
    let message = state
        .i18n
        .locale(lang)
        .fill(report.msg.key, &report.msg.args);
    let body = ErrorBody {
        error: ErrorDetail {
            code: report.code.to_owned(),
            message,
        },
    };
    (report.status, Json(body)).into_response()
}
