//! Static files and images. The stylesheet is compiled in and served under a URL that changes
//! with its content, so browsers may keep it for a year; images are immutable per id and size.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use jinguo_catalog::image::{ImageId, Size};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use crate::app::AppState;
use crate::error::AppError;

const CSS: &str = include_str!("../../../web/static/site.css");
const PAY_JS: &str = include_str!("../../../web/static/pay.js");
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/site.css", get(css))
        .route("/static/pay.js", get(pay_js))
        .route("/images/{id}/{file}", get(image))
}

/// `/static/site.css?v=<hash of its content>`
pub fn css_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let digest = Sha256::digest(CSS.as_bytes());
        let v: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("/static/site.css?v={v}")
    })
}

/// `/static/pay.js?v=<hash of its content>`: the Stripe payment page's script.
pub fn pay_js_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let digest = Sha256::digest(PAY_JS.as_bytes());
        let v: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("/static/pay.js?v={v}")
    })
}

async fn pay_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        PAY_JS,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        CSS,
    )
        .into_response()
}

/// `/images/{id}/{thumb|card|large}.jpg`
async fn image(
    State(state): State<AppState>,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let size: Size = file
        .strip_suffix(".jpg")
        .and_then(|s| s.parse().ok())
        .ok_or(AppError::NotFound)?;
    let (content_type, bytes) = state.catalog.image(ImageId(id), size).await?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        bytes,
    )
        .into_response())
}
