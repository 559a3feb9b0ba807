//! Escrow: what an order's changes do to the money.
//!
//! - paid: the total goes from the provider's clearing account into escrow;
//! - a part completed (delivered, its return window closed): what is left of the part (its goods
//!   and shipping, less refunds already made on it) leaves escrow; the platform fee goes to
//!   `platform_fee`, the rest to the producer's payable;
//! - a refund owed: before its part is released it comes out of escrow, after out of the
//!   producer's payable (which may go below zero, and is netted against the next payout) and the
//!   platform's fee in proportion; it is owed (`refunds_due`) until the provider or staff pays it
//!   back, then leaves clearing.
//!
//! [`Escrow`] is the order crate's [`Books`]: each posting is written in the same transaction as
//! the order change that causes it.

use async_trait::async_trait;
use jinguo_common::clock::Millis;
use jinguo_common::invalid::{Field, Problem};
use jinguo_common::money::Fen;
use jinguo_order::books::{Books, MoneyChange, PartMoney, RefundDue, RefundOwed};
use jinguo_order::{OrderError, OrderId};
use serde::Deserialize;
use sqlx::AnyConnection;

use crate::SettlementError;
use crate::ledger::{self, Account, Kind, Posting};
use crate::refund::{self, NewRefund};

/// The platform's fee on released sales, in basis points (1/100 of a percent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct FeeRate(u32);

impl TryFrom<u32> for FeeRate {
    type Error = String;
    fn try_from(bp: u32) -> Result<FeeRate, String> {
        FeeRate::basis_points(bp).map_err(|_| format!("{bp} basis points is more than 100%"))
    }
}

impl FeeRate {
    /// At most 100% (10 000 basis points).
    pub fn basis_points(bp: u32) -> Result<FeeRate, SettlementError> {
        if bp > 10_000 {
            return Err(SettlementError::invalid(
                Field::Fee,
                Problem::Range {
                    min: 0,
                    max: 10_000,
                },
            ));
        }
        Ok(FeeRate(bp))
    }

    pub fn bp(self) -> u32 {
        self.0
    }

    /// The fee on `amount`, rounded down to the fen (the producer keeps the odd fen).
    pub fn fee_on(self, amount: Fen) -> Fen {
        Fen(((i128::from(amount.0) * i128::from(self.0)) / 10_000) as i64)
    }
}

/// The books of every order: see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Escrow {
    pub fee: FeeRate,
}

impl Escrow {
    pub fn new(fee: FeeRate) -> Escrow {
        Escrow { fee }
    }
}

#[async_trait]
impl Books for Escrow {
    async fn record(
        &self,
        conn: &mut AnyConnection,
        change: &MoneyChange,
    ) -> Result<Option<RefundOwed>, OrderError> {
        if let Some(total) = change.paid {
            let posting = Posting {
                order_id: Some(change.order),
                ..Posting::new(Kind::Payment, format!("pay:order:{}", change.order))
            }
            .debit(Account::Clearing(change.method), total)
            .credit(Account::Escrow, total);
            ledger::post(conn, &posting, change.now).await?;
        }
        let owed = match &change.refund {
            Some(due) => owe(conn, change.order, due, self.fee, change.now).await?,
            None => None,
        };
        for part in &change.completed {
            release(conn, change.order, part, self.fee, change.now).await?;
        }
        Ok(owed)
    }
}

/// Moves what is left of a completed part from escrow to its producer, less the fee.
async fn release(
    conn: &mut AnyConnection,
    order: OrderId,
    part: &PartMoney,
    fee: FeeRate,
    now: Millis,
) -> Result<(), SettlementError> {
    let refunded = refund::refunded(conn, order, Some(part.part)).await?;
    let left = part.total - refunded;
    let fee = fee.fee_on(left);
    let posting = Posting {
        order_id: Some(order),
        part_id: Some(part.part),
        producer_id: Some(part.producer),
        ..Posting::new(Kind::Release, format!("release:part:{}", part.part))
    }
    .debit(Account::Escrow, left)
    .credit(Account::PlatformFee, fee)
    .credit(Account::Payable(part.producer), left - fee);
    ledger::post(conn, &posting, now).await?;
    Ok(())
}

/// Records the refund an order change asks for, and books it owed to the buyer: out of escrow,
/// or, once the part has been released, out of the producer's payable and the platform's fee
/// in proportion (the platform gives back its fee on what is refunded: `fee` on the amount,
/// rounded down as it was charged, so what is given back never exceeds what was kept). A
/// cancellation or a return gives back what earlier refunds left; a partial refund more than
/// that is refused. `None`: nothing is left to give back.
async fn owe(
    conn: &mut AnyConnection,
    order: OrderId,
    due: &RefundDue,
    fee: FeeRate,
    now: Millis,
) -> Result<Option<RefundOwed>, OrderError> {
    // The order's row is locked (on PostgreSQL) by the change: refunds committed meanwhile are
    // counted here, in a statement of its own.
    let (limit, refunded) = match &due.part {
        Some(part) => (
            part.total,
            refund::refunded(conn, order, Some(part.part)).await?,
        ),
        None => (due.amount, refund::refunded(conn, order, None).await?),
    };
    let left = Fen((limit - refunded).0.max(0));
    let amount = if due.whatever_is_left {
        Fen(due.amount.0.min(left.0))
    } else if due.amount > left {
        tracing::info!(%order, asked = due.amount.0, left = left.0, "refund refused: more than is left");
        return Err(OrderError::RefundTooLarge {
            asked: due.amount,
            left,
        });
    } else {
        due.amount
    };
    if amount.0 <= 0 {
        return Ok(None);
    }
    let id = refund::create(
        conn,
        &NewRefund {
            order,
            part: due.part.map(|p| p.part),
            amount,
            reason: &due.reason,
            by: due.by,
            now,
        },
    )
    .await?;
    let released = match &due.part {
        Some(part) => ledger::is_posted(conn, &format!("release:part:{}", part.part)).await?,
        None => false,
    };
    let posting = Posting {
        order_id: Some(order),
        part_id: due.part.map(|p| p.part),
        refund_id: Some(id),
        producer_id: due.part.map(|p| p.producer),
        ..Posting::new(Kind::Refund, format!("refund:{id}"))
    };
    let posting = match &due.part {
        Some(part) if released => {
            let fee_back = fee.fee_on(amount);
            posting
                .debit(Account::Payable(part.producer), amount - fee_back)
                .debit(Account::PlatformFee, fee_back)
        }
        _ => posting.debit(Account::Escrow, amount),
    }
    .credit(Account::RefundsDue, amount);
    ledger::post(conn, &posting, now).await?;
    Ok(Some(RefundOwed { id, amount }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_rounds_down_and_is_capped() {
        let rate = FeeRate::basis_points(250).unwrap();
        assert_eq!(rate.fee_on(Fen(10_000)), Fen(250));
        assert_eq!(rate.fee_on(Fen(39)), Fen(0));
        assert_eq!(rate.fee_on(Fen(41)), Fen(1));
        assert_eq!(FeeRate::default().fee_on(Fen(12_345)), Fen(0));
        assert!(FeeRate::basis_points(10_001).is_err());
        assert_eq!(
            FeeRate::basis_points(10_000).unwrap().fee_on(Fen(77)),
            Fen(77)
        );
    }
}
