//! A producer's parts of orders: to ship, shipped, returns asked for, or all.

use axum::extract::{Query, State};
use axum::response::Response;
use jinguo_order::orders::Filter;
use jinguo_order::policy;
use jinguo_order::state::{Actor, PartStatus};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::pages::orders::{ActionView, actions_view};
use crate::pages::{Req, View, done_notice, label, render};
use crate::views::when;
use crate::web::{PageUser, producer_of};

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
    pub done: Option<String>,
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
            Some(PartStatus::parse(code).ok_or_else(|| AppError::bad(ErrorCode::BadQuery))?)
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
    let now = state.clock.now_ms();
    let windows = state.orders.settings().windows();
    let parts = orders
        .iter()
        .flat_map(|o| o.parts.iter().map(move |p| (o, p)))
        .filter(|(_, p)| current.is_none_or(|s| p.status == s))
        .map(|(o, p)| {
            let offers = policy::offers(&o.state(), Actor::Producer(producer), now, windows);
            PartRow {
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
                actions: actions_view(&state, lang, o.id, p.id, offers.for_part(p.id)),
            }
        })
        .collect();
    let body = OrdersPage {
        producer_name: super::producer_name(&state, producer).await?,
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
