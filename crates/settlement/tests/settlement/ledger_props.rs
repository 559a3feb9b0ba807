//! Property: whatever happens to orders (placed, paid by bank transfer or through Stripe, the
//! transfer reported twice, Stripe's webhooks delivered twice, out of order or after the order
//! was cancelled or expired, cancelled, shipped, delivered, returned, completed), whatever partial
//! refunds staff make before and after release, and however payouts run and end (paid, failed),
//! the ledger balances, no event or cause is applied twice, and what the ledger says each
//! producer is owed and what escrow holds equal figures computed independently from the order,
//! refund and payout tables.
//!
//! The Stripe half runs against localstripe (one for all cases); without it only bank-transfer
//! orders are generated, and the test says so.

use jinguo_accounts::User;
use jinguo_catalog::{Producer, SkuId};
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::OrderError;
use jinguo_order::OrderId;
use jinguo_order::orders::Order;
use jinguo_order::payment::{PaymentInstructions, PaymentMethod};
use jinguo_order::state::{Action, Actor, PartStatus};
use jinguo_settlement::PayoutStatus;
use jinguo_settlement::WebhookOutcome;
use jinguo_settlement::ledger::Account;
use jinguo_settlement::payout::PayoutDetails;
use jinguo_settlement::stripe::{Intent, IntentStatus};
use jinguo_settlement::testing::{FakeStripe, intent_event, stripe_signature};
use jinguo_shop::testing::TestShop;
use proptest::prelude::*;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

use crate::support::*;

/// The products orders are made of: two of each of two producers, at prices on both sides of
/// the free-shipping threshold.
const PRICES: [(usize, Fen); 4] = [
    (0, Fen(6_800)),
    (0, Fen(4_900)),
    (1, Fen(6_600)),
    (1, Fen(12_800)),
];
const PRODUCTS: usize = PRICES.len();

#[derive(Debug, Clone)]
enum Op {
    Place(Vec<(usize, i64)>),
    PlaceStripe(Vec<(usize, i64)>),
    /// Stripe takes the buyer's money and says so by webhook.
    StripePaid(usize),
    /// Stripe says the intent was cancelled.
    StripeCanceled(usize),
    /// An event delivered before comes again.
    Redeliver(usize),
    /// Time passes and the jobs run: unpaid orders expire.
    Expire,
    Pay(usize),
    /// The same transfer reported a second time.
    PayAgain(usize),
    Cancel(usize),
    /// Moves a part one step: ship, deliver, or (after the return window) complete.
    Advance(usize, usize),
    Return(usize, usize),
    /// Refund ‰ of the part's total (over 1000: more than there is).
    Refund(usize, usize, i64),
    Settle,
    PayoutPaid(usize),
    PayoutFailed(usize),
    RefundPaid(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec((0..PRODUCTS, 1..3i64), 1..3).prop_map(Op::Place),
        3 => prop::collection::vec((0..PRODUCTS, 1..3i64), 1..3).prop_map(Op::PlaceStripe),
        4 => (0..4usize).prop_map(Op::StripePaid),
        1 => (0..6usize).prop_map(Op::StripeCanceled),
        2 => (0..8usize).prop_map(Op::Redeliver),
        1 => Just(Op::Expire),
        4 => (0..4usize).prop_map(Op::Pay),
        1 => (0..6usize).prop_map(Op::PayAgain),
        1 => (0..6usize).prop_map(Op::Cancel),
        12 => (0..4usize, 0..2usize).prop_map(|(o, p)| Op::Advance(o, p)),
        1 => (0..6usize, 0..2usize).prop_map(|(o, p)| Op::Return(o, p)),
        2 => (0..6usize, 0..2usize, 1..1300i64).prop_map(|(o, p, m)| Op::Refund(o, p, m)),
        3 => Just(Op::Settle),
        1 => (0..4usize).prop_map(Op::PayoutPaid),
        1 => (0..4usize).prop_map(Op::PayoutFailed),
        1 => (0..4usize).prop_map(Op::RefundPaid),
    ]
}

const WEBHOOK_SECRET: &str = "whsec_props";

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn run(db: TestDb, ops: Vec<Op>, fake: Option<&FakeStripe>) {
    let s = shop_with_stripe(db, fake.map(|f| f.config(WEBHOOK_SECRET))).await;
    // Deliveries so far: (event id, payload).
    let mut delivered: Vec<(String, String)> = Vec::new();
    let mut paid_at_stripe: HashSet<String> = HashSet::new();
    let mut next_event = 0;
    let me = s.buyer().await;
    let staff = s.staff().await;
    let mut producers: Vec<Producer> = Vec::new();
    for _ in 0..2 {
        let producer = s.producer().await;
        s.settlement
            .set_payout_details(
                producer.id,
                PayoutDetails::Bank {
                    account_name: format!("生产者 {}", producer.id),
                    account_no: "62170000123456".into(),
                    bank_name: "农行".into(),
                },
            )
            .await
            .unwrap();
        producers.push(producer);
    }
    let mut skus: Vec<SkuId> = Vec::new();
    for (producer, price) in PRICES {
        // Enough that no order of any case runs out.
        let product = s
            .product()
            .producer(&producers[producer])
            .price(price)
            .stock(10_000)
            .create(&s.catalog)
            .await;
        skus.push(product.skus[0].id);
    }
    let mut orders: Vec<OrderId> = Vec::new();
    for op in ops {
        // Distinct instants, so that a refund is clearly before or after a release.
        s.advance(1);
        let order = |i: usize| orders.get(i % orders.len().max(1)).copied();
        match op {
            Op::Place(lines) => {
                let lines: Vec<(SkuId, i64)> = lines.iter().map(|(p, n)| (skus[*p], *n)).collect();
                orders.push(place(&s, &me, &lines, PaymentMethod::BankTransfer).await);
            }
            Op::PlaceStripe(lines) => {
                let lines: Vec<(SkuId, i64)> = lines.iter().map(|(p, n)| (skus[*p], *n)).collect();
                let method = if fake.is_some() {
                    PaymentMethod::Stripe
                } else {
                    PaymentMethod::BankTransfer
                };
                orders.push(place(&s, &me, &lines, method).await);
            }
            Op::StripePaid(i) | Op::StripeCanceled(i) => {
                let (Some(fake), Some(o)) = (fake, order(i)) else {
                    continue;
                };
                let o = s.orders.order(o).await.unwrap();
                let Some(intent) = intent_of(&s, &o).await else {
                    continue;
                };
                let status = if matches!(op, Op::StripePaid(_)) {
                    // The money is really taken at Stripe (once), so that refunds of it work.
                    if paid_at_stripe.insert(intent.clone()) {
                        fake.pay_intent(&intent).await;
                    }
                    IntentStatus::Succeeded
                } else {
                    if paid_at_stripe.contains(&intent) {
                        continue;
                    }
                    IntentStatus::Canceled
                };
                let kind = if status == IntentStatus::Succeeded {
                    "payment_intent.succeeded"
                } else {
                    "payment_intent.canceled"
                };
                next_event += 1;
                let id = format!("evt_prop_{next_event}");
                let intent = Intent {
                    id: intent,
                    client_secret: None,
                    status,
                    amount: o.total,
                    currency: "cny".into(),
                    order_id: Some(o.id.0),
                    latest_charge: None,
                };
                let payload = intent_event(&id, kind, &intent, now_unix());
                let outcome = s
                    .settlement
                    .stripe_webhook(
                        &payload,
                        &stripe_signature(&payload, WEBHOOK_SECRET, now_unix()),
                    )
                    .await
                    .unwrap();
                assert_ne!(
                    outcome,
                    WebhookOutcome::Replay,
                    "a new event is not a replay"
                );
                delivered.push((id, payload));
            }
            Op::Redeliver(k) => {
                if let Some((_, payload)) = delivered.get(k % delivered.len().max(1)) {
                    let outcome = s
                        .settlement
                        .stripe_webhook(
                            payload,
                            &stripe_signature(payload, WEBHOOK_SECRET, now_unix()),
                        )
                        .await
                        .unwrap();
                    assert_eq!(
                        outcome,
                        WebhookOutcome::Replay,
                        "an event is applied at most once"
                    );
                }
            }
            Op::Expire => {
                s.advance(
                    s.orders
                        .settings()
                        .hold_ms_for(jinguo_order::payment::PaymentMethod::BankTransfer)
                        + 1,
                );
                s.orders.run_jobs().await.unwrap();
            }
            Op::Pay(i) | Op::PayAgain(i) => {
                if let Some(o) = order(i) {
                    let o = s.orders.order(o).await.unwrap();
                    // A second report of the same transfer is flagged or refused, never applied.
                    let _ = s
                        .orders
                        .record_transfer(
                            staff.id,
                            &o.payment_reference,
                            o.total,
                            &s.clock.today_in_china().to_string(),
                        )
                        .await;
                }
            }
            Op::Cancel(i) => {
                if let Some(o) = order(i) {
                    let _ = s
                        .orders
                        .act(
                            o,
                            Action::Cancel {
                                reason: "不要了".into(),
                            },
                            Actor::Buyer(me.id),
                        )
                        .await;
                }
            }
            Op::Advance(i, p) => {
                if let Some(o) = order(i) {
                    advance(&s, &me, &s.orders.order(o).await.unwrap(), p).await;
                }
            }
            Op::Return(i, p) => {
                if let Some(o) = order(i) {
                    let o = s.orders.order(o).await.unwrap();
                    let part = o.parts[p % o.parts.len()].id;
                    if s.orders
                        .act(
                            o.id,
                            Action::RequestReturn {
                                part,
                                reason: "破损".into(),
                            },
                            Actor::Buyer(me.id),
                        )
                        .await
                        .is_ok()
                    {
                        s.orders
                            .act(o.id, Action::AcceptReturn { part }, Actor::Staff(staff.id))
                            .await
                            .unwrap();
                    }
                }
            }
            Op::Refund(i, p, permille) => {
                if let Some(o) = order(i) {
                    let o = s.orders.order(o).await.unwrap();
                    let part = &o.parts[p % o.parts.len()];
                    let amount = Fen((part.total().0 * permille / 1000).max(1));
                    // Refused (too much, the order unpaid or closed, the part returned) or
                    // booked; the books are checked below either way.
                    if let Err(e) = refund(&s, &staff, o.id, part.id, amount, "部分退款").await
                    {
                        assert!(
                            matches!(
                                e,
                                OrderError::RefundTooLarge { .. } | OrderError::Refused(_)
                            ),
                            "a refund of {amount} on order {}: {e}",
                            o.id
                        );
                    }
                }
            }
            Op::Settle => {
                s.settlement.settle("prop").await.unwrap();
            }
            Op::PayoutPaid(i) | Op::PayoutFailed(i) => {
                let open: Vec<_> = s
                    .settlement
                    .payouts(None, None)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|p| p.status == PayoutStatus::Pending)
                    .collect();
                if let Some(p) = open.get(i % open.len().max(1)) {
                    if matches!(op, Op::PayoutPaid(_)) {
                        s.settlement.mark_payout_paid(p.id, "BANK-1").await.unwrap();
                    } else {
                        s.settlement.mark_payout_failed(p.id, "退票").await.unwrap();
                    }
                }
            }
            Op::RefundPaid(i) => {
                let owed = s.settlement.refunds(None).await.unwrap();
                if let Some(r) = owed.get(i % owed.len().max(1)) {
                    s.settlement
                        .mark_refund_paid(r.id, "BANK-RF")
                        .await
                        .unwrap();
                }
            }
        }
    }

    assert_ledger_whole(&s).await;
    let pool = s.db.pool();
    let paid_orders: i64 =
        sqlx::query_scalar("select count(*) from orders where paid_at is not null")
            .fetch_one(pool)
            .await
            .unwrap();
    let payments: i64 =
        sqlx::query_scalar("select count(*) from ledger_transactions where kind = 'payment'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        payments, paid_orders,
        "each paid order is booked exactly once"
    );
    let events: i64 = sqlx::query_scalar("select count(*) from provider_events")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(events, delivered.len() as i64, "each event recorded once");
    // Money Stripe took for an order that had closed was owed back, and paid back.
    let late: i64 = sqlx::query_scalar(
        "select count(*) from ledger_transactions where kind = 'unmatched_payment'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let late_refunded: i64 = sqlx::query_scalar(
        "select count(*) from refunds where reason = 'payment arrived after the order closed' and status = 'done'",
    ).fetch_one(pool).await.unwrap();
    assert_eq!(late, late_refunded, "late payments are refunded at Stripe");

    // Independently, from the order tables: per part, its total, refunds before and after its
    // completion, and its status.
    let parts = sqlx::query(
        "select p.id, p.producer_id, p.status, p.items_fen + p.shipping_fen as total, o.paid_at,
                (select min(e.at) from order_events e where e.part_id = p.id and e.to_status = 'completed') as completed_at
         from order_parts p join orders o on o.id = p.order_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let refunds = sqlx::query(
        "select part_id, amount_fen, created_at from refunds where part_id is not null",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut expected_payable: HashMap<i64, i64> = HashMap::new();
    let mut expected_escrow = 0i64;
    for p in &parts {
        let id: i64 = p.try_get("id").unwrap();
        let producer: i64 = p.try_get("producer_id").unwrap();
        let total: i64 = p.try_get("total").unwrap();
        let status: String = p.try_get("status").unwrap();
        let paid: Option<i64> = p.try_get("paid_at").unwrap();
        let completed_at: Option<i64> = p.try_get("completed_at").unwrap();
        let mut before = 0;
        // After release a refund costs the producer the amount less the fee given back on it.
        let mut after = 0;
        for r in refunds
            .iter()
            .filter(|r| r.try_get::<i64, _>("part_id").unwrap() == id)
        {
            let amount: i64 = r.try_get("amount_fen").unwrap();
            match completed_at {
                Some(at) if r.try_get::<i64, _>("created_at").unwrap() > at => {
                    after += amount - amount * i64::from(FEE_BP) / 10_000
                }
                _ => before += amount,
            }
        }
        if completed_at.is_some() {
            assert_eq!(status, "completed");
            let left = total - before;
            let fee = left * i64::from(FEE_BP) / 10_000;
            *expected_payable.entry(producer).or_default() += left - fee - after;
        } else if paid.is_some() && !matches!(status.as_str(), "returned" | "cancelled") {
            expected_escrow += total - before;
        }
    }
    let payouts =
        sqlx::query("select producer_id, amount_fen from payouts where status <> 'failed'")
            .fetch_all(pool)
            .await
            .unwrap();
    for p in payouts {
        *expected_payable
            .entry(p.try_get("producer_id").unwrap())
            .or_default() -= p.try_get::<i64, _>("amount_fen").unwrap();
    }
    for producer in &producers {
        assert_eq!(
            owed(&s, Account::Payable(producer.id)).await,
            Fen(expected_payable.get(&producer.id.0).copied().unwrap_or(0)),
            "producer {}'s payable",
            producer.id
        );
    }
    assert_eq!(
        owed(&s, Account::Escrow).await,
        Fen(expected_escrow),
        "escrow"
    );
    let refunds_owed: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where status = 'pending'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        owed(&s, Account::RefundsDue).await,
        Fen(refunds_owed),
        "refunds owed"
    );
}

/// Moves part `p` of `o` one step: shipped by its producer, delivered as the buyer says, or
/// (after the return window) completed.
async fn advance(s: &TestShop, buyer: &User, o: &Order, p: usize) {
    let part = &o.parts[p % o.parts.len()];
    let action = match part.status {
        PartStatus::ToShip => Some((
            Action::Ship {
                part: part.id,
                carrier: "邮政".into(),
                tracking_no: "98012345".into(),
            },
            Actor::Producer(part.producer_id),
        )),
        PartStatus::Shipped => Some((Action::Deliver { part: part.id }, Actor::Buyer(buyer.id))),
        PartStatus::Delivered => {
            s.advance(s.orders.settings().windows().return_ms + 1);
            Some((Action::Complete { part: part.id }, Actor::System))
        }
        _ => None,
    };
    if let Some((action, actor)) = action {
        s.orders.act(o.id, action, actor).await.unwrap();
    }
}

/// The PaymentIntent of a Stripe-paid order, as its payment page shows it.
async fn intent_of(s: &TestShop, order: &Order) -> Option<String> {
    if order.payment_method != PaymentMethod::Stripe {
        return None;
    }
    match s.orders.payment_instructions(order).await {
        Ok(PaymentInstructions::Stripe { intent_id, .. }) => Some(intent_id),
        _ => None,
    }
}

fn check(cases: u32, postgres: bool) {
    // One runtime and one localstripe for every case.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeStripe::start());
    if fake.is_none() {
        eprintln!("the property runs on bank-transfer orders only: localstripe is not installed");
    }
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 20..80))| {
        rt.block_on(async {
            let db = if postgres { TestDb::postgres().await } else { TestDb::sqlite().await };
            run(db, ops, fake.as_ref()).await;
        });
    });
}

mod the_books_always_add_up {
    #[test]
    fn sqlite() {
        super::check(40, false);
    }

    #[test]
    #[cfg_attr(
        not(pg_tests),
        ignore = "PostgreSQL not tested: set JINGUO_TEST_POSTGRES_URL (see README)"
    )]
    fn postgres() {
        super::check(8, true);
    }
}
