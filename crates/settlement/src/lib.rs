//! Settlement: where every fen goes after a buyer pays.
//!
//! - [`ledger`]: the double-entry ledger. Every transaction balances (checked when written, and by
//!   `jinguo ledger check`); entries are never changed, corrections are new reversing
//!   transactions; each transaction names the order, part, refund, payout or provider event that
//!   caused it, at most once.
//! - [`escrow`]: paid money is held in escrow; a completed part's amount moves to its producer's
//!   payable, less the platform fee; refunds come out of escrow before release and out of the
//!   producer's payable after. (The ledger has accounts for promoters' commissions and for
//!   donations, but nothing books to them yet: orders do not record a promoter or a donation.)
//! - [`payout`]: `settle` batches every producer's positive payable into payouts, sent as Stripe
//!   Connect transfers or written to a bank batch-payment file; never sent twice.
//! - [`stripe`]: PaymentIntents, refunds, transfers and signed webhooks through async-stripe.
//!
//! It knows nothing of HTTP; the storefront calls it.

pub mod escrow;
pub mod ledger;
pub mod payout;
pub mod provider;
pub mod reconcile;
pub mod service;
pub mod statement;
pub mod stripe;
#[cfg(feature = "testing")]
pub mod testing;

use jinguo_common::money::Fen;
use jinguo_order::OrderError;

pub use escrow::{Escrow, FeeRate};
pub use provider::StripeProvider;
pub use service::{Refund, Settlement, SettlementSettings, WebhookOutcome, WebhookRefusal};

/// Idempotency keys for Stripe. Each is unique across databases that share one Stripe account
/// (a staging copy of production, test runs), not only within ours: it names something Stripe made
/// unique (the PaymentIntent) or the instant the payout was booked, besides our own id, which
/// another database may also have.
pub mod keys {
    use jinguo_common::clock::Millis;

    pub fn refund(refund: i64, intent: &str) -> String {
        format!("jinguo-refund-{refund}-{intent}")
    }

    pub fn payout(payout: i64, booked_at: Millis) -> String {
        format!("jinguo-payout-{payout}-{booked_at}")
    }
}

/// What can go wrong in settlement, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("ledger transaction “{0}” does not balance (off by {1} fen); nothing was written")]
    Unbalanced(String, i64),
    #[error("“{0}” is not a ledger account")]
    UnknownAccount(String),
    #[error("not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("only {left} is left to refund on this part; {asked} is too much")]
    RefundTooLarge { asked: Fen, left: Fen },
    #[error("the order is {0}; only a paid order can be refunded")]
    NotRefundable(String),
    #[error("payout {0} is {1}, not waiting to be sent")]
    PayoutNotOpen(i64, String),
    #[error("refund {0} is already paid")]
    RefundAlreadyPaid(i64),
    #[error("line {line}: {message}")]
    BadRow { line: usize, message: String },
    #[error("stripe: {0}")]
    Stripe(#[from] stripe::StripeError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl SettlementError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        SettlementError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<SettlementError> for OrderError {
    fn from(e: SettlementError) -> OrderError {
        match e {
            SettlementError::Order(e) => e,
            SettlementError::Database(e) => OrderError::General(e),
            other => OrderError::Books(other.to_string()),
        }
    }
}
