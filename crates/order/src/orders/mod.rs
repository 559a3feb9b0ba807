//! Orders in the database: reading them for each kind of reader (one order with its parts,
//! lines and history; lists for staff and producers; how an order is paid). Changing them is
//! [`apply`]'s.

use jinguo_catalog::{ProducerName, SkuId};
use jinguo_common::clock::Millis;
use jinguo_common::db::SqlBuf;
use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::money::Fen;
use jinguo_common::region::regions;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

use crate::ids::{OrderId, PartId};
use crate::payment::PaymentMethod;
use crate::state::{ActorKind, OrderState, OrderStatus, PartState, PartStatus};

mod apply;

pub(crate) use apply::{Context, HistoryRow, act_in, load_state, record_event};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    pub sku_id: SkuId,
    pub product_slug: String,
    pub title: String,
    pub sku_name: String,
    pub unit_price: Fen,
    pub quantity: i64,
    pub total: Fen,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Part {
    pub id: PartId,
    pub producer_id: ProducerId,
    pub producer_name: String,
    pub producer_slug: String,
    pub status: PartStatus,
    pub items: Fen,
    pub shipping: Fen,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub lines: Vec<Line>,
}

impl Part {
    /// Goods and shipping.
    pub fn total(&self) -> Fen {
        self.items + self.shipping
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub part_id: Option<PartId>,
    pub actor: ActorKind,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    pub at: Millis,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub number: String,
    pub buyer_id: UserId,
    pub status: OrderStatus,
    pub recipient: String,
    pub phone: String,
    pub region_code: String,
    pub region_name: String,
    pub address_detail: String,
    pub items: Fen,
    pub shipping: Fen,
    pub total: Fen,
    pub payment_method: PaymentMethod,
    pub payment_reference: String,
    pub expires_at: Millis,
    pub paid_at: Option<Millis>,
    pub created_at: Millis,
    pub parts: Vec<Part>,
    /// Oldest first.
    pub events: Vec<Event>,
}

impl Order {
    /// The order as the state machine sees it.
    pub fn state(&self) -> OrderState {
        OrderState {
            id: self.id,
            buyer_id: self.buyer_id,
            status: self.status,
            total_fen: self.total.0,
            expires_at: self.expires_at,
            parts: self
                .parts
                .iter()
                .map(|p| PartState {
                    id: p.id,
                    producer_id: p.producer_id,
                    status: p.status,
                    total_fen: p.total().0,
                    shipped_at: p.shipped_at,
                    delivered_at: p.delivered_at,
                })
                .collect(),
        }
    }
}

const ORDER_COLUMNS: &str = "id, number, user_id, status, recipient, phone, region_code, address_detail, \
    items_fen, shipping_fen, total_fen, payment_method, payment_reference, expires_at, paid_at, created_at";

fn order_from_row(r: &sqlx::any::AnyRow) -> Result<Order, sqlx::Error> {
    let region_code: String = r.try_get("region_code")?;
    Ok(Order {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        buyer_id: r.try_get("user_id")?,
        status: r.try_get("status")?,
        recipient: r.try_get("recipient")?,
        phone: r.try_get("phone")?,
        region_name: regions().full_name(&region_code).unwrap_or_default(),
        region_code,
        address_detail: r.try_get("address_detail")?,
        items: r.try_get("items_fen")?,
        shipping: r.try_get("shipping_fen")?,
        total: r.try_get("total_fen")?,
        payment_method: r.try_get("payment_method")?,
        payment_reference: r.try_get("payment_reference")?,
        expires_at: r.try_get("expires_at")?,
        paid_at: r.try_get("paid_at")?,
        created_at: r.try_get("created_at")?,
        parts: Vec::new(),
        events: Vec::new(),
    })
}

async fn parts_of(
    conn: &mut AnyConnection,
    orders: &[OrderId],
    with_lines: bool,
) -> Result<Vec<(OrderId, Part)>, sqlx::Error> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new(
        "select id, order_id, producer_id, status, items_fen, shipping_fen, carrier, tracking_no,
                shipped_at, delivered_at
         from order_parts where order_id in ",
    );
    sql.bind_list(orders.iter().map(|o| o.0))
        .push(" order by order_id, id");
    let rows = sql.query().fetch_all(&mut *conn).await?;
    let producers: Vec<ProducerId> = rows
        .iter()
        .map(|r| r.try_get("producer_id"))
        .collect::<Result<_, _>>()?;
    let names = jinguo_catalog::producer::names(conn, &producers).await?;
    let mut parts = Vec::with_capacity(rows.len());
    for r in &rows {
        let producer: ProducerId = r.try_get("producer_id")?;
        let name = names.get(&producer).cloned().unwrap_or(ProducerName {
            name: String::new(),
            slug: String::new(),
        });
        parts.push((
            r.try_get("order_id")?,
            Part {
                id: r.try_get("id")?,
                producer_id: producer,
                producer_name: name.name,
                producer_slug: name.slug,
                status: r.try_get("status")?,
                items: r.try_get("items_fen")?,
                shipping: r.try_get("shipping_fen")?,
                carrier: r.try_get("carrier")?,
                tracking_no: r.try_get("tracking_no")?,
                shipped_at: r.try_get("shipped_at")?,
                delivered_at: r.try_get("delivered_at")?,
                lines: Vec::new(),
            },
        ));
    }
    if with_lines {
        let mut sql = SqlBuf::new(
            "select part_id, sku_id, product_slug, title, sku_name, unit_price_fen, quantity, line_fen
             from order_lines where order_id in ",
        );
        sql.bind_list(orders.iter().map(|o| o.0))
            .push(" order by id");
        for r in sql.query().fetch_all(&mut *conn).await? {
            let part_id: PartId = r.try_get("part_id")?;
            if let Some((_, part)) = parts.iter_mut().find(|(_, p)| p.id == part_id) {
                part.lines.push(Line {
                    sku_id: r.try_get("sku_id")?,
                    product_slug: r.try_get("product_slug")?,
                    title: r.try_get("title")?,
                    sku_name: r.try_get("sku_name")?,
                    unit_price: r.try_get("unit_price_fen")?,
                    quantity: r.try_get("quantity")?,
                    total: r.try_get("line_fen")?,
                });
            }
        }
    }
    Ok(parts)
}

/// One order with its parts, lines and history.
pub async fn detail(conn: &mut AnyConnection, id: OrderId) -> Result<Option<Order>, sqlx::Error> {
    let sql = format!("select {ORDER_COLUMNS} from orders where id = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut order = order_from_row(&row)?;
    order.parts = parts_of(conn, &[id], true)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let events = sqlx::query(
        "select part_id, actor, from_status, to_status, reason, at from order_events where order_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    order.events = events
        .iter()
        .map(|r| {
            Ok(Event {
                part_id: r.try_get("part_id")?,
                actor: r.try_get("actor")?,
                from: r.try_get("from_status")?,
                to: r.try_get("to_status")?,
                reason: r.try_get("reason")?,
                at: r.try_get("at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Some(order))
}

pub async fn by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<OrderId>, sqlx::Error> {
    sqlx::query_scalar("select id from orders where payment_reference = $1")
        .bind(reference.trim())
        .fetch_optional(conn)
        .await
}

/// How an order is paid and where its payment stands, as settlement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPayment {
    pub id: OrderId,
    pub number: String,
    pub status: OrderStatus,
    pub total: Fen,
    pub method: PaymentMethod,
    pub reference: String,
}

/// How order `id` is paid, if there is such an order.
pub async fn payment_of(
    conn: &mut AnyConnection,
    id: OrderId,
) -> Result<Option<OrderPayment>, sqlx::Error> {
    let row = sqlx::query(
        "select id, number, status, total_fen, payment_method, payment_reference from orders where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(OrderPayment {
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            status: r.try_get("status")?,
            total: r.try_get("total_fen")?,
            method: r.try_get("payment_method")?,
            reference: r.try_get("payment_reference")?,
        })
    })
    .transpose()
}

/// The numbers and payment references of these orders (for statements and reconciliation).
pub async fn numbers(
    conn: &mut AnyConnection,
    ids: &[OrderId],
) -> Result<HashMap<OrderId, (String, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = SqlBuf::new("select id, number, payment_reference from orders where id in ");
    sql.bind_list(ids.iter().map(|o| o.0));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                (r.try_get("number")?, r.try_get("payment_reference")?),
            ))
        })
        .collect()
}

/// What staff filter the order list by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub buyer: Option<UserId>,
    pub status: Option<OrderStatus>,
    /// Orders with a part of this producer (and only that part shown).
    pub producer: Option<ProducerId>,
    pub part_status: Option<PartStatus>,
    /// An order number, exact.
    pub number: Option<String>,
    pub limit: i64,
}

/// Orders, newest first, with their parts (without lines, except a producer's own).
pub async fn list(conn: &mut AnyConnection, filter: &Filter) -> Result<Vec<Order>, sqlx::Error> {
    let mut sql = SqlBuf::new("select ");
    sql.push(ORDER_COLUMNS).push(" from orders where 1 = 1");
    if let Some(buyer) = filter.buyer {
        sql.push(" and user_id = ").bind(buyer.0);
    }
    if let Some(status) = filter.status {
        sql.push(" and status = ").bind(status.as_str());
    }
    if let Some(number) = &filter.number {
        sql.push(" and number = ")
            .bind(number.trim().to_uppercase());
    }
    if let Some(producer) = filter.producer {
        sql.push(" and id in (select order_id from order_parts where producer_id = ")
            .bind(producer.0);
        if let Some(part_status) = filter.part_status {
            sql.push(" and status = ").bind(part_status.as_str());
        }
        sql.push(")");
    } else if let Some(part_status) = filter.part_status {
        sql.push(" and id in (select order_id from order_parts where status = ")
            .bind(part_status.as_str())
            .push(")");
    }
    sql.push(" order by id desc limit ")
        .bind(filter.limit.clamp(1, 500));
    let rows = sql.query().fetch_all(&mut *conn).await?;
    let mut orders: Vec<Order> = rows.iter().map(order_from_row).collect::<Result<_, _>>()?;
    let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let with_lines = filter.producer.is_some();
    for (order_id, part) in parts_of(conn, &ids, with_lines).await? {
        if filter.producer.is_some_and(|p| p != part.producer_id) {
            continue;
        }
        if let Some(order) = orders.iter_mut().find(|o| o.id == order_id) {
            order.parts.push(part);
        }
    }
    Ok(orders)
}

/// Units of a SKU currently held by unpaid orders.
pub async fn held_units(conn: &mut AnyConnection, sku: SkuId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select cast(coalesce(sum(quantity), 0) as bigint) from stock_reservations where sku_id = $1 and status = 'held'",
    )
    .bind(sku)
    .fetch_one(conn)
    .await
}

/// Units of a SKU sold (paid orders, not given back).
pub async fn sold_units(conn: &mut AnyConnection, sku: SkuId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select cast(coalesce(sum(quantity), 0) as bigint) from stock_reservations where sku_id = $1 and status = 'sold'",
    )
    .bind(sku)
    .fetch_one(conn)
    .await
}
