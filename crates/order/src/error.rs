use jinguo_catalog::SkuId;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_common::money::Fen;

use crate::state::Refusal;

/// What can go wrong with a cart, a checkout or an order, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("only {available} left of “{title}”")]
    OutOfStock {
        sku: SkuId,
        title: String,
        available: i64,
    },
    #[error("the cart is empty")]
    EmptyCart,
    #[error("“{0}” is not for sale")]
    NotForSale(String),
    #[error("the price of “{0}” has changed since it was put in the cart")]
    PriceChanged(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("delivery to {region} is suspended: {notice}")]
    Suspended { region: String, notice: String },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("the order changed meanwhile; look again")]
    Conflict,
    #[error("no order has the payment reference “{0}”")]
    UnknownReference(String),
    #[error("a transfer for “{0}” has already been accepted")]
    AlreadyPaid(String),
    #[error("only {left} is left to refund on this part; {asked} is too much")]
    RefundTooLarge { asked: Fen, left: Fen },
    /// A payment provider's notification that cannot be trusted or read.
    #[error("payment notification refused: {0}")]
    Notice(NoticeProblem),
    /// A payment provider (Stripe) did not do what was asked: unreachable, or it refused.
    #[error("payment provider: {0}")]
    Provider(String),
    /// The books refused a change for a reason of their own (a bug, not the person's).
    #[error("the books: {0}")]
    Books(String),
    #[error(transparent)]
    Catalog(#[from] jinguo_catalog::CatalogError),
    #[error("database error: {0}")]
    General(#[from] sqlx::Error),
}

/// Why a payment provider's notification was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoticeProblem {
    #[error("notifications are not configured")]
    NotConfigured,
    #[error("no signature")]
    NoSignature,
    #[error("the signature does not match")]
    BadSignature,
    #[error("not a notification this shop reads")]
    Unreadable,
}

impl OrderError {
    pub(crate) fn invalid(field: Field, problem: Problem) -> Self {
        OrderError::Invalid(Invalid::new(field, problem))
    }
}
