//! Passwords: argon2id, computed on the blocking pool and at most a few at a time, so a burst of
//! sign-ins cannot starve the async runtime or exhaust memory.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::AccountError;

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

jinguo_common::text_enum! {
    /// How costly a hash is. `Standard` is OWASP's argon2id recommendation (19 MiB, 2 passes);
    /// `Fast` exists for tests that create hundreds of accounts.
    pub enum HashCost {
        Standard = "standard",
        Fast = "fast",
    }
}

#[derive(Clone)]
pub(crate) struct Hasher {
    cost: HashCost,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub(crate) fn new(cost: HashCost) -> Hasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hasher {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    fn argon2(cost: HashCost) -> Argon2<'static> {
        let params = match cost {
            HashCost::Standard => Params::new(19 * 1024, 2, 1, None),
            HashCost::Fast => Params::new(1024, 1, 1, None),
        };
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params.unwrap_or_default(),
        )
    }

    /// Any letter, symbol or space may be in a password; a control character (NUL, escape) is
    /// never typed on purpose and some tools cut a text at NUL.
    pub(crate) fn check_no_control(password: &str) -> Result<(), AccountError> {
        if password.chars().any(char::is_control) {
            return Err(AccountError::Invalid(jinguo_common::invalid::Invalid::new(
                jinguo_common::invalid::Field::Password,
                jinguo_common::invalid::Problem::ControlCharacters,
            )));
        }
        Ok(())
    }

    pub(crate) fn check_policy(password: &str) -> Result<(), AccountError> {
        Self::check_no_control(password)?;
        let n = password.chars().count();
        if (MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
            Ok(())
        } else {
            Err(AccountError::BadPassword {
                min: MIN_PASSWORD,
                max: MAX_PASSWORD,
            })
        }
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, AccountError> {
        Self::check_policy(password)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        let (cost, password) = (self.cost, password.to_owned());
        tokio::task::spawn_blocking(move || {
            Self::argon2(cost)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AccountError::Hashing(e.to_string()))
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
    }

    /// Whether `password` matches `hash` (whatever cost it was made with).
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<bool, AccountError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        let (cost, password, hash) = (self.cost, password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
            Ok(Self::argon2(cost)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = Hasher::new(HashCost::Fast);
        let hash = hasher.hash("巴渝巧姐2026").await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hasher.verify("巴渝巧姐2026", &hash).await.unwrap());
        assert!(!hasher.verify("巴渝巧姐2025", &hash).await.unwrap());
        assert_ne!(hash, hasher.hash("巴渝巧姐2026").await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn refuses_short_and_huge_passwords() {
        let hasher = Hasher::new(HashCost::Fast);
        assert!(matches!(
            hasher.hash("short").await,
            Err(AccountError::BadPassword { .. })
        ));
        assert!(matches!(
            hasher.hash(&"x".repeat(129)).await,
            Err(AccountError::BadPassword { .. })
        ));
    }
}
