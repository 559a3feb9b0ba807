//! The JSON API under `/api/v1`: the same shop as the pages, for apps and partners. One module
//! per resource, each with its own `router()`, merged here. Its OpenAPI document is generated
//! from these handlers and types (`/api/v1/openapi.json`), the error codes included.

mod auth;
mod cart;
mod catalog;
pub mod health;
mod orders;
mod producer;
pub mod staff;
mod types;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jinguo_common::invalid::{self, Field, Invalid, Problem};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode, ErrorReport};
use crate::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(catalog::router())
        .merge(auth::router())
        .merge(cart::router())
        .merge(orders::router())
        .merge(producer::router())
        .merge(staff::router())
        .route("/openapi.json", get(openapi))
        .fallback(crate::pages::not_found)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jinguo Market API",
        description = "巾帼集市: products of Chongqing's women's workshops, bases, cooperatives and households. Prices are integer fen (1 yuan = 100 fen). Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`: `code` is one of a stable list (ErrorCode), `message` is for a person in the `lang` cookie's or Accept-Language's language (zh-CN by default), `field` names the field at fault when one is."
    ),
    paths(
        catalog::list, catalog::detail, catalog::producer, catalog::trace, health::healthz,
        auth::register, auth::token, auth::revoke, cart::cart, cart::put_item, cart::remove_item,
        orders::checkout, orders::orders, orders::order, orders::cancel, orders::part_action,
        producer::set_stock, producer::producer_orders, producer::shipping_rule,
        producer::set_shipping_rule, producer::producer_statement,
        producer::producer_statement_csv, producer::producer_payouts,
        producer::set_payout_details,
        staff::record_transfer, staff::refund, staff::refunds_owed, staff::refund_paid,
        staff::settle, staff::payouts, staff::bank_file, staff::payout_paid,
        staff::payout_failed, staff::ledger_check
    ),
    components(schemas(ErrorCode)),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Products, producers and provenance"),
        (name = "accounts", description = "Accounts and bearer tokens"),
        (name = "orders", description = "Cart, checkout and a buyer's orders"),
        (name = "producer", description = "For producer staff: their stock and their parts of orders"),
        (name = "staff", description = "For federation staff: payments received, refunds, payouts and the ledger")
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the order endpoints use.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For a person, in their language.
    pub message: String,
    /// The field at fault, when the error is about one (`code` is then `invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub fn error_response(state: &AppState, lang: Lang, report: &ErrorReport) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: report.code,
            message: state.i18n.locale(lang).say(&report.msg),
            field: report.field.map(|f| f.as_str().to_owned()),
        },
    };
    (report.status, Json(body)).into_response()
}

/// A JSON body; a body that is not the JSON expected is a 400 in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<serde_json::Value>::from_request(request, state).await {
            Ok(Json(value)) => typed(value).map(ApiJson),
            Err(rejection) if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE => Err(
                AppError::said(http::StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
            ),
            Err(rejection) => Err(unreadable(json_problem(&rejection))),
        }
    }
}

/// `value` as the `T` a handler takes, once no text in it holds an invisible character.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    visible(&value, Field::Body)?;
    serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
}

/// Every text in a body is free of [`invalid::invisible`] characters, whatever the handler
/// then checks: no API call can store a NUL, a zero-width space or a right-to-left override.
/// Tabs, line breaks and the zero-width joiner emoji are made with are left to each field's
/// own check (longer texts may hold them), and a password may hold any character but a
/// control one.
/// The field named is the nearest key that is a [`Field`], so the message says where.
fn visible(value: &serde_json::Value, field: Field) -> Result<(), AppError> {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            let refused = |c: char| match field {
                Field::Password => c.is_control(),
                _ => invalid::invisible(c) && !matches!(c, '\t' | '\n' | '\r' | '\u{200d}'),
            };
            if text.chars().any(refused) {
                return Err(AppError::invalid(Invalid::new(
                    field,
                    Problem::ControlCharacters,
                )));
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|item| visible(item, field)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| visible(item, Field::parse(key).unwrap_or(field))),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A JSON body that may be left out (then it is `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;
    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::bad(ErrorCode::BadQuery))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| unreadable(e.to_string()))
            .and_then(typed)
            .map(OptionalJson)
    }
}

fn unreadable(detail: String) -> AppError {
    AppError::invalid(Invalid::new(Field::Body, Problem::Unreadable { detail }))
}

fn json_problem(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => "Content-Type: application/json".to_owned(),
        other => other.body_text(),
    }
}
