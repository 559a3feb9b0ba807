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
use jinguo_common::money::Fen;
use jinguo_order::OrderError;
use jinguo_order::books::{Books, MoneyChange};
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{OrderStatus, PartStatus};
use sqlx::{AnyConnection, Row};

use crate::SettlementError;
use crate::ledger::{self, Account, Kind, Posting};

/// The platform's fee on released sales, in basis points (1/100 of a percent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeeRate(u32);

impl FeeRate {
    /// At most 100% (10 000 basis points).
    pub fn basis_points(bp: u32) -> Result<FeeRate, SettlementError> {
        if bp > 10_000 {
            return Err(SettlementError::invalid(
                "platform_fee_bp",
                format!("{bp} basis points is more than 100%"),
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
        change: &MoneyChange<'_>,
    ) -> Result<(), OrderError> {
        let order = change.order;
        let t = change.transition;
        if t.order_from == OrderStatus::AwaitingPayment && t.order_to == OrderStatus::Paid {
            let method = payment_method(conn, order.id).await?;
            let posting = Posting {
                order_id: Some(order.id),
                ..Posting::new(Kind::Payment, format!("pay:order:{}", order.id))
            }
            .debit(Account::Clearing(method), Fen(order.total_fen))
            .credit(Account::Escrow, Fen(order.total_fen));
            ledger::post(conn, &posting, change.now).await?;
        }
        if let Some((refund, part, amount)) = change.refund {
            owe_refund(
                conn,
                order.id,
                refund,
                part,
                Fen(amount),
                self.fee,
                change.now,
            )
            .await?;
        }
        for (part, _, to) in &t.parts {
            if *to == PartStatus::Completed {
                release(conn, order.id, *part, self.fee, change.now).await?;
            }
        }
        Ok(())
    }
}

/// How order `order` is paid: which clearing account its money moves through.
pub(crate) async fn payment_method(
    conn: &mut AnyConnection,
    order: i64,
) -> Result<PaymentMethod, SettlementError> {
    let method: String = sqlx::query_scalar("select payment_method from orders where id = $1")
        .bind(order)
        .fetch_one(conn)
        .await?;
    PaymentMethod::parse(&method).ok_or_else(|| SettlementError::invalid("payment_method", method))
}

/// Moves what is left of a completed part from escrow to its producer, less the fee.
async fn release(
    conn: &mut AnyConnection,
    order: i64,
    part: i64,
    fee: FeeRate,
    now: Millis,
) -> Result<(), SettlementError> {
    let row = sqlx::query(
        "select p.producer_id, p.items_fen + p.shipping_fen as total,
                (select cast(coalesce(sum(r.amount_fen), 0) as bigint) from refunds r where r.part_id = p.id) as refunded
         from order_parts p where p.id = $1",
    )
    .bind(part)
    .fetch_one(&mut *conn)
    .await?;
    let producer: i64 = row.try_get("producer_id")?;
    let left = Fen(row.try_get::<i64, _>("total")? - row.try_get::<i64, _>("refunded")?);
    let fee = fee.fee_on(left);
    let posting = Posting {
        order_id: Some(order),
        part_id: Some(part),
        producer_id: Some(producer),
        ..Posting::new(Kind::Release, format!("release:part:{part}"))
    }
    .debit(Account::Escrow, left)
    .credit(Account::PlatformFee, fee)
    .credit(Account::Payable(producer), Fen(left.0 - fee.0));
    ledger::post(conn, &posting, now).await?;
    Ok(())
}

/// Books refund `refund` as owed to the buyer: out of escrow, or, once the part has been
/// released, out of the producer's payable and the platform's fee in proportion (the platform
/// gives back its fee on what is refunded: `fee` on the amount, rounded down as it was charged,
/// so what is given back never exceeds what was kept).
pub(crate) async fn owe_refund(
    conn: &mut AnyConnection,
    order: i64,
    refund: i64,
    part: Option<i64>,
    amount: Fen,
    fee: FeeRate,
    now: Millis,
) -> Result<(), SettlementError> {
    let mut producer = None;
    let mut released = false;
    if let Some(part) = part {
        let p: i64 = sqlx::query_scalar("select producer_id from order_parts where id = $1")
            .bind(part)
            .fetch_one(&mut *conn)
            .await?;
        producer = Some(p);
        let n: i64 =
            sqlx::query_scalar("select count(*) from ledger_transactions where cause = $1")
                .bind(format!("release:part:{part}"))
                .fetch_one(&mut *conn)
                .await?;
        released = n > 0;
    }
    let posting = Posting {
        order_id: Some(order),
        part_id: part,
        refund_id: Some(refund),
        producer_id: producer,
        ..Posting::new(Kind::Refund, format!("refund:{refund}"))
    };
    let posting = match producer {
        Some(p) if released => {
            let fee_back = fee.fee_on(amount);
            posting
                .debit(Account::Payable(p), Fen(amount.0 - fee_back.0))
                .debit(Account::PlatformFee, fee_back)
        }
        _ => posting.debit(Account::Escrow, amount),
    }
    .credit(Account::RefundsDue, amount);
    ledger::post(conn, &posting, now).await?;
    Ok(())
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
