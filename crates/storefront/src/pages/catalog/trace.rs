use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::{AppError, ErrorCode, Msg};
use crate::pages::{Req, View, encode, render};
use crate::views::{self, Picture, ProducerPanel};

#[derive(Serialize)]
struct BatchView {
    batch_no: String,
    produced_on: String,
    site: String,
    quantity: Option<i64>,
    note: String,
}

#[derive(Serialize)]
struct ProductRef {
    title: String,
    url: String,
    image: Option<Picture>,
}

#[derive(Serialize)]
struct TracePage {
    code: String,
    batch: BatchView,
    product: ProductRef,
    producer: ProducerPanel,
}

/// The page a QR code on a package opens.
pub async fn trace(
    State(state): State<AppState>,
    req: Req,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let trace = state.catalog.trace(&code).await?;
    let lang = req.lang;
    let title = lang
        .pick(&trace.product.title, &trace.product.title_en)
        .to_owned();
    let body = TracePage {
        code: trace.batch.code.clone(),
        batch: BatchView {
            batch_no: trace.batch.batch_no,
            produced_on: trace.batch.produced_on,
            site: trace.batch.site,
            quantity: trace.batch.quantity,
            note: trace.batch.note,
        },
        product: ProductRef {
            url: views::product_url(&trace.product.slug),
            image: trace.image_id.map(|id| Picture::new(id, &title)),
            title: title.clone(),
        },
        producer: views::producer_panel(
            &trace.producer,
            state.today(),
            lang,
            state.i18n.locale(lang),
        ),
    };
    let page_title = state
        .i18n
        .locale(lang)
        .fill("trace.title", &[("code", body.code.clone())]);
    render(&state, &req, View::new("trace.html", page_title, body))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: Option<String>,
}

/// `/trace?code=…`: a code typed into a form goes to its page.
pub async fn lookup(Query(form): Query<CodeForm>) -> Result<Response, AppError> {
    let typed = form.code.unwrap_or_default();
    match jinguo_catalog::batch::normalize_code(&typed) {
        Some(code) => Ok(Redirect::to(&views::trace_url(&encode(&code))).into_response()),
        None => Err(AppError::bad_with(
            ErrorCode::BadCode,
            Msg::new("errors.bad_code").with("value", typed),
        )),
    }
}
