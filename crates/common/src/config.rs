//! Building blocks of the settings: each crate owns the group of settings it uses (the order
//! crate its time limits, settlement its Stripe account…), typed and with its defaults beside
//! it; the storefront puts the groups together and reads them from a file, the environment and
//! flags. Here: the database's group, durations written in whole units, and redacting URLs.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serializer};
use std::path::Path;
use std::time::Duration;

/// The default place for the embedded database, the search index and uploads.
pub const DEFAULT_DATA_DIR: &str = "data";

/// Where the database is and how many connections to keep.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; unset means a SQLite file in the data directory.
    pub url: Option<SecretString>,
    /// Largest number of pooled connections.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            max_connections: 16,
        }
    }
}

impl DatabaseSettings {
    /// The URL to open: the configured one, or a SQLite file in `data_dir`.
    pub fn url_in(&self, data_dir: &Path) -> SecretString {
        match &self.url {
            Some(url) => url.clone(),
            None => {
                let path = data_dir.join("jinguo.db");
                SecretString::from(format!("sqlite://{}", path.display()))
            }
        }
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

macro_rules! duration_in {
    ($module:ident, $unit:literal, $to:ident, $from:expr) => {
        #[doc = concat!("A [`Duration`] written in settings as a whole number of ", $unit, "; use with `#[serde(with = \"…\")]`.")]
        pub mod $module {
            use super::*;

            pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64($to(d))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                let n = u64::deserialize(d)?;
                let make: fn(u64) -> Option<Duration> = $from;
                make(n).ok_or_else(|| {
                    serde::de::Error::custom(format!("{n} {} is too long", $unit))
                })
            }
        }
    };
}

fn as_millis(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
fn as_secs(d: &Duration) -> u64 {
    d.as_secs()
}
fn as_minutes(d: &Duration) -> u64 {
    d.as_secs() / 60
}
fn as_days(d: &Duration) -> u64 {
    d.as_secs() / 86_400
}

duration_in!(millis, "milliseconds", as_millis, |n| Some(
    Duration::from_millis(n)
));
duration_in!(secs, "seconds", as_secs, |n| Some(Duration::from_secs(n)));
duration_in!(minutes, "minutes", as_minutes, |n| n
    .checked_mul(60)
    .map(Duration::from_secs));
duration_in!(days, "days", as_days, |n| n
    .checked_mul(86_400)
    .map(Duration::from_secs));

/// A duration in whole milliseconds, as the clock counts (saturating).
pub fn to_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
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
    fn the_default_database_is_sqlite_in_the_data_dir() {
        let settings = DatabaseSettings::default();
        assert_eq!(
            settings.url_in(Path::new("data")).expose_secret(),
            "sqlite://data/jinguo.db"
        );
    }

    #[test]
    fn durations_read_in_their_units() {
        #[derive(Deserialize)]
        struct T {
            #[serde(with = "minutes")]
            hold: Duration,
            #[serde(with = "days")]
            window: Duration,
        }
        let t: T = serde_json::from_str(r#"{"hold": 15, "window": 7}"#).unwrap();
        assert_eq!(t.hold, Duration::from_secs(900));
        assert_eq!(t.window, Duration::from_secs(7 * 86_400));
        assert!(serde_json::from_str::<T>(r#"{"hold": -1, "window": 7}"#).is_err());
    }
}
