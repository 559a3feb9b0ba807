//! Every order, for federation staff, with a filter by status and number.

use axum::extract::{Query, State};
use axum::response::Response;
use jinguo_order::orders::Filter;
use jinguo_order::state::OrderStatus;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::pages::Req;
use crate::pages::orders::{filter_view, orders_page};
use crate::web::{PageUser, require_staff};

#[derive(Deserialize)]
pub struct FilterQuery {
    status: Option<String>,
    number: Option<String>,
}

pub async fn orders(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<FilterQuery>,
) -> Result<Response, AppError> {
    require_staff(&user)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(code) => {
            Some(OrderStatus::parse(code).ok_or_else(|| AppError::bad(ErrorCode::BadQuery))?)
        }
    };
    let number = q.number.unwrap_or_default();
    let filter = Filter {
        status,
        number: (!number.trim().is_empty()).then(|| number.clone()),
        limit: 200,
        ..Filter::default()
    };
    let orders = state.orders.orders(&filter).await?;
    orders_page(
        &state,
        &req,
        "staff.orders_title",
        &orders,
        Some(filter_view(&state, req.lang, status, &number)),
    )
}
