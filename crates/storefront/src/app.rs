//! The application: its state, its router and serving it. `main` builds an [`App`] from
//! settings; tests build one over a test database and drive [`router`] directly or bind port 0.

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use http::{HeaderValue, header};
use jinguo_accounts::{Accounts, HashCost, Limits};
use jinguo_catalog::Catalog;
use jinguo_catalog::demo::{self, SeedOptions, SeedReport};
use jinguo_catalog::search::ProductSearch;
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_catalog::search::meili::MeiliSearch;
use jinguo_common::config::Settings;
use jinguo_common::money::Fen;
use jinguo_common::{Clock, Db};
use jinguo_order::payment::{BankTransfer, Payee, PaymentProvider};
use jinguo_order::state::Windows;
use jinguo_order::{OrderSettings, Orders};
use jinguo_settlement::stripe::{StripeConfig, StripeGateway};
use jinguo_settlement::{Escrow, FeeRate, Settlement, SettlementSettings, StripeProvider};
use secrecy::ExposeSecret;
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
use crate::{api, assets, pages};

/// Largest request body accepted anywhere (uploads will get their own, larger limit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub catalog: Catalog,
    pub accounts: Accounts,
    pub orders: Orders,
    pub settlement: Settlement,
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

impl AppState {
    /// The state over an open catalog: accounts and orders on the same database and clock.
    pub fn new(settings: Settings, catalog: Catalog) -> anyhow::Result<AppState> {
        let db = catalog.db().clone();
        let clock = catalog.clock().clone();
        let cost = match settings.password_hash.as_str() {
            "fast" => HashCost::Fast,
            "standard" => HashCost::Standard,
            other => anyhow::bail!("password_hash is “{other}”; it is standard or fast"),
        };
        let limits = Limits {
            per_login: settings.login_limit_per_account,
            per_address: settings.login_limit_per_address,
            window_ms: i64::try_from(settings.login_window_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
        };
        let accounts = Accounts::new(db.clone(), clock.clone(), cost, limits);
        let payee = Payee {
            name: settings.payee_name.clone(),
            bank: settings.payee_bank.clone(),
            account_no: settings.payee_account.clone(),
        };
        let secret = settings
            .bank_notify_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes().to_vec());
        let bank: Arc<dyn PaymentProvider> = Arc::new(BankTransfer::new(db.clone(), payee, secret));
        let day = 86_400_000_i64;
        let order_settings = OrderSettings {
            hold_ms: i64::try_from(settings.order_hold_minutes).unwrap_or(15) * 60_000,
            windows: Windows {
                auto_deliver_ms: i64::try_from(settings.auto_deliver_days).unwrap_or(10) * day,
                return_ms: i64::try_from(settings.return_days).unwrap_or(7) * day,
            },
        };
        let stripe = stripe_gateway(&settings)?;
        let fee = FeeRate::basis_points(settings.platform_fee_bp)?;
        // With Stripe, buyers pay through it by default; bank transfer is always offered (how
        // partner units and institutions pay).
        let orders = match &stripe {
            Some(gateway) => {
                let stripe: Arc<dyn PaymentProvider> = Arc::new(StripeProvider::new(
                    db.clone(),
                    clock.clone(),
                    gateway.clone(),
                ));
                Orders::new(db.clone(), clock, catalog.clone(), order_settings, stripe)
                    .with_payment(bank)
            }
            None => Orders::new(db.clone(), clock, catalog.clone(), order_settings, bank),
        }
        .with_books(Arc::new(Escrow::new(fee)));
        let settlement = Settlement::new(
            db,
            orders.clone(),
            stripe,
            SettlementSettings {
                minimum_payout: Fen(settings.minimum_payout_fen),
                fee,
            },
        );
        Ok(AppState(Arc::new(Inner {
            settings,
            catalog,
            accounts,
            orders,
            settlement,
            i18n: I18n::load()?,
            pages: Default::default(),
            anonymous_nav: Default::default(),
        })))
    }

    pub fn today(&self) -> time::Date {
        self.catalog.clock().today_in_china()
    }
}

/// The Stripe gateway when a secret key is configured; the webhook secret must come with it.
pub(crate) fn stripe_gateway(settings: &Settings) -> anyhow::Result<Option<Arc<StripeGateway>>> {
    let Some(secret_key) = settings.stripe_secret_key.clone() else {
        return Ok(None);
    };
    let webhook_secret = settings.stripe_webhook_secret.clone().context(
        "JINGUO_STRIPE_SECRET_KEY is set without JINGUO_STRIPE_WEBHOOK_SECRET; payments could not be confirmed",
    )?;
    let gateway = StripeGateway::new(StripeConfig {
        secret_key,
        webhook_secret,
        publishable_key: settings.stripe_publishable_key.clone(),
        base_url: settings.stripe_base_url.clone(),
        payment_method_types: settings
            .stripe_payment_methods
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect(),
    })
    .context("cannot set up Stripe")?;
    Ok(Some(Arc::new(gateway)))
}

/// A ready application: database migrated, search index open and in step.
pub struct App {
    pub state: AppState,
}

impl App {
    /// Opens and migrates the database and opens the search index, rebuilding it from the
    /// database when it is missing or out of step.
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<App> {
        let db = Db::connect(&settings.database_url(), settings.db_max_connections).await?;
        db.migrate().await?;
        let (search, created) = open_search(&settings).await?;
        let remote = settings.meili_url.is_some();
        let ttl = Duration::from_millis(settings.cache_ttl_ms);
        let catalog = Catalog::with_cache_ttl(db, clock, search, ttl)
            .with_outbox_lease(Duration::from_millis(settings.outbox_lease_ms));
        match catalog.ensure_search_index(created).await {
            Ok(_) => {}
            // A search server that is down must not keep the shop closed: pages show a notice
            // and the outbox holds changes until it is back.
            Err(error) if remote => {
                tracing::warn!(%error, "search index not checked at start-up; search shows a notice until it answers");
            }
            Err(error) => return Err(error).context("cannot build the search index"),
        }
        Ok(App {
            state: AppState::new(settings, catalog)?,
        })
    }

    /// Adds the demo catalog if the shop has no products yet; returns what was added.
    pub async fn seed_demo_if_empty(
        &self,
        progress: demo::Progress<'_>,
    ) -> anyhow::Result<Option<SeedReport>> {
        if self.state.catalog.stats().await?.products > 0 {
            return Ok(None);
        }
        let report = demo::seed(&self.state.catalog, SeedOptions::default(), progress).await?;
        self.state.catalog.sync_search().await?;
        Ok(Some(report))
    }
}

/// The configured search backend: Meilisearch when `meili_url` is set, else the embedded index
/// in the data directory. Returns whether the index was just created (and needs filling).
async fn open_search(settings: &Settings) -> anyhow::Result<(Arc<dyn ProductSearch>, bool)> {
    if let Some(url) = &settings.meili_url {
        let key = settings
            .meili_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned());
        let meili = MeiliSearch::new(url, key.as_deref(), &settings.meili_index)
            .with_context(|| format!("Meilisearch URL {url}"))?;
        match meili.apply_settings().await {
            Ok(()) => tracing::info!(%url, index = %settings.meili_index, "search: Meilisearch"),
            Err(error) => {
                tracing::warn!(%url, %error, "Meilisearch is not answering; search shows a notice until it does")
            }
        }
        return Ok((Arc::new(meili), false));
    }
    let index_dir = settings.search_index_dir();
    let (search, created) = EmbeddedSearch::open(&index_dir)
        .with_context(|| format!("cannot open the search index in {}", index_dir.display()))?;
    Ok((Arc::new(search), created))
}

/// The whole site: pages, API, static files and images, with the layers every response passes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::router().layer(middleware::from_fn_with_state(
            state.clone(),
            crate::page_cache::serve_cached,
        )))
        .merge(pages::personal_router())
        .nest("/api/v1", api::router())
        .fallback(pages::not_found)
        // Errors render inside `identify`, so error pages get the visitor's header too.
        .layer(middleware::from_fn_with_state(state.clone(), render_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::identify,
        ))
        .merge(assets::router())
        .route("/healthz", axum::routing::get(api::health::healthz))
        // Outside the session and CSRF layers: Stripe signs its deliveries instead.
        .route(
            "/webhooks/stripe",
            axum::routing::post(api::settlement::stripe_webhook),
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
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
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
    match response
        .extensions()
        .get::<crate::error::ErrorReport>()
        .cloned()
    {
        Some(report) if path.starts_with("/api/") || path == "/healthz" => {
            api::error_response(&state, lang, &report)
        }
        Some(report) => pages::error_page(&state, lang, &path, &report),
        None => response,
    }
}

/// Serves until `shutdown` completes, with the search worker running alongside.
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
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = worker.await;
    let _ = jobs.await;
    result
}
