//! Signing in and out, registering, and the account page (notifications, addresses, password).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use jinguo_accounts::{AccountError, SessionKind};
use serde::{Deserialize, Serialize};

use super::{Req, View, done_notice, render, safe_next};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::views::{Link, when};
use crate::web::{
    CsrfForm, PageUser, SESSION_COOKIE, Visitor, role_links, set_cookie, start_session,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/register", get(register_page).post(register))
        .route("/logout", post(logout))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/notifications/read", post(mark_read))
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    pub next: Option<String>,
    pub done: Option<String>,
}

#[derive(Serialize)]
struct AuthPage {
    next: String,
    login: String,
    error: Option<String>,
}

fn auth_page(
    state: &AppState,
    req: &Req,
    template: &'static str,
    title_key: &str,
    body: AuthPage,
    status: StatusCode,
) -> Result<Response, AppError> {
    let title = state.i18n.locale(req.lang).get(title_key).to_owned();
    render(
        state,
        req,
        View::personal(template, title, body).with_status(status),
    )
}

pub async fn login_page(
    State(state): State<AppState>,
    req: Req,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let body = AuthPage {
        next: safe_next(q.next.as_deref()),
        login: String::new(),
        error: None,
    };
    auth_page(
        &state,
        &req,
        "login.html",
        "login.title",
        body,
        StatusCode::OK,
    )
}

pub async fn register_page(
    State(state): State<AppState>,
    req: Req,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let body = AuthPage {
        next: safe_next(q.next.as_deref()),
        login: String::new(),
        error: None,
    };
    auth_page(
        &state,
        &req,
        "register.html",
        "register.title",
        body,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Re-renders a sign-in or register form with what went wrong, or passes other errors on.
fn form_error(
    state: &AppState,
    req: &Req,
    template: &'static str,
    title_key: &str,
    form: &LoginForm,
    error: AppError,
) -> Result<Response, AppError> {
    let failure = super::form_failure(state, req.lang, error)?;
    let body = AuthPage {
        next: safe_next(Some(&form.next)),
        login: form.login.clone(),
        error: Some(failure.text),
    };
    let mut response = auth_page(state, req, template, title_key, body, failure.status)?;
    if let Some(secs) = failure.retry_after {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(secs.max(1)),
        );
    }
    Ok(response)
}

pub async fn login(
    State(state): State<AppState>,
    req: Req,
    visitor: Visitor,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, AppError> {
    let signed = state
        .accounts
        .sign_in(
            &form.login,
            &form.password,
            &visitor.address,
            SessionKind::Web,
        )
        .await;
    match signed {
        Ok((user, token)) => {
            let next = safe_next(Some(&form.next));
            let mut response = Redirect::to(&next).into_response();
            start_session(&state, &visitor, &user, &token, &mut response).await?;
            Ok(response)
        }
        Err(error) => form_error(
            &state,
            &req,
            "login.html",
            "login.title",
            &form,
            error.into(),
        ),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(flatten)]
    base: LoginForm,
    password2: String,
}

pub async fn register(
    State(state): State<AppState>,
    req: Req,
    visitor: Visitor,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, AppError> {
    let form_ = &form.base;
    if form_.password != form.password2 {
        let error = AppError::bad(ErrorCode::PasswordMismatch);
        return form_error(
            &state,
            &req,
            "register.html",
            "register.title",
            form_,
            error,
        );
    }
    let registered = async {
        state
            .accounts
            .register_from(&visitor.address, &form_.login, &form_.password)
            .await?;
        state
            .accounts
            .sign_in(
                &form_.login,
                &form_.password,
                &visitor.address,
                SessionKind::Web,
            )
            .await
    }
    .await;
    match registered {
        Ok((user, token)) => {
            let next = safe_next(Some(&form_.next));
            let next = if next == "/" {
                "/account?done=registered".to_owned()
            } else {
                next
            };
            let mut response = Redirect::to(&next).into_response();
            start_session(&state, &visitor, &user, &token, &mut response).await?;
            Ok(response)
        }
        Err(error @ (AccountError::Hashing(_) | AccountError::General(_))) => Err(error.into()),
        Err(error) => form_error(
            &state,
            &req,
            "register.html",
            "register.title",
            form_,
            error.into(),
        ),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    if let Some(token) = &visitor.token {
        state.accounts.sign_out(token).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    Ok(response)
}

#[derive(Serialize)]
struct UserView {
    login: String,
    role_label: String,
}

#[derive(Serialize)]
struct NotificationView {
    text: String,
    at: String,
    order_url: Option<String>,
    read: bool,
}

#[derive(Serialize)]
struct AddressView {
    recipient: String,
    phone: String,
    region_name: String,
    detail: String,
}

#[derive(Serialize)]
struct AccountPage {
    user: UserView,
    links: Vec<Link>,
    addresses: Vec<AddressView>,
    notifications: Vec<NotificationView>,
    unread: i64,
    password_error: Option<String>,
}

async fn account_page(
    state: &AppState,
    req: &Req,
    user: &jinguo_accounts::User,
    notice: Option<String>,
    password_error: Option<String>,
) -> Result<Response, AppError> {
    let t = state.i18n.locale(req.lang);
    let notifications = state.orders.notifications(user.id).await?;
    let unread = notifications.iter().filter(|n| !n.read).count() as i64;
    let body = AccountPage {
        user: UserView {
            login: user.login.clone(),
            role_label: t.get(&format!("roles.{}", user.role.as_str())).to_owned(),
        },
        links: role_links(user, req.lang, state),
        addresses: state
            .orders
            .addresses(user.id)
            .await?
            .into_iter()
            .map(|a| AddressView {
                recipient: a.recipient,
                phone: a.phone,
                region_name: a.region_name,
                detail: a.detail,
            })
            .collect(),
        notifications: notifications
            .iter()
            .map(|n| NotificationView {
                text: crate::views::notification_text(t, n),
                at: when(n.created_at),
                order_url: n.order_id.map(|id| format!("/orders/{id}")),
                read: n.read,
            })
            .collect(),
        unread,
        password_error,
    };
    let mut view = View::personal("account.html", t.get("account.title").to_owned(), body);
    view.notice = notice;
    render(state, req, view)
}

pub async fn account(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let notice = done_notice(&state, req.lang, q.done.as_deref());
    account_page(&state, &req, &user, notice, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    new2: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, visitor): PageUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let result = if form.new != form.new2 {
        Err(AppError::bad(ErrorCode::PasswordMismatch))
    } else {
        state
            .accounts
            .change_password(user.id, &form.current, &form.new, visitor.token.as_ref())
            .await
            .map_err(AppError::from)
    };
    match result {
        Ok(()) => Ok(Redirect::to("/account?done=password_changed").into_response()),
        Err(error) => {
            let failure = super::form_failure(&state, req.lang, error)?;
            Ok(super::with_status(
                account_page(&state, &req, &user, None, Some(failure.text)).await?,
                failure.status,
            ))
        }
    }
}

pub async fn mark_read(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    state.orders.mark_notifications_read(user.id).await?;
    Ok(Redirect::to("/account").into_response())
}
