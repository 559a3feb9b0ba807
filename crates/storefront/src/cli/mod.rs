//! The `jinguo` command line: `serve`, `migrate`, `seed --demo`, `reindex`, accounts and money
//! (settle, ledger, payouts). Settings come from defaults, then `jinguo.toml`, then `JINGUO_*`
//! variables, then these flags (see [`crate::settings`]).

mod money;
mod users;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_common::Clock;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::AppState;
use crate::settings::Settings;

#[derive(Parser, Debug)]
#[command(
    name = "jinguo",
    version,
    about = "巾帼集市 Jinguo Market: goods from the women's workshops, bases, cooperatives and households of Chongqing",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command reads. Each can also be set in `jinguo.toml` (README: Configuration).
#[derive(Args, Debug, Serialize, Default)]
struct GlobalArgs {
    /// Configuration file (TOML); without it, ./jinguo.toml is read when present
    #[arg(long, global = true, env = "JINGUO_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB [default: a SQLite file
    /// in the data directory]
    #[arg(
        long,
        global = true,
        env = "JINGUO_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Largest number of pooled database connections [default: 16]
    #[arg(
        long,
        global = true,
        env = "JINGUO_DB_MAX_CONNECTIONS",
        value_name = "N"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    db_max_connections: Option<u32>,
    /// Directory for the embedded database and the embedded search index [default: data]
    #[arg(long, global = true, env = "JINGUO_DATA_DIR", value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// How long catalog reads are reused, in milliseconds; 0 turns caching off [default: 2000]
    #[arg(long, global = true, env = "JINGUO_CACHE_TTL_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_ttl_ms: Option<u64>,
    /// Meilisearch server, e.g. http://127.0.0.1:7700; unset uses the embedded search index
    #[arg(long, global = true, env = "JINGUO_MEILI_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    meili_url: Option<String>,
    /// Meilisearch API key (prefer the environment variable to the flag)
    #[arg(
        long,
        global = true,
        env = "JINGUO_MEILI_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    meili_key: Option<String>,
    /// Meilisearch index name [default: products]
    #[arg(long, global = true, env = "JINGUO_MEILI_INDEX", value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    meili_index: Option<String>,
    /// How long a search worker holds outbox rows it claimed before another process may take
    /// them over after a crash, in milliseconds [default: 180000]
    #[arg(long, global = true, env = "JINGUO_OUTBOX_LEASE_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    outbox_lease_ms: Option<u64>,
    /// Log filter, e.g. info or jinguo=debug,sqlx=warn [default: info,meilisearch_sdk=error]
    #[arg(long, global = true, env = "JINGUO_LOG", value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Migrate the database, then serve the shop
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit
    Migrate,
    /// Add data to the shop
    Seed(SeedArgs),
    /// Rebuild the search index from the database (or, with --check, compare them)
    Reindex(ReindexArgs),
    /// Manage accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Pay producers: book a payout for every producer owed at least the minimum, then send the
    /// Stripe ones (safe to run twice, even at once)
    Settle(SettleArgs),
    /// The ledger
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Bank payouts: the batch-payment file for the bank, and the bank's answer
    #[command(subcommand)]
    Payouts(PayoutsCommand),
}

/// The settings `serve` has no flag for (secrets belong in the environment or the file).
const SERVE_AFTER_HELP: &str = "\
Set only in jinguo.toml or the environment (see README.md, Configuration):
  JINGUO_STRIPE_SECRET_KEY, JINGUO_STRIPE_WEBHOOK_SECRET, JINGUO_STRIPE_PUBLISHABLE_KEY
                    ([stripe]: all three or none), JINGUO_STRIPE_BASE_URL,
                    JINGUO_STRIPE_PAYMENT_METHODS
  JINGUO_BANK_NOTIFY_SECRET        ([bank] notify_secret)
  JINGUO_PLATFORM_FEE_BP           ([settlement] platform_fee_bp)
  JINGUO_MINIMUM_PAYOUT_FEN        ([settlement] minimum_payout_fen)
  JINGUO_MAX_CONNECTIONS           ([server] max_connections; unset: from the open-file limit)
  JINGUO_HEADER_TIMEOUT_SECS       ([server] header_timeout_secs, 10; also the idle keep-alive)
  JINGUO_BODY_TIMEOUT_SECS         ([server] body_timeout_secs, 30; then 408)
  JINGUO_PAGE_CACHE_ENTRIES, JINGUO_PAGE_CACHE_MB  ([server] rendered pages kept: 4000, 64)
In jinguo.toml each setting sits in its group: [database] url, [server] listen, [orders]
hold_minutes, ...";

#[derive(Args, Debug)]
struct SettleArgs {
    /// Producers owed less than this many fen wait for the next run [default: the
    /// minimum_payout_fen setting, 10000]
    #[arg(long, value_name = "FEN")]
    minimum_fen: Option<i64>,
}

#[derive(Subcommand, Debug)]
enum LedgerCommand {
    /// Check that every transaction balances and debits equal credits; exits 1 when not
    Check,
    /// Correct a transaction booked in error by posting its exact reverse (once)
    Reverse {
        /// The transaction's id
        #[arg(value_name = "ID")]
        id: i64,
        /// Why, kept with the reversal
        #[arg(long, value_name = "TEXT")]
        memo: String,
    },
}

#[derive(Subcommand, Debug)]
enum PayoutsCommand {
    /// Write a batch's unpaid bank payouts as the CSV a bank's batch-payment upload takes
    File {
        /// The batch number `settle` printed
        #[arg(long, value_name = "N")]
        batch: jinguo_settlement::BatchId,
        /// Where to write it [default: standard output]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Mark bank payouts paid from the bank's result, lines `payout id,bank reference`; a bad
    /// line is named and nothing is applied
    Confirm {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account (the first staff account, scripted set-ups)
    Create(UserCreateArgs),
}

#[derive(Args, Debug)]
pub struct UserCreateArgs {
    /// consumer, producer (staff of one producer; needs --producer) or staff (federation)
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The producer's slug, for --role producer
    #[arg(long, value_name = "SLUG")]
    pub producer: Option<String>,
    /// A mainland mobile number or an email address
    #[arg(long, value_name = "LOGIN")]
    pub login: String,
    /// 8 to 128 characters (prefer JINGUO_USER_PASSWORD to keep it out of the shell history)
    #[arg(
        long,
        env = "JINGUO_USER_PASSWORD",
        hide_env_values = true,
        value_name = "PW"
    )]
    pub password: String,
}

#[derive(Args, Debug, Serialize, Default)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "JINGUO_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    /// The address people reach the shop at, for links that leave the site (QR codes on
    /// packages) [default: http://127.0.0.1:8080]
    #[arg(long, env = "JINGUO_PUBLIC_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    /// Seed the demo catalog first if the shop has no products
    #[arg(long, env = "JINGUO_DEMO")]
    #[serde(skip)]
    demo: bool,
    /// Minutes an unpaid order paid by card or wallet holds its stock before it is cancelled
    /// [default: 15]
    #[arg(long, env = "JINGUO_ORDER_HOLD_MINUTES", value_name = "MIN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    order_hold_minutes: Option<u64>,
    /// Days an unpaid order paid by bank transfer holds its stock; its buyer is reminded a day
    /// before [default: 3]
    #[arg(long, env = "JINGUO_BANK_TRANSFER_HOLD_DAYS", value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_transfer_hold_days: Option<u64>,
    /// Days after shipping when delivery counts as confirmed [default: 10]
    #[arg(long, env = "JINGUO_AUTO_DELIVER_DAYS", value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_deliver_days: Option<u64>,
    /// Days after delivery during which a return may be asked for [default: 7]
    #[arg(long, env = "JINGUO_RETURN_DAYS", value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    return_days: Option<u64>,
    /// Failed sign-ins allowed to one account from one address in the window; that address
    /// is then refused for it, its owner elsewhere is not [default: 5]
    #[arg(
        long,
        env = "JINGUO_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS",
        value_name = "N"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    login_limit_per_account_and_address: Option<u32>,
    /// Failed sign-ins allowed per client address in the window; raise it for a load test
    /// from one machine [default: 50]
    #[arg(long, env = "JINGUO_LOGIN_LIMIT_PER_ADDRESS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    login_limit_per_address: Option<u32>,
    /// Failed sign-ins to one account from anywhere in the window after which each further
    /// try waits, 1 s doubling to 16 s [default: 10]
    #[arg(long, env = "JINGUO_LOGIN_SLOWDOWN_AFTER", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    login_slowdown_after: Option<u32>,
    /// Registrations tried per client address in the window [default: 10]
    #[arg(long, env = "JINGUO_REGISTRATIONS_PER_ADDRESS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    registrations_per_address: Option<u32>,
    /// The sign-in and registration limits' window in seconds [default: 900]
    #[arg(long, env = "JINGUO_LOGIN_WINDOW_SECS", value_name = "SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    login_window_secs: Option<u64>,
    /// Password hashing: standard (argon2id, 19 MiB, 2 passes) or fast (tests and load tests
    /// only) [default: standard]
    #[arg(long, env = "JINGUO_PASSWORD_HASH", value_name = "COST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    /// Bank transfers: the payee's account name [default: a demo account]
    #[arg(long, env = "JINGUO_PAYEE_NAME", value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    payee_name: Option<String>,
    /// Bank transfers: the payee's bank and branch
    #[arg(long, env = "JINGUO_PAYEE_BANK", value_name = "BANK")]
    #[serde(skip_serializing_if = "Option::is_none")]
    payee_bank: Option<String>,
    /// Bank transfers: the payee's account number
    #[arg(long, env = "JINGUO_PAYEE_ACCOUNT", value_name = "NO")]
    #[serde(skip_serializing_if = "Option::is_none")]
    payee_account: Option<String>,
    /// Mail relay for notification emails, smtp://[USER:PASS@]HOST[:PORT] (unset: notifications
    /// are only shown on the account pages)
    #[arg(
        long,
        env = "JINGUO_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp_url: Option<String>,
    /// The sender of notification emails [default: 巾帼集市 <no-reply@jinguo.invalid>]
    #[arg(long, env = "JINGUO_MAIL_FROM", value_name = "MAILBOX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    mail_from: Option<String>,
}

#[derive(Args, Debug)]
struct ReindexArgs {
    /// Compare the index with the database document by document and change nothing; exits
    /// with status 1 when they differ
    #[arg(long)]
    check: bool,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true))]
struct SeedArgs {
    /// The demo catalog: producers, products, batches and pictures (idempotent)
    #[arg(long, group = "what")]
    demo: bool,
    /// A generated catalog of this many products (1 to 1000000) from one producer per twenty,
    /// made from the demo's, for benchmarks and trying the shop at scale (idempotent)
    #[arg(long, group = "what", value_name = "PRODUCTS",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    scale: Option<u32>,
}

#[derive(Serialize)]
struct Overrides<'a> {
    #[serde(flatten)]
    global: &'a GlobalArgs,
    #[serde(flatten)]
    serve: Option<&'a ServeArgs>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(args) => Some(&**args),
        _ => None,
    };
    let overrides = Overrides {
        global: &cli.global,
        serve: serve_args,
    };
    let settings = match Settings::load(cli.global.config.as_deref(), &overrides) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("jinguo: {error}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("jinguo: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jinguo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let db = jinguo_common::Db::connect(&settings.database_url(), 1).await?;
            db.migrate().await?;
            println!("migrated {} ({})", db.redacted_url(), db.backend().name());
            Ok(())
        }
        Command::Seed(SeedArgs {
            scale: Some(products),
            ..
        }) => {
            let app = AppState::open(settings, Clock::system()).await?;
            let bar = progress_bar("writing products");
            let report = demo::seed_scale(&app.catalog, products as usize, &|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
            bar.finish_and_clear();
            eprintln!("indexing for search…");
            app.catalog.sync_search().await?;
            println!(
                "scale catalog: added {} producers, {} products",
                report.producers, report.products
            );
            Ok(())
        }
        Command::Seed(_) => {
            let app = AppState::open(settings, Clock::system()).await?;
            let bar = progress_bar("drawing pictures");
            let report = demo::seed(&app.catalog, SeedOptions::default(), &|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
            bar.finish_and_clear();
            app.catalog.sync_search().await?;
            println!(
                "demo catalog: added {} producers, {} products, {} batches, {} pictures",
                report.producers, report.products, report.batches, report.pictures
            );
            Ok(())
        }
        Command::Reindex(ReindexArgs { check: true }) => {
            let app = AppState::open(settings, Clock::system()).await?;
            let check = app.catalog.check_search_index().await?;
            if check.in_step() {
                println!(
                    "the search index matches the database ({} products)",
                    check.products
                );
                return Ok(());
            }
            let ids = |v: &[jinguo_catalog::ProductId]| {
                v.iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            anyhow::bail!(
                "the search index differs from the database: missing [{}], extra [{}], different [{}]; \
                 `jinguo reindex` rebuilds it",
                ids(&check.missing),
                ids(&check.extra),
                ids(&check.different)
            )
        }
        Command::Reindex(ReindexArgs { check: false }) => {
            let app = AppState::open(settings, Clock::system()).await?;
            let bar = Arc::new(progress_bar("indexing products"));
            let tick = bar.clone();
            let n = app
                .catalog
                .reindex(Arc::new(move |done, total| {
                    tick.set_length(total);
                    tick.set_position(done);
                }))
                .await?;
            bar.finish_and_clear();
            println!(
                "reindexed {n} products into the {} search index",
                app.catalog.search_backend().name()
            );
            Ok(())
        }
        Command::Serve(args) => serve(settings, args.demo).await,
        Command::User(UserCommand::Create(args)) => users::create(settings, args).await,
        Command::Settle(args) => money::settle(settings, args.minimum_fen).await,
        Command::Ledger(LedgerCommand::Check) => money::ledger_check(settings).await,
        Command::Ledger(LedgerCommand::Reverse { id, memo }) => {
            money::ledger_reverse(settings, id, &memo).await
        }
        Command::Payouts(PayoutsCommand::File { batch, out }) => {
            money::bank_file(settings, batch, out).await
        }
        Command::Payouts(PayoutsCommand::Confirm { file }) => money::confirm(settings, &file).await,
    }
}

fn progress_bar(message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let listen = settings.server.listen;
    let app = AppState::open(settings, Clock::system()).await?;
    if demo {
        let bar = progress_bar("demo catalog: drawing pictures");
        if let Some(report) = app
            .seed_demo_if_empty(&|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?
        {
            bar.finish_and_clear();
            tracing::info!(
                products = report.products,
                producers = report.producers,
                "seeded the demo catalog"
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = app.db.backend().name(), "serving");
    println!("jinguo: serving on http://{addr}");
    crate::app::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
