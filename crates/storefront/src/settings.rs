//! The settings `jinguo` runs with: defaults, then `jinguo.toml` in the working directory (or
//! `--config FILE`), then `JINGUO_*` environment variables, then command-line flags. Each
//! domain crate owns its group of settings, typed and with its defaults beside it (the order
//! crate's `orders`, settlement's `stripe`, …); this module adds the storefront's own groups
//! (`server`, `mail`, `log`) and knows each setting's three names: its key in the file (the
//! group, then the name), its environment variable and its flag ([`NAMES`]). Everything is
//! parsed once, at start-up; a setting that cannot be read stops `jinguo` with one line
//! naming it.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jinguo_accounts::AccountSettings;
use jinguo_catalog::CatalogSettings;
use jinguo_common::config::DatabaseSettings;
use jinguo_common::config::secs;
use jinguo_order::{BankSettings, OrderSettings};
use jinguo_settlement::{SettlementSettings, StripeSettings};
use jinguo_shop::ShopSettings;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_CONFIG_FILE: &str = "jinguo.toml";

/// Every setting. The file's layout is this struct's: `data_dir` at the top, then one table
/// per group (`[orders]`, `[stripe]`, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded database, the embedded search index and uploads live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub catalog: CatalogSettings,
    pub accounts: AccountSettings,
    pub orders: OrderSettings,
    pub bank: BankSettings,
    pub settlement: SettlementSettings,
    /// Complete or absent: a shop with half a Stripe account is refused at start-up.
    pub stripe: Option<StripeSettings>,
    pub server: ServerSettings,
    pub mail: MailSettings,
    pub log: LogSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::around(ShopSettings::default())
    }
}

/// The `server` group.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The address `serve` listens on.
    pub listen: SocketAddr,
    /// The address people reach the shop at, for links that leave the site (QR codes on
    /// packages point at `{public_url}/trace/{code}`). Cookies are `Secure` when it is https.
    pub public_url: url::Url,
    /// Connections served at once; further ones wait in the listen queue (unset: as many as
    /// the open-file limit leaves room for, at most 4096).
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers, also while a kept-alive connection
    /// waits for its next request (an idle connection is closed then).
    #[serde(rename = "header_timeout_secs", with = "secs")]
    pub header_timeout: Duration,
    /// Time a client has to send a request's whole body (then 408).
    #[serde(rename = "body_timeout_secs", with = "secs")]
    pub body_timeout: Duration,
    /// Most rendered pages kept for reuse.
    pub page_cache_entries: usize,
    /// Most megabytes of rendered pages kept for reuse.
    pub page_cache_mb: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], 8080));
        ServerSettings {
            listen,
            public_url: url::Url::parse(&format!("http://{listen}"))
                .unwrap_or_else(|_| unreachable!("a socket address makes a URL")),
            max_connections: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: crate::web::transport::BODY_TIMEOUT,
            page_cache_entries: crate::page_cache::DEFAULT_ENTRIES,
            page_cache_mb: crate::page_cache::DEFAULT_BYTES / (1024 * 1024),
        }
    }
}

impl ServerSettings {
    /// The public address without a trailing slash, to put paths after.
    pub fn base_url(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The `mail` group: notification emails.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// A relay, `smtp://[USER:PASS@]HOST[:PORT]`: plain SMTP to a relay on this host or the
    /// private network, which does TLS to the outside world (unset: notifications are only
    /// shown on the account pages).
    pub smtp_url: Option<SecretString>,
    /// The sender, e.g. `巾帼集市 <no-reply@jinguo.invalid>`.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            from: "巾帼集市 <no-reply@jinguo.invalid>".to_owned(),
        }
    }
}

/// The `log` group.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter, e.g. `info` or `jinguo=debug,sqlx=warn`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        // meilisearch-sdk warns about every 404, including the expected "no such index yet".
        LogSettings {
            filter: "info,meilisearch_sdk=error".to_owned(),
        }
    }
}

/// Each setting's flat name (its environment variable is `JINGUO_` and the name in capitals;
/// its flag, where it has one, is `--` and the name with dashes) and its key in the file.
pub const NAMES: &[(&str, &str)] = &[
    ("data_dir", "data_dir"),
    ("database_url", "database.url"),
    ("db_max_connections", "database.max_connections"),
    ("cache_ttl_ms", "catalog.cache_ttl_ms"),
    ("outbox_lease_ms", "catalog.outbox_lease_ms"),
    ("meili_url", "catalog.meili_url"),
    ("meili_key", "catalog.meili_key"),
    ("meili_index", "catalog.meili_index"),
    ("password_hash", "accounts.password_hash"),
    (
        "login_limit_per_account_and_address",
        "accounts.login_limit_per_account_and_address",
    ),
    (
        "login_limit_per_address",
        "accounts.login_limit_per_address",
    ),
    ("login_slowdown_after", "accounts.login_slowdown_after"),
    (
        "registrations_per_address",
        "accounts.registrations_per_address",
    ),
    ("login_window_secs", "accounts.login_window_secs"),
    ("order_hold_minutes", "orders.hold_minutes"),
    ("bank_transfer_hold_days", "orders.bank_transfer_hold_days"),
    ("auto_deliver_days", "orders.auto_deliver_days"),
    ("return_days", "orders.return_days"),
    ("payee_name", "bank.payee_name"),
    ("payee_bank", "bank.payee_bank"),
    ("payee_account", "bank.payee_account"),
    ("bank_notify_secret", "bank.notify_secret"),
    ("platform_fee_bp", "settlement.platform_fee_bp"),
    ("minimum_payout_fen", "settlement.minimum_payout_fen"),
    ("stripe_secret_key", "stripe.secret_key"),
    ("stripe_webhook_secret", "stripe.webhook_secret"),
    ("stripe_publishable_key", "stripe.publishable_key"),
    ("stripe_base_url", "stripe.base_url"),
    ("stripe_payment_methods", "stripe.payment_methods"),
    ("listen", "server.listen"),
    ("public_url", "server.public_url"),
    ("max_connections", "server.max_connections"),
    ("header_timeout_secs", "server.header_timeout_secs"),
    ("body_timeout_secs", "server.body_timeout_secs"),
    ("page_cache_entries", "server.page_cache_entries"),
    ("page_cache_mb", "server.page_cache_mb"),
    ("smtp_url", "mail.smtp_url"),
    ("mail_from", "mail.from"),
    ("log", "log.filter"),
];

/// `JINGUO_*` variables that are not settings of `jinguo serve` (tests', benchmarks' and
/// commands' own), left alone.
const OTHER_VARIABLES: &[&str] = &["config", "demo", "user_password", "require_localstripe"];

fn key_of(flat: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(flat))
        .map(|(_, key)| *key)
}

/// The environment variable of a file key, for messages.
pub fn variable_of(key: &str) -> Option<String> {
    NAMES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(name, _)| format!("JINGUO_{}", name.to_ascii_uppercase()))
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// One line per setting that cannot be read, naming it.
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Loads settings. `file` is the configuration file named on the command line (it must
    /// exist); without one, `./jinguo.toml` is read if present. `overrides` are command-line
    /// values by their flat names ([`NAMES`]), with unset ones left out.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, SettingsError> {
        let file = match file {
            Some(path) if !path.exists() => return Err(SettingsError::MissingFile(path.into())),
            Some(path) => path.to_owned(),
            None => PathBuf::from(DEFAULT_CONFIG_FILE),
        };
        for (name, _) in std::env::vars() {
            if let Some(rest) = name.strip_prefix("JINGUO_") {
                let rest = rest.to_ascii_lowercase();
                let known = key_of(&rest).is_some()
                    || OTHER_VARIABLES.contains(&rest.as_str())
                    || rest.starts_with("test_")
                    || rest.starts_with("bench_");
                if !known {
                    eprintln!(
                        "jinguo: {name} is not a setting; it is ignored (see jinguo serve --help)"
                    );
                }
            }
        }
        let env = Env::prefixed("JINGUO_").filter_map(|name| key_of(name.as_str()).map(Into::into));
        Figment::new()
            .merge(Toml::file(file))
            .merge(env)
            .merge(Serialized::defaults(nest(overrides)))
            .extract()
            .map_err(|e| SettingsError::Invalid(explain(e)))
    }

    /// The storefront's defaults around the domain's settings `shop` (for tests that build the
    /// shop first).
    pub fn around(shop: ShopSettings) -> Settings {
        Settings {
            data_dir: shop.data_dir,
            database: shop.database,
            catalog: shop.catalog,
            accounts: shop.accounts,
            orders: shop.orders,
            bank: shop.bank,
            settlement: shop.settlement,
            stripe: shop.stripe,
            server: ServerSettings::default(),
            mail: MailSettings::default(),
            log: LogSettings::default(),
        }
    }

    /// The domain's settings, for [`jinguo_shop::Shop`].
    pub fn shop(&self) -> ShopSettings {
        ShopSettings {
            data_dir: self.data_dir.clone(),
            database: self.database.clone(),
            catalog: self.catalog.clone(),
            accounts: self.accounts.clone(),
            orders: self.orders,
            bank: self.bank.clone(),
            settlement: self.settlement,
            stripe: self.stripe.clone(),
        }
    }

    pub fn database_url(&self) -> SecretString {
        self.database.url_in(&self.data_dir)
    }
}

/// Command-line values by flat name, nested as the file's keys.
fn nest(overrides: impl Serialize) -> serde_json::Value {
    let mut nested = serde_json::Map::new();
    if let Ok(serde_json::Value::Object(flat)) = serde_json::to_value(overrides) {
        for (name, value) in flat {
            let Some(key) = key_of(&name) else { continue };
            let mut table = &mut nested;
            let mut parts = key.split('.').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    table.insert(part.to_owned(), value.clone());
                } else {
                    let entry = table
                        .entry(part.to_owned())
                        .or_insert_with(|| serde_json::Value::Object(Default::default()));
                    let serde_json::Value::Object(inner) = entry else {
                        break;
                    };
                    table = inner;
                }
            }
        }
    }
    serde_json::Value::Object(nested)
}

/// Each problem in one line, naming the setting by its key and its environment variable.
fn explain(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            if let figment::error::Kind::MissingField(field) = &e.kind {
                path.push(field.to_string());
            }
            let key = path.join(".");
            let named = match variable_of(&key) {
                Some(variable) => format!("setting {key} ({variable})"),
                None if key.is_empty() => "settings".to_owned(),
                None => format!("setting {key}"),
            };
            match &e.kind {
                figment::error::Kind::MissingField(_) if path.first().map(String::as_str) == Some("stripe") => {
                    format!(
                        "{named} is missing: Stripe needs its secret key, webhook secret and publishable key together (JINGUO_STRIPE_SECRET_KEY, JINGUO_STRIPE_WEBHOOK_SECRET, JINGUO_STRIPE_PUBLISHABLE_KEY), or none of them"
                    )
                }
                figment::error::Kind::MissingField(_) => format!("{named} is missing"),
                kind => format!("{named}: {kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_put_sqlite_in_the_data_dir() {
        let settings = Settings::default();
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.database_url().expose_secret(),
            "sqlite://data/jinguo.db"
        );
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let err = Settings::load(Some(Path::new("/nonexistent/jinguo.toml")), ());
        assert!(matches!(err, Err(SettingsError::MissingFile(_))));
    }

    #[test]
    fn flags_land_in_their_groups() {
        #[derive(Serialize)]
        struct Flags {
            order_hold_minutes: u64,
            listen: &'static str,
        }
        let nested = nest(Flags {
            order_hold_minutes: 30,
            listen: "0.0.0.0:9000",
        });
        assert_eq!(nested["orders"]["hold_minutes"], 30);
        assert_eq!(nested["server"]["listen"], "0.0.0.0:9000");
    }

    #[test]
    fn every_setting_has_a_key_that_reads() {
        // A file setting each one (with a value of its type) must load.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jinguo.toml");
        std::fs::write(
            &file,
            r#"
data_dir = "/tmp/x"
[database]
max_connections = 3
[orders]
hold_minutes = 30
[server]
listen = "0.0.0.0:9000"
public_url = "https://shop.example.cn"
"#,
        )
        .unwrap();
        let settings = Settings::load(Some(&file), ()).unwrap();
        assert_eq!(settings.orders.hold.as_secs(), 1800);
        assert_eq!(settings.database.max_connections, 3);
        assert!(settings.server.is_https());
        for (_, key) in NAMES {
            let group = key.split('.').next().unwrap();
            assert!(
                [
                    "data_dir",
                    "database",
                    "catalog",
                    "accounts",
                    "orders",
                    "bank",
                    "settlement",
                    "stripe",
                    "server",
                    "mail",
                    "log"
                ]
                .contains(&group),
                "{key}"
            );
        }
    }

    #[test]
    fn half_a_stripe_account_is_refused_naming_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jinguo.toml");
        std::fs::write(&file, "[stripe]\nsecret_key = \"sk_test_x\"\n").unwrap();
        let error = Settings::load(Some(&file), ()).unwrap_err().to_string();
        assert!(error.contains("JINGUO_STRIPE_WEBHOOK_SECRET"), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jinguo.toml");
        std::fs::write(&file, "[server]\nlisten = \"not an address\"\n").unwrap();
        let error = Settings::load(Some(&file), ()).unwrap_err().to_string();
        assert!(error.contains("server.listen"), "{error}");
        assert!(error.contains("JINGUO_LISTEN"), "{error}");
    }
}
