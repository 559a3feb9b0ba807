//! Who is asking, and may they: sessions from the `sid` cookie (pages) or a bearer token (API),
//! CSRF protection for every form, and the per-visitor bits of pages that are otherwise shared.
//!
//! CSRF: each browser gets a random token in an `HttpOnly` cookie; every form carries the same
//! token in a hidden field (the page is rendered with a placeholder that is filled per request,
//! so cached pages stay shareable); a POST whose field does not match its cookie, or whose
//! `Origin` is another site, is refused. Session cookies are `HttpOnly`, `SameSite=Lax`, and
//! `Secure` when the shop's public address is https.

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use jinguo_accounts::{Role, Session, SessionKind, Token, User};
use jinguo_order::cart::Owner;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::{AppError, Msg};
use crate::i18n::Lang;
use crate::views::Link;

pub const SESSION_COOKIE: &str = "sid";
pub const CSRF_COOKIE: &str = "csrf";
/// Stands for the visitor's CSRF token in rendered pages until it is filled in.
pub const CSRF_MARK: &str = "jinguo-csrf-token-placeholder";
/// Stands for the account links in the page header.
pub const ACCOUNT_MARK: &str = "<!--jinguo:account-->";
/// Largest form body accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest page rewritten with the visitor's bits.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

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
            (_, Some(user)) => Some(Owner::User(user.id.0)),
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

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A `Set-Cookie` value with the shop's attributes; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn new_csrf() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn looks_like_token(value: &str) -> bool {
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
    let (csrf, csrf_is_new) = match cookie(headers, CSRF_COOKIE).filter(|c| looks_like_token(c)) {
        Some(c) => (c.to_owned(), false),
        None => (new_csrf(), true),
    };
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
    personalize(&state, &visitor, lang, response).await
}

#[derive(Serialize)]
struct Nav {
    signed_in: bool,
    login: String,
    cart_count: i64,
    unread: i64,
    cart_url: &'static str,
    login_url: &'static str,
    register_url: &'static str,
    account_url: &'static str,
    orders_url: &'static str,
    logout_action: &'static str,
    links: Vec<Link>,
}

/// Links to the dashboards a role has.
pub fn role_links(user: &User, lang: Lang, state: &AppState) -> Vec<Link> {
    let t = state.i18n.locale(lang);
    match user.role {
        Role::Producer => vec![
            Link {
                label: t.get("producer_portal.orders_title").to_owned(),
                url: "/producer/orders".into(),
            },
            Link {
                label: t.get("producer_portal.stock_title").to_owned(),
                url: "/producer/stock".into(),
            },
            Link {
                label: t.get("money.producer_title").to_owned(),
                url: "/producer/money".into(),
            },
        ],
        Role::Staff => vec![
            Link {
                label: t.get("staff.payments_title").to_owned(),
                url: "/staff/payments".into(),
            },
            Link {
                label: t.get("staff.orders_title").to_owned(),
                url: "/staff/orders".into(),
            },
            Link {
                label: t.get("staff.restrictions_title").to_owned(),
                url: "/staff/restrictions".into(),
            },
            Link {
                label: t.get("money.staff_title").to_owned(),
                url: "/staff/money".into(),
            },
        ],
        Role::Consumer => Vec::new(),
    }
}

async fn personalize(
    state: &AppState,
    visitor: &Visitor,
    lang: Lang,
    response: Response,
) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_PAGE_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // One pass over the page's bytes: the account links once, the form token wherever it stands.
    let account_at = memchr::memmem::find(&bytes, ACCOUNT_MARK.as_bytes());
    let forms: Vec<usize> = memchr::memmem::find_iter(&bytes, CSRF_MARK.as_bytes()).collect();
    let mut fragment = match account_at {
        Some(_) => account_nav(state, visitor, lang).await,
        None => String::new(),
    };
    // The links may hold a form too (signing out).
    let nav_has_form = fragment.contains(CSRF_MARK);
    if nav_has_form {
        fragment = fragment.replace(CSRF_MARK, &visitor.csrf);
    }
    let has_form = !forms.is_empty() || nav_has_form;
    let mut marks: Vec<(usize, usize, &[u8])> = forms
        .iter()
        .map(|at| (*at, CSRF_MARK.len(), visitor.csrf.as_bytes()))
        .collect();
    if let Some(at) = account_at {
        marks.push((at, ACCOUNT_MARK.len(), fragment.as_bytes()));
    }
    marks.sort_unstable_by_key(|(at, _, _)| *at);
    let mut html = Vec::with_capacity(bytes.len() + fragment.len() + forms.len() * 8);
    let mut from = 0;
    for (at, len, with) in marks {
        html.extend_from_slice(&bytes[from..at]);
        html.extend_from_slice(with);
        from = at + len;
    }
    html.extend_from_slice(&bytes[from..]);
    if has_form && visitor.csrf_is_new {
        parts.headers.append(
            header::SET_COOKIE,
            set_cookie(state, CSRF_COOKIE, &visitor.csrf, 365 * 86_400),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    if visitor.session.is_some() || has_form {
        // Personal now: no shared cache may keep it.
        parts.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    Response::from_parts(parts, Body::from(html))
}

async fn account_nav(state: &AppState, visitor: &Visitor, lang: Lang) -> String {
    // A visitor without a session sees the same links as every other: rendered once per language.
    if visitor.session.is_none() {
        let slot = &state.anonymous_nav[usize::from(lang == Lang::En)];
        if let Some(html) = slot.get() {
            return html.clone();
        }
        let html = render_nav(state, visitor, lang).await;
        let _ = slot.set(html.clone());
        return html;
    }
    render_nav(state, visitor, lang).await
}

async fn render_nav(state: &AppState, visitor: &Visitor, lang: Lang) -> String {
    let (cart_count, unread) = match (visitor.cart_owner(), visitor.user()) {
        (Some(owner), user) => {
            let count = state.orders.cart_count(owner).await.unwrap_or(0);
            let unread = match user {
                Some(u) => state.orders.unread_notifications(u.id.0).await.unwrap_or(0),
                None => 0,
            };
            (count, unread)
        }
        _ => (0, 0),
    };
    let nav = Nav {
        signed_in: visitor.user().is_some(),
        login: visitor.user().map(|u| u.login.clone()).unwrap_or_default(),
        cart_count,
        unread,
        cart_url: "/cart",
        login_url: "/login",
        register_url: "/register",
        account_url: "/account",
        orders_url: "/orders",
        logout_action: "/logout",
        links: visitor
            .user()
            .map(|u| role_links(u, lang, state))
            .unwrap_or_default(),
    };
    let mut context = tera::Context::new();
    context.insert("nav", &nav);
    context.insert("csrf", CSRF_MARK);
    match state.i18n.tera(lang).render("account_nav.html", &context) {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "account links failed to render");
            String::new()
        }
    }
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
            _ => Err(AppError::status(
                StatusCode::UNAUTHORIZED,
                Msg::new("errors.unauthorized"),
            )),
        }
    }
}

/// The producer a producer-staff user works for; anyone else is refused.
pub fn producer_of(user: &User) -> Result<i64, AppError> {
    match (user.role, user.producer_id) {
        (Role::Producer, Some(p)) => Ok(p),
        _ => Err(AppError::status(
            StatusCode::FORBIDDEN,
            Msg::new("errors.forbidden"),
        )),
    }
}

pub fn require_staff(user: &User) -> Result<(), AppError> {
    if user.role == Role::Staff {
        Ok(())
    } else {
        Err(AppError::status(
            StatusCode::FORBIDDEN,
            Msg::new("errors.forbidden"),
        ))
    }
}

/// A form posted from one of the shop's own pages: its `csrf` field matches the visitor's
/// cookie and its `Origin`, when sent, is the shop.
pub struct CsrfForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        let refused = || AppError::status(StatusCode::FORBIDDEN, Msg::new("errors.csrf"));
        if let (Some(origin), Some(host)) = (
            parts
                .headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok()),
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok()),
        ) {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            if origin_host != host {
                return Err(refused());
            }
        }
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| AppError::bad("errors.bad_query"))?;
        let sent = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let matches: bool = sent.as_bytes().ct_eq(visitor.csrf.as_bytes()).into();
        if visitor.csrf_is_new || !matches {
            return Err(refused());
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", "form")
                    .with("message", e),
            )
        })?;
        Ok(CsrfForm(form))
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
        state.orders.merge_cart(session.id, user.id.0).await?;
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
