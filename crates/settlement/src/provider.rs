//! Stripe as the order crate's [`PaymentProvider`]: one PaymentIntent per order (kept, so that a
//! reload of the payment page shows the same one), its state read back from Stripe, and refunds
//! sent once (idempotency key: the refund's id and the intent) and booked paid when Stripe says
//! they succeeded.
//! Payment confirmation comes by webhook ([`crate::Settlement::stripe_webhook`]), not here.

use async_trait::async_trait;
use jinguo_common::Db;
use jinguo_common::clock::Clock;
use jinguo_common::money::Fen;
use jinguo_order::payment::{
    PaymentEvent, PaymentInstructions, PaymentMethod, PaymentProvider, PaymentRequest,
    PaymentState, RefundOutcome,
};
use jinguo_order::{NoticeProblem, OrderError, OrderId};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

use crate::RefundId;
use crate::service::record_stripe_refund;
use crate::stripe::{IntentStatus, StripeGateway};

pub struct StripeProvider {
    db: Db,
    clock: Clock,
    gateway: Arc<StripeGateway>,
}

impl StripeProvider {
    pub fn new(db: Db, clock: Clock, gateway: Arc<StripeGateway>) -> StripeProvider {
        StripeProvider { db, clock, gateway }
    }

    /// The PaymentIntent made for an order, if one was.
    async fn intent_of(&self, order: OrderId) -> Result<Option<String>, OrderError> {
        Ok(
            sqlx::query_scalar("select intent_id from stripe_payments where order_id = $1")
                .bind(order)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }
}

fn payment_error(e: impl std::fmt::Display) -> OrderError {
    OrderError::Provider(e.to_string())
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::Stripe
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentInstructions, OrderError> {
        let known = sqlx::query(
            "select intent_id, client_secret, amount_fen from stripe_payments where order_id = $1",
        )
        .bind(request.order_id)
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(r) = known {
            return Ok(PaymentInstructions::Stripe {
                publishable_key: self.gateway.publishable_key().to_owned(),
                intent_id: r.try_get("intent_id")?,
                client_secret: r.try_get("client_secret")?,
                amount_fen: r.try_get("amount_fen")?,
            });
        }
        let intent = self
            .gateway
            .create_intent(request.order_id.0, &request.number, request.amount)
            .await
            .map_err(payment_error)?;
        let secret = intent
            .client_secret
            .clone()
            .ok_or_else(|| payment_error("Stripe gave no client secret"))?;
        let now = self.clock.now_ms();
        sqlx::query(
            "insert into stripe_payments (order_id, intent_id, client_secret, status, amount_fen, created_at, updated_at)
             values ($1, $2, $3, 'requires_payment_method', $4, $5, $5) on conflict (order_id) do nothing",
        )
        .bind(request.order_id)
        .bind(&intent.id)
        .bind(&secret)
        .bind(intent.amount.0)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(PaymentInstructions::Stripe {
            publishable_key: self.gateway.publishable_key().to_owned(),
            intent_id: intent.id,
            client_secret: secret,
            amount_fen: intent.amount.0,
        })
    }

    async fn payment_state(
        &self,
        order: OrderId,
        _reference: &str,
    ) -> Result<PaymentState, OrderError> {
        let Some(intent) = self.intent_of(order).await? else {
            return Ok(PaymentState::Pending);
        };
        let intent = self
            .gateway
            .retrieve_intent(&intent)
            .await
            .map_err(payment_error)?;
        Ok(match intent.status {
            IntentStatus::Succeeded => PaymentState::Paid {
                amount: intent.amount,
            },
            _ => PaymentState::Pending,
        })
    }

    async fn refund(
        &self,
        order: OrderId,
        refund: RefundId,
        amount: Fen,
    ) -> Result<RefundOutcome, OrderError> {
        let intent = self
            .intent_of(order)
            .await?
            .ok_or_else(|| payment_error(format!("no PaymentIntent for order {order}")))?;
        let done = self
            .gateway
            .refund(
                &intent,
                amount,
                &crate::keys::refund(refund, &intent),
                refund.0,
            )
            .await
            .map_err(payment_error)?;
        if record_stripe_refund(&self.db, refund, &done, self.clock.now_ms()).await? {
            Ok(RefundOutcome::Done { id: done.id })
        } else {
            Ok(RefundOutcome::Pending {
                note: format!("Stripe refund {} is {}", done.id, done.status),
            })
        }
    }

    fn verify_notification(
        &self,
        _headers: &HashMap<String, String>,
        _body: &[u8],
    ) -> Result<PaymentEvent, OrderError> {
        // Stripe's events arrive at POST /webhooks/stripe (Settlement::stripe_webhook).
        Err(OrderError::Notice(NoticeProblem::NotConfigured))
    }
}
