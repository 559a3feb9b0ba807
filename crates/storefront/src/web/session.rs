//! Who is asking: the session behind the `sid` cookie (pages) or a bearer token (API), found
//! once per request by [`identify`] and handed to handlers as a [`Visitor`]; the extractors
//! that require someone signed in ([`PageUser`], [`ApiUser`]) and the role checks. Session
//! cookies are `HttpOnly`, `SameSite=Lax`, and `Secure` when the shop's public address is https.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use jinguo_accounts::{Role, Session, SessionKind, Token, User};
use jinguo_common::ids::ProducerId;
use jinguo_order::cart::Owner;
use jinguo_order::state::Actor;
use std::net::SocketAddr;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::i18n::Lang;
use crate::web::{csrf, fill};

pub const SESSION_COOKIE: &str = "sid";

/// The visitor behind a request, put in its extensions by [`identify`].
#[derive(Clone, Debug)]
pub struct Visitor {
    pub session: Option<Session>,
    pub token: Option<Token>,
    pub csrf: String,
    /// No CSRF cookie came with the request: the token is new (and no form can match it).
    pub csrf_is_new: bool,
    pub via_bearer: bool,
    pub address: String,
}

impl Visitor {
    pub fn user(&self) -> Option<&User> {
        self.session.as_ref().and_then(|s| s.user.as_ref())
    }

    /// Whose cart this visitor sees: the account's, a guest session's, or none yet.
    pub fn cart_owner(&self) -> Option<Owner> {
        match (&self.session, self.user()) {
            (_, Some(user)) => Some(Owner::User(user.id)),
            (Some(session), None) => Some(Owner::Session(session.id)),
            (None, None) => None,
        }
    }
}

pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A `Set-Cookie` value with the shop's attributes; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.settings.server.is_https() {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn looks_like_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Finds the visitor's session, hands it to the handlers, and fills the visitor's bits into the
/// page that comes back.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let via_bearer = bearer.is_some();
    let token = bearer
        .or_else(|| cookie(headers, SESSION_COOKIE).map(str::to_owned))
        .filter(|t| looks_like_token(t))
        .map(|t| Token::from_client(&t));
    let (csrf, csrf_is_new) = csrf::of_request(headers);
    let lang = Lang::from_headers(headers);
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string());
    let session = match &token {
        Some(token) => match state.accounts.session(token).await {
            // A browser cookie opens web sessions only; a bearer header API tokens only.
            Ok(Some(s)) if (s.kind == SessionKind::Api) == via_bearer => Some(s),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "session lookup failed");
                None
            }
        },
        None => None,
    };
    let visitor = Visitor {
        token: session.as_ref().and(token),
        session,
        csrf,
        csrf_is_new,
        via_bearer,
        address,
    };
    request.extensions_mut().insert(visitor.clone());
    let response = next.run(request).await;
    fill::personalize(&state, &visitor, lang, response).await
}

/// The visitor, as [`identify`] found them.
impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts.extensions.get::<Visitor>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("no visitor: identify is not layered"))
        })
    }
}

/// A signed-in user on a page; anyone else is sent to sign in and brought back.
pub struct PageUser(pub User, pub Visitor);

impl<S: Send + Sync> FromRequestParts<S> for PageUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match visitor.user().cloned() {
            Some(user) => Ok(PageUser(user, visitor)),
            None => {
                let next = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                let next = if parts.method == Method::GET {
                    next
                } else {
                    "/"
                };
                Err(
                    Redirect::to(&format!("/login?next={}", crate::pages::encode(next)))
                        .into_response(),
                )
            }
        }
    }
}

/// A signed-in user of the API (a bearer token); anyone else gets 401.
pub struct ApiUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for ApiUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        match (visitor.via_bearer, visitor.user()) {
            (true, Some(user)) => Ok(ApiUser(user.clone())),
            _ => Err(AppError::said(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
            )),
        }
    }
}

/// The producer a producer-staff user works for; anyone else is refused.
pub fn producer_of(user: &User) -> Result<ProducerId, AppError> {
    match (user.role, user.producer_id) {
        (Role::Producer, Some(p)) => Ok(p),
        _ => Err(AppError::forbidden()),
    }
}

pub fn require_staff(user: &User) -> Result<(), AppError> {
    if user.role == Role::Staff {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// Who a user acts as on an order. A producer-staff or federation-staff account always acts in
/// that role, never as a buyer (such accounts are for work; people buy with a consumer account).
pub fn actor_of(user: &User) -> Actor {
    match (user.role, user.producer_id) {
        (Role::Producer, Some(producer)) => Actor::Producer(producer),
        (Role::Staff, _) => Actor::Staff(user.id),
        _ => Actor::Buyer(user.id),
    }
}

/// Opens a browser session for `user`: ends the guest session (its cart moves to the account)
/// and sets the cookie.
pub async fn start_session(
    state: &AppState,
    visitor: &Visitor,
    user: &User,
    token: &Token,
    response: &mut Response,
) -> Result<(), AppError> {
    if let (Some(session), None) = (&visitor.session, visitor.user()) {
        state.orders.merge_cart(session.id, user.id).await?;
        if let Some(old) = &visitor.token {
            state.accounts.sign_out(old).await?;
        }
    }
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state,
            SESSION_COOKIE,
            token.as_str(),
            jinguo_accounts::session::WEB_TTL_MS / 1000,
        ),
    );
    Ok(())
}

/// The visitor's cart owner, opening a guest session (and its cookie) when they have none.
pub async fn cart_owner_or_guest(
    state: &AppState,
    visitor: &Visitor,
    cookies_out: &mut Vec<HeaderValue>,
) -> Result<Owner, AppError> {
    if let Some(owner) = visitor.cart_owner() {
        return Ok(owner);
    }
    let (token, session) = state.accounts.guest_session().await?;
    cookies_out.push(set_cookie(
        state,
        SESSION_COOKIE,
        token.as_str(),
        jinguo_accounts::session::WEB_TTL_MS / 1000,
    ));
    Ok(Owner::Session(session.id))
}
