//! One error type for handlers. It carries what to tell the person (a locale key with values),
//! not text: a middleware renders it in their language, as an HTML page or, under `/api/`, as
//! `{"error": {"code", "message"}}`. Internal causes are logged once, here, and never shown.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use jinguo_catalog::CatalogError;

/// Something to tell a person: a key in the locale files and the values for its `{name}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Msg {
        self.args.push((name, value.to_string()));
        self
    }

    /// The machine-readable code: the last part of the key (`errors.unknown_sort` →
    /// `unknown_sort`).
    pub fn code(&self) -> &'static str {
        self.key.rsplit('.').next().unwrap_or(self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0:?}")]
    BadRequest(Msg),
    #[error("not found")]
    NotFound,
    #[error("unavailable: {0:?}")]
    Unavailable(Msg),
    /// Any other status with its message (401, 403, 409, 429…).
    #[error("{0}: {1:?}")]
    Status(StatusCode, Msg),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl AppError {
    pub fn bad(key: &'static str) -> AppError {
        AppError::BadRequest(Msg::new(key))
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Status(status, _) => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn status(status: StatusCode, msg: Msg) -> AppError {
        AppError::Status(status, msg)
    }

    /// The message for a person, when this error has one to show in a form.
    pub fn msg(&self) -> Option<&Msg> {
        match self {
            AppError::BadRequest(msg) | AppError::Unavailable(msg) | AppError::Status(_, msg) => {
                Some(msg)
            }
            _ => None,
        }
    }
}

/// What the error-rendering middleware needs, carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: Msg,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let (code, msg) = match self {
            AppError::BadRequest(msg) => (msg.code(), msg),
            AppError::NotFound => ("not_found", Msg::new("errors.not_found_message")),
            AppError::Unavailable(msg) => (msg.code(), msg),
            AppError::Status(_, msg) => (msg.code(), msg),
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                ("internal", Msg::new("errors.server_error_message"))
            }
        };
        let mut response = status.into_response();
        response
            .extensions_mut()
            .insert(ErrorReport { status, code, msg });
        response
    }
}

impl From<CatalogError> for AppError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound { .. } => AppError::NotFound,
            CatalogError::Invalid { field, message } => AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", field)
                    .with("message", message),
            ),
            CatalogError::Image(e) => AppError::BadRequest(
                Msg::new("errors.invalid")
                    .with("field", "image")
                    .with("message", e),
            ),
            CatalogError::Search(e) => {
                tracing::warn!(error = %e, "search unavailable");
                AppError::Unavailable(Msg::new("errors.search_unavailable"))
            }
            CatalogError::General(e) => AppError::Internal(e.into()),
        }
    }
}

impl From<jinguo_accounts::AccountError> for AppError {
    fn from(error: jinguo_accounts::AccountError) -> Self {
        use jinguo_accounts::AccountError as E;
        let (status, msg) = match error {
            E::BadLogin(value) => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.bad_login").with("value", value),
            ),
            E::BadPassword { min, max } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.bad_password")
                    .with("min", min)
                    .with("max", max),
            ),
            E::Taken => (StatusCode::CONFLICT, Msg::new("errors.login_taken")),
            E::WrongCredentials => (
                StatusCode::UNAUTHORIZED,
                Msg::new("errors.wrong_credentials"),
            ),
            E::Throttled { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                Msg::new("errors.throttled").with("seconds", retry_after_secs),
            ),
            E::ProducerMismatch | E::UnknownProducer(_) => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.producer_mismatch"),
            ),
            E::Hashing(e) => return AppError::Internal(anyhow::anyhow!("password hashing: {e}")),
            E::General(e) => return AppError::Internal(e.into()),
        };
        AppError::Status(status, msg)
    }
}

impl From<jinguo_order::OrderError> for AppError {
    fn from(error: jinguo_order::OrderError) -> Self {
        use jinguo_order::OrderError as E;
        let (status, msg) = match error {
            E::OutOfStock {
                title, available, ..
            } => (
                StatusCode::CONFLICT,
                Msg::new("errors.out_of_stock")
                    .with("title", title)
                    .with("n", available),
            ),
            E::EmptyCart => (StatusCode::BAD_REQUEST, Msg::new("errors.empty_cart")),
            E::BadQuantity { max } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.bad_quantity").with("max", max),
            ),
            E::PriceChanged(title) => (
                StatusCode::CONFLICT,
                Msg::new("errors.price_changed").with("title", title),
            ),
            E::NotForSale(title) => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.not_for_sale").with("title", title),
            ),
            E::Invalid { field, message } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.invalid")
                    .with("field", field)
                    .with("message", message),
            ),
            E::Suspended { region, notice } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Msg::new("errors.suspended")
                    .with("region", region)
                    .with("notice", notice),
            ),
            E::NotFound => return AppError::NotFound,
            E::Refused(jinguo_order::state::Refusal::Forbidden) => {
                (StatusCode::FORBIDDEN, Msg::new("errors.forbidden"))
            }
            // The order moved on (another tab, the other party, a job): say so in their words.
            E::Refused(
                jinguo_order::state::Refusal::Order { .. }
                | jinguo_order::state::Refusal::Part { .. },
            ) => (StatusCode::CONFLICT, Msg::new("errors.wrong_state")),
            E::Refused(jinguo_order::state::Refusal::TooLate(
                "a part has already been shipped",
            )) => (StatusCode::CONFLICT, Msg::new("errors.already_shipped")),
            E::Refused(jinguo_order::state::Refusal::TooLate("the return window has closed")) => (
                StatusCode::CONFLICT,
                Msg::new("errors.return_window_closed"),
            ),
            E::Refused(jinguo_order::state::Refusal::Invalid("say why the goods go back")) => {
                (StatusCode::BAD_REQUEST, Msg::new("errors.need_reason"))
            }
            E::Refused(jinguo_order::state::Refusal::Invalid(
                "a shipment needs a carrier and a tracking number",
            )) => (StatusCode::BAD_REQUEST, Msg::new("errors.need_tracking")),
            E::Refused(refusal) => (
                StatusCode::CONFLICT,
                Msg::new("errors.refused").with("reason", refusal),
            ),
            E::Conflict => (StatusCode::CONFLICT, Msg::new("errors.conflict")),
            E::UnknownReference(value) => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.unknown_reference").with("value", value),
            ),
            E::AlreadyPaid(value) => (
                StatusCode::CONFLICT,
                Msg::new("errors.already_paid").with("value", value),
            ),
            E::WrongAmount { .. } => (StatusCode::BAD_REQUEST, Msg::new("errors.wrong_amount")),
            E::Payment(message) => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.payment").with("message", message),
            ),
            E::Books(message) => {
                return AppError::Internal(anyhow::anyhow!("the books: {message}"));
            }
            E::Catalog(e) => return e.into(),
            E::General(e) => return AppError::Internal(e.into()),
        };
        AppError::Status(status, msg)
    }
}

impl From<jinguo_settlement::SettlementError> for AppError {
    fn from(error: jinguo_settlement::SettlementError) -> Self {
        use jinguo_settlement::SettlementError as E;
        let (status, msg) = match error {
            E::NotFound => return AppError::NotFound,
            E::Invalid { field, message } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.invalid")
                    .with("field", field)
                    .with("message", message),
            ),
            E::RefundTooLarge { asked, left } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.refund_too_large")
                    .with("asked", asked)
                    .with("left", left),
            ),
            E::NotRefundable(status) => (
                StatusCode::CONFLICT,
                Msg::new("errors.not_refundable").with("status", status),
            ),
            E::PayoutNotOpen(id, status) => (
                StatusCode::CONFLICT,
                Msg::new("errors.payout_not_open")
                    .with("id", id)
                    .with("status", status),
            ),
            E::RefundAlreadyPaid(id) => (
                StatusCode::CONFLICT,
                Msg::new("errors.refund_already_paid").with("id", id),
            ),
            E::BadRow { line, message } => (
                StatusCode::BAD_REQUEST,
                Msg::new("errors.bad_row")
                    .with("line", line)
                    .with("message", message),
            ),
            E::Stripe(e) => {
                tracing::warn!(error = %e, "Stripe call failed");
                (
                    StatusCode::BAD_GATEWAY,
                    Msg::new("errors.stripe").with("message", e),
                )
            }
            E::Order(e) => return e.into(),
            other => return AppError::Internal(other.into()),
        };
        AppError::Status(status, msg)
    }
}

impl From<tera::Error> for AppError {
    fn from(error: tera::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("template: {error}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        AppError::Internal(error.into())
    }
}
