//! Rendered pages, reused while the catalog data behind them is (the catalog's cache lifetime
//! and generation, see `jinguo_common::cache`). Only responses a handler marks [`Shareable`]
//! (the same for everyone asking in that language) are kept; errors, redirects and anything
//! personal are not. A busy product page then costs a lookup, not a render. Bounded by entries
//! and bytes (`server.page_cache_entries`, `server.page_cache_mb`).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use jinguo_common::cache::{Scope, TtlMap};

use crate::app::AppState;
use crate::i18n::Lang;

/// Most pages kept unless configured (about 15 KB each).
pub const DEFAULT_ENTRIES: usize = 4_000;
/// Most bytes of pages kept unless configured.
pub const DEFAULT_BYTES: usize = 64 * 1024 * 1024;
/// Largest page kept.
const MAX_PAGE_BYTES: usize = 512 * 1024;

/// Marks a response as safe to serve to anyone asking for the same address in the same language.
#[derive(Clone, Copy, Debug)]
pub struct Shareable;

/// Pages of one product, producer or trace code (dropped by catalog writes) and the rest:
/// listings, search and the home page, which show the index's answers (dropped also when they
/// change). Each holds half the entries and bytes allowed.
pub struct PageCache {
    items: TtlMap<(Lang, String), CachedPage>,
    listings: TtlMap<(Lang, String), CachedPage>,
}

impl PageCache {
    pub fn new(entries: usize, bytes: usize) -> PageCache {
        PageCache {
            items: TtlMap::new(Scope::Database, entries / 2, bytes / 2),
            listings: TtlMap::new(Scope::Search, entries / 2, bytes / 2),
        }
    }

    /// Entries and bytes held now.
    pub fn size(&self) -> (usize, usize) {
        let (a, b) = (self.items.size(), self.listings.size());
        (a.0 + b.0, a.1 + b.1)
    }
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache::new(DEFAULT_ENTRIES, DEFAULT_BYTES)
    }
}

/// Whether the page at `path` shows one thing of the catalog rather than a listing.
fn is_item(path: &str) -> bool {
    ["/products/", "/producers/", "/trace/"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty())
        })
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
    let map = if is_item(request_path(&key.1)) {
        &state.pages.items
    } else {
        &state.pages.listings
    };
    let weight = |page: &CachedPage| page.body.len() + 512;
    match map
        .get_or_load_weighed(state.catalog.freshness(), &key, load, weight)
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

fn request_path(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or(path_and_query)
}

#[cfg(test)]
mod tests {
    use super::is_item;

    #[test]
    fn product_producer_and_trace_pages_are_items() {
        assert!(is_item("/products/chengkou-larou-500g"));
        assert!(is_item("/producers/qiaojie-workshop"));
        assert!(is_item("/trace/AB12CD34"));
        assert!(!is_item("/products"));
        assert!(!is_item("/products/"));
        assert!(!is_item("/search"));
        assert!(!is_item("/"));
    }
}
