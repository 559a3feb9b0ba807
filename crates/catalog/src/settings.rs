//! The catalog's settings: how long reads are reused, and which search backend serves queries.

use jinguo_common::config::millis;
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// The `catalog` group of settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// How long catalog reads (a product page's data, a listing page) and rendered pages are
    /// reused; zero turns caching off. Writes through this process drop them at once.
    #[serde(rename = "cache_ttl_ms", with = "millis")]
    pub cache_ttl: Duration,
    /// How long a search worker holds the outbox rows it claimed before another process may
    /// take them over (after a crash).
    #[serde(rename = "outbox_lease_ms", with = "millis")]
    pub outbox_lease: Duration,
    /// A Meilisearch server; unset: the embedded index in the data directory.
    pub meili_url: Option<url::Url>,
    pub meili_key: Option<SecretString>,
    pub meili_index: String,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings {
            cache_ttl: crate::DEFAULT_CACHE_TTL,
            outbox_lease: Duration::from_millis(crate::outbox::LEASE_MS as u64),
            meili_url: None,
            meili_key: None,
            meili_index: "products".to_owned(),
        }
    }
}
