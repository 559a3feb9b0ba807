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
    /// Failed sign-ins to one account from one address within the window before that address
    /// is refused for it (its owner elsewhere is not).
    pub login_limit_per_account_and_address: u32,
    /// Failed sign-ins per client address within the window, whichever accounts (raise it for a
    /// load test from one machine).
    pub login_limit_per_address: u32,
    /// Failed sign-ins to one account from anywhere within the window after which each further
    /// try waits (1 s, doubling, at most 16 s).
    pub login_slowdown_after: u32,
    /// Registrations tried per client address within the window.
    pub registrations_per_address: u32,
    #[serde(rename = "login_window_secs", with = "secs")]
    pub login_window: Duration,
}

impl Default for AccountSettings {
    fn default() -> Self {
        let limits = Limits::default();
        AccountSettings {
            password_hash: HashCost::Standard,
            login_limit_per_account_and_address: limits.per_account_and_address,
            login_limit_per_address: limits.per_address,
            login_slowdown_after: limits.slowdown_after,
            registrations_per_address: limits.registrations_per_address,
            login_window: Duration::from_millis(limits.window_ms as u64),
        }
    }
}

impl AccountSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            per_account_and_address: self.login_limit_per_account_and_address,
            per_address: self.login_limit_per_address,
            slowdown_after: self.login_slowdown_after,
            registrations_per_address: self.registrations_per_address,
            window_ms: jinguo_common::config::to_millis(self.login_window),
            ..Limits::default()
        }
    }
}
