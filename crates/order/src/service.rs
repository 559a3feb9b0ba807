//! The order operations the storefront calls.

use jinguo_catalog::Catalog;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use jinguo_common::{Clock, Db};
use std::sync::Arc;

use crate::OrderError;
use crate::address::{self, Address, NewAddress};
use crate::books::Books;
use crate::cart::{self, CartView, Owner};
use crate::checkout::{self, Placed};
use crate::notify::{self, Notification};
use crate::orders::{self, Filter, Order};
use crate::payment::{PaymentInstructions, PaymentMethod, PaymentProvider, PaymentRequest};
use crate::region::{self, Level, Restriction};
use crate::shipping::{self, ShippingRule};
use crate::state::{Action, Actor, Transition, Windows};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSettings {
    /// How long an unpaid order holds its stock.
    pub hold_ms: Millis,
    pub windows: Windows,
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            hold_ms: 15 * 60_000,
            windows: Windows::default(),
        }
    }
}

#[derive(Clone)]
pub struct Orders {
    db: Db,
    clock: Clock,
    catalog: Catalog,
    settings: OrderSettings,
    /// The providers buyers may pay through; the first is the default.
    payments: Vec<Arc<dyn PaymentProvider>>,
    books: Option<Arc<dyn Books>>,
}

/// What checkout returns: the order and how to pay for it.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub placed: Placed,
    /// `None` when the provider could not be reached; the order page asks again.
    pub instructions: Option<PaymentInstructions>,
}

/// A bank transfer that did not pay its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedTransfer {
    pub order_id: i64,
    pub reference: String,
    pub amount: Fen,
    pub received_on: String,
    pub note: String,
}

/// One of a producer's SKUs as its stock page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProducerSku {
    pub id: i64,
    pub product_title: String,
    pub product_slug: String,
    pub name: String,
    pub price: Fen,
    pub stock: i64,
}

/// What happened to a recorded bank transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The exact amount: the order is paid.
    Accepted,
    /// Kept for staff to sort out (wrong amount, or the order is no longer waiting for it).
    Flagged,
}

impl Orders {
    pub fn new(
        db: Db,
        clock: Clock,
        catalog: Catalog,
        settings: OrderSettings,
        payment: Arc<dyn PaymentProvider>,
    ) -> Orders {
        Orders {
            db,
            clock,
            catalog,
            settings,
            payments: vec![payment],
            books: None,
        }
    }

    /// Offers `provider` too, after the default (a provider of the same method replaces it).
    pub fn with_payment(mut self, provider: Arc<dyn PaymentProvider>) -> Orders {
        self.payments.retain(|p| p.method() != provider.method());
        self.payments.push(provider);
        self
    }

    /// The methods buyers may choose, the default first.
    pub fn payment_methods(&self) -> Vec<PaymentMethod> {
        self.payments.iter().map(|p| p.method()).collect()
    }

    /// Records every money movement of an order in `books`, in the same transaction.
    pub fn with_books(mut self, books: Arc<dyn Books>) -> Orders {
        self.books = Some(books);
        self
    }

    /// The provider of `method`.
    pub fn payment(&self, method: PaymentMethod) -> Result<&Arc<dyn PaymentProvider>, OrderError> {
        self.payments
            .iter()
            .find(|p| p.method() == method)
            .ok_or_else(|| {
                OrderError::invalid(
                    "payment_method",
                    format!("{} is not offered here", method.as_str()),
                )
            })
    }

    /// The provider an order is paid through (its `payment_method` column).
    fn payment_of(&self, order: &Order) -> Result<&Arc<dyn PaymentProvider>, OrderError> {
        let method = PaymentMethod::parse(&order.payment_method).ok_or_else(|| {
            OrderError::Payment(format!("unknown payment method {}", order.payment_method))
        })?;
        self.payment(method)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> OrderSettings {
        self.settings
    }

    pub(crate) fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.db.pool().acquire().await
    }

    // ---- cart ------------------------------------------------------------------------------

    pub async fn cart(&self, owner: Owner) -> Result<CartView, OrderError> {
        cart::view(&mut *self.conn().await?, owner, self.now()).await
    }

    pub async fn cart_count(&self, owner: Owner) -> Result<i64, OrderError> {
        Ok(cart::count(&mut *self.conn().await?, owner).await?)
    }

    /// Adds `quantity` (or sets it, with `replace`); 0 with `replace` removes the line.
    pub async fn put_in_cart(
        &self,
        owner: Owner,
        sku: i64,
        quantity: i64,
        replace: bool,
    ) -> Result<(), OrderError> {
        let mut tx = self.db.begin_write().await?;
        if replace && quantity == 0 {
            cart::remove(&mut tx, owner, sku, self.now()).await?;
        } else {
            cart::put(&mut tx, owner, sku, quantity, replace, self.now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_from_cart(&self, owner: Owner, sku: i64) -> Result<(), OrderError> {
        cart::remove(&mut *self.conn().await?, owner, sku, self.now()).await
    }

    pub async fn acknowledge_prices(&self, owner: Owner) -> Result<(), OrderError> {
        cart::acknowledge_prices(&mut *self.conn().await?, owner, self.now()).await
    }

    /// Moves a guest's cart into the buyer's account on sign-in.
    pub async fn merge_cart(&self, session: i64, user: i64) -> Result<(), OrderError> {
        let mut tx = self.db.begin_write().await?;
        cart::merge(&mut tx, session, user, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- addresses and restrictions ----------------------------------------------------------

    pub async fn addresses(&self, user: i64) -> Result<Vec<Address>, OrderError> {
        Ok(address::of_user(&mut *self.conn().await?, user).await?)
    }

    pub async fn address(&self, user: i64, id: i64) -> Result<Address, OrderError> {
        address::get(&mut *self.conn().await?, user, id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    pub async fn add_address(&self, user: i64, new: &NewAddress) -> Result<Address, OrderError> {
        address::add(&mut *self.conn().await?, user, new, self.now()).await
    }

    pub async fn restriction_for(&self, district: &str) -> Result<Option<Restriction>, OrderError> {
        Ok(region::for_district(&mut *self.conn().await?, district).await?)
    }

    pub async fn restrictions(&self) -> Result<Vec<Restriction>, OrderError> {
        Ok(region::all(&mut *self.conn().await?).await?)
    }

    pub async fn set_restriction(
        &self,
        code: &str,
        level: Level,
        notice: &str,
        staff: i64,
    ) -> Result<(), OrderError> {
        region::set(
            &mut *self.conn().await?,
            code,
            level,
            notice,
            staff,
            self.now(),
        )
        .await
    }

    /// A producer's shipping rule (the default when it has set none).
    pub async fn shipping_rule(&self, producer: i64) -> Result<ShippingRule, OrderError> {
        let rules = shipping::rules_for(&mut *self.conn().await?, &[producer]).await?;
        Ok(rules
            .get(&producer)
            .copied()
            .unwrap_or(shipping::DEFAULT_RULE))
    }

    pub async fn set_shipping_rule(
        &self,
        producer: i64,
        rule: ShippingRule,
    ) -> Result<(), OrderError> {
        shipping::set_rule(&mut *self.conn().await?, producer, rule, self.now()).await
    }

    // ---- orders ----------------------------------------------------------------------------

    /// Places the buyer's cart as an order to `address`, taking its stock, paid by the default
    /// method.
    pub async fn checkout(&self, buyer: i64, address: &NewAddress) -> Result<Checkout, OrderError> {
        let method = self.payment_methods()[0];
        self.checkout_with(buyer, address, method).await
    }

    /// Places the buyer's cart as an order paid by `method`. When the provider cannot set the
    /// payment up just now (Stripe unreachable), the order stands and holds its stock; the order
    /// page asks the provider again.
    pub async fn checkout_with(
        &self,
        buyer: i64,
        address: &NewAddress,
        method: PaymentMethod,
    ) -> Result<Checkout, OrderError> {
        let provider = self.payment(method)?.clone();
        let placed = checkout::place(
            &self.db,
            buyer,
            address,
            method,
            self.now(),
            self.settings.hold_ms,
        )
        .await?;
        self.catalog.notify_changed();
        let instructions = match provider
            .create_payment(&PaymentRequest {
                order_id: placed.order_id,
                number: placed.number.clone(),
                reference: placed.number.clone(),
                amount: placed.total,
            })
            .await
        {
            Ok(instructions) => Some(instructions),
            Err(error) => {
                tracing::warn!(order = placed.order_id, %error, "payment not set up yet; the order page will ask again");
                None
            }
        };
        Ok(Checkout {
            placed,
            instructions,
        })
    }

    pub async fn order(&self, id: i64) -> Result<Order, OrderError> {
        orders::detail(&mut *self.conn().await?, id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    pub async fn orders(&self, filter: &Filter) -> Result<Vec<Order>, OrderError> {
        Ok(orders::list(&mut *self.conn().await?, filter).await?)
    }

    pub async fn payment_instructions(
        &self,
        order: &Order,
    ) -> Result<PaymentInstructions, OrderError> {
        self.payment_of(order)?
            .create_payment(&PaymentRequest {
                order_id: order.id,
                number: order.number.clone(),
                reference: order.payment_reference.clone(),
                amount: order.total,
            })
            .await
    }

    /// Does `action` as `actor`: the state machine decides, one transaction applies.
    pub async fn act(
        &self,
        order: i64,
        action: Action,
        actor: Actor,
    ) -> Result<Transition, OrderError> {
        let mut tx = self.db.begin_write().await?;
        let applied =
            orders::act_in(&mut tx, &self.context(self.now()), order, &action, actor).await?;
        let products: Vec<jinguo_catalog::ProductId> = applied
            .revived
            .into_iter()
            .map(jinguo_catalog::ProductId)
            .collect();
        jinguo_catalog::outbox::enqueue(&mut tx, &products, self.now()).await?;
        tx.commit().await?;
        let transition = applied.transition;
        if transition.stock.is_some() {
            self.catalog.notify_changed();
        }
        // Committed: from here a failure leaves the refund owed (and listed for staff), it does
        // not undo or fail the change.
        if let Some((refund, _, amount)) = applied.refund {
            let started = match self.order(order).await {
                Ok(detail) => match self.payment_of(&detail) {
                    Ok(provider) => {
                        provider
                            .refund(&detail.payment_reference, refund, Fen(amount))
                            .await
                    }
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            if let Err(error) = started {
                tracing::warn!(order, refund, %error, "refund not started; it stays pending");
            }
        }
        Ok(transition)
    }

    fn context(&self, now: Millis) -> orders::Context<'_> {
        orders::Context {
            backend: self.db.backend(),
            now,
            windows: self.settings.windows,
            books: self.books.as_deref(),
        }
    }

    /// Does `action` as `actor` inside the caller's transaction, books included: for a payment
    /// provider's event, recorded in the same transaction as its effect. Stock an action gives
    /// back is not announced to the catalog here; use [`Orders::act`] for those.
    pub async fn act_within(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: i64,
        action: &Action,
        actor: Actor,
    ) -> Result<Transition, OrderError> {
        let applied = orders::act_in(conn, &self.context(self.now()), order, action, actor).await?;
        Ok(applied.transition)
    }

    /// The clock orders are timed by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Records a bank transfer staff read off the statement. The exact amount pays the order;
    /// anything else is kept and flagged. A reference already paid is refused and nothing is
    /// written.
    pub async fn record_transfer(
        &self,
        staff: i64,
        reference: &str,
        amount: Fen,
        received_on: &str,
    ) -> Result<(TransferOutcome, Order), OrderError> {
        if amount.0 <= 0 {
            return Err(OrderError::invalid("amount", "an amount above zero"));
        }
        let date = time::Date::parse(
            received_on,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| {
            OrderError::invalid(
                "received_on",
                format!("“{received_on}” is not a date like 2026-11-29"),
            )
        })?;
        if date > self.clock.today_in_china() {
            return Err(OrderError::invalid(
                "received_on",
                "a transfer cannot arrive in the future",
            ));
        }
        let reference = reference.trim().to_uppercase();
        let now = self.now();
        let mut tx = self.db.begin_write().await?;
        let order_id = orders::by_reference(&mut tx, &reference)
            .await?
            .ok_or_else(|| OrderError::UnknownReference(reference.clone()))?;
        let accepted: i64 = sqlx::query_scalar(
            "select count(*) from bank_transfers where reference = $1 and outcome = 'accepted'",
        )
        .bind(&reference)
        .fetch_one(&mut *tx)
        .await?;
        if accepted > 0 {
            return Err(OrderError::AlreadyPaid(reference));
        }
        let order = orders::load_state(&mut tx, self.db.backend(), order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        let method: String = sqlx::query_scalar("select payment_method from orders where id = $1")
            .bind(order_id)
            .fetch_one(&mut *tx)
            .await?;
        let (outcome, note) = if method != PaymentMethod::BankTransfer.as_str() {
            // The buyer chose to pay through Stripe; the money is not booked as its payment.
            (
                TransferOutcome::Flagged,
                format!("the order is paid through {method}; pay the money back"),
            )
        } else if order.status != crate::state::OrderStatus::AwaitingPayment {
            (
                TransferOutcome::Flagged,
                format!("the order is {}; pay the money back", order.status.as_str()),
            )
        } else if amount.0 != order.total_fen {
            (
                TransferOutcome::Flagged,
                format!("{} received, {} due", amount, Fen(order.total_fen)),
            )
        } else {
            (TransferOutcome::Accepted, String::new())
        };
        sqlx::query(
            "insert into bank_transfers (order_id, reference, amount_fen, received_on, outcome, note, recorded_by, recorded_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(order_id)
        .bind(&reference)
        .bind(amount.0)
        .bind(received_on)
        .bind(match outcome {
            TransferOutcome::Accepted => "accepted",
            TransferOutcome::Flagged => "flagged",
        })
        .bind(&note)
        .bind(staff)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if outcome == TransferOutcome::Accepted {
            orders::act_in(
                &mut tx,
                &self.context(now),
                order_id,
                &Action::Pay,
                Actor::Staff(staff),
            )
            .await?;
        }
        tx.commit().await?;
        let order = self.order(order_id).await?;
        Ok((outcome, order))
    }

    /// Transfers recorded for an order: (amount, received on, outcome, note).
    pub async fn transfers(
        &self,
        order: i64,
    ) -> Result<Vec<(Fen, String, String, String)>, OrderError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "select amount_fen, received_on, outcome, note from bank_transfers where order_id = $1 order by id",
        )
        .bind(order)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    Fen(r.try_get("amount_fen")?),
                    r.try_get("received_on")?,
                    r.try_get("outcome")?,
                    r.try_get("note")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Transfers kept for staff to sort out (wrong amount, or an order no longer waiting), newest first.
    pub async fn flagged_transfers(&self) -> Result<Vec<FlaggedTransfer>, OrderError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "select order_id, reference, amount_fen, received_on, note from bank_transfers
             where outcome = 'flagged' order by id desc limit 200",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FlaggedTransfer {
                    order_id: r.try_get("order_id")?,
                    reference: r.try_get("reference")?,
                    amount: Fen(r.try_get("amount_fen")?),
                    received_on: r.try_get("received_on")?,
                    note: r.try_get("note")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    // ---- notifications -----------------------------------------------------------------------

    pub async fn notifications(&self, user: i64) -> Result<Vec<Notification>, OrderError> {
        Ok(notify::of_user(&mut *self.conn().await?, user, 50).await?)
    }

    pub async fn unread_notifications(&self, user: i64) -> Result<i64, OrderError> {
        Ok(notify::unread_count(&mut *self.conn().await?, user).await?)
    }

    /// Emails the notifications due (a batch), each once even with several processes sending;
    /// returns how many were sent. One that fails is retried when its claim runs out.
    pub async fn send_notification_emails(
        &self,
        sender: &dyn notify::EmailSender,
    ) -> Result<usize, OrderError> {
        const BATCH: i64 = 20;
        const LEASE_MS: Millis = 120_000;
        let claimed = {
            let mut tx = self.db.begin_write().await?;
            let claimed = notify::claim_unsent_emails(
                &mut tx,
                self.db.backend(),
                BATCH,
                LEASE_MS,
                self.now(),
            )
            .await?;
            tx.commit().await?;
            claimed
        };
        let mut sent = 0;
        for (notification, to) in &claimed {
            match sender.send(to, notification).await {
                Ok(()) => {
                    notify::mark_emailed(&mut *self.conn().await?, notification.id, self.now())
                        .await?;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(id = notification.id, %error, "notification email not sent; will retry");
                    break;
                }
            }
        }
        Ok(sent)
    }

    pub async fn mark_notifications_read(&self, user: i64) -> Result<(), OrderError> {
        Ok(notify::mark_all_read(&mut *self.conn().await?, user, self.now()).await?)
    }

    /// A producer's SKUs, for its stock page.
    pub async fn producer_skus(&self, producer: i64) -> Result<Vec<ProducerSku>, OrderError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "select s.id, s.name, s.price_fen, s.stock, p.slug, p.title from skus s join products p on p.id = s.product_id
             where p.producer_id = $1 order by p.title, s.id",
        )
        .bind(producer)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProducerSku {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    price: Fen(r.try_get("price_fen")?),
                    stock: r.try_get("stock")?,
                    product_slug: r.try_get("slug")?,
                    product_title: r.try_get("title")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A stock-take by a producer: sets a SKU's stock (their own SKUs only). Stock is what is
    /// free to sell: units held by unpaid orders and units sold are not part of it.
    pub async fn set_stock(&self, producer: i64, sku: i64, stock: i64) -> Result<(), OrderError> {
        let owner: Option<i64> = sqlx::query_scalar(
            "select p.producer_id from skus s join products p on p.id = s.product_id where s.id = $1",
        )
        .bind(sku)
        .fetch_optional(self.db.pool())
        .await?;
        match owner {
            Some(p) if p == producer => {}
            // Another producer's SKU looks the same as no SKU.
            _ => return Err(OrderError::NotFound),
        }
        self.catalog
            .set_stock(jinguo_catalog::SkuId(sku), stock)
            .await
            .map_err(|e| match e {
                jinguo_catalog::CatalogError::Invalid { field, message } => {
                    OrderError::Invalid { field, message }
                }
                jinguo_catalog::CatalogError::NotFound { .. } => OrderError::NotFound,
                other => OrderError::Catalog(other),
            })
    }
}
