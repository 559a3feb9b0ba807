//! Accounts: who may sign in and what they may do.
//!
//! Owns users (consumers, producer staff bound to one producer, federation staff) with argon2id
//! password hashes, server-side sessions for browsers and bearer tokens for the API (only a hash
//! of each secret is stored, so a leaked table opens nothing), and the record of failed sign-ins
//! that throttles guessing by account and by address, and the answers to requests an account
//! may send twice ([`idempotency`]). Knows nothing of HTTP or cookies.

mod accounts;
mod error;
pub mod idempotency;
pub mod login;
mod password;
pub mod session;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod user;

pub use accounts::{Accounts, Limits};
pub use error::AccountError;
pub use login::Login;
pub use password::HashCost;
pub use session::{Session, SessionKind, Token};
pub use settings::AccountSettings;
pub use user::{ProducerId, Role, User, UserId};
