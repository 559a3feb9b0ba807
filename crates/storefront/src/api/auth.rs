//! Accounts through the API: registering, and bearer tokens.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::StatusCode;
use jinguo_accounts::{SessionKind, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, ErrorBody};
use crate::app::AppState;
use crate::error::AppError;
use crate::web::{ApiUser, Visitor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/token", post(token).delete(revoke))
}

#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// A mainland mobile number or an email address.
    pub login: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    pub id: i64,
    pub login: String,
    /// consumer, producer or staff.
    pub role: String,
}

impl AccountBody {
    fn of(user: &User) -> AccountBody {
        AccountBody {
            id: user.id.0,
            login: user.login.clone(),
            role: user.role.as_str().to_owned(),
        }
    }
}

/// Opens a consumer account. Registrations are limited per client address (429 with
/// `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = Credentials,
    responses((status = 201, body = AccountBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, AppError> {
    let user = state
        .accounts
        .register_from(&visitor.address, &c.login, &c.password)
        .await?;
    Ok((StatusCode::CREATED, Json(AccountBody::of(&user))).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    pub account: AccountBody,
}

/// Signs in and returns a bearer token. Failed attempts are limited per account and address
/// and per address (429 with `Retry-After`); an account guessed at from many addresses answers
/// slowly.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "accounts", request_body = Credentials,
    responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Json<TokenBody>, AppError> {
    let (user, token) = state
        .accounts
        .sign_in(&c.login, &c.password, &visitor.address, SessionKind::Api)
        .await?;
    let session = state
        .accounts
        .session(&token)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(TokenBody {
        token: token.as_str().to_owned(),
        expires_at: session.expires_at,
        account: AccountBody::of(&user),
    }))
}

/// Ends the token's session.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    _: ApiUser,
    visitor: Visitor,
) -> Result<StatusCode, AppError> {
    if let Some(token) = &visitor.token {
        state.accounts.sign_out(token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
