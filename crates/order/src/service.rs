//! The order operations the storefront, the jobs and settlement call.

use jinguo_catalog::{Catalog, SkuId};
use jinguo_common::clock::Millis;
use jinguo_common::ids::UserId;
use jinguo_common::invalid::{self, Field, Problem};
use jinguo_common::money::Fen;
use jinguo_common::{Clock, Db};
use std::sync::Arc;

use crate::OrderError;
use crate::address::{self, Address, NewAddress};
use crate::books::{Books, RefundOwed};
use crate::cart::{self, CartView, Owner};
use crate::checkout::{self, Placed};
use crate::ids::{AddressId, OrderId};
use crate::notify::{self, Notification};
use crate::orders::{self, Filter, Order};
use crate::payment::{PaymentInstructions, PaymentMethod, PaymentProvider, PaymentRequest};
use crate::policy::{self, Offers, Viewer};
use crate::region::{self, Level, Restriction};
use crate::settings::OrderSettings;
use crate::shipping::{self, ShippingRule};
use crate::state::{Action, Actor, OrderStatus, Transition};
use crate::transfer::{self, FlagReason, NewTransfer, Transfer, TransferOutcome};

#[derive(Clone)]
pub struct Orders {
    db: Db,
    clock: Clock,
    catalog: Catalog,
    settings: OrderSettings,
    /// The providers buyers may pay through; the first is the default.
    payments: Vec<Arc<dyn PaymentProvider>>,
    books: Arc<dyn Books>,
}

/// Where a checkout sends the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChoice {
    /// One of the buyer's address book.
    Saved(AddressId),
    /// A new address; it joins the address book once the order is placed.
    New(NewAddress),
}

/// What a buyer checks out with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub address: AddressChoice,
    /// `None`: the shop's default method.
    pub method: Option<PaymentMethod>,
}

impl Orders {
    /// A one-request purchase: `lines` (SKU and units) bought at today's prices, to the
    /// request's address, without the cart (which is left as it is). For apps and bulk buyers;
    /// stock is taken exactly as at checkout.
    pub async fn buy(
        &self,
        buyer: UserId,
        lines: &[(SkuId, i64)],
        request: &CheckoutRequest,
    ) -> Result<Checkout, OrderError> {
        self.place_order(buyer, request, checkout::Lines::Given(lines))
            .await
    }
}

/// What checkout returns: the order and how to pay for it.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub placed: Placed,
    /// `None` when the provider could not be reached; the order page asks again.
    pub instructions: Option<PaymentInstructions>,
}

/// An order as one person may see it, with what they may do with it now.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: Order,
    pub viewer: Viewer,
    pub offers: Offers,
}

/// What an action did.
#[derive(Debug, Clone)]
pub struct Acted {
    pub transition: Transition,
    /// The refund it made owed, if any.
    pub refund: Option<RefundOwed>,
}

impl Orders {
    /// Orders on `db`, paid through `payment` (more with [`Orders::with_payment`]), with their
    /// money kept in `books`.
    pub fn new(
        db: Db,
        clock: Clock,
        catalog: Catalog,
        settings: OrderSettings,
        books: Arc<dyn Books>,
        payment: Arc<dyn PaymentProvider>,
    ) -> Orders {
        Orders {
            db,
            clock,
            catalog,
            settings,
            payments: vec![payment],
            books,
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

    /// The provider of `method`; a method this shop does not take is refused.
    pub fn payment(&self, method: PaymentMethod) -> Result<&Arc<dyn PaymentProvider>, OrderError> {
        self.payments
            .iter()
            .find(|p| p.method() == method)
            .ok_or_else(|| {
                OrderError::invalid(
                    Field::PaymentMethod,
                    Problem::NotOffered {
                        value: method.as_str().to_owned(),
                    },
                )
            })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn settings(&self) -> OrderSettings {
        self.settings
    }

    /// The clock orders are timed by.
    pub fn clock(&self) -> &Clock {
        &self.clock
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
        sku: SkuId,
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

    pub async fn remove_from_cart(&self, owner: Owner, sku: SkuId) -> Result<(), OrderError> {
        cart::remove(&mut *self.conn().await?, owner, sku, self.now()).await
    }

    pub async fn acknowledge_prices(&self, owner: Owner) -> Result<(), OrderError> {
        cart::acknowledge_prices(&mut *self.conn().await?, owner, self.now()).await
    }

    /// Moves a guest's cart into the buyer's account on sign-in.
    pub async fn merge_cart(&self, session: i64, user: UserId) -> Result<(), OrderError> {
        let mut tx = self.db.begin_write().await?;
        cart::merge(&mut tx, session, user, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- addresses and restrictions ----------------------------------------------------------

    pub async fn addresses(&self, user: UserId) -> Result<Vec<Address>, OrderError> {
        Ok(address::of_user(&mut *self.conn().await?, user).await?)
    }

    pub async fn address(&self, user: UserId, id: AddressId) -> Result<Address, OrderError> {
        address::get(&mut *self.conn().await?, user, id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    pub async fn add_address(&self, user: UserId, new: &NewAddress) -> Result<Address, OrderError> {
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
        staff: UserId,
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
    pub async fn shipping_rule(
        &self,
        producer: jinguo_common::ids::ProducerId,
    ) -> Result<ShippingRule, OrderError> {
        let rules = shipping::rules_for(&mut *self.conn().await?, &[producer]).await?;
        Ok(rules
            .get(&producer)
            .copied()
            .unwrap_or(shipping::DEFAULT_RULE))
    }

    pub async fn set_shipping_rule(
        &self,
        producer: jinguo_common::ids::ProducerId,
        rule: ShippingRule,
    ) -> Result<(), OrderError> {
        shipping::set_rule(&mut *self.conn().await?, producer, rule, self.now()).await
    }

    // ---- orders ----------------------------------------------------------------------------

    /// Places the buyer's cart as an order: to a saved address or a new one (which then joins
    /// the address book), paid by the method chosen or the shop's default. When the provider
    /// cannot set the payment up just now (Stripe unreachable), the order stands and holds its
    /// stock; the order page asks the provider again.
    pub async fn checkout(
        &self,
        buyer: UserId,
        request: &CheckoutRequest,
    ) -> Result<Checkout, OrderError> {
        self.place_order(buyer, request, checkout::Lines::Cart)
            .await
    }

    async fn place_order(
        &self,
        buyer: UserId,
        request: &CheckoutRequest,
        lines: checkout::Lines<'_>,
    ) -> Result<Checkout, OrderError> {
        let method = request.method.unwrap_or(self.payment_methods()[0]);
        let provider = self.payment(method)?.clone();
        let (address, remember) = match &request.address {
            AddressChoice::Saved(id) => {
                let a = self.address(buyer, *id).await?;
                let saved = NewAddress {
                    recipient: a.recipient,
                    phone: a.phone,
                    region_code: a.region_code,
                    detail: a.detail,
                };
                (saved, false)
            }
            AddressChoice::New(new) => (new.validate()?, true),
        };
        let placed = checkout::place(
            &self.db,
            buyer,
            &address,
            remember,
            method,
            self.now(),
            self.settings.hold_ms_for(method),
            lines,
        )
        .await?;
        self.catalog.stock_changed();
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
                tracing::warn!(order = %placed.order_id, %error, "payment not set up yet; the order page will ask again");
                None
            }
        };
        Ok(Checkout {
            placed,
            instructions,
        })
    }

    /// An order, whole (for the shop's own use: jobs, settlement, staff tools).
    pub async fn order(&self, id: OrderId) -> Result<Order, OrderError> {
        orders::detail(&mut *self.conn().await?, id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    /// An order as `actor` may see it, with what they may do with it now. An order they have
    /// no part in is "not found", so that guessing ids tells nothing.
    pub async fn order_for(&self, actor: Actor, id: OrderId) -> Result<OrderView, OrderError> {
        let order = self.order(id).await?;
        let state = order.state();
        let (order, viewer) = policy::visible(order, actor).ok_or(OrderError::NotFound)?;
        let offers = policy::offers(&state, actor, self.now(), self.settings.windows());
        Ok(OrderView {
            order,
            viewer,
            offers,
        })
    }

    /// The numbers of these orders.
    pub async fn numbers(
        &self,
        ids: &[OrderId],
    ) -> Result<std::collections::HashMap<OrderId, String>, OrderError> {
        Ok(orders::numbers(&mut *self.conn().await?, ids)
            .await?
            .into_iter()
            .map(|(id, (number, _))| (id, number))
            .collect())
    }

    pub async fn orders(&self, filter: &Filter) -> Result<Vec<Order>, OrderError> {
        Ok(orders::list(&mut *self.conn().await?, filter).await?)
    }

    /// How to pay an order still awaiting payment (asked of its provider again).
    pub async fn payment_instructions(
        &self,
        order: &Order,
    ) -> Result<PaymentInstructions, OrderError> {
        self.payment(order.payment_method)?
            .create_payment(&PaymentRequest {
                order_id: order.id,
                number: order.number.clone(),
                reference: order.payment_reference.clone(),
                amount: order.total,
            })
            .await
    }

    /// Does `action` as `actor`: the state machine decides, one transaction applies it with the
    /// money it moves. A refund it makes owed is then asked of the payment provider; from there
    /// a failure leaves the refund owed (and listed for staff), it does not undo the change.
    pub async fn act(
        &self,
        order: OrderId,
        action: Action,
        actor: Actor,
    ) -> Result<Acted, OrderError> {
        let mut tx = self.db.begin_write().await?;
        let applied =
            orders::act_in(&mut tx, &self.context(self.now()), order, &action, actor).await?;
        jinguo_catalog::outbox::enqueue(&mut tx, &applied.revived, self.now()).await?;
        tx.commit().await?;
        if applied.transition.stock.is_some() {
            self.catalog.stock_changed();
        }
        if let Some(refund) = applied.refund {
            let started = match self.payment(applied.method) {
                Ok(provider) => provider.refund(order, refund.id, refund.amount).await,
                Err(error) => Err(error),
            };
            if let Err(error) = started {
                tracing::warn!(%order, refund = %refund.id, %error, "refund not started; it stays owed");
            }
        }
        Ok(Acted {
            transition: applied.transition,
            refund: applied.refund,
        })
    }

    fn context(&self, now: Millis) -> orders::Context<'_> {
        orders::Context {
            backend: self.db.backend(),
            now,
            windows: self.settings.windows(),
            books: self.books.as_ref(),
        }
    }

    /// Does `action` as `actor` inside the caller's transaction, books included: for a payment
    /// provider's event, recorded in the same transaction as its effect. Stock an action gives
    /// back is not announced to the catalog here, nor a refund sent; use [`Orders::act`] for
    /// those.
    pub async fn act_within(
        &self,
        conn: &mut sqlx::AnyConnection,
        order: OrderId,
        action: &Action,
        actor: Actor,
    ) -> Result<Transition, OrderError> {
        let applied = orders::act_in(conn, &self.context(self.now()), order, action, actor).await?;
        Ok(applied.transition)
    }

    /// Records a bank transfer staff read off the statement. The exact amount pays the order;
    /// anything else is kept and flagged. A reference already paid is refused and nothing is
    /// written.
    pub async fn record_transfer(
        &self,
        staff: UserId,
        reference: &str,
        amount: Fen,
        received_on: &str,
    ) -> Result<(TransferOutcome, Order), OrderError> {
        invalid::positive(Field::Amount, amount)?;
        let date = invalid::date(Field::ReceivedOn, received_on)?;
        if date > self.clock.today_in_china() {
            return Err(OrderError::invalid(Field::ReceivedOn, Problem::InTheFuture));
        }
        let reference = invalid::text(Field::Reference, reference, 64)?.to_uppercase();
        let now = self.now();
        let mut tx = self.db.begin_write().await?;
        let order_id = orders::by_reference(&mut tx, &reference)
            .await?
            .ok_or_else(|| OrderError::UnknownReference(reference.clone()))?;
        if transfer::accepted_for(&mut tx, &reference).await? {
            return Err(OrderError::AlreadyPaid(reference));
        }
        let (order, method) = orders::load_state(&mut tx, self.db.backend(), order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        let flag = if method != PaymentMethod::BankTransfer {
            // The buyer chose to pay through Stripe; the money is not booked as its payment.
            Some(FlagReason::PaidByStripe)
        } else if order.status != OrderStatus::AwaitingPayment {
            Some(FlagReason::NotAwaitingPayment)
        } else if amount.0 != order.total_fen {
            Some(FlagReason::WrongAmount)
        } else {
            None
        };
        let outcome = match flag {
            None => TransferOutcome::Accepted,
            Some(_) => TransferOutcome::Flagged,
        };
        transfer::record(
            &mut tx,
            &NewTransfer {
                order: order_id,
                reference: &reference,
                amount,
                received_on: received_on.trim(),
                outcome,
                flag,
                staff,
                now,
            },
        )
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

    /// Transfers recorded for an order, oldest first.
    pub async fn transfers(&self, order: OrderId) -> Result<Vec<Transfer>, OrderError> {
        Ok(transfer::of_order(&mut *self.conn().await?, order).await?)
    }

    /// Transfers kept for staff to sort out (wrong amount, or an order no longer waiting),
    /// newest first.
    pub async fn flagged_transfers(&self) -> Result<Vec<Transfer>, OrderError> {
        Ok(transfer::with_outcome(&mut *self.conn().await?, TransferOutcome::Flagged, 200).await?)
    }

    // ---- notifications -----------------------------------------------------------------------

    pub async fn notifications(&self, user: UserId) -> Result<Vec<Notification>, OrderError> {
        Ok(notify::of_user(&mut *self.conn().await?, user, 50).await?)
    }

    pub async fn unread_notifications(&self, user: UserId) -> Result<i64, OrderError> {
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

    pub async fn mark_notifications_read(&self, user: UserId) -> Result<(), OrderError> {
        Ok(notify::mark_all_read(&mut *self.conn().await?, user, self.now()).await?)
    }
}
