//! The shop's public pages: the home page, listings and search, product and producer pages,
//! and provenance (what the code on a package opens). The same for everyone asking in one
//! language, so the page cache may serve them.

mod home;
mod listing;
mod producer;
mod product;
mod trace;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/products", get(listing::products))
        .route("/search", get(listing::search))
        .route("/products/{slug}", get(product::product))
        .route("/producers", get(producer::producers))
        .route("/producers/{slug}", get(producer::producer))
        .route("/trace", get(trace::lookup))
        .route("/trace/{code}", get(trace::trace))
}
