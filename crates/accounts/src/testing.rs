//! A builder of accounts for tests.
//!
//! ```ignore
//! let buyer = UserBuilder::consumer().create(&accounts).await;
//! let staff = UserBuilder::staff().login("staff@fulian.example").create(&accounts).await;
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Accounts, ProducerId, Role, User};

/// The password every built account has.
pub const PASSWORD: &str = "password-123";

pub struct UserBuilder {
    login: Option<String>,
    role: Role,
    producer: Option<ProducerId>,
}

impl UserBuilder {
    pub fn consumer() -> Self {
        UserBuilder {
            login: None,
            role: Role::Consumer,
            producer: None,
        }
    }

    /// Federation staff.
    pub fn staff() -> Self {
        UserBuilder {
            role: Role::Staff,
            ..Self::consumer()
        }
    }

    /// Staff of `producer`.
    pub fn producer(producer: ProducerId) -> Self {
        UserBuilder {
            role: Role::Producer,
            producer: Some(producer),
            ..Self::consumer()
        }
    }

    /// An email address or mainland mobile number (default: a fresh email address).
    pub fn login(mut self, login: &str) -> Self {
        self.login = Some(login.to_owned());
        self
    }

    pub async fn create(self, accounts: &Accounts) -> User {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let login = self.login.unwrap_or_else(|| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n}@test.example", self.role.as_str())
        });
        accounts
            .register(&login, PASSWORD, self.role, self.producer)
            .await
            .unwrap()
    }
}
