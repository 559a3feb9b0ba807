//! The books an order's money is kept in, seen from the order side: every change that moves money
//! (payment, a part completed, a refund owed) is handed to [`Books::record`] inside the same
//! database transaction as the change itself, so the ledger (the settlement crate's) can never
//! disagree with the orders. Orders without books (some tests) move no money.

use async_trait::async_trait;
use jinguo_common::clock::Millis;
use sqlx::AnyConnection;

use crate::OrderError;
use crate::state::{OrderState, Transition};

/// One change to an order, with the money it moves.
#[derive(Debug)]
pub struct MoneyChange<'a> {
    /// The order before the change.
    pub order: &'a OrderState,
    pub transition: &'a Transition,
    /// The refund owed because of this change, if any: (refund id, part or `None` for the whole
    /// order, amount in fen).
    pub refund: Option<(i64, Option<i64>, i64)>,
    pub now: Millis,
}

#[async_trait]
pub trait Books: Send + Sync {
    /// Records what `change` does to the money, in the caller's transaction. An error rolls the
    /// whole change back.
    async fn record(
        &self,
        conn: &mut AnyConnection,
        change: &MoneyChange<'_>,
    ) -> Result<(), OrderError>;
}
