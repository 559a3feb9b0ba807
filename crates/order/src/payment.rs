//! Payments behind one interface, so that Stripe (settlement) and bank transfer (对公转账, how
//! partner units and institutions pay) look the same to checkout and to the order pages.
//!
//! Bank transfer: the order shows the payee account and a unique reference (the order number);
//! staff record each transfer from the bank statement; an exact amount pays the order, anything
//! else is kept and flagged for staff, never accepted.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use jinguo_common::Db;
use jinguo_common::money::Fen;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;

use crate::books::RefundId;
use crate::ids::OrderId;
use crate::transfer::TransferOutcome;
use crate::{NoticeProblem, OrderError};
use jinguo_common::invalid::{self, Field, Invalid};

jinguo_common::text_enum! {
    /// How an order is paid.
    pub enum PaymentMethod {
        BankTransfer = "bank_transfer",
        Stripe = "stripe",
    }
}

impl PaymentMethod {
    /// The method a buyer chose, as a form or a request body sends it: empty means the shop's
    /// default (`None`); anything else must be one of the methods, or it is refused (never
    /// silently replaced by the default).
    pub fn from_input(text: &str) -> Result<Option<PaymentMethod>, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        invalid::choice(Field::PaymentMethod, text).map(Some)
    }
}

/// What a provider needs to set up a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub order_id: OrderId,
    pub number: String,
    pub reference: String,
    pub amount: Fen,
}

/// What the buyer needs to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PaymentInstructions {
    BankTransfer {
        payee_name: String,
        bank: String,
        account_no: String,
        /// To write in the transfer's purpose field (用途/附言).
        reference: String,
        amount_fen: i64,
    },
    /// Paid on the page through Stripe's own checkout (card, Alipay, WeChat Pay), which takes
    /// the PaymentIntent's client secret.
    Stripe {
        publishable_key: String,
        intent_id: String,
        client_secret: String,
        amount_fen: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PaymentState {
    Pending,
    Paid {
        amount: Fen,
    },
    /// Money arrived that did not match; staff look at it.
    Flagged {
        received: Fen,
    },
}

/// A provider's notification, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    Received {
        /// The provider's id for this event, to apply it at most once.
        event_id: String,
        reference: String,
        amount: Fen,
        /// `YYYY-MM-DD`
        received_on: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RefundOutcome {
    Done {
        id: String,
    },
    /// Someone has to move the money (a bank transfer back).
    Pending {
        note: String,
    },
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    fn method(&self) -> PaymentMethod;

    /// Sets up payment for a newly placed order and says how to pay.
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentInstructions, OrderError>;

    /// Where the payment of `order` (whose reference is `reference`) stands.
    async fn payment_state(
        &self,
        order: OrderId,
        reference: &str,
    ) -> Result<PaymentState, OrderError>;

    /// Gives `amount` back of the payment of `order`: the refund `refund` the books recorded
    /// (a provider uses its id as its idempotency key, so it is never paid twice).
    async fn refund(
        &self,
        order: OrderId,
        refund: RefundId,
        amount: Fen,
    ) -> Result<RefundOutcome, OrderError>;

    /// Checks a notification's signature and reads it.
    fn verify_notification(
        &self,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> Result<PaymentEvent, OrderError>;
}

/// The shop's account that buyers transfer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payee {
    pub name: String,
    pub bank: String,
    pub account_no: String,
}

/// Bank transfer (对公转账).
pub struct BankTransfer {
    db: Db,
    payee: Payee,
    /// Shared secret for signed notifications from a bank connector (`x-bank-signature`,
    /// hex HMAC-SHA256 of the body); without it notifications are refused.
    notify_secret: Option<Vec<u8>>,
}

pub const SIGNATURE_HEADER: &str = "x-bank-signature";

#[derive(Deserialize)]
struct BankNotice {
    id: String,
    reference: String,
    amount_fen: i64,
    received_on: String,
}

impl BankTransfer {
    pub fn new(db: Db, payee: Payee, notify_secret: Option<Vec<u8>>) -> BankTransfer {
        BankTransfer {
            db,
            payee,
            notify_secret,
        }
    }

    pub fn payee(&self) -> &Payee {
        &self.payee
    }
}

#[async_trait]
impl PaymentProvider for BankTransfer {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::BankTransfer
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentInstructions, OrderError> {
        Ok(PaymentInstructions::BankTransfer {
            payee_name: self.payee.name.clone(),
            bank: self.payee.bank.clone(),
            account_no: self.payee.account_no.clone(),
            reference: request.reference.clone(),
            amount_fen: request.amount.0,
        })
    }

    async fn payment_state(
        &self,
        order: OrderId,
        _reference: &str,
    ) -> Result<PaymentState, OrderError> {
        let transfers =
            crate::transfer::of_order(&mut *self.db.pool().acquire().await?, order).await?;
        let mut flagged = Fen::ZERO;
        for t in &transfers {
            if t.outcome == TransferOutcome::Accepted {
                return Ok(PaymentState::Paid { amount: t.amount });
            }
            flagged = flagged + t.amount;
        }
        Ok(if flagged.0 > 0 {
            PaymentState::Flagged { received: flagged }
        } else {
            PaymentState::Pending
        })
    }

    async fn refund(
        &self,
        _order: OrderId,
        _refund: RefundId,
        amount: Fen,
    ) -> Result<RefundOutcome, OrderError> {
        Ok(RefundOutcome::Pending {
            note: format!("transfer {amount} back to the buyer's account"),
        })
    }

    fn verify_notification(
        &self,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> Result<PaymentEvent, OrderError> {
        let refused = OrderError::Notice;
        let secret = self
            .notify_secret
            .as_deref()
            .ok_or(refused(NoticeProblem::NotConfigured))?;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .ok_or(refused(NoticeProblem::NoSignature))?;
        let signature = decode_hex(signature.trim()).ok_or(refused(NoticeProblem::BadSignature))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| refused(NoticeProblem::NotConfigured))?;
        mac.update(body);
        mac.verify_slice(&signature)
            .map_err(|_| refused(NoticeProblem::BadSignature))?;
        let notice: BankNotice =
            serde_json::from_slice(body).map_err(|_| refused(NoticeProblem::Unreadable))?;
        Ok(PaymentEvent::Received {
            event_id: notice.id,
            reference: notice.reference,
            amount: Fen(notice.amount_fen),
            received_on: notice.received_on,
        })
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[tokio::test]
    async fn bank_notices_must_be_signed() {
        let db = jinguo_common::testing::TestDb::sqlite().await;
        let payee = Payee {
            name: "巾帼集市".into(),
            bank: "重庆农商行".into(),
            account_no: "6200".into(),
        };
        let bank = BankTransfer::new(db.db.clone(), payee, Some(b"secret".to_vec()));
        let body = br#"{"id":"evt-1","reference":"JG261129-ABCDEF","amount_fen":6800,"received_on":"2026-11-29"}"#;
        let mut headers = HashMap::new();
        headers.insert(SIGNATURE_HEADER.to_owned(), sign(b"secret", body));
        let event = bank.verify_notification(&headers, body).unwrap();
        assert!(matches!(
            event,
            PaymentEvent::Received {
                amount: Fen(6800),
                ..
            }
        ));
        headers.insert(SIGNATURE_HEADER.to_owned(), sign(b"wrong", body));
        assert!(bank.verify_notification(&headers, body).is_err());
        headers.insert(SIGNATURE_HEADER.to_owned(), sign(b"secret", b"{}"));
        assert!(
            bank.verify_notification(&headers, body).is_err(),
            "a signature of another body"
        );
    }
}
