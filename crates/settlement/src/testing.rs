//! Test helpers for code that talks to Stripe (feature `testing`).
//!
//! It is long because it is one thing: a stand-in for Stripe's wire protocol (a proxy with
//! idempotency, Connect transfers and balance history that localstripe lacks), which only
//! makes sense read whole.
//!
//! [`FakeStripe`] runs localstripe (a stateful fake Stripe in Python: `pip install localstripe`)
//! behind a recording proxy in this process. [`StripeGateway`](crate::stripe::StripeGateway)
//! talks to the proxy over plain http as it would to Stripe. The proxy keeps every request, so
//! tests can assert on what our code sent (amounts, metadata, idempotency keys), and it fills the
//! gaps where localstripe 1.15 behaves unlike Stripe in ways our code depends on:
//!
//! - Idempotency keys: localstripe ignores them. The proxy answers a repeated key with the first
//!   answer, and refuses it with other parameters (`idempotency_error`), as Stripe does. Requests
//!   with a key run one at a time, so a concurrent repeat waits for the first answer (Stripe would
//!   answer 409 while the first is in flight).
//! - Connect transfers (`POST /v1/transfers`, `GET /v1/transfers/{id}`): localstripe has none.
//!   The proxy answers them itself and adds a `transfer` balance transaction for each.
//! - `GET /v1/balance_transactions`: localstripe lists them but refuses the `created` filter. The
//!   proxy filters and pages localstripe's list merged with its transfers.
//! - Refunds of a PaymentIntent: localstripe refunds any amount, and the full charge again when
//!   no amount is given. The proxy refuses more than is left (`amount_too_large`,
//!   `charge_already_refunded`) and fills in what is left when no amount is given.
//! - `POST /v1/payment_intents`: the pinned API version's `allowed_payment_method_types` goes to
//!   localstripe as `payment_method_types`, the older name, which it accepts (and then forgets:
//!   its intents carry no payment method types).
//!
//! Webhooks: once told where ([`FakeStripe::send_webhooks_to`]), localstripe signs and posts
//! `payment_intent.succeeded` and `payment_intent.payment_failed` events (and customer, invoice
//! and subscription ones), but none for `payment_intent.canceled` or refunds. [`intent_event`],
//! [`refund_event`] and [`stripe_signature`] build deliveries by hand for those and for
//! duplicates, reorderings and expired timestamps.
//!
//! Each `FakeStripe` starts its own localstripe on a free port with `--from-scratch`, so tests
//! share nothing. (localstripe also writes /tmp/localstripe.pickle after every change; with
//! `--from-scratch` nothing reads it back.)

#![allow(clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::HashMap;
use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jinguo_common::money::Fen;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::settings::StripeSettings;
use crate::stripe::{Intent, IntentStatus, StripeRefund, webhook_signature_v1};

/// localstripe takes any key that starts with `sk_`.
const SECRET_KEY: &str = "sk_test_jinguo";
const PUBLISHABLE_KEY: &str = "pk_test_jinguo";
const NOT_FOUND: &str = "localstripe not found: Stripe tests skipped; pip install localstripe";
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// localstripe behind a recording proxy; stopped when dropped.
pub struct FakeStripe {
    /// The recording proxy's URL: give this to [`StripeSettings::base_url`].
    pub base_url: String,
    proxy: Arc<Proxy>,
    next_webhook: AtomicU64,
    _localstripe: KillOnDrop,
    // Dropping the sender stops the proxy.
    _stop_proxy: oneshot::Sender<()>,
}

/// A request as it reached the proxy.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// "GET", "POST", …
    pub method: String,
    /// e.g. "/v1/payment_intents"
    pub path: String,
    /// The decoded query string.
    pub query: Vec<(String, String)>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    /// The decoded form body, as sent: `metadata[order_id]`, `allowed_payment_method_types[0]`, …
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first form value under `key`, e.g. `form_value("metadata[order_id]")`.
    pub fn form_value(&self, key: &str) -> Option<&str> {
        value_of(&self.form, key)
    }

    /// The values of a form list, `name[0]`, `name[1]`, … in order.
    pub fn form_list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}[");
        self.form
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.parse::<usize>().is_ok())
            })
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first query value under `key`, e.g. `query_value("created[gte]")`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        value_of(&self.query, key)
    }

    /// A header by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        value_of(&self.headers, name)
    }
}

impl FakeStripe {
    /// Starts localstripe (the `localstripe` executable on PATH) on a free port, waits until it
    /// answers, and starts the recording proxy in front of it on another.
    ///
    /// Without localstripe: None, after saying so on stderr, so that tests can skip; but with
    /// `JINGUO_REQUIRE_LOCALSTRIPE=1` (CI) it panics instead, so that no test skips unnoticed.
    pub async fn start() -> Option<FakeStripe> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port for localstripe")
            .port();
        let spawned = Command::new("localstripe")
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut localstripe = match spawned {
            Ok(child) => KillOnDrop(child),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if std::env::var("JINGUO_REQUIRE_LOCALSTRIPE").is_ok_and(|v| v == "1") {
                    panic!("{NOT_FOUND} (JINGUO_REQUIRE_LOCALSTRIPE=1)");
                }
                eprintln!("{NOT_FOUND}");
                return None;
            }
            Err(err) => panic!("could not start localstripe: {err}"),
        };

        let upstream = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_until_answering(&http, &upstream, &mut localstripe.0).await;

        let proxy = Arc::new(Proxy {
            upstream,
            http,
            recorded: Mutex::default(),
            idempotent: tokio::sync::Mutex::default(),
            connect: Mutex::default(),
            next_id: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the proxy");
        let base_url = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let (stop_proxy, stopped) = oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&proxy));
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the recording proxy runs");
        });

        Some(FakeStripe {
            base_url,
            proxy,
            next_webhook: AtomicU64::new(0),
            _localstripe: localstripe,
            _stop_proxy: stop_proxy,
        })
    }

    /// A configuration for [`StripeGateway::new`](crate::stripe::StripeGateway::new) that talks
    /// to this fake, with card, alipay and wechat_pay.
    pub fn config(&self, webhook_secret: &str) -> StripeSettings {
        StripeSettings {
            secret_key: SecretString::from(SECRET_KEY.to_owned()),
            webhook_secret: SecretString::from(webhook_secret.to_owned()),
            publishable_key: PUBLISHABLE_KEY.to_owned(),
            base_url: url::Url::parse(&self.base_url).ok(),
            payment_methods: ["card", "alipay", "wechat_pay"].map(str::to_owned).to_vec(),
        }
    }

    /// Every request that reached the proxy so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.proxy
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The recorded requests with this method and path.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// Pays a PaymentIntent as Stripe.js would once the buyer has entered a card: a test Visa
    /// payment method is attached and the intent confirmed, so it succeeds (and localstripe
    /// sends `payment_intent.succeeded`). Straight to localstripe, not through the proxy: in
    /// production the browser talks to Stripe, not our server. (localstripe's confirm refuses a
    /// `payment_method` parameter, hence the update before it.)
    pub async fn pay_intent(&self, intent_id: &str) {
        let card = [
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123"),
        ];
        let method = self.localstripe_post("/v1/payment_methods", &card).await;
        let method = method["id"]
            .as_str()
            .expect("localstripe's payment method has an id");
        self.localstripe_post(
            &format!("/v1/payment_intents/{intent_id}"),
            &[("payment_method", method)],
        )
        .await;
        let intent = self
            .localstripe_post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[])
            .await;
        assert_eq!(
            intent["status"], "succeeded",
            "localstripe did not take the card: {intent}"
        );
    }

    /// Has localstripe post its events to `url`, signed with `secret` (its
    /// `POST /_config/webhooks/{id}`), about a second after each happens. Each call adds an
    /// endpoint.
    pub async fn send_webhooks_to(&self, url: &str, secret: &str) {
        let id = self.next_webhook.fetch_add(1, Ordering::Relaxed);
        let response = self
            .proxy
            .http
            .post(format!(
                "{}/_config/webhooks/jinguo{id}",
                self.proxy.upstream
            ))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await
            .expect("localstripe answers");
        assert!(
            response.status().is_success(),
            "localstripe refused the webhook endpoint {url}"
        );
    }

    /// Forgets everything, as a new `FakeStripe` would, but keeps the webhook endpoints: for a
    /// fake shared by several cases, each on a fresh database whose ids start again at 1 (a
    /// repeated idempotency key would otherwise give back the previous case's object, or be
    /// refused with other parameters, as Stripe would within 24 hours).
    pub async fn reset(&self) {
        let response = self
            .proxy
            .http
            .delete(format!("{}/_config/data", self.proxy.upstream))
            .send()
            .await
            .expect("localstripe answers");
        assert!(
            response.status().is_success(),
            "localstripe did not flush its data"
        );
        self.proxy.idempotent.lock().await.clear();
        *self
            .proxy
            .connect
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Connect::default();
        self.proxy
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    async fn localstripe_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .proxy
            .http
            .post(format!("{}{path}", self.proxy.upstream))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        let status = response.status();
        let body = response.text().await.expect("localstripe's answer");
        assert!(
            status.is_success(),
            "localstripe refused POST {path}: {status} {body}"
        );
        serde_json::from_str(&body).expect("localstripe answers JSON")
    }
}

/// The localstripe process, killed when dropped (also when start-up fails half-way).
///
/// std's `Child` rather than tokio's with `kill_on_drop`: tokio's `process` feature, enabled only
/// for tests, would make `cargo build` and `cargo test` build tokio, and everything above it,
/// twice.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp` (unix seconds):
/// `t={timestamp},v1={hex HMAC-SHA256(secret, "{timestamp}.{payload}")}`.
pub fn stripe_signature(payload: &str, secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},v1={}",
        webhook_signature_v1(secret, timestamp, payload)
    )
}

/// A Stripe-shaped event about a PaymentIntent (`kind` such as `payment_intent.succeeded` or
/// `payment_intent.canceled`; the intent as given, so set its status to match), for deliveries
/// built by hand.
pub fn intent_event(event_id: &str, kind: &str, intent: &Intent, created: i64) -> String {
    let received = if intent.status == IntentStatus::Succeeded {
        intent.amount.0
    } else {
        0
    };
    let mut metadata = serde_json::Map::new();
    if let Some(order_id) = intent.order_id {
        metadata.insert("order_id".into(), order_id.to_string().into());
    }
    let object = json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount.0,
        "amount_capturable": 0,
        "amount_received": received,
        "capture_method": "automatic",
        "client_secret": intent.client_secret,
        "confirmation_method": "automatic",
        "created": created,
        "currency": intent.currency,
        "livemode": false,
        "metadata": metadata,
        "payment_method_types": ["card"],
        "status": intent.status.as_str(),
        "latest_charge": intent.latest_charge,
    });
    event(event_id, kind, object, created)
}

/// A Stripe-shaped event about a refund (`refund.created`, `refund.updated`, `refund.failed`).
pub fn refund_event(event_id: &str, kind: &str, refund: &StripeRefund, created: i64) -> String {
    let object = json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount.0,
        "created": created,
        "currency": "cny",
        "metadata": {},
        "payment_intent": refund.payment_intent,
        "status": refund.status,
    });
    event(event_id, kind, object, created)
}

fn event(id: &str, kind: &str, object: Value, created: i64) -> String {
    json!({
        "id": id,
        "object": "event",
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    })
    .to_string()
}

async fn wait_until_answering(http: &reqwest::Client, url: &str, localstripe: &mut Child) {
    let deadline = Instant::now() + STARTUP_LIMIT;
    loop {
        if let Some(status) = localstripe.try_wait().expect("localstripe's status") {
            panic!("localstripe exited ({status}) before answering; run `localstripe` to see why");
        }
        let answer = http
            .get(format!("{url}/v1/balance"))
            .bearer_auth(SECRET_KEY)
            .send()
            .await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "localstripe did not answer on {url} within {STARTUP_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn value_of<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    recorded: Mutex<Vec<RecordedRequest>>,
    /// Held while a request with an idempotency key runs.
    idempotent: tokio::sync::Mutex<HashMap<String, Saved>>,
    connect: Mutex<Connect>,
    next_id: AtomicU64,
}

/// The first request made with an idempotency key, and its answer.
struct Saved {
    method: Method,
    path: String,
    /// Sorted: async-stripe encodes metadata in hash-map order, which differs between calls.
    form: Vec<(String, String)>,
    reply: Reply,
}

/// Transfers and their balance transactions, which localstripe lacks.
#[derive(Default)]
struct Connect {
    transfers: Vec<Value>,
    balance: Vec<Value>,
}

/// A request to the proxy.
struct Call {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    fn query(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    fn json(status: StatusCode, value: &Value) -> Reply {
        Reply {
            status,
            body: Bytes::from(value.to_string()),
        }
    }

    /// Stripe's error shape: `{"error": {"type", "message", "code"?, "param"?}}`.
    fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Reply {
        let mut error = json!({ "type": kind, "message": message });
        if let Some(code) = code {
            error["code"] = code.into();
        }
        Reply::json(status, &json!({ "error": error }))
    }

    fn invalid(code: Option<&str>, message: &str) -> Reply {
        Reply::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

async fn handle(State(proxy): State<Arc<Proxy>>, request: Request) -> Reply {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(body) => body,
        Err(err) => return Reply::invalid(None, &format!("unreadable body: {err}")),
    };
    let call = Call {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    proxy.record(&call);
    match call.header("idempotency-key") {
        Some(key) if call.method == Method::POST => proxy.idempotent(key.to_owned(), &call).await,
        _ => proxy.route(&call).await,
    }
}

impl Proxy {
    fn record(&self, call: &Call) {
        let request = RecordedRequest {
            method: call.method.to_string(),
            path: call.path.clone(),
            query: call.query(),
            headers: call
                .headers
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.into())))
                .collect(),
            idempotency_key: call.header("idempotency-key").map(str::to_owned),
            form: call.form(),
        };
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    fn new_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}{:014}",
            self.next_id.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Stripe's idempotency: the first answer again for the same request, an error for another.
    async fn idempotent(&self, key: String, call: &Call) -> Reply {
        let mut form = call.form();
        form.sort();
        let mut saved = self.idempotent.lock().await;
        if let Some(first) = saved.get(&key) {
            if first.method == call.method && first.path == call.path && first.form == form {
                return first.reply.clone();
            }
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                &format!(
                    "Keys for idempotent requests can only be used with the same parameters they \
                     were first used with. Try using a key other than '{key}' if you meant to \
                     execute a different request."
                ),
            );
        }
        let reply = self.route(call).await;
        // Stripe does not keep answers to requests that failed before they ran.
        if !reply.status.is_server_error() {
            let (method, path) = (call.method.clone(), call.path.clone());
            saved.insert(
                key,
                Saved {
                    method,
                    path,
                    form,
                    reply: reply.clone(),
                },
            );
        }
        reply
    }

    async fn route(&self, call: &Call) -> Reply {
        let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
        match (&call.method, segments.as_slice()) {
            (&Method::POST, ["v1", "transfers"]) => self.create_transfer(call),
            (&Method::GET, ["v1", "transfers", id]) => self.transfer(id),
            (&Method::GET, ["v1", "balance_transactions"]) => self.balance_transactions(call).await,
            (&Method::GET, ["v1", "balance_transactions", id]) => match self.transfer_txn(id) {
                Some(txn) => Reply::json(StatusCode::OK, &txn),
                None => self.forward(call, None).await,
            },
            (&Method::POST, ["v1", "payment_intents"]) => {
                let form = call
                    .form()
                    .into_iter()
                    .map(
                        |(key, value)| match key.strip_prefix("allowed_payment_method_types") {
                            Some(rest) => (format!("payment_method_types{rest}"), value),
                            None => (key, value),
                        },
                    )
                    .collect();
                self.forward(call, Some(form)).await
            }
            (&Method::POST, ["v1", "refunds"]) => self.create_refund(call).await,
            _ => self.forward(call, None).await,
        }
    }

    /// Sends the call on to localstripe, with `form` instead of its body if given.
    async fn forward(&self, call: &Call, form: Option<Vec<(String, String)>>) -> Reply {
        let mut headers = call.headers.clone();
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        let body = match form {
            Some(form) => Bytes::from(serde_urlencoded::to_string(form).expect("a form encodes")),
            None => call.body.clone(),
        };
        let mut url = format!("{}{}", self.upstream, call.path);
        if let Some(query) = &call.query {
            url = format!("{url}?{query}");
        }
        let sent = self
            .http
            .request(call.method.clone(), url)
            .headers(headers)
            .body(body)
            .send();
        match sent.await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    // Stripe's errors are JSON; some of localstripe's (an unknown URL) are text.
                    Ok(body)
                        if !status.is_success()
                            && serde_json::from_slice::<Value>(&body).is_err() =>
                    {
                        let text = String::from_utf8_lossy(&body);
                        let message = format!("localstripe: {}", text.trim());
                        Reply::error(status, "invalid_request_error", None, &message)
                    }
                    Ok(body) => Reply { status, body },
                    Err(err) => bad_gateway(&err),
                }
            }
            Err(err) => bad_gateway(&err),
        }
    }

    /// A GET to localstripe made by the proxy itself; Err is the reply to pass on.
    async fn upstream_json(&self, call: &Call, path_and_query: &str) -> Result<Value, Reply> {
        let mut request = self.http.get(format!("{}{path_and_query}", self.upstream));
        if let Some(auth) = call.header("authorization") {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await.map_err(|err| bad_gateway(&err))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|err| bad_gateway(&err))?;
        if !status.is_success() {
            return Err(Reply { status, body });
        }
        serde_json::from_slice(&body).map_err(|err| bad_gateway(&err))
    }

    async fn create_refund(&self, call: &Call) -> Reply {
        let mut form = call.form();
        let Some(intent_id) = value_of(&form, "payment_intent").map(str::to_owned) else {
            return self.forward(call, None).await;
        };
        let intent = match self
            .upstream_json(call, &format!("/v1/payment_intents/{intent_id}"))
            .await
        {
            Ok(intent) => intent,
            Err(reply) => return reply,
        };
        if intent["status"] != "succeeded" {
            return Reply::invalid(
                None,
                &format!(
                    "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                ),
            );
        }
        let refunds = match self
            .upstream_json(
                call,
                &format!("/v1/refunds?payment_intent={intent_id}&limit=100"),
            )
            .await
        {
            Ok(refunds) => refunds,
            Err(reply) => return reply,
        };
        let refunded: i64 = refunds["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|refund| refund["status"] != "failed" && refund["status"] != "canceled")
            .filter_map(|refund| refund["amount"].as_i64())
            .sum();
        let left = intent["amount"].as_i64().unwrap_or(0) - refunded;
        if left <= 0 {
            let charge = intent["latest_charge"]["id"]
                .as_str()
                .unwrap_or("of this PaymentIntent");
            return Reply::invalid(
                Some("charge_already_refunded"),
                &format!("Charge {charge} has already been refunded."),
            );
        }
        match value_of(&form, "amount").map(str::parse::<i64>) {
            None => form.push(("amount".into(), left.to_string())),
            Some(Ok(amount)) if amount > left => {
                return Reply::invalid(
                    Some("amount_too_large"),
                    &format!(
                        "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                        Fen(amount),
                        Fen(left)
                    ),
                );
            }
            // Left for localstripe to judge.
            Some(_) => {}
        }
        self.forward(call, Some(form)).await
    }

    fn create_transfer(&self, call: &Call) -> Reply {
        if !call
            .header("authorization")
            .is_some_and(|auth| auth.contains("sk_"))
        {
            return Reply::error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                None,
                "Invalid API Key provided",
            );
        }
        let mut fields: HashMap<&str, String> = HashMap::new();
        let mut metadata = serde_json::Map::new();
        let form = call.form();
        for (key, value) in &form {
            if let Some(name) = key
                .strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
            {
                metadata.insert(name.to_owned(), value.clone().into());
                continue;
            }
            match key.as_str() {
                "amount" | "currency" | "destination" | "description" | "transfer_group"
                | "source_transaction" => {
                    fields.insert(key.as_str(), value.clone());
                }
                _ => return Reply::invalid(None, &format!("Received unknown parameter: {key}")),
            }
        }
        for required in ["amount", "currency", "destination"] {
            if !fields.contains_key(required) {
                return Reply::invalid(None, &format!("Missing required param: {required}."));
            }
        }
        let Some(amount) = fields["amount"].parse::<i64>().ok().filter(|a| *a > 0) else {
            return Reply::invalid(None, "Invalid positive integer");
        };
        let destination = &fields["destination"];
        if !destination.starts_with("acct_") {
            return Reply::invalid(
                Some("resource_missing"),
                &format!("No such destination: '{destination}'"),
            );
        }

        let id = self.new_id("tr_");
        let txn_id = self.new_id("txn_");
        let created = now();
        let currency = fields["currency"].to_lowercase();
        let transfer = json!({
            "id": id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": txn_id,
            "created": created,
            "currency": currency,
            "description": fields.get("description"),
            "destination": destination,
            "destination_payment": self.new_id("py_"),
            "livemode": false,
            "metadata": metadata,
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": false,
                "total_count": 0,
                "url": format!("/v1/transfers/{id}/reversals"),
            },
            "reversed": false,
            "source_transaction": fields.get("source_transaction"),
            "source_type": "card",
            "transfer_group": fields.get("transfer_group"),
        });
        let txn = json!({
            "id": txn_id,
            "object": "balance_transaction",
            "amount": -amount,
            "available_on": created,
            "created": created,
            "currency": currency,
            "description": fields.get("description"),
            "exchange_rate": null,
            "fee": 0,
            "fee_details": [],
            "net": -amount,
            "reporting_category": "transfer",
            "source": id,
            "status": "available",
            "type": "transfer",
        });
        let mut connect = self.connect.lock().unwrap_or_else(PoisonError::into_inner);
        connect.transfers.push(transfer.clone());
        connect.balance.push(txn);
        Reply::json(StatusCode::OK, &transfer)
    }

    fn transfer(&self, id: &str) -> Reply {
        let connect = self.connect.lock().unwrap_or_else(PoisonError::into_inner);
        match connect
            .transfers
            .iter()
            .find(|transfer| transfer["id"] == id)
        {
            Some(transfer) => Reply::json(StatusCode::OK, transfer),
            None => Reply::error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such transfer: '{id}'"),
            ),
        }
    }

    fn transfer_txn(&self, id: &str) -> Option<Value> {
        let connect = self.connect.lock().unwrap_or_else(PoisonError::into_inner);
        connect.balance.iter().find(|txn| txn["id"] == id).cloned()
    }

    /// localstripe's balance transactions and the transfers', filtered and paged like Stripe:
    /// newest first.
    async fn balance_transactions(&self, call: &Call) -> Reply {
        let mut created: Vec<(String, i64)> = Vec::new();
        let (mut limit, mut starting_after, mut kind, mut source) = (10, None, None, None);
        for (key, value) in call.query() {
            let number = || value.parse::<i64>().ok();
            match key.as_str() {
                "created" | "created[gt]" | "created[gte]" | "created[lt]" | "created[lte]" => {
                    let Some(at) = number() else {
                        return Reply::invalid(None, &format!("Invalid integer: {value}"));
                    };
                    created.push((key, at));
                }
                "limit" => match number().filter(|n| (1..=100).contains(n)) {
                    Some(n) => limit = n as usize,
                    None => return Reply::invalid(None, "limit must be between 1 and 100"),
                },
                "starting_after" => starting_after = Some(value),
                "type" => kind = Some(value),
                "source" => source = Some(value),
                _ => return Reply::invalid(None, &format!("Received unknown parameter: {key}")),
            }
        }

        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/v1/balance_transactions?limit=100".to_owned();
            if let Some(id) = &after {
                path = format!("{path}&starting_after={id}");
            }
            let page = match self.upstream_json(call, &path).await {
                Ok(page) => page,
                Err(reply) => return reply,
            };
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data
                .last()
                .and_then(|txn| txn["id"].as_str())
                .map(str::to_owned);
            all.extend(data);
            if page["has_more"] != true || after.is_none() {
                break;
            }
        }
        all.extend(
            self.connect
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .balance
                .clone(),
        );
        // Stable: localstripe's order, then the transfers', within a second.
        all.sort_by_key(|txn| Reverse(txn["created"].as_i64().unwrap_or(0)));

        all.retain(|txn| {
            let at = txn["created"].as_i64().unwrap_or(0);
            created.iter().all(|(op, bound)| match op.as_str() {
                "created[gt]" => at > *bound,
                "created[gte]" => at >= *bound,
                "created[lt]" => at < *bound,
                "created[lte]" => at <= *bound,
                _ => at == *bound,
            }) && kind
                .as_ref()
                .is_none_or(|kind| txn["type"] == kind.as_str())
                && source
                    .as_ref()
                    .is_none_or(|source| txn["source"] == source.as_str())
        });
        let start = match &starting_after {
            None => 0,
            Some(id) => match all.iter().position(|txn| txn["id"] == id.as_str()) {
                Some(at) => at + 1,
                None => {
                    return Reply::error(
                        StatusCode::NOT_FOUND,
                        "invalid_request_error",
                        Some("resource_missing"),
                        &format!("No such balance transaction: '{id}'"),
                    );
                }
            },
        };
        let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
        Reply::json(
            StatusCode::OK,
            &json!({
                "object": "list",
                "data": page,
                "has_more": all.len() > start + limit,
                "url": "/v1/balance_transactions",
            }),
        )
    }
}

fn bad_gateway(err: &dyn std::fmt::Display) -> Reply {
    Reply::error(
        StatusCode::BAD_GATEWAY,
        "api_error",
        None,
        &format!("localstripe: {err}"),
    )
}
