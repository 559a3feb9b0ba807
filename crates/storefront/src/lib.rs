//! The storefront: the axum app (HTML pages and the JSON API under `/api/v1`), the background
//! workers, and the `jinguo` command line. It knows nothing of SQL; each handler is a few lines
//! that parse the request, call the domain crates (wired together as a `jinguo_shop::Shop`) and
//! render what they return.
//!
//! - [`app`]: the state, the router (pages, API, assets, webhooks) and serving;
//! - [`web`]: sessions, CSRF and the page-fill step, between HTTP and the handlers;
//! - `pages` and [`api`]: one module per resource, each with its `router()`;
//! - [`error`]: one error type, with stable codes and messages said in the visitor's language;
//! - [`settings`]: every setting, its file key, environment variable and flag;
//! - [`cli`]: the `jinguo` binary's commands.

pub mod api;
pub mod app;
mod assets;
pub mod cli;
pub mod error;
mod i18n;
mod jobs;
pub mod mail;
mod page_cache;
mod pages;
mod query;
pub mod server;
pub mod settings;
mod views;
pub mod web;

pub use app::{AppState, router, serve};
pub use error::AppError;
pub use settings::Settings;
