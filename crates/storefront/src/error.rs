//! One error type for handlers. It carries what to tell the person (a [`Msg`]: a locale key
//! with values, never text) and a stable [`ErrorCode`]: a middleware renders it in their
//! language, as an HTML page or, under `/api/`, as `{"error": {"code", "message", "field"}}`.
//! Internal causes are logged once, here, and never shown.
//!
//! Each domain error maps to its code and message by its variant and fields; nothing is read
//! out of an error's English text.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use jinguo_catalog::CatalogError;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_order::state::Refusal;
use std::borrow::Cow;

jinguo_common::text_enum! {
    /// The API's error codes: a stable list (the OpenAPI document carries it), independent of
    /// how the message is worded in any language.
    pub enum ErrorCode {
        NotFound = "not_found",
        Internal = "internal",
        /// A request that cannot be read at all (a path or query that does not parse).
        BadRequest = "bad_request",
        MethodNotAllowed = "method_not_allowed",
        /// The client did not send its request body in time.
        RequestTimeout = "request_timeout",
        TooLarge = "too_large",
        UnsupportedMediaType = "unsupported_media_type",
        /// The shop is busy or a request took it too long.
        Unavailable = "unavailable",
        SearchUnavailable = "search_unavailable",
        BadQuery = "bad_query",
        TooLongQuery = "too_long_query",
        NegativePrice = "negative_price",
        BadPrice = "bad_price",
        PriceOrder = "price_order",
        BadPage = "bad_page",
        BadPerPage = "bad_per_page",
        UnknownSort = "unknown_sort",
        UnknownCategory = "unknown_category",
        UnknownDistrict = "unknown_district",
        UnknownKind = "unknown_kind",
        UnknownStock = "unknown_stock",
        BadFlag = "bad_flag",
        BadCode = "bad_code",
        BadAmount = "bad_amount",
        /// A field's value cannot be taken: the body's `field` names it.
        Invalid = "invalid",
        Unauthorized = "unauthorized",
        Forbidden = "forbidden",
        Csrf = "csrf",
        BadLogin = "bad_login",
        BadPassword = "bad_password",
        PasswordMismatch = "password_mismatch",
        LoginTaken = "login_taken",
        WrongCredentials = "wrong_credentials",
        Throttled = "throttled",
        ProducerMismatch = "producer_mismatch",
        OutOfStock = "out_of_stock",
        EmptyCart = "empty_cart",
        NotForSale = "not_for_sale",
        PriceChanged = "price_changed",
        Suspended = "suspended",
        WrongState = "wrong_state",
        AlreadyShipped = "already_shipped",
        ReturnWindowClosed = "return_window_closed",
        NeedReason = "need_reason",
        NeedTracking = "need_tracking",
        NothingToRefund = "nothing_to_refund",
        Conflict = "conflict",
        UnknownReference = "unknown_reference",
        AlreadyPaid = "already_paid",
        RefundTooLarge = "refund_too_large",
        PayoutNotOpen = "payout_not_open",
        PayoutByStripe = "payout_by_stripe",
        RefundByStripe = "refund_by_stripe",
        RefundAlreadyPaid = "refund_already_paid",
        NoStripe = "no_stripe",
        BadRow = "bad_row",
        Stripe = "stripe",
        PaymentNotice = "payment_notice",
        /// An `Idempotency-Key` that is empty, longer than 255 characters or not printable ASCII.
        BadIdempotencyKey = "bad_idempotency_key",
        /// An `Idempotency-Key` already used for another request (422).
        IdempotencyKeyReused = "idempotency_key_reused",
        /// The same request (key or form token) is still being answered (409).
        InProgress = "in_progress",
        /// A Stripe webhook delivery that is not signed, too old, or not an event of ours.
        WebhookRefused = "webhook_refused",
    }
}

impl ErrorCode {
    /// The locale key of this code's message.
    pub fn key(self) -> String {
        format!("errors.{}", self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Stable and machine-readable; the message says it in the visitor's language.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// A value for one of a message's `{name}`s: text as it is, or another message said in the
/// same language (a field's name, a status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Msg(Msg),
}

/// Something to tell a person: a key in the locale files and the values for its `{name}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: Cow<'static, str>,
    pub args: Vec<(&'static str, Arg)>,
}

impl Msg {
    pub fn new(key: impl Into<Cow<'static, str>>) -> Msg {
        Msg {
            key: key.into(),
            args: Vec::new(),
        }
    }

    /// `{name}` is `value`, as it is but for invisible characters: a message that echoes what
    /// someone typed (`“12a” is not an amount`) never carries a NUL or a right-to-left override
    /// into a page or the API.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Msg {
        let text = value.to_string();
        let text = match jinguo_common::invalid::visible_only(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(visible) => visible,
        };
        self.args.push((name, Arg::Text(text)));
        self
    }

    /// `{name}` is `msg`, said in the same language.
    pub fn with_msg(mut self, name: &'static str, msg: Msg) -> Msg {
        self.args.push((name, Arg::Msg(msg)));
        self
    }

    /// `{name}` is the string at `key`, in the same language.
    pub fn with_key(self, name: &'static str, key: impl Into<Cow<'static, str>>) -> Msg {
        self.with_msg(name, Msg::new(key))
    }

    /// What is wrong with a field, in words: `收货人：需要 1 到 20 个字`.
    pub fn invalid(invalid: &Invalid) -> Msg {
        Msg::new("errors.invalid")
            .with_key("field", field_key(invalid.field))
            .with_msg("message", problem(&invalid.problem))
    }
}

/// The locale key naming a field.
pub fn field_key(field: Field) -> String {
    format!("fields.{}", field.as_str())
}

/// A field's problem, in words.
pub fn problem(problem: &Problem) -> Msg {
    let mut msg = Msg::new(format!("problems.{}", problem.code()));
    for (name, value) in problem.args() {
        msg = match (problem, name) {
            // The other field is named, not spelled as code.
            (Problem::NeedsAlso { other }, "other") => msg.with_key(name, field_key(*other)),
            _ => msg.with(name, value),
        };
    }
    msg
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something the person is told: the status, the stable code, and what to say.
    #[error("{status} {code}: {msg:?}")]
    Said {
        status: StatusCode,
        code: ErrorCode,
        msg: Msg,
        /// The field at fault, when one is.
        field: Option<Field>,
    },
    /// Too many tries: said like any refusal, with `Retry-After`.
    #[error("429 throttled for {retry_after_secs} s")]
    Throttled { msg: Msg, retry_after_secs: i64 },
    #[error("not found")]
    NotFound,
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl AppError {
    /// `status` with `code` and its own message.
    pub fn said(status: StatusCode, code: ErrorCode) -> AppError {
        AppError::with(status, code, Msg::new(code.key()))
    }

    /// `status` with `code` and the message `msg`.
    pub fn with(status: StatusCode, code: ErrorCode, msg: Msg) -> AppError {
        AppError::Said {
            status,
            code,
            msg,
            field: None,
        }
    }

    /// A 400 with `code` and its own message.
    pub fn bad(code: ErrorCode) -> AppError {
        AppError::said(StatusCode::BAD_REQUEST, code)
    }

    /// A 400 with `code` and the message `msg`.
    pub fn bad_with(code: ErrorCode, msg: Msg) -> AppError {
        AppError::with(StatusCode::BAD_REQUEST, code, msg)
    }

    /// A 400 naming the field and its problem.
    pub fn invalid(invalid: Invalid) -> AppError {
        AppError::Said {
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::Invalid,
            msg: Msg::invalid(&invalid),
            field: Some(invalid.field),
        }
    }

    pub fn forbidden() -> AppError {
        AppError::said(StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::Said { status, .. } => *status,
            AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for a person, when this error has one to show in a form.
    pub fn msg(&self) -> Option<&Msg> {
        match self {
            AppError::Said { msg, .. } | AppError::Throttled { msg, .. } => Some(msg),
            _ => None,
        }
    }
}

impl From<Invalid> for AppError {
    fn from(invalid: Invalid) -> Self {
        AppError::invalid(invalid)
    }
}

/// What the error-rendering middleware needs, carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub msg: Msg,
    pub field: Option<Field>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = match &self {
            AppError::Throttled {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let report = match self {
            AppError::Said {
                status,
                code,
                msg,
                field,
            } => ErrorReport {
                status,
                code,
                msg,
                field,
            },
            AppError::Throttled { msg, .. } => ErrorReport {
                status,
                code: ErrorCode::Throttled,
                msg,
                field: None,
            },
            AppError::NotFound => ErrorReport {
                status,
                code: ErrorCode::NotFound,
                msg: Msg::new("errors.not_found_message"),
                field: None,
            },
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                ErrorReport {
                    status,
                    code: ErrorCode::Internal,
                    msg: Msg::new("errors.server_error_message"),
                    field: None,
                }
            }
        };
        let mut response = status.into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(secs.max(1)),
            );
        }
        response.extensions_mut().insert(report);
        response
    }
}

impl From<CatalogError> for AppError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound { .. } => AppError::NotFound,
            CatalogError::Invalid(invalid) => AppError::invalid(invalid),
            CatalogError::Image(e) => AppError::invalid(Invalid::new(
                Field::File,
                Problem::Unreadable {
                    detail: e.to_string(),
                },
            )),
            CatalogError::Search(e) => {
                tracing::warn!(error = %e, "search unavailable");
                AppError::said(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::SearchUnavailable,
                )
            }
            CatalogError::Demo(e) => AppError::Internal(anyhow::anyhow!("demo catalog: {e}")),
            CatalogError::General(e) => AppError::Internal(e.into()),
        }
    }
}

impl From<jinguo_accounts::AccountError> for AppError {
    fn from(error: jinguo_accounts::AccountError) -> Self {
        use jinguo_accounts::AccountError as E;
        match error {
            E::BadLogin(value) => AppError::bad_with(
                ErrorCode::BadLogin,
                Msg::new("errors.bad_login").with("value", value),
            ),
            E::BadPassword { min, max } => AppError::bad_with(
                ErrorCode::BadPassword,
                Msg::new("errors.bad_password")
                    .with("min", min)
                    .with("max", max),
            ),
            E::Taken => AppError::said(StatusCode::CONFLICT, ErrorCode::LoginTaken),
            E::WrongCredentials => {
                AppError::said(StatusCode::UNAUTHORIZED, ErrorCode::WrongCredentials)
            }
            E::Throttled { retry_after_secs } => AppError::Throttled {
                msg: Msg::new("errors.throttled").with("seconds", retry_after_secs),
                retry_after_secs,
            },
            E::ProducerMismatch | E::UnknownProducer(_) => {
                AppError::bad(ErrorCode::ProducerMismatch)
            }
            E::Invalid(invalid) => AppError::invalid(invalid),
            E::Hashing(e) => AppError::Internal(anyhow::anyhow!("password hashing: {e}")),
            E::General(e) => AppError::Internal(e.into()),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        let conflict = |code| AppError::said(StatusCode::CONFLICT, code);
        match refusal {
            Refusal::Forbidden => AppError::forbidden(),
            Refusal::NoSuchPart(_) => AppError::NotFound,
            // The order moved on (another tab, the other party, a job): say so in their words.
            Refusal::OrderStatus { .. }
            | Refusal::PartStatus { .. }
            | Refusal::NotExpiredYet
            | Refusal::DeliveryWindowOpen
            | Refusal::ReturnWindowOpen => conflict(ErrorCode::WrongState),
            Refusal::AlreadyShipped => conflict(ErrorCode::AlreadyShipped),
            Refusal::ReturnWindowClosed => conflict(ErrorCode::ReturnWindowClosed),
            Refusal::NeedsReason => AppError::bad(ErrorCode::NeedReason),
            Refusal::NeedsTracking => AppError::bad(ErrorCode::NeedTracking),
            Refusal::NothingToRefund => AppError::bad(ErrorCode::NothingToRefund),
        }
    }
}

impl From<jinguo_order::OrderError> for AppError {
    fn from(error: jinguo_order::OrderError) -> Self {
        use jinguo_order::OrderError as E;
        match error {
            E::OutOfStock {
                title, available, ..
            } => AppError::with(
                StatusCode::CONFLICT,
                ErrorCode::OutOfStock,
                Msg::new("errors.out_of_stock")
                    .with("title", title)
                    .with("n", available),
            ),
            E::EmptyCart => AppError::bad(ErrorCode::EmptyCart),
            E::PriceChanged(title) => AppError::with(
                StatusCode::CONFLICT,
                ErrorCode::PriceChanged,
                Msg::new("errors.price_changed").with("title", title),
            ),
            E::NotForSale(title) => AppError::bad_with(
                ErrorCode::NotForSale,
                Msg::new("errors.not_for_sale").with("title", title),
            ),
            E::Invalid(invalid) => AppError::invalid(invalid),
            E::Suspended { region, notice } => AppError::with(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Suspended,
                Msg::new("errors.suspended")
                    .with("region", region)
                    .with("notice", notice),
            ),
            E::NotFound => AppError::NotFound,
            E::Refused(refusal) => refusal.into(),
            E::Conflict => AppError::said(StatusCode::CONFLICT, ErrorCode::Conflict),
            E::UnknownReference(value) => AppError::bad_with(
                ErrorCode::UnknownReference,
                Msg::new("errors.unknown_reference").with("value", value),
            ),
            E::AlreadyPaid(value) => AppError::with(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyPaid,
                Msg::new("errors.already_paid").with("value", value),
            ),
            E::RefundTooLarge { asked, left } => AppError::bad_with(
                ErrorCode::RefundTooLarge,
                Msg::new("errors.refund_too_large")
                    .with("asked", asked)
                    .with("left", left),
            ),
            E::Notice(problem) => {
                tracing::info!(%problem, "payment notification refused");
                AppError::bad(ErrorCode::PaymentNotice)
            }
            E::Provider(message) => {
                tracing::warn!(%message, "payment provider failed");
                AppError::said(StatusCode::BAD_GATEWAY, ErrorCode::Stripe)
            }
            E::Books(message) => AppError::Internal(anyhow::anyhow!("the books: {message}")),
            E::Catalog(e) => e.into(),
            E::General(e) => AppError::Internal(e.into()),
        }
    }
}

impl From<jinguo_settlement::SettlementError> for AppError {
    fn from(error: jinguo_settlement::SettlementError) -> Self {
        use jinguo_settlement::SettlementError as E;
        let conflict = |code, msg| AppError::with(StatusCode::CONFLICT, code, msg);
        match error {
            E::NotFound => AppError::NotFound,
            E::Invalid(invalid) => AppError::invalid(invalid),
            E::PayoutNotOpen { id, status } => conflict(
                ErrorCode::PayoutNotOpen,
                Msg::new("errors.payout_not_open")
                    .with("id", id)
                    .with_key("status", format!("money.payout_status.{status}")),
            ),
            E::PayoutByStripe(id) => AppError::bad_with(
                ErrorCode::PayoutByStripe,
                Msg::new("errors.payout_by_stripe").with("id", id),
            ),
            E::RefundByStripe(id) => AppError::bad_with(
                ErrorCode::RefundByStripe,
                Msg::new("errors.refund_by_stripe").with("id", id),
            ),
            E::RefundAlreadyPaid(id) => conflict(
                ErrorCode::RefundAlreadyPaid,
                Msg::new("errors.refund_already_paid").with("id", id),
            ),
            E::NoStripe => AppError::bad(ErrorCode::NoStripe),
            E::BadRow { line, problem } => AppError::bad_with(
                ErrorCode::BadRow,
                Msg::new("errors.bad_row")
                    .with("line", line)
                    .with_msg("message", row_problem(&problem)),
            ),
            E::Stripe(e) => {
                tracing::warn!(error = %e, "Stripe call failed");
                AppError::said(StatusCode::BAD_GATEWAY, ErrorCode::Stripe)
            }
            E::Order(e) => e.into(),
            other => AppError::Internal(other.into()),
        }
    }
}

/// A line of a bank's result file that cannot be applied, in words.
fn row_problem(problem: &jinguo_settlement::RowProblem) -> Msg {
    use jinguo_settlement::RowProblem as P;
    match problem {
        P::NotTwoFields(text) => Msg::new("row_problems.not_two_fields").with("text", text),
        P::NotAPayoutId(text) => Msg::new("row_problems.not_a_payout_id").with("text", text),
        P::BadReference => Msg::new("row_problems.bad_reference"),
        P::Twice(id) => Msg::new("row_problems.twice").with("id", id),
        P::NoSuchPayout(id) => Msg::new("row_problems.no_such_payout").with("id", id),
        P::NotWaiting { id, method, status } => Msg::new("row_problems.not_waiting")
            .with("id", id)
            .with_key("method", format!("money.method.{method}"))
            .with_key("status", format!("money.payout_status.{status}")),
    }
}

impl From<tera::Error> for AppError {
    fn from(error: tera::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("template: {error}"))
    }
}
