//! Settlement: where every fen goes after a buyer pays.
//!
//! - [`ledger`]: the double-entry ledger. Every transaction balances (checked when written, and by
//!   `jinguo ledger check`); entries are never changed, corrections are new reversing
//!   transactions; each transaction names the order, part, refund, payout or provider event that
//!   caused it, at most once.
//! - [`escrow`]: the order crate's books. Paid money is held in escrow; a completed part's amount
//!   moves to its producer's payable, less the platform fee; refunds ([`refund`], owed to the
//!   buyer until paid back) come out of escrow before release and out of the producer's payable
//!   after. (The ledger has accounts for promoters' commissions and for
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
pub mod refund;
pub mod service;
pub mod settings;
pub mod statement;
pub mod stripe;
#[cfg(feature = "testing")]
pub mod testing;

use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_order::OrderError;

pub use escrow::{Escrow, FeeRate};
pub use jinguo_order::books::RefundId;
pub use payout::{BatchId, PayoutId, PayoutMethod, PayoutStatus};
pub use provider::StripeProvider;
pub use refund::{Refund, RefundStatus};
pub use service::{Settlement, WebhookOutcome, WebhookRefusal};
pub use settings::{SettlementSettings, StripeSettings};

/// Idempotency keys for Stripe. Each is unique across databases that share one Stripe account
/// (a staging copy of production, test runs), not only within ours: it names something Stripe made
/// unique (the PaymentIntent) or the instant the payout was booked, besides our own id, which
/// another database may also have.
pub mod keys {
    use jinguo_common::clock::Millis;

    use crate::{PayoutId, RefundId};

    pub fn refund(refund: RefundId, intent: &str) -> String {
        format!("jinguo-refund-{refund}-{intent}")
    }

    pub fn payout(payout: PayoutId, booked_at: Millis) -> String {
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
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("payout {id} is {status}, not waiting to be sent")]
    PayoutNotOpen { id: PayoutId, status: PayoutStatus },
    /// Marking a Stripe payout paid or failed by hand: it is retried with its key until Stripe
    /// takes it, and doing it by hand too could pay twice.
    #[error("payout {0} goes through Stripe, not by bank")]
    PayoutByStripe(PayoutId),
    /// Marking a refund paid by hand that goes back through Stripe (which retries it).
    #[error("refund {0} goes back through Stripe and is retried until Stripe takes it")]
    RefundByStripe(RefundId),
    #[error("refund {0} is already paid")]
    RefundAlreadyPaid(RefundId),
    /// Stripe payout details where the shop does not pay through Stripe.
    #[error("this shop does not pay through Stripe")]
    NoStripe,
    #[error("line {line}: {problem}")]
    BadRow { line: usize, problem: RowProblem },
    #[error("stripe: {0}")]
    Stripe(#[from] stripe::StripeError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What is wrong with a line of a bank's result file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("“{0}” is not “payout id,bank reference”")]
    NotTwoFields(String),
    #[error("“{0}” is not a payout id")]
    NotAPayoutId(String),
    #[error("the bank reference must be 1 to 64 characters")]
    BadReference,
    #[error("payout {0} is listed twice")]
    Twice(PayoutId),
    #[error("there is no payout {0}")]
    NoSuchPayout(PayoutId),
    #[error(
        "payout {id} is a {method} payout that is {status}, not a bank payout waiting to be paid"
    )]
    NotWaiting {
        id: PayoutId,
        method: PayoutMethod,
        status: PayoutStatus,
    },
}

impl SettlementError {
    pub(crate) fn invalid(field: Field, problem: Problem) -> Self {
        SettlementError::Invalid(Invalid::new(field, problem))
    }
}

impl From<SettlementError> for OrderError {
    fn from(e: SettlementError) -> OrderError {
        match e {
            SettlementError::Order(e) => e,
            SettlementError::Database(e) => OrderError::General(e),
            SettlementError::Invalid(e) => OrderError::Invalid(e),
            other => OrderError::Books(other.to_string()),
        }
    }
}
