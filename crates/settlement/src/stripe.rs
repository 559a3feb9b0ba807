//! Stripe: a PaymentIntent per order, refunds, Connect transfers to producers, the balance
//! history for reconciliation, and signed webhook events. One adapter, kept in one file: every
//! call shares the client, the error mapping and the reply types at the bottom.
//!
//! Requests go through async-stripe's client and its request builders, which give us the paths,
//! the form encoding, the pinned `Stripe-Version` header (2026-09-30), `Idempotency-Key` and TLS.
//! Replies are decoded into the few fields we use (the `*Reply` types at the bottom) through the
//! client's own lower-level call, `RequestBuilder::customize::<T>().send(..)`, rather than into
//! async-stripe's generated objects. Those require every field the pinned API version returns,
//! and a reply that lacks one fails to decode as a whole. Stripe itself answers in the pinned
//! version, but localstripe, which the tests run against, does not: its PaymentIntents lack
//! `amount_capturable`, `amount_received`, `confirmation_method` and `payment_method_types`, and
//! its balance transactions fail too (its refunds would decode). Our reply types ask only for
//! what we read, the same way for every call, and do not break when Stripe adds or drops a field
//! we do not read.
//!
//! Webhooks are verified here with HMAC-SHA256 and parsed with serde_json, not with
//! async-stripe-webhook: that crate verifies the same way, but then decodes the whole event into
//! its generated types, which fail on localstripe's events (no `pending_webhooks`, the short
//! PaymentIntent above), so it would reject deliveries we must accept.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jinguo_common::money::Fen;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use stripe::{ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_connect::transfer::CreateTransfer;
use stripe_core::PaymentIntentAllowedPaymentMethodTypes as MethodType;
use stripe_core::balance_transaction::ListBalanceTransaction;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_types::{Currency, List, RangeQueryTs};
use tracing::instrument;

use crate::settings::StripeSettings;

/// Each attempt; async-stripe's async client has no limit of its own.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Stripe answers 100 balance transactions a page at most.
const PAGE_SIZE: i64 = 100;

/// Stripe's own libraries reject signatures older than this.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// A request Stripe refused or that never got an answer.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error: a declined card, a refund larger than what is left, an
    /// idempotency key reused with other parameters (`code` None, message says so), …
    #[error("Stripe refused the request (HTTP {status}{}): {message}", code_suffix(.code))]
    Api {
        code: Option<String>,
        message: String,
        status: u16,
    },
    /// No answer: connection refused, TLS, timeout. Safe to retry with the same idempotency key.
    #[error("could not reach Stripe: {0}")]
    Transport(String),
    /// An answer we could not read.
    #[error("unexpected reply from Stripe: {0}")]
    Decode(String),
    /// The configuration cannot work (a bad base URL or key, an unknown payment method type).
    #[error("Stripe configuration: {0}")]
    Config(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|code| format!(", {code}"))
        .unwrap_or_default()
}

impl From<stripe::StripeError> for StripeError {
    fn from(err: stripe::StripeError) -> Self {
        match err {
            stripe::StripeError::Stripe(api, status) => StripeError::Api {
                code: api.code.as_ref().map(|c| c.as_str().to_owned()),
                message: api
                    .message
                    .clone()
                    .unwrap_or_else(|| api.type_.as_str().to_owned()),
                status,
            },
            stripe::StripeError::JSONDeserialize(msg) => StripeError::Decode(msg),
            stripe::StripeError::ClientError(msg) => StripeError::Transport(msg),
            stripe::StripeError::Timeout => {
                StripeError::Transport(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
            }
            stripe::StripeError::ConfigError(msg) => StripeError::Config(msg),
        }
    }
}

/// A PaymentIntent's status, as Stripe names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    fn parse(status: &str) -> Option<IntentStatus> {
        Some(match status {
            "requires_payment_method" => IntentStatus::RequiresPaymentMethod,
            "requires_confirmation" => IntentStatus::RequiresConfirmation,
            "requires_action" => IntentStatus::RequiresAction,
            "processing" => IntentStatus::Processing,
            "requires_capture" => IntentStatus::RequiresCapture,
            "canceled" => IntentStatus::Canceled,
            "succeeded" => IntentStatus::Succeeded,
            _ => return None,
        })
    }

    /// Stripe's name: `requires_payment_method`, `succeeded`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresConfirmation => "requires_confirmation",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::Processing => "processing",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Canceled => "canceled",
            IntentStatus::Succeeded => "succeeded",
        }
    }
}

/// A PaymentIntent: what the buyer's browser confirms with Stripe.js.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    /// Handed to Stripe.js; None when Stripe leaves it out.
    pub client_secret: Option<String>,
    pub status: IntentStatus,
    pub amount: Fen,
    /// Lower case ISO code: "cny".
    pub currency: String,
    /// From the intent's metadata, set by [`StripeGateway::create_intent`].
    pub order_id: Option<i64>,
    /// The charge that paid it (`ch_…`, as Stripe's balance history names it), when an event
    /// carries it; read only from webhook events.
    pub latest_charge: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StripeRefund {
    pub id: String,
    pub amount: Fen,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`; empty if Stripe gave none.
    pub status: String,
    pub payment_intent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StripeTransfer {
    pub id: String,
    pub amount: Fen,
    /// The connected account, `acct_…`.
    pub destination: String,
}

/// One line of the Stripe balance history.
#[derive(Debug, Clone)]
pub struct BalanceTxn {
    pub id: String,
    /// Gross; negative for refunds and transfers.
    pub amount: Fen,
    pub fee: Fen,
    pub net: Fen,
    /// Stripe's `type`: "charge", "refund", "transfer", "payment", "stripe_fee", …
    pub kind: String,
    /// The object that caused it: `ch_…`, `re_…`, `tr_…`.
    pub source: Option<String>,
    /// Unix seconds.
    pub created: i64,
}

/// Our Stripe account, through async-stripe.
///
/// Calls are sent once. Those that move money take an idempotency key, so a caller that got a
/// [`StripeError::Transport`] can send the same call again with the same key: Stripe answers
/// the first result instead of paying, refunding or transferring twice.
#[derive(Clone, Debug)]
pub struct StripeGateway {
    client: stripe::Client,
    publishable_key: String,
    webhook_secret: SecretString,
    payment_method_types: Vec<MethodType>,
}

impl StripeGateway {
    /// Checks the configuration; does not call Stripe.
    pub fn new(config: &StripeSettings) -> Result<StripeGateway, StripeError> {
        let mut builder = ClientBuilder::new(config.secret_key.expose_secret())
            .app_info(
                "jinguo-market",
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                None,
            )
            .timeout(REQUEST_TIMEOUT);
        if let Some(url) = &config.base_url {
            // async-stripe appends `v1/…` to the base as it is.
            let url = url.as_str();
            let url = if url.ends_with('/') {
                url.to_owned()
            } else {
                format!("{url}/")
            };
            builder = builder.url(url);
        }
        let client = builder.build()?;

        let payment_method_types = config
            .payment_methods
            .iter()
            .map(|name| match name.parse::<MethodType>() {
                Ok(MethodType::Unknown(_)) | Err(_) => Err(StripeError::Config(format!(
                    "unknown payment method type “{name}” (Stripe's names: card, alipay, wechat_pay, …)"
                ))),
                Ok(known) => Ok(known),
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(StripeGateway {
            client,
            publishable_key: config.publishable_key.clone(),
            webhook_secret: config.webhook_secret.clone(),
            payment_method_types,
        })
    }

    /// For Stripe.js in the buyer's browser.
    pub fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    /// The PaymentIntent for an order, in CNY, with the configured payment method types and the
    /// order's id and number in its metadata.
    ///
    /// The idempotency key is `jinguo-order-{order_id}-{number}-intent`: asking again for the
    /// same order within Stripe's 24 hours gives back the same intent. The number (random in
    /// part) keeps two databases sharing one Stripe account (staging, tests) from colliding.
    /// With another amount in that time Stripe refuses (an [`StripeError::Api`] with status
    /// 400): cancel and create no new one.
    #[instrument(skip(self))]
    pub async fn create_intent(
        &self,
        order_id: i64,
        number: &str,
        amount: Fen,
    ) -> Result<Intent, StripeError> {
        let metadata = HashMap::from([
            ("order_id".to_owned(), order_id.to_string()),
            ("order_number".to_owned(), number.to_owned()),
        ]);
        // The pinned API version names the parameter `allowed_payment_method_types`; older ones
        // called it `payment_method_types`.
        let mut request = CreatePaymentIntent::new(amount.0, Currency::CNY).metadata(metadata);
        if !self.payment_method_types.is_empty() {
            request = request.allowed_payment_method_types(self.payment_method_types.clone());
        }
        let key = format!("jinguo-order-{order_id}-{number}-intent");
        let reply: IntentReply = self.send(&request, Some(&key), "PaymentIntent").await?;
        reply.into_intent()
    }

    #[instrument(skip(self))]
    pub async fn retrieve_intent(&self, id: &str) -> Result<Intent, StripeError> {
        let request = RetrievePaymentIntent::new(id);
        let reply: IntentReply = self.send(&request, None, "PaymentIntent").await?;
        reply.into_intent()
    }

    /// Stripe refuses (400) once the intent has succeeded or is processing.
    #[instrument(skip(self))]
    pub async fn cancel_intent(&self, id: &str) -> Result<Intent, StripeError> {
        let request = CancelPaymentIntent::new(id);
        let reply: IntentReply = self.send(&request, None, "PaymentIntent").await?;
        reply.into_intent()
    }

    /// Refunds `amount` (all or part of what is left) of a PaymentIntent's charge. The key is the
    /// caller's (e.g. `jinguo-refund-{id}`); `refund_id` goes into the metadata.
    #[instrument(skip(self))]
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: Fen,
        idempotency_key: &str,
        refund_id: i64,
    ) -> Result<StripeRefund, StripeError> {
        let request = CreateRefund::new()
            .payment_intent(intent_id)
            .amount(amount.0)
            .metadata(HashMap::from([(
                "refund_id".to_owned(),
                refund_id.to_string(),
            )]));
        let reply: RefundReply = self.send(&request, Some(idempotency_key), "Refund").await?;
        Ok(reply.into_refund())
    }

    /// A Connect transfer in CNY from our balance to a connected account (`acct_…`). The key is
    /// the caller's; `payout_id` goes into the metadata.
    #[instrument(skip(self))]
    pub async fn transfer(
        &self,
        destination: &str,
        amount: Fen,
        idempotency_key: &str,
        payout_id: i64,
    ) -> Result<StripeTransfer, StripeError> {
        let request = CreateTransfer::new(Currency::CNY, destination)
            .amount(amount.0)
            .metadata(HashMap::from([(
                "payout_id".to_owned(),
                payout_id.to_string(),
            )]));
        let reply: TransferReply = self
            .send(&request, Some(idempotency_key), "Transfer")
            .await?;
        Ok(StripeTransfer {
            id: reply.id,
            amount: Fen(reply.amount),
            destination: reply.destination.unwrap_or_default(),
        })
    }

    /// Every balance transaction created at or after `since` (unix seconds), all pages, newest
    /// first as Stripe lists them.
    #[instrument(skip(self))]
    pub async fn balance_transactions(&self, since: i64) -> Result<Vec<BalanceTxn>, StripeError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListBalanceTransaction::new()
                .created(RangeQueryTs::gte(since))
                .limit(PAGE_SIZE);
            if let Some(id) = &after {
                request = request.starting_after(id.as_str());
            }
            let page: List<BalanceTxnReply> = self
                .send(&request, None, "balance transaction list")
                .await?;
            after = page.data.last().map(|txn| txn.id.clone());
            all.extend(page.data.into_iter().map(|txn| BalanceTxn {
                id: txn.id,
                amount: Fen(txn.amount),
                fee: Fen(txn.fee),
                net: Fen(txn.net),
                kind: txn.kind,
                source: txn.source,
                created: txn.created,
            }));
            // An empty page that claims more would loop for ever.
            if !page.has_more || after.is_none() {
                return Ok(all);
            }
        }
    }

    /// [`verify_webhook`] with the configured webhook secret.
    pub fn verify_webhook(
        &self,
        payload: &str,
        signature_header: &str,
    ) -> Result<WebhookEvent, WebhookError> {
        verify_webhook(
            payload,
            signature_header,
            self.webhook_secret.expose_secret(),
        )
    }

    /// Sends through async-stripe's client and decodes the reply as `T` (see the module docs).
    async fn send<T: miniserde::Deserialize>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<&str>,
        what: &str,
    ) -> Result<T, StripeError> {
        let mut request = request.build().customize::<T>();
        if let Some(key) = idempotency_key {
            let key = IdempotencyKey::new(key)
                .map_err(|err| StripeError::Config(format!("idempotency key “{key}”: {err}")))?;
            request = request.request_strategy(RequestStrategy::Idempotent(key));
        }
        request
            .send(&self.client)
            .await
            .map_err(|err| match StripeError::from(err) {
                StripeError::Decode(msg) => StripeError::Decode(format!("{what}: {msg}")),
                other => other,
            })
    }
}

/// A verified webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    /// `evt_…`: the same event may be delivered more than once, and out of order.
    pub id: String,
    /// e.g. "payment_intent.succeeded"
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    pub object: EventObject,
}

/// The event's `data.object`, for the kinds of object we act on.
#[derive(Debug, Clone)]
pub enum EventObject {
    PaymentIntent(Intent),
    Refund(StripeRefund),
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not signed with our secret (or no usable `Stripe-Signature` header): not from Stripe.
    #[error("webhook signature does not verify: {0}")]
    BadSignature(String),
    /// Signed by Stripe, but more than 5 minutes from now: possibly replayed.
    #[error("webhook signature timestamp is more than 5 minutes away from now")]
    Expired,
    /// Signed by Stripe, but not an event we can read.
    #[error("webhook payload is not a Stripe event: {0}")]
    NotJson(String),
}

/// Verifies `Stripe-Signature` (`t=…,v1=…`: HMAC-SHA256 of `"{t}.{payload}"` with the endpoint's
/// secret, any of several `v1` may match, at most 300 s from now) and parses the event.
///
/// Verified with `hmac` and parsed with serde_json here rather than with async-stripe-webhook,
/// whose typed events reject payloads lacking fields (see the module docs). The signature is
/// checked before the timestamp, so [`WebhookError::Expired`] is only said of genuine events.
pub fn verify_webhook(
    payload: &str,
    signature_header: &str,
    secret: &str,
) -> Result<WebhookEvent, WebhookError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verify_webhook_at(payload, signature_header, secret, now)
}

/// [`verify_webhook`] as if it were `now` (unix seconds).
pub fn verify_webhook_at(
    payload: &str,
    signature_header: &str,
    secret: &str,
    now: i64,
) -> Result<WebhookEvent, WebhookError> {
    if secret.is_empty() {
        // Anyone can sign with an empty key.
        return Err(WebhookError::BadSignature(
            "no webhook secret configured".into(),
        ));
    }
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in signature_header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| {
                    WebhookError::BadSignature(format!("timestamp “{t}” is not a number"))
                })?);
            }
            Some(("v1", sig)) => candidates.push(sig),
            // v0 (test-mode only) and future schemes.
            _ => {}
        }
    }
    let timestamp =
        timestamp.ok_or_else(|| WebhookError::BadSignature("no timestamp (t=)".into()))?;
    if candidates.is_empty() {
        return Err(WebhookError::BadSignature("no v1 signature".into()));
    }
    let mac = signed_payload_mac(secret, timestamp, payload);
    let matches = candidates.iter().any(|candidate| {
        decode_hex(candidate).is_some_and(|sig| mac.clone().verify_slice(&sig).is_ok())
    });
    if !matches {
        return Err(WebhookError::BadSignature(
            "no v1 signature matches our secret".into(),
        ));
    }
    if (now - timestamp).abs() > WEBHOOK_TOLERANCE_SECS {
        return Err(WebhookError::Expired);
    }
    parse_event(payload)
}

/// The `v1` signature: hex HMAC-SHA256 of `"{timestamp}.{payload}"`.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn webhook_signature_v1(secret: &str, timestamp: i64, payload: &str) -> String {
    let bytes = signed_payload_mac(secret, timestamp, payload)
        .finalize()
        .into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn signed_payload_mac(secret: &str, timestamp: i64, payload: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_event(payload: &str) -> Result<WebhookEvent, WebhookError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        created: i64,
        data: Data,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        object: serde_json::Value,
    }

    let not_json = |err: serde_json::Error| WebhookError::NotJson(err.to_string());
    let event: Envelope = serde_json::from_str(payload).map_err(not_json)?;
    let object = match event.data.object.get("object").and_then(|o| o.as_str()) {
        Some("payment_intent") => {
            // `latest_charge` is the charge's id, or the charge itself where it is expanded
            // (localstripe always expands it).
            let charge = match event.data.object.get("latest_charge") {
                Some(serde_json::Value::String(id)) => Some(id.clone()),
                Some(serde_json::Value::Object(charge)) => charge
                    .get("id")
                    .and_then(|id| id.as_str())
                    .map(str::to_owned),
                _ => None,
            };
            let reply: IntentReply = serde_json::from_value(event.data.object).map_err(not_json)?;
            let mut intent = reply
                .into_intent()
                .map_err(|err| WebhookError::NotJson(err.to_string()))?;
            intent.latest_charge = charge;
            EventObject::PaymentIntent(intent)
        }
        Some("refund") => {
            let reply: RefundReply = serde_json::from_value(event.data.object).map_err(not_json)?;
            EventObject::Refund(reply.into_refund())
        }
        _ => EventObject::Other,
    };
    Ok(WebhookEvent {
        id: event.id,
        kind: event.kind,
        created: event.created,
        object,
    })
}

// The fields we read of Stripe's objects. miniserde for async-stripe's client; the two that also
// come inside webhook events derive serde too, for serde_json's error messages. Both ignore
// fields not named here and read a missing `Option` as None.

#[derive(miniserde::Deserialize, serde::Deserialize)]
struct IntentReply {
    id: String,
    client_secret: Option<String>,
    status: String,
    amount: i64,
    currency: String,
    metadata: Option<HashMap<String, String>>,
}

impl IntentReply {
    fn into_intent(self) -> Result<Intent, StripeError> {
        let status = IntentStatus::parse(&self.status).ok_or_else(|| {
            StripeError::Decode(format!(
                "PaymentIntent {}: unknown status “{}”",
                self.id, self.status
            ))
        })?;
        let order_id = self
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.get("order_id"))
            .and_then(|id| id.parse().ok());
        Ok(Intent {
            id: self.id,
            client_secret: self.client_secret,
            status,
            amount: Fen(self.amount),
            currency: self.currency,
            order_id,
            latest_charge: None,
        })
    }
}

#[derive(miniserde::Deserialize, serde::Deserialize)]
struct RefundReply {
    id: String,
    amount: i64,
    status: Option<String>,
    payment_intent: Option<String>,
}

impl RefundReply {
    fn into_refund(self) -> StripeRefund {
        StripeRefund {
            id: self.id,
            amount: Fen(self.amount),
            status: self.status.unwrap_or_default(),
            payment_intent: self.payment_intent,
        }
    }
}

#[derive(miniserde::Deserialize)]
struct TransferReply {
    id: String,
    amount: i64,
    destination: Option<String>,
}

#[derive(miniserde::Deserialize)]
struct BalanceTxnReply {
    id: String,
    amount: i64,
    fee: i64,
    net: i64,
    #[serde(rename = "type")]
    kind: String,
    source: Option<String>,
    created: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const EVENT: &str = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_1","object":"payment_intent","amount":6800,"currency":"cny","status":"succeeded","client_secret":"pi_1_secret_x","metadata":{"order_id":"42","order_number":"JG-42"}}}}"#;

    fn header(secret: &str, t: i64) -> String {
        format!("t={t},v1={}", webhook_signature_v1(secret, t, EVENT))
    }

    #[test]
    fn a_signed_event_verifies_and_is_read() {
        let event = verify_webhook_at(EVENT, &header(SECRET, 1_700_000_000), SECRET, 1_700_000_100)
            .unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.kind, "payment_intent.succeeded");
        let EventObject::PaymentIntent(intent) = event.object else {
            panic!("{event:?}")
        };
        assert_eq!(intent.status, IntentStatus::Succeeded);
        assert_eq!(intent.amount, Fen(6800));
        assert_eq!(intent.order_id, Some(42));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let t = 1_700_000_000;
        let good = webhook_signature_v1(SECRET, t, EVENT);
        let header = format!("t={t},v1={},v0=abc,v1={good}", "00".repeat(32));
        assert!(verify_webhook_at(EVENT, &header, SECRET, t).is_ok());
    }

    #[test]
    fn a_malformed_header_is_a_bad_signature() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            let err = verify_webhook_at(EVENT, header, SECRET, 1).unwrap_err();
            assert!(
                matches!(err, WebhookError::BadSignature(_)),
                "{header}: {err:?}"
            );
        }
    }

    #[test]
    fn an_empty_secret_verifies_nothing() {
        let err = verify_webhook_at(EVENT, &header("", 1), "", 1).unwrap_err();
        assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
    }

    #[test]
    fn a_timestamp_from_the_future_is_expired_too() {
        let err = verify_webhook_at(EVENT, &header(SECRET, 2_000), SECRET, 1_000).unwrap_err();
        assert!(matches!(err, WebhookError::Expired), "{err:?}");
    }
}
