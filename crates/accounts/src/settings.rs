//! The accounts' settings: how passwords are hashed and how failed sign-ins are limited.

use jinguo_common::config::secs;
use serde::Deserialize;
use std::time::Duration;

use crate::accounts::Limits;
use crate::password::HashCost;

/// The `accounts` group of settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// `standard` (argon2id, 19 MiB, 2 passes) or `fast` (for tests and load tests only).
    pub password_hash: HashCost,
    /// Failed sign-ins tolerated per account within the window.
    pub login_limit_per_account: u32,
    /// Failed sign-ins tolerated per client address within the window (raise it for a load test
    /// from one machine).
    pub login_limit_per_address: u32,
    #[serde(rename = "login_window_secs", with = "secs")]
    pub login_window: Duration,
}

impl Default for AccountSettings {
    fn default() -> Self {
        let limits = Limits::default();
        AccountSettings {
            password_hash: HashCost::Standard,
            login_limit_per_account: limits.per_login,
            login_limit_per_address: limits.per_address,
            login_window: Duration::from_millis(limits.window_ms as u64),
        }
    }
}

impl AccountSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            per_login: self.login_limit_per_account,
            per_address: self.login_limit_per_address,
            window_ms: jinguo_common::config::to_millis(self.login_window),
        }
    }
}
