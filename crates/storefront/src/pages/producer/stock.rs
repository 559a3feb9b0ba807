//! A producer's stock (a stock-take per SKU) and its shipping rule.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_catalog::SkuId;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_common::money::Fen;
use jinguo_order::shipping::ShippingRule;
use serde::{Deserialize, Serialize};

use super::orders::TabQuery;
use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, done_notice, render};
use crate::views;
use crate::web::{CsrfForm, PageUser, producer_of};

#[derive(Serialize)]
struct SkuRow {
    id: SkuId,
    product_title: String,
    product_url: String,
    name: String,
    price: String,
    stock: i64,
}

#[derive(Serialize, Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    per_kg: String,
}

impl RuleForm {
    fn of(rule: ShippingRule) -> RuleForm {
        let yuan = |f: Fen| f.yuan_string();
        match rule {
            ShippingRule::Flat { fee } => RuleForm {
                kind: "flat".into(),
                fee: yuan(fee),
                ..RuleForm::default()
            },
            ShippingRule::FreeOver { fee, threshold } => RuleForm {
                kind: "free_over".into(),
                fee: yuan(fee),
                threshold: yuan(threshold),
                ..RuleForm::default()
            },
            ShippingRule::ByWeight { first_kg, per_kg } => RuleForm {
                kind: "by_weight".into(),
                fee: yuan(first_kg),
                per_kg: yuan(per_kg),
                ..RuleForm::default()
            },
        }
    }

    /// The rule the form describes, or what is wrong with it.
    fn rule(&self) -> Result<ShippingRule, AppError> {
        let amount = |field: Field, text: &str| -> Result<Fen, AppError> {
            text.trim().parse::<Fen>().map_err(|_| {
                AppError::invalid(Invalid::new(
                    field,
                    Problem::NotAnAmount {
                        value: text.trim().to_owned(),
                    },
                ))
            })
        };
        Ok(match self.kind.as_str() {
            "flat" => ShippingRule::Flat {
                fee: amount(Field::Fee, &self.fee)?,
            },
            "free_over" => ShippingRule::FreeOver {
                fee: amount(Field::Fee, &self.fee)?,
                threshold: amount(Field::Threshold, &self.threshold)?,
            },
            "by_weight" => ShippingRule::ByWeight {
                first_kg: amount(Field::Fee, &self.fee)?,
                per_kg: amount(Field::PerKg, &self.per_kg)?,
            },
            other => {
                return Err(AppError::invalid(Invalid::new(
                    Field::Kind,
                    Problem::Unknown {
                        value: other.to_owned(),
                        choices: "flat, free_over, by_weight".to_owned(),
                    },
                )));
            }
        })
    }
}

#[derive(Serialize)]
struct StockPage {
    producer_name: String,
    skus: Vec<SkuRow>,
    rule: RuleForm,
    rule_text: String,
    rule_error: Option<String>,
}

pub async fn stock(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<TabQuery>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let notice = done_notice(&state, req.lang, q.done.as_deref());
    stock_page(&state, &req, producer, None, notice, None).await
}

async fn stock_page(
    state: &AppState,
    req: &Req,
    producer: ProducerId,
    form: Option<RuleForm>,
    notice: Option<String>,
    rule_error: Option<String>,
) -> Result<Response, AppError> {
    let current = state.orders.shipping_rule(producer).await?;
    let skus = state
        .catalog
        .producer_skus(producer)
        .await?
        .into_iter()
        .map(|s| SkuRow {
            id: s.id,
            product_url: views::product_url(&s.product_slug),
            product_title: s.product_title,
            name: s.name,
            price: s.price.to_string(),
            stock: s.stock,
        })
        .collect();
    let body = StockPage {
        producer_name: super::producer_name(state, producer).await?,
        skus,
        rule: form.unwrap_or_else(|| RuleForm::of(current)),
        rule_text: crate::pages::cart::rule_text(state, req.lang, current),
        rule_error,
    };
    let t = state.i18n.locale(req.lang);
    let mut view = View::personal(
        "producer_stock.html",
        t.get("producer_portal.stock_title").to_owned(),
        body,
    );
    view.notice = notice;
    render(state, req, view)
}

#[derive(Deserialize)]
pub struct StockForm {
    stock: i64,
}

pub async fn set_stock(
    State(state): State<AppState>,
    PageUser(user, _): PageUser,
    Path(sku): Path<SkuId>,
    CsrfForm(form): CsrfForm<StockForm>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    state
        .catalog
        .set_stock_of(producer, sku, form.stock)
        .await?;
    Ok(Redirect::to("/producer/stock?done=stock_saved").into_response())
}

pub async fn set_rule(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let saved = match form.rule() {
        Ok(rule) => state
            .orders
            .set_shipping_rule(producer, rule)
            .await
            .map_err(AppError::from),
        Err(error) => Err(error),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/producer/stock?done=rule_saved").into_response()),
        Err(error) => {
            let failure = crate::pages::form_failure(&state, req.lang, error)?;
            Ok(crate::pages::with_status(
                stock_page(&state, &req, producer, Some(form), None, Some(failure.text)).await?,
                failure.status,
            ))
        }
    }
}
