//! For producer staff: their parts of orders (to ship, shipped, returns) and their stock.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jinguo_common::money::Fen;
use jinguo_order::orders::Filter;
use jinguo_order::shipping::ShippingRule;
use jinguo_order::state::PartStatus;
use serde::{Deserialize, Serialize};

use super::{Req, View, done_notice, label, render};
use crate::app::AppState;
use crate::auth::{CsrfForm, PageUser, producer_of};
use crate::error::{AppError, Msg};
use crate::pages::orders::{ActionView, actions_view};
use crate::shop::{self, Viewer};
use crate::views::{self, when};

#[derive(Serialize)]
struct Tab {
    label: String,
    url: String,
    current: bool,
}

#[derive(Serialize)]
struct LineView {
    title: String,
    sku_name: String,
    quantity: i64,
}

#[derive(Serialize)]
struct PartRow {
    order_url: String,
    number: String,
    created_at: String,
    status: &'static str,
    status_label: String,
    recipient: String,
    phone: String,
    region_name: String,
    address_detail: String,
    items: String,
    shipping: String,
    lines: Vec<LineView>,
    actions: Vec<ActionView>,
}

#[derive(Serialize)]
struct OrdersPage {
    producer_name: String,
    tabs: Vec<Tab>,
    parts: Vec<PartRow>,
}

#[derive(Deserialize)]
pub struct TabQuery {
    status: Option<String>,
    done: Option<String>,
}

async fn producer_name(state: &AppState, producer: i64) -> String {
    match state.catalog.producers().await {
        Ok(all) => all
            .into_iter()
            .find(|p| p.id.0 == producer)
            .map(|p| p.name)
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn orders(
    State(state): State<AppState>,
    req: Req,
    PageUser(user, _): PageUser,
    Query(q): Query<TabQuery>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    let lang = req.lang;
    let current = match q.status.as_deref() {
        None | Some("") => Some(PartStatus::ToShip),
        Some("all") => None,
        Some(code) => {
            Some(PartStatus::parse(code).ok_or_else(|| AppError::bad("errors.bad_query"))?)
        }
    };
    let tabs = [
        Some(PartStatus::ToShip),
        Some(PartStatus::Shipped),
        Some(PartStatus::ReturnRequested),
        None,
    ]
    .into_iter()
    .map(|s| Tab {
        label: match s {
            Some(s) => label(&state, lang, "part_status", s.as_str()),
            None => state
                .i18n
                .locale(lang)
                .get("producer_portal.all")
                .to_owned(),
        },
        url: format!(
            "/producer/orders?status={}",
            s.map_or("all", PartStatus::as_str)
        ),
        current: s == current,
    })
    .collect();
    let filter = Filter {
        producer: Some(producer),
        part_status: current,
        limit: 200,
        ..Filter::default()
    };
    let orders = state.orders.orders(&filter).await?;
    let viewer = Viewer::Producer(producer);
    let parts = orders
        .iter()
        .flat_map(|o| o.parts.iter().map(move |p| (o, p)))
        .filter(|(_, p)| current.is_none_or(|s| p.status == s))
        .map(|(o, p)| PartRow {
            order_url: format!("/orders/{}", o.id),
            number: o.number.clone(),
            created_at: when(o.created_at),
            status: p.status.as_str(),
            status_label: label(&state, lang, "part_status", p.status.as_str()),
            recipient: o.recipient.clone(),
            phone: o.phone.clone(),
            region_name: o.region_name.clone(),
            address_detail: o.address_detail.clone(),
            items: p.items.to_string(),
            shipping: p.shipping.to_string(),
            lines: p
                .lines
                .iter()
                .map(|l| LineView {
                    title: l.title.clone(),
                    sku_name: l.sku_name.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            actions: actions_view(
                &state,
                lang,
                o.id,
                p.id,
                shop::part_actions(viewer, p.status),
            ),
        })
        .collect();
    let body = OrdersPage {
        producer_name: producer_name(&state, producer).await,
        tabs,
        parts,
    };
    let t = state.i18n.locale(lang);
    let mut view = View::personal(
        "producer_orders.html",
        t.get("producer_portal.orders_title").to_owned(),
        body,
    );
    view.notice = done_notice(&state, lang, q.done.as_deref());
    render(&state, &req, view)
}

#[derive(Serialize)]
struct SkuRow {
    id: i64,
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
        let amount = |field: &'static str, text: &str| -> Result<Fen, AppError> {
            text.trim().parse::<Fen>().map_err(|_| {
                AppError::BadRequest(
                    Msg::new("errors.bad_amount")
                        .with("value", format!("{field}: {}", text.trim())),
                )
            })
        };
        Ok(match self.kind.as_str() {
            "flat" => ShippingRule::Flat {
                fee: amount("fee", &self.fee)?,
            },
            "free_over" => ShippingRule::FreeOver {
                fee: amount("fee", &self.fee)?,
                threshold: amount("threshold", &self.threshold)?,
            },
            "by_weight" => ShippingRule::ByWeight {
                first_kg: amount("fee", &self.fee)?,
                per_kg: amount("per_kg", &self.per_kg)?,
            },
            _ => {
                return Err(AppError::BadRequest(
                    Msg::new("errors.invalid")
                        .with("field", "kind")
                        .with("message", "flat, free_over or by_weight"),
                ));
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
    producer: i64,
    form: Option<RuleForm>,
    notice: Option<String>,
    rule_error: Option<String>,
) -> Result<Response, AppError> {
    let current = state.orders.shipping_rule(producer).await?;
    let skus = state
        .orders
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
        producer_name: producer_name(state, producer).await,
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
    Path(sku): Path<i64>,
    CsrfForm(form): CsrfForm<StockForm>,
) -> Result<Response, AppError> {
    let producer = producer_of(&user)?;
    state.orders.set_stock(producer, sku, form.stock).await?;
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
            let (text, status) = super::form_failure(&state, req.lang, error)?;
            Ok(super::with_status(
                stock_page(&state, &req, producer, Some(form), None, Some(text)).await?,
                status,
            ))
        }
    }
}
