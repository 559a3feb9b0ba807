//! The application: its state, its router and serving it. `main` opens an [`AppState`] from
//! settings; tests build one over a test shop and drive [`router`] directly or bind port 0.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use http::{HeaderValue, header};
use jinguo_common::Clock;
use jinguo_shop::Shop;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::i18n::{I18n, Lang};
use crate::settings::Settings;
use crate::{api, assets, pages, web};

/// Largest request body accepted anywhere (uploads will get their own, larger limit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler needs. Cheap to clone. The shop's parts are reached through it
/// (`state.orders`, `state.catalog`, …).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub shop: Shop,
    pub i18n: I18n,
    pub pages: crate::page_cache::PageCache,
    /// The header's account links for visitors without a session, per language (zh-CN, en).
    pub anonymous_nav: [std::sync::OnceLock<String>; 2],
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::Deref for Inner {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.shop
    }
}

impl AppState {
    /// The storefront over a shop (whose settings are `settings.shop()`).
    pub fn new(settings: Settings, shop: Shop) -> anyhow::Result<AppState> {
        let pages = crate::page_cache::PageCache::new(
            settings.server.page_cache_entries,
            settings.server.page_cache_mb.saturating_mul(1024 * 1024),
        );
        Ok(AppState(Arc::new(Inner {
            settings,
            shop,
            i18n: I18n::load()?,
            pages,
            anonymous_nav: Default::default(),
        })))
    }

    /// Opens the shop the settings describe (database migrated, search index open and in
    /// step) and the storefront over it.
    pub async fn open(settings: Settings, clock: Clock) -> anyhow::Result<AppState> {
        let shop = Shop::open(&settings.shop(), clock).await?;
        AppState::new(settings, shop)
    }

    pub fn today(&self) -> time::Date {
        self.clock.today_in_china()
    }
}

/// The whole site: pages, API, static files and images, with the layers every response passes.
pub fn router(state: AppState) -> Router {
    let https = state.settings.server.is_https();
    Router::new()
        .merge(pages::shared_router().layer(middleware::from_fn_with_state(
            state.clone(),
            crate::page_cache::serve_cached,
        )))
        .merge(pages::personal_router())
        .nest("/api/v1", api::router())
        .fallback(pages::not_found)
        // Errors render inside `identify`, so error pages get the visitor's header too.
        .layer(middleware::from_fn_with_state(state.clone(), render_errors))
        // Requests sent twice do their work once (it needs the visitor, and keeps answers as
        // rendered).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::idempotency::guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::session::identify,
        ))
        .merge(assets::router())
        .route("/healthz", axum::routing::get(api::health::healthz))
        // Outside the session and CSRF layers: Stripe signs its deliveries instead.
        .route(
            "/webhooks/stripe",
            axum::routing::post(api::staff::stripe_webhook),
        )
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        // A shop served over https tells browsers never to come over http (a year).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            https.then(|| HeaderValue::from_static("max-age=31536000")),
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        // The handler's time starts once its body is in.
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::transport::read_body,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::transport::shape_errors,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Turns an [`AppError`](crate::AppError) response into a page or a JSON body in the
/// requester's language.
async fn render_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let lang = Lang::from_parts(&parts);
    let path = parts.uri.path().to_owned();
    let response = next.run(Request::from_parts(parts, body)).await;
    rendered(&state, lang, &path, response)
}

/// `response` rendered, when it is an [`AppError`](crate::AppError)'s: a page, or JSON under
/// `/api/`.
pub(crate) fn rendered(state: &AppState, lang: Lang, path: &str, response: Response) -> Response {
    let Some(report) = response
        .extensions()
        .get::<crate::error::ErrorReport>()
        .cloned()
    else {
        return response;
    };
    let mut rendered = if path.starts_with("/api/") || path == "/healthz" {
        api::error_response(state, lang, &report)
    } else {
        pages::error_page(state, lang, path, &report)
    };
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        rendered
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    rendered
}

/// Serves until `shutdown` completes, with the search worker and the jobs running alongside.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let catalog = state.catalog.clone();
    let mut worker_stop = stop_rx.clone();
    let worker = tokio::spawn(async move {
        catalog
            .run_search_worker(async move {
                let _ = worker_stop.wait_for(|stop| *stop).await;
            })
            .await;
    });
    let jobs = tokio::spawn(crate::jobs::run(state.clone(), stop_rx.clone()));
    let server = &state.settings.server;
    let limits = crate::server::Limits {
        max_connections: crate::server::connection_cap(server.max_connections),
        header_timeout: server.header_timeout,
    };
    crate::server::serve(listener, router(state), limits, async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    })
    .await;
    let _ = worker.await;
    let _ = jobs.await;
    Ok(())
}
