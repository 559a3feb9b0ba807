//! The storefront: the axum app (HTML pages and the JSON API under `/api/v1`), the background
//! workers, and the `jinguo` command line. It knows nothing of SQL; each handler is a few lines
//! that call the domain crates and render what they return.

pub mod api;
pub mod app;
mod assets;
pub mod auth;
pub mod cli;
mod error;
mod i18n;
mod jobs;
pub mod mail;
mod page_cache;
mod pages;
mod query;
mod shop;
mod views;

pub use app::{App, AppState, router, serve};
pub use error::AppError;
