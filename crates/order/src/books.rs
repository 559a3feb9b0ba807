//! The books an order's money is kept in, seen from the order side. Every change that moves
//! money (a payment, a part completed, a refund owed) is handed to [`Books::record`] inside the
//! same database transaction as the change itself, so the ledger (the settlement crate's) can
//! never disagree with the orders. Refunds are the books' too: the order says what it owes back
//! and the books decide what is left to give and record it.
//!
//! Every [`Orders`](crate::Orders) has books; a test that wants none passes [`NoBooks`].

use async_trait::async_trait;
use jinguo_common::clock::Millis;
use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::money::Fen;
use sqlx::AnyConnection;

use crate::OrderError;
use crate::ids::{OrderId, PartId};
use crate::payment::PaymentMethod;

jinguo_common::id_type!(
    /// Money owed back to a buyer (the settlement crate's `refunds`).
    RefundId
);

/// A part of an order, with what its buyer paid for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartMoney {
    pub part: PartId,
    pub producer: ProducerId,
    /// Goods and shipping.
    pub total: Fen,
}

/// A refund an order change asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDue {
    /// The part (`None`: the whole order).
    pub part: Option<PartMoney>,
    pub amount: Fen,
    /// Give back whatever earlier refunds left of `amount` (a cancellation, a return); else
    /// exactly `amount`, refused when more than is left (a partial refund).
    pub whatever_is_left: bool,
    pub reason: String,
    /// The staff member who gave it, when a person did.
    pub by: Option<UserId>,
}

/// One change to an order, with the money it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyChange {
    pub order: OrderId,
    /// How the order is paid: which clearing account its money moves through.
    pub method: PaymentMethod,
    /// The order was paid just now: its total.
    pub paid: Option<Fen>,
    /// Money to give back to the buyer.
    pub refund: Option<RefundDue>,
    /// Parts whose goods arrived and whose return window closed: their money is released.
    pub completed: Vec<PartMoney>,
    pub now: Millis,
}

/// A refund the books recorded as owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundOwed {
    pub id: RefundId,
    pub amount: Fen,
}

#[async_trait]
pub trait Books: Send + Sync {
    /// Records what `change` does to the money, in the caller's transaction; returns the refund
    /// now owed, if any (none when earlier refunds already gave everything back). An error rolls
    /// the whole change back.
    async fn record(
        &self,
        conn: &mut AnyConnection,
        change: &MoneyChange,
    ) -> Result<Option<RefundOwed>, OrderError>;
}

/// Books that keep nothing: no money is recorded and no refund is ever owed. Only for tests of
/// the order side alone.
pub struct NoBooks;

#[async_trait]
impl Books for NoBooks {
    async fn record(
        &self,
        _conn: &mut AnyConnection,
        _change: &MoneyChange,
    ) -> Result<Option<RefundOwed>, OrderError> {
        Ok(None)
    }
}
