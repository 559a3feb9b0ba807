//! [`Settlement`]: what the storefront and the CLI call. Refunds owed and paid back, payout
//! runs, Stripe's webhooks, statements and reconciliation. (A refund is given as an order
//! action, [`jinguo_order::state::Action::Refund`], which these books record.)

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field};
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor, OrderStatus};
use jinguo_order::{OrderId, Orders};
use serde::Serialize;
use sqlx::AnyConnection;
use std::sync::Arc;

use crate::ledger::{self, Account, Kind, Posting};
use crate::payout::{self, BatchId, Payout, PayoutDetails, PayoutId, SettleReport};
use crate::reconcile;
use crate::refund::{self, NewRefund, Refund, RefundStatus};
use crate::settings::SettlementSettings;
use crate::statement;
use crate::stripe::{EventObject, StripeGateway, WebhookError};
use crate::{RefundId, SettlementError};

#[derive(Clone)]
pub struct Settlement {
    db: Db,
    orders: Orders,
    stripe: Option<Arc<StripeGateway>>,
    settings: SettlementSettings,
}

/// What a Stripe webhook delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// Applied now: what it did.
    Applied(String),
    /// This event id was applied before; nothing was done again.
    Replay,
    /// An event we do not act on, recorded.
    Ignored,
}

/// Why a webhook delivery was refused (answered 400); nothing was applied.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefusal {
    #[error(transparent)]
    Signature(#[from] WebhookError),
    #[error("event {event}: {message}")]
    Unusable { event: String, message: String },
    #[error(transparent)]
    Settlement(#[from] SettlementError),
}

impl Settlement {
    pub fn new(
        db: Db,
        orders: Orders,
        stripe: Option<Arc<StripeGateway>>,
        settings: SettlementSettings,
    ) -> Settlement {
        Settlement {
            db,
            orders,
            stripe,
            settings,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn stripe(&self) -> Option<&Arc<StripeGateway>> {
        self.stripe.as_ref()
    }

    pub fn settings(&self) -> SettlementSettings {
        self.settings
    }

    fn now(&self) -> Millis {
        self.orders.clock().now_ms()
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.db.pool().acquire().await
    }

    // ---- refunds ---------------------------------------------------------------------------

    pub async fn refund(&self, id: RefundId) -> Result<Refund, SettlementError> {
        refund::get(&mut *self.conn().await?, id)
            .await?
            .ok_or(SettlementError::NotFound)
    }

    /// Refunds of an order, or every refund still owed (`None`), oldest first.
    pub async fn refunds(&self, order: Option<OrderId>) -> Result<Vec<Refund>, SettlementError> {
        Ok(refund::list(&mut *self.conn().await?, order).await?)
    }

    /// The money of refund `id` has gone back to the buyer (staff paid a bank transfer back,
    /// or the provider confirmed it): it leaves clearing. Once only.
    pub async fn mark_refund_paid(
        &self,
        id: RefundId,
        reference: &str,
    ) -> Result<Refund, SettlementError> {
        let reference = invalid::text(Field::Reference, reference, 64)?;
        let mut tx = self.db.begin_write().await?;
        let owed = refund::get(&mut tx, id)
            .await?
            .ok_or(SettlementError::NotFound)?;
        let method = payment_method(&mut tx, owed.order_id).await?;
        if method == PaymentMethod::Stripe && self.stripe.is_some() {
            // Stripe pays it back, retried with its key until it does: paying it by hand too
            // would pay twice.
            return Err(SettlementError::RefundByStripe(id));
        }
        mark_refund_paid_in(&mut tx, id, reference, self.now()).await?;
        tx.commit().await?;
        self.refund(id).await
    }

    // ---- payouts ---------------------------------------------------------------------------

    /// Where a producer's payouts go. A Stripe account only where the shop has Stripe, or its
    /// payouts could never be sent.
    pub async fn set_payout_details(
        &self,
        producer: ProducerId,
        details: PayoutDetails,
    ) -> Result<PayoutDetails, SettlementError> {
        if matches!(details, PayoutDetails::Stripe { .. }) && self.stripe.is_none() {
            return Err(SettlementError::NoStripe);
        }
        payout::set_details(&self.db, producer, details, self.now()).await
    }

    pub async fn payout_details(
        &self,
        producer: ProducerId,
    ) -> Result<Option<PayoutDetails>, SettlementError> {
        payout::details(&mut *self.conn().await?, producer).await
    }

    pub async fn payable(&self, producer: ProducerId) -> Result<Fen, SettlementError> {
        payout::payable(&mut *self.conn().await?, producer).await
    }

    /// Books this run's payouts, then sends the Stripe ones (when Stripe is configured). Stripe's
    /// fees are booked first, so that clearing follows Stripe's balance.
    pub async fn settle(&self, by: &str) -> Result<SettleReport, SettlementError> {
        if let Err(error) = self.book_stripe_fees().await {
            tracing::warn!(%error, "Stripe fees not booked this run");
        }
        let report = payout::settle(&self.db, self.settings.minimum_payout, by, self.now()).await?;
        self.send_stripe_payouts().await?;
        Ok(report)
    }

    /// Sends Stripe payouts still pending; how many went.
    pub async fn send_stripe_payouts(&self) -> Result<usize, SettlementError> {
        match &self.stripe {
            Some(stripe) => payout::send_stripe(&self.db, stripe, self.now()).await,
            None => Ok(0),
        }
    }

    pub async fn payouts(
        &self,
        producer: Option<ProducerId>,
        batch: Option<BatchId>,
    ) -> Result<Vec<Payout>, SettlementError> {
        payout::list(&mut *self.conn().await?, producer, batch).await
    }

    pub async fn bank_file(&self, batch: BatchId) -> Result<String, SettlementError> {
        payout::bank_file(&self.db, batch).await
    }

    pub async fn mark_payout_paid(
        &self,
        id: PayoutId,
        reference: &str,
    ) -> Result<Payout, SettlementError> {
        payout::mark_bank_paid(&self.db, id, reference, self.now()).await
    }

    pub async fn mark_payout_failed(
        &self,
        id: PayoutId,
        why: &str,
    ) -> Result<Payout, SettlementError> {
        payout::mark_failed(&self.db, id, why, self.now()).await
    }

    pub async fn confirm_bank_file(&self, text: &str) -> Result<Vec<Payout>, SettlementError> {
        payout::confirm_bank_file(&self.db, text, self.now()).await
    }

    /// A producer's statement for `month`.
    pub async fn statement(
        &self,
        producer: ProducerId,
        month: statement::Month,
    ) -> Result<statement::Statement, SettlementError> {
        statement::statement(&mut *self.conn().await?, producer, month).await
    }

    /// Books the fee Stripe kept on each movement that matches the ledger, once each.
    pub async fn book_stripe_fees(&self) -> Result<Fen, SettlementError> {
        let Some(stripe) = &self.stripe else {
            return Ok(Fen(0));
        };
        let history = stripe.balance_transactions(0).await?;
        Ok(reconcile::book_stripe_fees(&self.db, &history, self.now())
            .await?
            .fees_booked)
    }

    /// Matches the ledger against Stripe's balance history (when Stripe is configured) and the
    /// bank records. Writes nothing.
    pub async fn reconcile(&self) -> Result<reconcile::Reconciliation, SettlementError> {
        let history = match &self.stripe {
            Some(stripe) => Some(stripe.balance_transactions(0).await?),
            None => None,
        };
        reconcile::reconcile(&self.db, history, self.now()).await
    }

    pub async fn check_ledger(&self) -> Result<ledger::Check, SettlementError> {
        ledger::check(&mut *self.conn().await?).await
    }

    // ---- Stripe ----------------------------------------------------------------------------

    /// Applies one webhook delivery from Stripe: verified against `Stripe-Signature` (5-minute
    /// tolerance), then applied in one transaction together with the record of its event id, so
    /// that a replay is recognised and nothing is applied twice.
    pub async fn stripe_webhook(
        &self,
        payload: &str,
        signature: &str,
    ) -> Result<WebhookOutcome, WebhookRefusal> {
        let Some(stripe) = &self.stripe else {
            return Err(WebhookRefusal::Unusable {
                event: String::new(),
                message: "Stripe is not configured here".into(),
            });
        };
        let event = stripe.verify_webhook(payload, signature)?;
        let now = self.now();
        let unusable = |message: String| WebhookRefusal::Unusable {
            event: event.id.clone(),
            message,
        };
        let mut tx = self.db.begin_write().await.map_err(SettlementError::from)?;
        let fresh: Option<String> = sqlx::query_scalar(
            "insert into provider_events (provider, event_id, kind, outcome, received_at)
             values ('stripe', $1, $2, '', $3) on conflict (provider, event_id) do nothing returning event_id",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(SettlementError::from)?;
        if fresh.is_none() {
            return Ok(WebhookOutcome::Replay);
        }
        let mut refund_after = None;
        let (order, outcome) = match (&event.object, event.kind.as_str()) {
            (EventObject::PaymentIntent(intent), "payment_intent.succeeded") => {
                let order = self
                    .order_of_intent(&mut tx, &intent.id)
                    .await?
                    .ok_or_else(|| {
                        unusable(format!(
                            "PaymentIntent {} names no order of ours",
                            intent.id
                        ))
                    })?;
                let paying = jinguo_order::orders::payment_of(&mut tx, order)
                    .await
                    .map_err(SettlementError::from)?
                    .ok_or_else(|| unusable(format!("order {order} is gone")))?;
                sqlx::query(
                    "update stripe_payments set status = 'succeeded', updated_at = $1,
                         charge_id = coalesce($2, charge_id)
                     where intent_id = $3",
                )
                .bind(now)
                .bind(intent.latest_charge.as_deref())
                .bind(&intent.id)
                .execute(&mut *tx)
                .await
                .map_err(SettlementError::from)?;
                if paying.status == OrderStatus::AwaitingPayment
                    && intent.amount == paying.total
                    && intent.currency == "cny"
                {
                    self.orders
                        .act_within(&mut tx, order, &Action::Pay, Actor::System)
                        .await
                        .map_err(SettlementError::from)?;
                    (Some(order), WebhookOutcome::Applied("order paid".into()))
                } else {
                    // Booked as this order's payment before (this is another event about the
                    // same money): nothing more. Otherwise the order was cancelled or expired
                    // before the money came, or the amount differs: the money goes back, it is
                    // neither kept nor lost.
                    let paid_here =
                        ledger::is_posted(&mut tx, &format!("pay:order:{order}")).await?;
                    let late = if paid_here {
                        None
                    } else {
                        self.book_unmatched(&mut tx, order, intent.amount, &event.id, now)
                            .await?
                    };
                    match late {
                        Some(id) => {
                            refund_after = Some((id, intent.id.clone(), intent.amount));
                            (
                                Some(order),
                                WebhookOutcome::Applied(format!(
                                    "order is {}: refunded",
                                    paying.status
                                )),
                            )
                        }
                        None => (Some(order), WebhookOutcome::Ignored),
                    }
                }
            }
            (EventObject::PaymentIntent(intent), kind) if kind.starts_with("payment_intent.") => {
                let order = self.order_of_intent(&mut tx, &intent.id).await?;
                sqlx::query(
                    "update stripe_payments set status = $1, updated_at = $2 where intent_id = $3 and status <> 'succeeded'",
                )
                .bind(intent.status.as_str())
                .bind(now)
                .bind(&intent.id)
                .execute(&mut *tx)
                .await
                .map_err(SettlementError::from)?;
                (order, WebhookOutcome::Ignored)
            }
            (EventObject::Refund(refund), _) if refund.status == "succeeded" => {
                let ours = refund::by_provider_ref(&mut tx, &refund.id)
                    .await
                    .map_err(SettlementError::from)?;
                match ours {
                    Some(owed) => {
                        if owed.status == RefundStatus::Pending {
                            mark_refund_paid_in(&mut tx, owed.id, &refund.id, now).await?;
                            (None, WebhookOutcome::Applied("refund paid".into()))
                        } else {
                            (None, WebhookOutcome::Ignored)
                        }
                    }
                    None => (None, WebhookOutcome::Ignored),
                }
            }
            _ => (None, WebhookOutcome::Ignored),
        };
        sqlx::query(
            "update provider_events set order_id = $1, outcome = $2 where provider = 'stripe' and event_id = $3",
        )
        .bind(order)
        .bind(match &outcome {
            WebhookOutcome::Applied(what) => what.as_str(),
            WebhookOutcome::Replay => "replay",
            WebhookOutcome::Ignored => "ignored",
        })
        .bind(&event.id)
        .execute(&mut *tx)
        .await
        .map_err(SettlementError::from)?;
        tx.commit().await.map_err(SettlementError::from)?;
        if let (Some((refund, intent, amount)), Some(stripe)) = (refund_after, &self.stripe) {
            self.send_stripe_refund(stripe, refund, &intent, amount)
                .await;
        }
        Ok(outcome)
    }

    /// The order a PaymentIntent of ours pays, by the intents recorded at checkout; an intent
    /// we never made (another shop on the same account, a test) names none, whatever its
    /// metadata says.
    async fn order_of_intent(
        &self,
        conn: &mut AnyConnection,
        intent: &str,
    ) -> Result<Option<OrderId>, SettlementError> {
        Ok(
            sqlx::query_scalar("select order_id from stripe_payments where intent_id = $1")
                .bind(intent)
                .fetch_optional(conn)
                .await?,
        )
    }

    /// Money that arrived for an order that no longer wants it: owed straight back. Once per
    /// order (an order has one PaymentIntent): `None` when it was booked before.
    async fn book_unmatched(
        &self,
        conn: &mut AnyConnection,
        order: OrderId,
        amount: Fen,
        event: &str,
        now: Millis,
    ) -> Result<Option<RefundId>, SettlementError> {
        let before: i64 = sqlx::query_scalar(
            "select count(*) from ledger_transactions where kind = 'unmatched_payment' and order_id = $1",
        )
        .bind(order)
        .fetch_one(&mut *conn)
        .await?;
        if before > 0 {
            return Ok(None);
        }
        let id = refund::create(
            conn,
            &NewRefund {
                order,
                part: None,
                amount,
                reason: "payment arrived after the order closed",
                by: None,
                now,
            },
        )
        .await?;
        let posting = Posting {
            order_id: Some(order),
            refund_id: Some(id),
            event_id: Some(event.to_owned()),
            ..Posting::new(Kind::UnmatchedPayment, format!("refund:{id}"))
        }
        .debit(Account::Clearing(PaymentMethod::Stripe), amount)
        .credit(Account::RefundsDue, amount);
        ledger::post(conn, &posting, now).await?;
        Ok(Some(id))
    }

    /// Sends again the Stripe refunds still pending a minute after they were owed (Stripe was
    /// down, or the process stopped between booking and sending); each refund's id is its
    /// idempotency key, so one already made at Stripe is not made twice. Returns how many were
    /// tried. Also sends Stripe payouts still pending.
    pub async fn retry_stripe(&self) -> Result<usize, SettlementError> {
        let Some(stripe) = self.stripe.clone() else {
            return Ok(0);
        };
        let due = refund::unsent_stripe(&mut *self.conn().await?, self.now() - 60_000).await?;
        for (id, amount, intent) in &due {
            self.send_stripe_refund(&stripe, *id, intent, *amount).await;
        }
        self.send_stripe_payouts().await?;
        Ok(due.len())
    }

    /// Sends refund `refund` through Stripe (idempotent by its id) and books it paid on success;
    /// a failure leaves it pending, listed for staff.
    pub(crate) async fn send_stripe_refund(
        &self,
        stripe: &StripeGateway,
        refund: RefundId,
        intent: &str,
        amount: Fen,
    ) {
        match stripe
            .refund(
                intent,
                amount,
                &crate::keys::refund(refund, intent),
                refund.0,
            )
            .await
        {
            Ok(done) => {
                if let Err(error) = record_stripe_refund(&self.db, refund, &done, self.now()).await
                {
                    tracing::warn!(%refund, %error, "refund sent but not booked");
                }
            }
            Err(error) => tracing::warn!(%refund, %error, "Stripe refund failed; it stays pending"),
        }
    }
}

/// What Stripe answered to refund `refund`: booked paid back once Stripe says `succeeded`;
/// otherwise (Alipay and WeChat Pay refunds may take a while) its Stripe id is kept, it stays
/// owed, and the `refund.updated` webhook or the next retry (same key, same refund) books it.
/// Returns whether it is paid back now.
pub(crate) async fn record_stripe_refund(
    db: &jinguo_common::Db,
    refund: RefundId,
    done: &crate::stripe::StripeRefund,
    now: Millis,
) -> Result<bool, SettlementError> {
    let mut tx = db.begin_write().await?;
    if done.status != "succeeded" {
        refund::set_provider_ref(&mut tx, refund, &done.id).await?;
        tx.commit().await?;
        tracing::info!(%refund, stripe = %done.id, status = %done.status, "Stripe refund not final yet");
        return Ok(false);
    }
    match mark_refund_paid_in(&mut tx, refund, &done.id, now).await {
        // The webhook got there first.
        Err(SettlementError::RefundAlreadyPaid(_)) => return Ok(true),
        other => other?,
    }
    tx.commit().await?;
    Ok(true)
}

/// How order `order` is paid: which clearing account its money moves through.
async fn payment_method(
    conn: &mut AnyConnection,
    order: OrderId,
) -> Result<PaymentMethod, SettlementError> {
    Ok(jinguo_order::orders::payment_of(conn, order)
        .await?
        .ok_or(SettlementError::NotFound)?
        .method)
}

/// Books refund `id` as paid back: out of `refunds_due` and out of the clearing account of the
/// order's payment method. Once only.
pub(crate) async fn mark_refund_paid_in(
    conn: &mut AnyConnection,
    id: RefundId,
    reference: &str,
    now: Millis,
) -> Result<(), SettlementError> {
    let refund = refund::get(conn, id)
        .await?
        .ok_or(SettlementError::NotFound)?;
    if !refund::mark_done(conn, id, reference, now).await? {
        return Err(SettlementError::RefundAlreadyPaid(id));
    }
    let method = payment_method(conn, refund.order_id).await?;
    let posting = Posting {
        order_id: Some(refund.order_id),
        part_id: refund.part_id,
        refund_id: Some(id),
        ..Posting::new(Kind::RefundPaid, format!("refund_paid:{id}"))
    }
    .memo(reference)
    .debit(Account::RefundsDue, refund.amount)
    .credit(Account::Clearing(method), refund.amount);
    ledger::post(conn, &posting, now).await?;
    Ok(())
}
