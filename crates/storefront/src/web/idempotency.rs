//! Requests sent twice do their work once. An API call that changes something may carry an
//! `Idempotency-Key` ([`api`]): the same key with the same request within a day gets the first
//! answer again (status and body, with `Idempotent-Replayed: true`), the same key with another
//! request is a 422. A form that creates something carries a single-use token, `once`
//! ([`forms`]; filled in per page view like the CSRF token): a second submit of it, a
//! double-click or a retry after a lost answer, lands where the first one did (its 303) and
//! books nothing. A second request that arrives while the first still runs waits for its answer.
//! Keys are per account and kept in the database, so they hold across `jinguo serve` processes.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Method, StatusCode, header};
use jinguo_accounts::UserId;
use jinguo_accounts::idempotency::{self, Answer, Begin, MAX_KEY_LEN};
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::app::{AppState, MAX_BODY_BYTES};
use crate::error::{AppError, ErrorCode};
use crate::web::Visitor;

pub const HEADER: &str = "idempotency-key";
/// Says that an answer is the one given to an earlier request with the same key.
pub const REPLAYED: &str = "idempotent-replayed";
/// Stands for a form's single-use token in rendered pages until it is filled in, each one new.
pub const ONCE_MARK: &str = "jinguo-once-token-placeholder";
/// How long a second request waits for the first one's answer.
const WAIT: Duration = Duration::from_secs(15);

/// A new single-use form token.
pub fn new_token() -> String {
    let bytes: [u8; 18] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Both kinds, by path: under `/api/` keys, elsewhere form tokens. Runs outside the rendering
/// of errors, so that what is kept is the answer as the client got it.
pub async fn guard(state: State<AppState>, request: Request, next: Next) -> Response {
    let lang = crate::i18n::Lang::from_headers(request.headers());
    let path = request.uri().path().to_owned();
    let response = if path.starts_with("/api/") {
        api(state.clone(), request, next).await
    } else {
        forms(state.clone(), request, next).await
    };
    // Its own refusals (a reused key) are rendered here; the handlers' were already.
    crate::app::rendered(&state, lang, &path, response)
}

/// For the API: requests that change something and carry an `Idempotency-Key`, from a signed-in
/// account, run once; every answer but a failure of the shop's is kept.
async fn api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let key = request.headers().get(HEADER).cloned();
    let user = visitor_user(&request);
    let (Some(key), Some(user), true) = (key, user, changes) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k)
            if (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            format!("api:{k}")
        }
        _ => return AppError::bad(ErrorCode::BadIdempotencyKey).into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    once(&state, user, &key, &fingerprint, request, next, Kind::Api).await
}

/// For pages: a form posted with its `once` token from a signed-in account runs once; its
/// answer is kept when it is a redirect to the result (a form shown again with what was wrong
/// is not kept, so that it can be corrected and sent).
async fn forms(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let user = visitor_user(&request);
    let (Some(user), true) = (user, request.method() == Method::POST) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "once")
        .map(|(_, v)| v.into_owned())
        .filter(|v| (16..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()));
    let request = Request::from_parts(parts, Body::from(bytes));
    let Some(token) = token else {
        return next.run(request).await;
    };
    // The token stands for this form on this page: a second submit lands on the first's
    // result even if the fields were changed in between.
    let fingerprint = fingerprint(request.method(), request.uri(), b"");
    let key = format!("form:{token}");
    once(&state, user, &key, &fingerprint, request, next, Kind::Form).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Api,
    Form,
}

fn visitor_user(request: &Request) -> Option<UserId> {
    request
        .extensions()
        .get::<Visitor>()
        .and_then(Visitor::user)
        .map(|u| u.id)
}

fn fingerprint(method: &Method, uri: &http::Uri, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update(b" ");
    hash.update(uri.to_string());
    hash.update(b"\n");
    hash.update(body);
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

async fn once(
    state: &AppState,
    user: UserId,
    key: &str,
    fingerprint: &str,
    request: Request,
    next: Next,
    kind: Kind,
) -> Response {
    let started = tokio::time::Instant::now();
    let id = loop {
        let now = state.clock.now_ms();
        match idempotency::begin(&state.db, user, key, fingerprint, now).await {
            Ok(Begin::Run(id)) => break id,
            Ok(Begin::Replay(answer)) => return replay(&answer, kind),
            Ok(Begin::Mismatch) => {
                return AppError::said(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::IdempotencyKeyReused,
                )
                .into_response();
            }
            Ok(Begin::Running) if started.elapsed() < WAIT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Begin::Running) => {
                return AppError::said(StatusCode::CONFLICT, ErrorCode::InProgress).into_response();
            }
            Err(error) => return AppError::from(error).into_response(),
        }
    };
    let response = next.run(request).await;
    let status = response.status();
    let keep = match kind {
        Kind::Api => !status.is_server_error(),
        Kind::Form => status.is_redirection(),
    };
    if !keep {
        if let Err(error) = idempotency::abandon(&state.db, id).await {
            tracing::warn!(%error, "an idempotency key could not be released");
        }
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        let _ = idempotency::abandon(&state.db, id).await;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let answer = Answer {
        status: status.as_u16(),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(error) = idempotency::finish(&state.db, id, &answer).await {
        tracing::warn!(%error, "an answer could not be kept for replay");
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: &Answer, kind: Kind) -> Response {
    if kind == Kind::Form {
        return Redirect::to(answer.location.as_deref().unwrap_or("/")).into_response();
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in [
        (header::CONTENT_TYPE, &answer.content_type),
        (header::LOCATION, &answer.location),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
