//! The JSON API under `/api/v1`: the same catalog as the pages, for apps and partners. Its
//! OpenAPI document is generated from these handlers and types (`/api/v1/openapi.json`).

pub mod health;
mod producers;
mod products;
pub mod settlement;
mod shop;
mod trace;
mod types;

use axum::Router;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use serde::Serialize;
use utoipa::OpenApi;

use crate::app::AppState;
use crate::error::ErrorReport;
use crate::i18n::Lang;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(products::list))
        .route("/products/{slug}", get(products::detail))
        .route("/producers/{slug}", get(producers::detail))
        .route("/trace/{code}", get(trace::trace))
        .route("/auth/register", post(shop::register))
        .route("/auth/token", post(shop::token).delete(shop::revoke))
        .route(
            "/cart/items",
            get(shop::cart)
                .post(shop::put_item)
                .delete(shop::remove_item),
        )
        .route("/checkout", post(shop::checkout))
        .route("/orders", get(shop::orders))
        .route("/orders/{id}", get(shop::order))
        .route("/orders/{id}/cancel", post(shop::cancel))
        .route(
            "/orders/{id}/parts/{part}/{action}",
            post(shop::part_action),
        )
        .route("/producer/skus/{id}/stock", put(shop::set_stock))
        .route("/producer/orders", get(shop::producer_orders))
        .route(
            "/producer/shipping-rule",
            get(shop::shipping_rule).put(shop::set_shipping_rule),
        )
        .route("/staff/transfers", post(shop::record_transfer))
        .route("/staff/orders/{id}/refunds", post(settlement::refund))
        .route("/staff/refunds", get(settlement::refunds_owed))
        .route("/staff/refunds/{id}/paid", post(settlement::refund_paid))
        .route("/staff/settle", post(settlement::settle))
        .route("/staff/payouts", get(settlement::payouts))
        .route(
            "/staff/payouts/batches/{id}/bank-file",
            get(settlement::bank_file),
        )
        .route("/staff/payouts/{id}/paid", post(settlement::payout_paid))
        .route(
            "/staff/payouts/{id}/failed",
            post(settlement::payout_failed),
        )
        .route("/staff/ledger/check", get(settlement::ledger_check))
        .route("/producer/statement", get(settlement::producer_statement))
        .route(
            "/producer/statement.csv",
            get(settlement::producer_statement_csv),
        )
        .route("/producer/payouts", get(settlement::producer_payouts))
        .route(
            "/producer/payout-details",
            put(settlement::set_payout_details),
        )
        .route("/openapi.json", get(openapi))
        .fallback(crate::pages::not_found)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jinguo Market API",
        description = "巾帼集市: products of Chongqing's women's workshops, bases, cooperatives and households. Prices are integer fen (1 yuan = 100 fen). Errors are `{\"error\": {\"code\", \"message\"}}`; messages follow the `lang` cookie or Accept-Language (zh-CN by default)."
    ),
    paths(
        products::list, products::detail, producers::detail, trace::trace, health::healthz,
        shop::register, shop::token, shop::revoke, shop::cart, shop::put_item, shop::remove_item,
        shop::checkout, shop::orders, shop::order, shop::cancel, shop::part_action,
        shop::set_stock, shop::producer_orders, shop::shipping_rule, shop::set_shipping_rule,
        shop::record_transfer, settlement::refund, settlement::refunds_owed,
        settlement::refund_paid, settlement::settle, settlement::payouts, settlement::bank_file,
        settlement::payout_paid, settlement::payout_failed, settlement::ledger_check,
        settlement::producer_statement, settlement::producer_statement_csv,
        settlement::producer_payouts, settlement::set_payout_details
    ),
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
    /// Stable, machine-readable: `not_found`, `unknown_sort`, `negative_price`, `search_unavailable`…
    pub code: String,
    /// For a person, in their language.
    pub message: String,
}

pub fn error_response(state: &AppState, lang: Lang, report: &ErrorReport) -> Response {
    let message = state
        .i18n
        .locale(lang)
        .fill(report.msg.key, &report.msg.args);
    let body = ErrorBody {
        error: ErrorDetail {
            code: report.code.to_owned(),
            message,
        },
    };
    (report.status, Json(body)).into_response()
}
