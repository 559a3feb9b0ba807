//! What every request passes before and after the handlers: its body read whole within a
//! deadline ([`read_body`]: a client that sends too slowly gets a 408, one that sends too much a
//! 413), and errors answered in the shop's shape however they arose ([`shape_errors`]: axum's
//! own refusals, such as a path that does not parse or a method a route does not take, and the
//! outer layers' ones are plain text or empty; under `/api/` they become
//! `{"error": {"code", "message"}}`, elsewhere the shop's error page).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use http_body_util::BodyExt;
use std::time::Duration;

use crate::app::AppState;
use crate::error::{ErrorCode, ErrorReport, Msg};
use crate::i18n::Lang;

/// Reads the request's body before the handler runs: all of it within `body_timeout`, at most
/// [`MAX_BODY_BYTES`](crate::app::MAX_BODY_BYTES). A body that does not come in time is the
/// client's doing: answered 408 and logged as such, not as a failure of the shop.
pub async fn read_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > crate::app::MAX_BODY_BYTES) {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let deadline = state.settings.server.body_timeout;
    match tokio::time::timeout(deadline, collect(body, crate::app::MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(Unread::TooLarge)) => refusal(StatusCode::PAYLOAD_TOO_LARGE),
        Ok(Err(Unread::Broken)) => refusal(StatusCode::BAD_REQUEST),
        Err(_) => {
            tracing::info!(
                method = %parts.method,
                path = parts.uri.path(),
                secs = deadline.as_secs(),
                "the client did not send its request body in time (408)"
            );
            refusal(StatusCode::REQUEST_TIMEOUT)
        }
    }
}

enum Unread {
    TooLarge,
    Broken,
}

async fn collect(mut body: Body, max: usize) -> Result<Bytes, Unread> {
    let mut buffer = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Unread::Broken)?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > max {
                return Err(Unread::TooLarge);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

/// A bare status; [`shape_errors`] gives it its words.
fn refusal(status: StatusCode) -> Response {
    status.into_response()
}

/// The stable code for an error status that came without one.
pub fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::Throttled,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// Gives an error response that has no body of the shop's (plain text or empty) the shop's
/// shape, in the visitor's language; other responses pass as they are.
pub async fn shape_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let lang = Lang::from_headers(request.headers());
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let shaped = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if shaped {
        return response;
    }
    let code = code_for(status);
    let report = ErrorReport {
        status,
        code,
        msg: Msg::new(code.key()),
        field: None,
    };
    let mut shaped = if path.starts_with("/api/") {
        crate::api::error_response(&state, lang, &report)
    } else {
        crate::pages::error_page(&state, lang, &path, &report)
    };
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            shaped.headers_mut().insert(name, value.clone());
        }
    }
    shaped
}

/// The default deadline for a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
