//! HTML pages, one module per resource, each with its own `router()` beside its handlers,
//! merged here: the shared pages anyone may be served from the page cache ([`catalog`]), and
//! the pages of one visitor's own (accounts, cart, checkout, orders, the producer's and staff's
//! dashboards), never cached. Shared here: the request context, rendering with the page frame,
//! error pages, and showing a form again with what was wrong.

mod account;
mod cart;
mod catalog;
mod checkout;
mod money;
mod orders;
mod producer;
mod staff;

use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use http::request::Parts;
use http::{HeaderValue, StatusCode, Uri, header};
use jinguo_common::invalid::Field;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

use crate::app::AppState;
use crate::error::{AppError, ErrorReport};
use crate::i18n::{LANG_COOKIE, Lang};
use crate::views::Link;

/// Pages the same for everyone asking in one language: served through the page cache.
pub fn shared_router() -> Router<AppState> {
    catalog::router().route("/lang", get(switch_lang))
}

/// Pages of one visitor's own: never cached.
pub fn personal_router() -> Router<AppState> {
    Router::new()
        .merge(account::router())
        .merge(cart::router())
        .merge(checkout::router())
        .merge(orders::router())
        .merge(producer::router())
        .merge(staff::router())
}

/// The language and address of the page being rendered.
pub struct Req {
    pub lang: Lang,
    pub uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Req {
            lang: Lang::from_parts(parts),
            uri: parts.uri.clone(),
        })
    }
}

impl Req {
    fn path_and_query(&self) -> String {
        self.uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned())
    }
}

#[derive(Serialize)]
struct SwitchLang {
    label: &'static str,
    href: String,
    lang: &'static str,
}

/// The frame every page shares (`page` in templates).
#[derive(Serialize)]
struct PageMeta {
    lang: &'static str,
    title: String,
    path: String,
    switch_lang: SwitchLang,
    css: &'static str,
    q: String,
    notice: Option<String>,
    /// Filled with the visitor's CSRF token on the way out.
    csrf: &'static str,
    /// Filled with a new single-use token on the way out, in each form that creates something.
    once: &'static str,
}

/// What a handler renders: the template, the title, the text in the search box, an optional
/// notice, and the page's own values.
pub struct View<T> {
    pub template: &'static str,
    pub title: String,
    pub q: String,
    pub notice: Option<String>,
    pub body: T,
    /// Shows something of one visitor's (a cart, an order): never shared from the page cache.
    pub personal: bool,
    pub status: StatusCode,
}

impl<T> View<T> {
    pub fn new(template: &'static str, title: impl Into<String>, body: T) -> Self {
        View {
            template,
            title: title.into(),
            q: String::new(),
            notice: None,
            body,
            personal: false,
            status: StatusCode::OK,
        }
    }

    /// A page of one visitor's own.
    pub fn personal(template: &'static str, title: impl Into<String>, body: T) -> Self {
        View {
            personal: true,
            ..View::new(template, title, body)
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

pub fn render<T: Serialize>(
    state: &AppState,
    req: &Req,
    view: View<T>,
) -> Result<Response, AppError> {
    let status = view.status;
    render_with(state, req.lang, &req.path_and_query(), status, view)
}

fn render_with<T: Serialize>(
    state: &AppState,
    lang: Lang,
    path: &str,
    status: StatusCode,
    view: View<T>,
) -> Result<Response, AppError> {
    let other = lang.other();
    let page = PageMeta {
        lang: lang.code(),
        title: view.title,
        path: path.to_owned(),
        switch_lang: SwitchLang {
            label: other.own_name(),
            href: format!("/lang?to={}&next={}", other.code(), encode(path)),
            lang: other.code(),
        },
        css: crate::assets::css_url(),
        q: view.q,
        notice: view.notice,
        csrf: crate::web::csrf::CSRF_MARK,
        once: crate::web::idempotency::ONCE_MARK,
    };
    let personal = view.personal;
    let mut context = tera::Context::from_serialize(&view.body)?;
    context.insert("page", &page);
    let html = state.i18n.tera(lang).render(view.template, &context)?;
    let mut response = (status, Html(html)).into_response();
    if status == StatusCode::OK && !personal {
        response
            .extensions_mut()
            .insert(crate::page_cache::Shareable);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    Ok(response)
}

pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

#[derive(Serialize)]
struct ErrorBody {
    status: u16,
    heading: String,
    message: String,
    links: Vec<Link>,
}

/// The page for an error: what went wrong in words, and ways on.
pub fn error_page(state: &AppState, lang: Lang, path: &str, report: &ErrorReport) -> Response {
    let locale = state.i18n.locale(lang);
    let heading_key = match report.status.as_u16() {
        401 => "errors.unauthorized_title",
        403 => "errors.forbidden_title",
        404 => "errors.not_found_title",
        400..=499 => "errors.bad_request_title",
        503 => "errors.unavailable_title",
        _ => "errors.server_error_title",
    };
    let mut links = vec![
        Link {
            label: locale.get("nav.home").to_owned(),
            url: "/".into(),
        },
        Link {
            label: locale.get("nav.products").to_owned(),
            url: "/products".into(),
        },
    ];
    if let Some(slug) = path.strip_prefix("/products/") {
        let words = slug.replace('-', " ");
        links.push(Link {
            label: locale.fill("errors.search_for", &[("q", words.clone())]),
            url: format!("/search?q={}", encode(&words)),
        });
    }
    let body = ErrorBody {
        status: report.status.as_u16(),
        heading: locale.get(heading_key).to_owned(),
        message: locale.say(&report.msg),
        links,
    };
    let title = body.heading.clone();
    let view = View::new("error.html", title, body);
    match render_with(state, lang, path, report.status, view) {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "the error page itself failed to render");
            (report.status, locale.say(&report.msg)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct SwitchParams {
    to: Option<String>,
    next: Option<String>,
}

/// Remembers the chosen language in a cookie and goes back to the page (a plain link: no
/// JavaScript needed).
async fn switch_lang(
    State(state): State<AppState>,
    Query(params): Query<SwitchParams>,
) -> Response {
    let lang = params
        .to
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or(Lang::Zh);
    let next = safe_next(params.next.as_deref());
    let secure = if state.settings.server.is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
        lang.code()
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A path on this site to go to after a form, never `//elsewhere` or `https://…`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                // Browsers drop tabs and newlines, so `/\t/evil.example` would become `//evil.example`.
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The message for `?done=…` after a form redirected back (only known ones).
pub fn done_notice(state: &AppState, lang: Lang, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "registered" => "account.registered",
        "password_changed" => "account.password_changed",
        "added" => "cart.added",
        "updated" => "cart.updated",
        "stock_saved" => "producer_portal.stock_saved_short",
        "rule_saved" => "producer_portal.rule_saved",
        "restriction_saved" => "staff.restriction_saved",
        "cancelled" => "order.cancelled",
        "action_done" => "order.action_done",
        _ => return None,
    };
    Some(state.i18n.locale(lang).get(key).to_owned())
}

/// A locale string by a key made at run time (statuses, roles, actors).
pub fn label(state: &AppState, lang: Lang, section: &str, code: &str) -> String {
    state
        .i18n
        .locale(lang)
        .get(&format!("{section}.{code}"))
        .to_owned()
}

/// Why a form was not taken, to show beside it.
pub struct Failure {
    /// What went wrong, in the visitor's language.
    pub text: String,
    pub status: StatusCode,
    /// The field to mark, when the error names one.
    pub field: Option<Field>,
    /// Seconds to wait before trying again, for a 429 (sent as `Retry-After`).
    pub retry_after: Option<i64>,
}

impl Failure {
    /// The field's name as the form names its input (for `aria-invalid`).
    pub fn field_name(&self) -> Option<String> {
        self.field.map(|f| f.as_str().to_owned())
    }
}

/// For a form that failed: the message to show beside it, in the visitor's language, the
/// status to answer with and the field at fault; an error that is not the person's to fix is
/// passed on.
pub fn form_failure(state: &AppState, lang: Lang, error: AppError) -> Result<Failure, AppError> {
    match error {
        AppError::Said {
            status, msg, field, ..
        } => Ok(Failure {
            text: state.i18n.locale(lang).say(&msg),
            status,
            field,
            retry_after: None,
        }),
        AppError::Throttled {
            msg,
            retry_after_secs,
        } => Ok(Failure {
            text: state.i18n.locale(lang).say(&msg),
            status: StatusCode::TOO_MANY_REQUESTS,
            field: None,
            retry_after: Some(retry_after_secs),
        }),
        other => Err(other),
    }
}

/// The page with another status (a form shown again with what was wrong).
pub fn with_status(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/orders?x=1")), "/orders?x=1");
        for away in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a b",
            "/\n/x",
        ] {
            assert_eq!(safe_next(Some(away)), "/", "{away:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
