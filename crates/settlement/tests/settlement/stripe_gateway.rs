//! The Stripe gateway through async-stripe's client against localstripe behind the recording
//! proxy (`jinguo_settlement::testing`): what our code sends Stripe, and what a buyer, a producer
//! or the books would notice. Tests that need localstripe skip, after saying so, when it is not
//! installed; with JINGUO_REQUIRE_LOCALSTRIPE=1 they fail instead.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jinguo_common::money::Fen;
use jinguo_settlement::stripe::{
    EventObject, IntentStatus, StripeError, StripeGateway, WebhookError, verify_webhook,
};
use jinguo_settlement::testing::{FakeStripe, intent_event, stripe_signature};
use tokio::sync::mpsc;

const WEBHOOK_SECRET: &str = "whsec_test_jinguo";

async fn start() -> Option<(FakeStripe, StripeGateway)> {
    let stripe = FakeStripe::start().await?;
    let gateway = StripeGateway::new(&stripe.config(WEBHOOK_SECRET)).unwrap();
    Some((stripe, gateway))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn an_intent_is_for_the_order_amount_in_fen_and_cny_with_its_key_and_metadata() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };

    let intent = gateway
        .create_intent(42, "JG-20261101-0042", Fen(6800))
        .await
        .unwrap();

    assert!(intent.id.starts_with("pi_"), "{intent:?}");
    assert_eq!(intent.amount, Fen(6800));
    assert_eq!(intent.currency, "cny");
    assert_eq!(intent.status, IntentStatus::RequiresPaymentMethod);
    assert_eq!(intent.order_id, Some(42));
    assert!(
        intent
            .client_secret
            .as_deref()
            .is_some_and(|s| s.starts_with(&intent.id))
    );

    let sent = stripe.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.form_value("amount"), Some("6800"));
    assert_eq!(sent.form_value("currency"), Some("cny"));
    assert_eq!(
        sent.idempotency_key.as_deref(),
        Some("jinguo-order-42-JG-20261101-0042-intent")
    );
    assert_eq!(sent.form_value("metadata[order_id]"), Some("42"));
    assert_eq!(
        sent.form_value("metadata[order_number]"),
        Some("JG-20261101-0042")
    );
    assert_eq!(
        sent.form_list("allowed_payment_method_types"),
        ["card", "alipay", "wechat_pay"]
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk_test_jinguo"));
    assert!(sent.header("stripe-version").is_some());
}

#[tokio::test]
async fn asking_twice_for_an_orders_intent_gives_the_same_intent() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };

    let first = gateway.create_intent(7, "JG-7", Fen(1990)).await.unwrap();
    let again = gateway.create_intent(7, "JG-7", Fen(1990)).await.unwrap();
    let other = gateway.create_intent(8, "JG-8", Fen(1990)).await.unwrap();

    assert_eq!(again.id, first.id);
    assert_ne!(other.id, first.id);
    let keys: Vec<_> = stripe
        .requests_to("POST", "/v1/payment_intents")
        .into_iter()
        .map(|r| r.idempotency_key.unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "jinguo-order-7-JG-7-intent",
            "jinguo-order-7-JG-7-intent",
            "jinguo-order-8-JG-8-intent"
        ]
    );

    // The same order at another amount: Stripe refuses the reused key.
    let err = gateway
        .create_intent(7, "JG-7", Fen(2990))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Api { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn after_a_reset_the_fake_has_forgotten_intents_keys_and_requests() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };
    let before = gateway.create_intent(1, "JG-1", Fen(1_000)).await.unwrap();

    stripe.reset().await;

    assert!(stripe.requests().is_empty());
    let err = gateway.retrieve_intent(&before.id).await.unwrap_err();
    assert!(
        matches!(err, StripeError::Api { status: 404, .. }),
        "{err:?}"
    );
    let after = gateway.create_intent(1, "JG-1", Fen(2_000)).await.unwrap();
    assert_ne!(after.id, before.id);
    assert_eq!(after.amount, Fen(2_000));
}

#[tokio::test]
async fn a_paid_intent_reads_as_succeeded_and_can_no_longer_be_canceled() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };
    let intent = gateway.create_intent(1, "JG-1", Fen(12_800)).await.unwrap();

    stripe.pay_intent(&intent.id).await;

    let paid = gateway.retrieve_intent(&intent.id).await.unwrap();
    assert_eq!(paid.status, IntentStatus::Succeeded);
    assert_eq!(paid.amount, Fen(12_800));
    assert_eq!(paid.order_id, Some(1));
    let err = gateway.cancel_intent(&intent.id).await.unwrap_err();
    assert!(
        matches!(err, StripeError::Api { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unpaid_intent_can_be_canceled() {
    let Some((_stripe, gateway)) = start().await else {
        return;
    };
    let intent = gateway.create_intent(2, "JG-2", Fen(500)).await.unwrap();

    let canceled = gateway.cancel_intent(&intent.id).await.unwrap();

    assert_eq!(canceled.status, IntentStatus::Canceled);
    let read = gateway.retrieve_intent(&intent.id).await.unwrap();
    assert_eq!(read.status, IntentStatus::Canceled);
}

#[tokio::test]
async fn an_unknown_intent_is_a_404_from_stripe() {
    let Some((_stripe, gateway)) = start().await else {
        return;
    };

    let err = gateway
        .retrieve_intent("pi_doesnotexist")
        .await
        .unwrap_err();

    assert!(
        matches!(err, StripeError::Api { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn partial_refunds_add_up_and_stripe_refuses_more_than_is_left() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };
    let intent = gateway.create_intent(3, "JG-3", Fen(10_000)).await.unwrap();
    stripe.pay_intent(&intent.id).await;

    let first = gateway
        .refund(&intent.id, Fen(3_000), "jinguo-refund-31", 31)
        .await
        .unwrap();
    let second = gateway
        .refund(&intent.id, Fen(5_000), "jinguo-refund-32", 32)
        .await
        .unwrap();

    assert_eq!(first.amount, Fen(3_000));
    assert_eq!(second.amount, Fen(5_000));
    assert_ne!(first.id, second.id);
    assert_eq!(first.status, "succeeded");
    assert_eq!(first.payment_intent.as_deref(), Some(intent.id.as_str()));

    let sent = stripe.requests_to("POST", "/v1/refunds");
    assert_eq!(
        sent[0].form_value("payment_intent"),
        Some(intent.id.as_str())
    );
    assert_eq!(sent[0].form_value("amount"), Some("3000"));
    assert_eq!(sent[0].form_value("metadata[refund_id]"), Some("31"));
    assert_eq!(sent[0].idempotency_key.as_deref(), Some("jinguo-refund-31"));
    assert_eq!(sent[1].form_value("amount"), Some("5000"));

    // A retry with the first key is the first refund, not a third.
    let retried = gateway
        .refund(&intent.id, Fen(3_000), "jinguo-refund-31", 31)
        .await
        .unwrap();
    assert_eq!(retried.id, first.id);

    // ¥20.00 is left.
    let err = gateway
        .refund(&intent.id, Fen(2_001), "jinguo-refund-33", 33)
        .await
        .unwrap_err();
    match err {
        StripeError::Api { status, code, .. } => {
            assert_eq!(status, 400);
            assert_eq!(code.as_deref(), Some("amount_too_large"));
        }
        other => panic!("{other:?}"),
    }
    let last = gateway
        .refund(&intent.id, Fen(2_000), "jinguo-refund-34", 34)
        .await
        .unwrap();
    assert_eq!(last.amount, Fen(2_000));
}

#[tokio::test]
async fn a_transfer_goes_to_the_producers_account_once_per_key() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };

    let transfer = gateway
        .transfer("acct_1ProducerA", Fen(5_000), "jinguo-payout-7", 7)
        .await
        .unwrap();
    let again = gateway
        .transfer("acct_1ProducerA", Fen(5_000), "jinguo-payout-7", 7)
        .await
        .unwrap();
    let other = gateway
        .transfer("acct_1ProducerA", Fen(5_000), "jinguo-payout-8", 8)
        .await
        .unwrap();

    assert!(transfer.id.starts_with("tr_"), "{transfer:?}");
    assert_eq!(transfer.amount, Fen(5_000));
    assert_eq!(transfer.destination, "acct_1ProducerA");
    assert_eq!(again.id, transfer.id);
    assert_ne!(other.id, transfer.id);

    let sent = stripe.requests_to("POST", "/v1/transfers");
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].form_value("destination"), Some("acct_1ProducerA"));
    assert_eq!(sent[0].form_value("amount"), Some("5000"));
    assert_eq!(sent[0].form_value("currency"), Some("cny"));
    assert_eq!(sent[0].form_value("metadata[payout_id]"), Some("7"));
    assert_eq!(sent[0].idempotency_key.as_deref(), Some("jinguo-payout-7"));

    // Two transfers moved money, not three.
    let moved: i64 = gateway
        .balance_transactions(0)
        .await
        .unwrap()
        .iter()
        .filter(|txn| txn.kind == "transfer")
        .map(|txn| txn.amount.0)
        .sum();
    assert_eq!(moved, -10_000);
}

#[tokio::test]
async fn a_transfer_to_an_unknown_account_is_refused() {
    let Some((_stripe, gateway)) = start().await else {
        return;
    };

    let err = gateway
        .transfer("not-an-account", Fen(100), "jinguo-payout-9", 9)
        .await
        .unwrap_err();

    assert!(
        matches!(err, StripeError::Api { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_balance_history_lists_the_charge_refund_and_transfer_since_a_time() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };
    let since = now() - 60;
    let intent = gateway.create_intent(4, "JG-4", Fen(10_000)).await.unwrap();
    stripe.pay_intent(&intent.id).await;
    let refund = gateway
        .refund(&intent.id, Fen(2_500), "jinguo-refund-41", 41)
        .await
        .unwrap();
    let transfer = gateway
        .transfer("acct_1ProducerB", Fen(4_000), "jinguo-payout-4", 4)
        .await
        .unwrap();

    let history = gateway.balance_transactions(since).await.unwrap();

    let of_kind = |kind: &str| {
        history
            .iter()
            .filter(|t| t.kind == kind)
            .collect::<Vec<_>>()
    };
    let charges = of_kind("charge");
    assert_eq!(charges.len(), 1, "{history:?}");
    assert_eq!(charges[0].amount, Fen(10_000));
    assert_eq!(charges[0].net.0, charges[0].amount.0 - charges[0].fee.0);
    assert!(
        charges[0]
            .source
            .as_deref()
            .is_some_and(|s| s.starts_with("ch_"))
    );
    assert!(charges[0].created >= since);
    let refunds = of_kind("refund");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, Fen(-2_500));
    assert_eq!(refunds[0].source.as_deref(), Some(refund.id.as_str()));
    let transfers = of_kind("transfer");
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].amount, Fen(-4_000));
    assert_eq!(transfers[0].source.as_deref(), Some(transfer.id.as_str()));

    let asked = stripe.requests_to("GET", "/v1/balance_transactions");
    assert_eq!(
        asked[0].query_value("created[gte]"),
        Some(since.to_string().as_str())
    );

    let later = gateway.balance_transactions(now() + 3_600).await.unwrap();
    assert!(later.is_empty(), "{later:?}");
}

fn signed_event(created: i64) -> (String, jinguo_settlement::stripe::Intent) {
    let intent = jinguo_settlement::stripe::Intent {
        id: "pi_test_1".into(),
        client_secret: Some("pi_test_1_secret_x".into()),
        status: IntentStatus::Succeeded,
        amount: Fen(6_800),
        currency: "cny".into(),
        order_id: Some(42),
        latest_charge: None,
    };
    (
        intent_event("evt_test_1", "payment_intent.succeeded", &intent, created),
        intent,
    )
}

#[test]
fn a_webhook_signed_with_our_secret_is_accepted_and_read() {
    let (payload, intent) = signed_event(now());
    let header = stripe_signature(&payload, WEBHOOK_SECRET, now());

    let event = verify_webhook(&payload, &header, WEBHOOK_SECRET).unwrap();

    assert_eq!(event.id, "evt_test_1");
    assert_eq!(event.kind, "payment_intent.succeeded");
    let EventObject::PaymentIntent(read) = event.object else {
        panic!("{:?}", event.object)
    };
    assert_eq!(read.id, intent.id);
    assert_eq!(read.status, IntentStatus::Succeeded);
    assert_eq!(read.amount, Fen(6_800));
    assert_eq!(read.order_id, Some(42));
}

#[test]
fn a_webhook_signed_with_another_secret_is_refused() {
    let (payload, _) = signed_event(now());
    let header = stripe_signature(&payload, "whsec_someone_else", now());

    let err = verify_webhook(&payload, &header, WEBHOOK_SECRET).unwrap_err();

    assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
}

#[test]
fn a_webhook_whose_payload_was_changed_is_refused() {
    let (payload, _) = signed_event(now());
    let header = stripe_signature(&payload, WEBHOOK_SECRET, now());
    let changed = payload.replace("6800", "680000");

    let err = verify_webhook(&changed, &header, WEBHOOK_SECRET).unwrap_err();

    assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
}

#[test]
fn a_webhook_signed_ten_minutes_ago_is_expired() {
    let then = now() - 600;
    let (payload, _) = signed_event(then);
    let header = stripe_signature(&payload, WEBHOOK_SECRET, then);

    let err = verify_webhook(&payload, &header, WEBHOOK_SECRET).unwrap_err();

    assert!(matches!(err, WebhookError::Expired), "{err:?}");
}

#[test]
fn a_signed_webhook_that_is_not_json_is_refused_as_such() {
    let payload = "<html>not an event</html>";
    let header = stripe_signature(payload, WEBHOOK_SECRET, now());

    let err = verify_webhook(payload, &header, WEBHOOK_SECRET).unwrap_err();

    assert!(matches!(err, WebhookError::NotJson(_)), "{err:?}");
}

#[tokio::test]
async fn a_webhook_localstripe_sends_for_a_paid_intent_verifies() {
    let Some((stripe, gateway)) = start().await else {
        return;
    };
    let (deliveries, mut delivered) = mpsc::unbounded_channel::<(String, String)>();
    let receiver = Router::new().route(
        "/webhooks/stripe",
        post(move |headers: HeaderMap, body: String| async move {
            let signature = headers
                .get("stripe-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let _ = deliveries.send((body, signature));
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    stripe.send_webhooks_to(&url, WEBHOOK_SECRET).await;

    let intent = gateway.create_intent(5, "JG-5", Fen(3_300)).await.unwrap();
    stripe.pay_intent(&intent.id).await;

    let event = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let (body, signature) = delivered.recv().await.unwrap();
            let event = gateway.verify_webhook(&body, &signature).unwrap();
            if event.kind == "payment_intent.succeeded" {
                return event;
            }
        }
    })
    .await
    .expect("localstripe delivers payment_intent.succeeded");

    assert!(event.id.starts_with("evt_"), "{event:?}");
    let EventObject::PaymentIntent(paid) = event.object else {
        panic!("{:?}", event.object)
    };
    assert_eq!(paid.id, intent.id);
    assert_eq!(paid.status, IntentStatus::Succeeded);
    assert_eq!(paid.amount, Fen(3_300));
    assert_eq!(paid.order_id, Some(5));
}
