//! Typed configuration: defaults, then an optional `jinguo.toml`, then `JINGUO_*` environment
//! variables, then command-line flags (the caller passes those as overrides). Secrets are held in
//! `secrecy` types so they never reach a log line.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default place for the embedded database, the search index and uploads.
pub const DEFAULT_DATA_DIR: &str = "data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "jinguo.toml";

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address `serve` listens on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where the embedded database, the embedded search index and uploads live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means a SQLite file in `data_dir`.
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Largest number of pooled database connections.
    #[serde(default = "default_db_max_connections")]
    pub db_max_connections: u32,
    /// The address people reach the shop at, used in links that leave the site (QR codes on
    /// packages point at `{public_url}/trace/{code}`).
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// Meilisearch server; unset means the embedded index.
    #[serde(default)]
    pub meili_url: Option<String>,
    #[serde(default)]
    pub meili_key: Option<SecretString>,
    #[serde(default = "default_meili_index")]
    pub meili_index: String,
    /// How long catalog reads (a product page's data, a listing page) are reused, in
    /// milliseconds; 0 turns the cache off. Writes through this process drop it at once.
    #[serde(default = "default_cache_ttl_ms")]
    pub cache_ttl_ms: u64,
    /// How long a search worker holds the outbox rows it claimed before another process may
    /// take them over (after a crash), in milliseconds.
    #[serde(default = "default_outbox_lease_ms")]
    pub outbox_lease_ms: u64,
    /// How long an unpaid order holds its stock, in minutes.
    #[serde(default = "default_order_hold_minutes")]
    pub order_hold_minutes: u64,
    /// Days after shipping when delivery counts as confirmed if the buyer has not said.
    #[serde(default = "default_auto_deliver_days")]
    pub auto_deliver_days: u64,
    /// Days after delivery during which a return may be asked for.
    #[serde(default = "default_return_days")]
    pub return_days: u64,
    /// Failed sign-ins tolerated per account within `login_window_secs`.
    #[serde(default = "default_login_limit_per_account")]
    pub login_limit_per_account: u32,
    /// Failed sign-ins tolerated per client address within `login_window_secs` (raise it for a
    /// load test from one machine).
    #[serde(default = "default_login_limit_per_address")]
    pub login_limit_per_address: u32,
    #[serde(default = "default_login_window_secs")]
    pub login_window_secs: u64,
    /// `standard` (argon2id, 19 MiB, 2 passes) or `fast` (for tests and load tests only).
    #[serde(default = "default_password_hash")]
    pub password_hash: String,
    /// The account buyers pay bank transfers into.
    #[serde(default = "default_payee_name")]
    pub payee_name: String,
    #[serde(default = "default_payee_bank")]
    pub payee_bank: String,
    #[serde(default = "default_payee_account")]
    pub payee_account: String,
    /// Shared secret of signed bank notifications (unset: refused).
    #[serde(default)]
    pub bank_notify_secret: Option<SecretString>,
    /// Mail relay for notification emails, e.g. `smtp://127.0.0.1:25`: plain SMTP to a relay on
    /// this host or the private network, which does TLS to the outside world (unset:
    /// notifications are only shown on the account pages).
    #[serde(default)]
    pub smtp_url: Option<SecretString>,
    #[serde(default = "default_mail_from")]
    pub mail_from: String,
    /// Stripe secret key (`sk_…`). Set: buyers pay through Stripe (card, Alipay, WeChat Pay) and
    /// payouts to producers with a connected account go as Connect transfers. Unset: bank
    /// transfer only.
    #[serde(default)]
    pub stripe_secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_…`), for `POST /webhooks/stripe`.
    #[serde(default)]
    pub stripe_webhook_secret: Option<SecretString>,
    /// The publishable key (`pk_…`) handed to Stripe's checkout on the payment page.
    #[serde(default)]
    pub stripe_publishable_key: String,
    /// Stripe's API address; only a test or a proxy sets it.
    #[serde(default)]
    pub stripe_base_url: Option<String>,
    /// Payment methods offered through Stripe, comma-separated, as the account supports them.
    #[serde(default = "default_stripe_methods")]
    pub stripe_payment_methods: String,
    /// The platform's fee on each completed sale, in basis points (100 = 1%).
    #[serde(default)]
    pub platform_fee_bp: u32,
    /// Producers owed less than this (in fen) wait for the next payout run.
    #[serde(default = "default_minimum_payout_fen")]
    pub minimum_payout_fen: i64,
    /// Log filter in `tracing` syntax, e.g. `info` or `jinguo=debug,sqlx=warn`.
    #[serde(default = "default_log")]
    pub log: String,
}

fn default_stripe_methods() -> String {
    "card,alipay,wechat_pay".to_owned()
}
fn default_minimum_payout_fen() -> i64 {
    10_000
}
fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}
fn default_db_max_connections() -> u32 {
    16
}
fn default_public_url() -> String {
    format!("http://{DEFAULT_LISTEN}")
}
fn default_meili_index() -> String {
    "products".to_owned()
}
fn default_cache_ttl_ms() -> u64 {
    2_000
}
fn default_outbox_lease_ms() -> u64 {
    180_000
}
fn default_order_hold_minutes() -> u64 {
    15
}
fn default_auto_deliver_days() -> u64 {
    10
}
fn default_return_days() -> u64 {
    7
}
fn default_login_limit_per_account() -> u32 {
    5
}
fn default_login_limit_per_address() -> u32 {
    50
}
fn default_login_window_secs() -> u64 {
    900
}
fn default_password_hash() -> String {
    "standard".to_owned()
}
fn default_payee_name() -> String {
    "巾帼集市（演示账户）".to_owned()
}
fn default_payee_bank() -> String {
    "演示银行重庆分行".to_owned()
}
fn default_payee_account() -> String {
    "6200 0000 0000 0000 000".to_owned()
}
fn default_mail_from() -> String {
    "巾帼集市 <no-reply@jinguo.invalid>".to_owned()
}
fn default_log() -> String {
    // meilisearch-sdk warns about every 404, including the expected "no such index yet".
    "info,meilisearch_sdk=error".to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

impl Settings {
    /// Loads settings. `file` is the configuration file named on the command line (it must
    /// exist); without one, `./jinguo.toml` is read if present. `overrides` are command-line
    /// values, serialized with unset ones skipped.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        let file = match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => path.to_owned(),
            None => PathBuf::from(DEFAULT_CONFIG_FILE),
        };
        Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("JINGUO_").ignore(&["test_postgres_url", "test_meili_url"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    /// Settings with every default, for tests and tools.
    pub fn defaults() -> Self {
        Figment::new()
            .extract()
            .unwrap_or_else(|_| unreachable!("every field has a default"))
    }

    /// The database URL to open: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let path = self.data_dir.join("jinguo.db");
                SecretString::from(format!("sqlite://{}", path.display()))
            }
        }
    }

    pub fn search_index_dir(&self) -> PathBuf {
        self.data_dir.join("search")
    }
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(url: &SecretString) -> String {
    let raw = url.expose_secret();
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, which has one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "(unparseable database URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let url = SecretString::from("postgres://shop:hunter2@db:5432/jinguo");
        assert_eq!(redact_url(&url), "postgres://shop:***@db:5432/jinguo");
        let url = SecretString::from("sqlite://data/jinguo.db");
        assert_eq!(redact_url(&url), "sqlite://data/jinguo.db");
    }

    #[test]
    fn defaults_put_sqlite_in_the_data_dir() {
        let settings = Settings::defaults();
        assert_eq!(settings.listen, "127.0.0.1:8080");
        assert_eq!(
            settings.database_url().expose_secret(),
            "sqlite://data/jinguo.db"
        );
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let err = Settings::load(Some(Path::new("/nonexistent/jinguo.toml")), ());
        assert!(matches!(err, Err(ConfigError::MissingFile(_))));
    }
}
