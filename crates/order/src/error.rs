use jinguo_common::money::Fen;

use crate::state::Refusal;

/// What can go wrong with a cart, a checkout or an order, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("only {available} left of “{title}”")]
    OutOfStock {
        sku: i64,
        title: String,
        available: i64,
    },
    #[error("the cart is empty")]
    EmptyCart,
    #[error("a quantity is 1 to {max}")]
    BadQuantity { max: i64 },
    #[error("“{0}” is not for sale")]
    NotForSale(String),
    #[error("the price of “{0}” has changed since it was put in the cart")]
    PriceChanged(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
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
    #[error("payment: {0}")]
    Payment(String),
    #[error("the amount {got} differs from the {expected} due")]
    WrongAmount { got: Fen, expected: Fen },
    #[error("the books: {0}")]
    Books(String),
    #[error(transparent)]
    Catalog(#[from] jinguo_catalog::CatalogError),
    #[error("database error: {0}")]
    General(#[from] sqlx::Error),
}

impl OrderError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        OrderError::Invalid {
            field,
            message: message.into(),
        }
    }
}
