//! [`Settlement`]: what the storefront and the CLI call. Refunds staff start (whole or partial),
//! refunds paid back, payout runs, Stripe's webhooks, statements and reconciliation.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use jinguo_order::Orders;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor, OrderStatus};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;

use crate::SettlementError;
use crate::escrow;
use crate::ledger::{self, Account, Kind, Posting};
use crate::payout::{self, Payout, PayoutDetails, SettleReport};
use crate::reconcile;
use crate::statement;
use crate::stripe::{EventObject, StripeGateway, WebhookError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementSettings {
    /// Producers owed less than this wait for the next run.
    pub minimum_payout: Fen,
    /// The platform's fee, as the order books charge it (given back in proportion on refunds
    /// after release).
    pub fee: crate::FeeRate,
}

impl Default for SettlementSettings {
    fn default() -> Self {
        SettlementSettings {
            minimum_payout: Fen(10_000),
            fee: crate::FeeRate::default(),
        }
    }
}

#[derive(Clone)]
pub struct Settlement {
    db: Db,
    orders: Orders,
    stripe: Option<Arc<StripeGateway>>,
    settings: SettlementSettings,
}

/// A refund as staff and buyers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub part_id: Option<i64>,
    pub amount: Fen,
    pub status: String,
    pub reason: String,
    pub provider_ref: Option<String>,
    pub created_at: Millis,
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

    /// Staff refund `amount` of part `part` of a paid order (a partial refund: a damaged item, a
    /// shortfall). Out of escrow before the part's money is released, out of the producer's
    /// payable after. More than is left on the part is refused and nothing is written.
    pub async fn refund_part(
        &self,
        staff: i64,
        order: i64,
        part: i64,
        amount: Fen,
        reason: &str,
    ) -> Result<Refund, SettlementError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(SettlementError::invalid(
                "reason",
                "say why, in 1 to 200 characters",
            ));
        }
        if amount.0 <= 0 {
            return Err(SettlementError::invalid("amount", "an amount above zero"));
        }
        let now = self.now();
        let mut tx = self.db.begin_write().await?;
        // Lock the part (and its order) first; only then add up what was refunded, in a
        // statement of its own, so that a refund committed while this one waited is counted
        // (PostgreSQL reads each statement's snapshot when it starts). Only the backend's
        // locking clause is formatted in.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select o.status, o.payment_reference, o.payment_method, p.status as part_status,
                    p.items_fen + p.shipping_fen as total
             from order_parts p join orders o on o.id = p.order_id
             where p.id = $1 and p.order_id = $2{}",
            self.db.backend().lock_suffix()
        )))
        .bind(part)
        .bind(order)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(SettlementError::NotFound)?;
        let status: String = row.try_get("status")?;
        if status != OrderStatus::Paid.as_str() && status != OrderStatus::Completed.as_str() {
            return Err(SettlementError::NotRefundable(status));
        }
        let refunded: i64 = sqlx::query_scalar(
            "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where part_id = $1",
        )
        .bind(part)
        .fetch_one(&mut *tx)
        .await?;
        let left = Fen(row.try_get::<i64, _>("total")? - refunded);
        let part_status: String = row.try_get("part_status")?;
        let left = if part_status == "returned" || part_status == "cancelled" {
            Fen(0)
        } else {
            left
        };
        if amount > left {
            tracing::info!(
                order,
                part,
                asked = amount.0,
                left = left.0,
                "refund refused: more than is left"
            );
            return Err(SettlementError::RefundTooLarge {
                asked: amount,
                left,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "insert into refunds (order_id, part_id, amount_fen, status, reason, requested_by, created_at)
             values ($1, $2, $3, 'pending', $4, $5, $6) returning id",
        )
        .bind(order)
        .bind(part)
        .bind(amount.0)
        .bind(reason)
        .bind(staff)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        escrow::owe_refund(
            &mut tx,
            order,
            id,
            Some(part),
            amount,
            self.settings.fee,
            now,
        )
        .await?;
        tx.commit().await?;
        let reference: String = row.try_get("payment_reference")?;
        let method: String = row.try_get("payment_method")?;
        let provider = PaymentMethod::parse(&method)
            .ok_or_else(|| SettlementError::invalid("payment_method", method.clone()))
            .and_then(|m| Ok(self.orders.payment(m)?.clone()));
        if let Err(error) = match provider {
            Ok(provider) => provider.refund(&reference, id, amount).await,
            Err(e) => Err(e.into()),
        } {
            tracing::warn!(refund = id, %error, "refund not sent; it stays pending");
        }
        self.refund(id).await
    }

    pub async fn refund(&self, id: i64) -> Result<Refund, SettlementError> {
        refund_in(&mut *self.conn().await?, id).await
    }

    /// Refunds of an order, or every refund still owed (`None`), oldest first.
    pub async fn refunds(&self, order: Option<i64>) -> Result<Vec<Refund>, SettlementError> {
        let rows = sqlx::query(
            "select id, order_id, part_id, amount_fen, status, reason, provider_ref, created_at from refunds
             where ($1 is null and status = 'pending') or order_id = $1 order by id limit 500",
        )
        .bind(order)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(read_refund).collect()
    }

    /// The money of refund `id` has gone back to the buyer (staff paid a bank transfer back,
    /// or the provider confirmed it): it leaves clearing. Once only.
    pub async fn mark_refund_paid(
        &self,
        id: i64,
        reference: &str,
    ) -> Result<Refund, SettlementError> {
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 64 {
            return Err(SettlementError::invalid(
                "reference",
                "the transfer's reference, 1 to 64 characters",
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let method: String = sqlx::query_scalar(
            "select o.payment_method from refunds r join orders o on o.id = r.order_id where r.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(SettlementError::NotFound)?;
        if method == PaymentMethod::Stripe.as_str() && self.stripe.is_some() {
            // Stripe pays it back, retried with its key until it does: paying it by hand too
            // would pay twice.
            return Err(SettlementError::invalid(
                "refund",
                "this refund goes back through Stripe and is retried until Stripe takes it",
            ));
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
        producer: i64,
        details: PayoutDetails,
    ) -> Result<PayoutDetails, SettlementError> {
        if matches!(details, PayoutDetails::Stripe { .. }) && self.stripe.is_none() {
            return Err(SettlementError::invalid(
                "method",
                "this shop does not pay through Stripe; give a bank account",
            ));
        }
        payout::set_details(&self.db, producer, details, self.now()).await
    }

    pub async fn payout_details(
        &self,
        producer: i64,
    ) -> Result<Option<PayoutDetails>, SettlementError> {
        payout::details(&mut *self.conn().await?, producer).await
    }

    pub async fn payable(&self, producer: i64) -> Result<Fen, SettlementError> {
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
        producer: Option<i64>,
        batch: Option<i64>,
    ) -> Result<Vec<Payout>, SettlementError> {
        payout::list(&mut *self.conn().await?, producer, batch).await
    }

    pub async fn bank_file(&self, batch: i64) -> Result<String, SettlementError> {
        payout::bank_file(&self.db, batch).await
    }

    pub async fn mark_payout_paid(
        &self,
        id: i64,
        reference: &str,
    ) -> Result<Payout, SettlementError> {
        payout::mark_bank_paid(&self.db, id, reference, self.now()).await
    }

    pub async fn mark_payout_failed(&self, id: i64, why: &str) -> Result<Payout, SettlementError> {
        payout::mark_failed(&self.db, id, why, self.now()).await
    }

    pub async fn confirm_bank_file(&self, text: &str) -> Result<Vec<Payout>, SettlementError> {
        payout::confirm_bank_file(&self.db, text, self.now()).await
    }

    /// A producer's statement for `month`.
    pub async fn statement(
        &self,
        producer: i64,
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
                let (status, total): (String, i64) =
                    sqlx::query_as("select status, total_fen from orders where id = $1")
                        .bind(order)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(SettlementError::from)?;
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
                if status == OrderStatus::AwaitingPayment.as_str()
                    && intent.amount.0 == total
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
                    let paid_here: i64 = sqlx::query_scalar(
                        "select count(*) from ledger_transactions where cause = $1",
                    )
                    .bind(format!("pay:order:{order}"))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(SettlementError::from)?;
                    let late = if paid_here > 0 {
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
                                WebhookOutcome::Applied(format!("order is {status}: refunded")),
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
                let ours: Option<i64> =
                    sqlx::query_scalar("select id from refunds where provider_ref = $1")
                        .bind(&refund.id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(SettlementError::from)?;
                match ours {
                    Some(id) => {
                        let status: String =
                            sqlx::query_scalar("select status from refunds where id = $1")
                                .bind(id)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(SettlementError::from)?;
                        if status == "pending" {
                            mark_refund_paid_in(&mut tx, id, &refund.id, now).await?;
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
    ) -> Result<Option<i64>, SettlementError> {
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
        order: i64,
        amount: Fen,
        event: &str,
        now: Millis,
    ) -> Result<Option<i64>, SettlementError> {
        let before: i64 = sqlx::query_scalar(
            "select count(*) from ledger_transactions where kind = 'unmatched_payment' and order_id = $1",
        )
        .bind(order)
        .fetch_one(&mut *conn)
        .await?;
        if before > 0 {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "insert into refunds (order_id, part_id, amount_fen, status, reason, created_at)
             values ($1, null, $2, 'pending', 'payment arrived after the order closed', $3) returning id",
        )
        .bind(order)
        .bind(amount.0)
        .bind(now)
        .fetch_one(&mut *conn)
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
        let due = sqlx::query(
            "select r.id, r.amount_fen, s.intent_id from refunds r
             join orders o on o.id = r.order_id
             join stripe_payments s on s.order_id = r.order_id
             where r.status = 'pending' and r.provider_ref is null
               and o.payment_method = 'stripe' and r.created_at < $1
             order by r.id limit 100",
        )
        .bind(self.now() - 60_000)
        .fetch_all(self.db.pool())
        .await?;
        for row in &due {
            let intent: String = row.try_get("intent_id")?;
            self.send_stripe_refund(
                &stripe,
                row.try_get("id")?,
                &intent,
                Fen(row.try_get("amount_fen")?),
            )
            .await;
        }
        self.send_stripe_payouts().await?;
        Ok(due.len())
    }

    /// Sends refund `refund` through Stripe (idempotent by its id) and books it paid on success;
    /// a failure leaves it pending, listed for staff.
    pub(crate) async fn send_stripe_refund(
        &self,
        stripe: &StripeGateway,
        refund: i64,
        intent: &str,
        amount: Fen,
    ) {
        match stripe
            .refund(intent, amount, &crate::keys::refund(refund, intent), refund)
            .await
        {
            Ok(done) => {
                if let Err(error) = record_stripe_refund(&self.db, refund, &done, self.now()).await
                {
                    tracing::warn!(refund, %error, "refund sent but not booked");
                }
            }
            Err(error) => tracing::warn!(refund, %error, "Stripe refund failed; it stays pending"),
        }
    }
}

/// What Stripe answered to refund `refund`: booked paid back once Stripe says `succeeded`;
/// otherwise (Alipay and WeChat Pay refunds may take a while) its Stripe id is kept, it stays
/// owed, and the `refund.updated` webhook or the next retry (same key, same refund) books it.
/// Returns whether it is paid back now.
pub(crate) async fn record_stripe_refund(
    db: &jinguo_common::Db,
    refund: i64,
    done: &crate::stripe::StripeRefund,
    now: Millis,
) -> Result<bool, SettlementError> {
    let mut tx = db.begin_write().await?;
    if done.status != "succeeded" {
        sqlx::query("update refunds set provider_ref = $1 where id = $2 and status = 'pending'")
            .bind(&done.id)
            .bind(refund)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(refund, stripe = %done.id, status = %done.status, "Stripe refund not final yet");
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

fn read_refund(r: &sqlx::any::AnyRow) -> Result<Refund, SettlementError> {
    Ok(Refund {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        part_id: r.try_get("part_id")?,
        amount: Fen(r.try_get("amount_fen")?),
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        provider_ref: r.try_get("provider_ref")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn refund_in(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Refund, SettlementError> {
    let row = sqlx::query(
        "select id, order_id, part_id, amount_fen, status, reason, provider_ref, created_at from refunds where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(SettlementError::NotFound)?;
    read_refund(&row)
}

/// Books refund `id` as paid back: out of `refunds_due` and out of the clearing account of the
/// order's payment method. Once only.
pub(crate) async fn mark_refund_paid_in(
    conn: &mut AnyConnection,
    id: i64,
    reference: &str,
    now: Millis,
) -> Result<(), SettlementError> {
    let refund = refund_in(conn, id).await?;
    let done = sqlx::query(
        "update refunds set status = 'done', provider_ref = $1, done_at = $2 where id = $3 and status = 'pending'",
    )
    .bind(reference)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(SettlementError::RefundAlreadyPaid(id));
    }
    let method = escrow::payment_method(conn, refund.order_id).await?;
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
