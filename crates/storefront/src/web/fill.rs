//! The page-fill step: pages are rendered the same for everyone (so they can be cached) with
//! placeholders where the visitor's own bits go, and filled in here on the way out, in one pass
//! over the page's bytes: the account links in the header (rendered once per language for
//! visitors without a session), the form token wherever a form stands, and a new single-use
//! token in each form that creates something.

use axum::body::{Body, to_bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use jinguo_accounts::{Role, User};
use serde::Serialize;

use crate::app::AppState;
use crate::i18n::Lang;
use crate::views::Link;
use crate::web::csrf::{CSRF_COOKIE, CSRF_MARK};
use crate::web::idempotency::{self, ONCE_MARK};
use crate::web::session::{Visitor, set_cookie};

/// Stands for the account links in the page header.
pub const ACCOUNT_MARK: &str = "<!--jinguo:account-->";
/// Largest page rewritten with the visitor's bits.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

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

pub async fn personalize(
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
    // Each form that creates something gets its own single-use token.
    let onces: Vec<(usize, String)> = memchr::memmem::find_iter(&bytes, ONCE_MARK.as_bytes())
        .map(|at| (at, idempotency::new_token()))
        .collect();
    let mut marks: Vec<(usize, usize, &[u8])> = forms
        .iter()
        .map(|at| (*at, CSRF_MARK.len(), visitor.csrf.as_bytes()))
        .chain(
            onces
                .iter()
                .map(|(at, token)| (*at, ONCE_MARK.len(), token.as_bytes())),
        )
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
                Some(u) => state.orders.unread_notifications(u.id).await.unwrap_or(0),
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
