//! CSRF protection for every form: each browser gets a random token in an `HttpOnly` cookie;
//! every form carries the same token in a hidden field (rendered as a placeholder that
//! [`fill`](crate::web::fill) replaces per request, so cached pages stay shareable); a POST whose
//! field does not match its cookie, or whose `Origin` is another site, is refused.

use axum::body::to_bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode, header};
use jinguo_common::invalid::{Field, Invalid, Problem};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::web::session::{Visitor, cookie, looks_like_token};

pub const CSRF_COOKIE: &str = "csrf";
/// Stands for the visitor's CSRF token in rendered pages until it is filled in.
pub const CSRF_MARK: &str = "jinguo-csrf-token-placeholder";
/// Largest form body accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The visitor's token from its cookie, or a new one (`true`: new, so no form can match it).
pub fn of_request(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE).filter(|c| looks_like_token(c)) {
        Some(c) => (c.to_owned(), false),
        None => (new_token(), true),
    }
}

/// A form posted from one of the shop's own pages: its `csrf` field matches the visitor's
/// cookie and its `Origin`, when sent, is the shop.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        let refused = || AppError::said(StatusCode::FORBIDDEN, ErrorCode::Csrf);
        if let Some(origin) = parts.headers.get(header::ORIGIN) {
            let scheme = if state.settings.server.is_https() {
                "https"
            } else {
                "http"
            };
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok());
            if !same_origin(origin.to_str().ok(), scheme, host) {
                return Err(refused());
            }
        }
        let bytes = to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| AppError::bad(ErrorCode::BadQuery))?;
        let sent = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let matches: bool = sent.as_bytes().ct_eq(visitor.csrf.as_bytes()).into();
        if visitor.csrf_is_new || !matches {
            return Err(refused());
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            AppError::invalid(Invalid::new(
                Field::Form,
                Problem::Unreadable {
                    detail: e.to_string(),
                },
            ))
        })?;
        Ok(CsrfForm(form))
    }
}

/// Whether a form's `Origin` is the shop itself: the same scheme (the public address's), host
/// and port (the `Host` it was posted to; default ports written or not).
fn same_origin(origin: Option<&str>, scheme: &str, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    match (
        url::Url::parse(origin),
        url::Url::parse(&format!("{scheme}://{host}")),
    ) {
        (Ok(origin), Ok(shop)) => {
            origin.scheme() == shop.scheme()
                && origin.host() == shop.host()
                && origin.port_or_known_default() == shop.port_or_known_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        let https = |origin| same_origin(Some(origin), "https", Some("shop.example.cn"));
        assert!(https("https://shop.example.cn"));
        assert!(https("https://shop.example.cn:443"));
        assert!(!https("http://shop.example.cn"), "another scheme");
        assert!(!https("https://shop.example.cn:8443"), "another port");
        assert!(!https("https://evil.example.cn"));
        assert!(!https("https://shop.example.cn.evil.cn"));
        assert!(!https("null"), "an opaque origin");
        let http = |origin| same_origin(Some(origin), "http", Some("127.0.0.1:8080"));
        assert!(http("http://127.0.0.1:8080"));
        assert!(!http("http://127.0.0.1:8081"));
        assert!(!same_origin(Some("http://x.cn"), "http", None), "no Host");
    }
}
