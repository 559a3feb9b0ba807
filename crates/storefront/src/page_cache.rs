//! Rendered pages, reused while the catalog data behind them is (the catalog's cache lifetime
//! and generation, see `jinguo_common::cache`). Only responses a handler marks [`Shareable`]
//! (the same for everyone asking in that language) are kept; errors, redirects and anything
//! personal are not. A busy product page then costs a lookup, not a render.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use jinguo_common::cache::TtlMap;

use crate::app::AppState;
use crate::i18n::Lang;

/// Most pages kept (about 15 KB each).
const CAPACITY: usize = 2_000;
/// Largest page kept.
const MAX_PAGE_BYTES: usize = 512 * 1024;

/// Marks a response as safe to serve to anyone asking for the same address in the same language.
#[derive(Clone, Copy, Debug)]
pub struct Shareable;

pub struct PageCache {
    pages: TtlMap<(Lang, String), CachedPage>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            pages: TtlMap::with_capacity(CAPACITY),
        }
    }
}

struct CachedPage {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

pub async fn serve_cached(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let lang = Lang::from_headers(request.headers());
    let key = (
        lang,
        request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()),
    );
    let load = async move {
        let response = next.run(request).await;
        if response.extensions().get::<Shareable>().is_none() {
            return Err(response);
        }
        let (parts, body) = response.into_parts();
        match to_bytes(body, MAX_PAGE_BYTES).await {
            Ok(body) => Ok(CachedPage {
                status: parts.status,
                headers: parts.headers,
                body,
            }),
            Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        }
    };
    match state
        .pages
        .pages
        .get_or_load(state.catalog.freshness(), &key, load)
        .await
    {
        Ok(page) => {
            let mut response = Response::new(Body::from(page.body.clone()));
            *response.status_mut() = page.status;
            *response.headers_mut() = page.headers.clone();
            response
        }
        Err(response) => response,
    }
}
