//! Orders in the database: reading them for each kind of reader, and applying the state
//! machine's transitions ([`crate::state`]) with updates conditional on the statuses they start
//! from, so that of two racing actions only one applies.

use jinguo_common::Backend;
use jinguo_common::clock::Millis;
use jinguo_common::db::SqlBuf;
use jinguo_common::money::Fen;
use jinguo_common::region::regions;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::OrderError;
use crate::books::{Books, MoneyChange};
use crate::notify;
use crate::state::{
    self, Action, Actor, OrderState, OrderStatus, PartState, PartStatus, StockEffect, Transition,
    Windows,
};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    pub sku_id: i64,
    pub product_slug: String,
    pub title: String,
    pub sku_name: String,
    pub unit_price: Fen,
    pub quantity: i64,
    pub total: Fen,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Part {
    pub id: i64,
    pub producer_id: i64,
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub part_id: Option<i64>,
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    pub at: Millis,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub number: String,
    pub buyer_id: i64,
    pub status: OrderStatus,
    pub recipient: String,
    pub phone: String,
    pub region_code: String,
    pub region_name: String,
    pub address_detail: String,
    pub items: Fen,
    pub shipping: Fen,
    pub total: Fen,
    pub payment_method: String,
    pub payment_reference: String,
    pub expires_at: Millis,
    pub paid_at: Option<Millis>,
    pub created_at: Millis,
    pub parts: Vec<Part>,
    /// Oldest first.
    pub events: Vec<Event>,
    /// Money owed back, in fen (pending refunds).
    pub refunds_pending: Fen,
}

const ORDER_COLUMNS: &str = "id, number, user_id, status, recipient, phone, region_code, address_detail, \
    items_fen, shipping_fen, total_fen, payment_method, payment_reference, expires_at, paid_at, created_at";

fn order_from_row(r: &sqlx::any::AnyRow) -> Result<Order, sqlx::Error> {
    let status: String = r.try_get("status")?;
    let region_code: String = r.try_get("region_code")?;
    Ok(Order {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        buyer_id: r.try_get("user_id")?,
        status: OrderStatus::parse(&status).ok_or_else(|| sqlx::Error::Decode(status.into()))?,
        recipient: r.try_get("recipient")?,
        phone: r.try_get("phone")?,
        region_name: regions().full_name(&region_code).unwrap_or_default(),
        region_code,
        address_detail: r.try_get("address_detail")?,
        items: Fen(r.try_get("items_fen")?),
        shipping: Fen(r.try_get("shipping_fen")?),
        total: Fen(r.try_get("total_fen")?),
        payment_method: r.try_get("payment_method")?,
        payment_reference: r.try_get("payment_reference")?,
        expires_at: r.try_get("expires_at")?,
        paid_at: r.try_get("paid_at")?,
        created_at: r.try_get("created_at")?,
        parts: Vec::new(),
        events: Vec::new(),
        refunds_pending: Fen::ZERO,
    })
}

async fn parts_of(
    conn: &mut AnyConnection,
    orders: &[i64],
    with_lines: bool,
) -> Result<Vec<(i64, Part)>, sqlx::Error> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new(
        "select op.id, op.order_id, op.producer_id, op.status, op.items_fen, op.shipping_fen, op.carrier,
                op.tracking_no, op.shipped_at, op.delivered_at, pr.name as producer_name, pr.slug as producer_slug
         from order_parts op join producers pr on pr.id = op.producer_id where op.order_id in ",
    );
    sql.bind_list(orders.iter().copied())
        .push(" order by op.order_id, op.id");
    let rows = sql.query().fetch_all(&mut *conn).await?;
    let mut parts = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get("status")?;
        parts.push((
            r.try_get("order_id")?,
            Part {
                id: r.try_get("id")?,
                producer_id: r.try_get("producer_id")?,
                producer_name: r.try_get("producer_name")?,
                producer_slug: r.try_get("producer_slug")?,
                status: PartStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode(status.into()))?,
                items: Fen(r.try_get("items_fen")?),
                shipping: Fen(r.try_get("shipping_fen")?),
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
        sql.bind_list(orders.iter().copied()).push(" order by id");
        for r in sql.query().fetch_all(&mut *conn).await? {
            let part_id: i64 = r.try_get("part_id")?;
            if let Some((_, part)) = parts.iter_mut().find(|(_, p)| p.id == part_id) {
                part.lines.push(Line {
                    sku_id: r.try_get("sku_id")?,
                    product_slug: r.try_get("product_slug")?,
                    title: r.try_get("title")?,
                    sku_name: r.try_get("sku_name")?,
                    unit_price: Fen(r.try_get("unit_price_fen")?),
                    quantity: r.try_get("quantity")?,
                    total: Fen(r.try_get("line_fen")?),
                });
            }
        }
    }
    Ok(parts)
}

/// One order with its parts, lines and history.
pub async fn detail(conn: &mut AnyConnection, id: i64) -> Result<Option<Order>, sqlx::Error> {
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
    let pending: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where order_id = $1 and status = 'pending'",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    order.refunds_pending = Fen(pending);
    Ok(Some(order))
}

pub async fn by_reference(
    conn: &mut AnyConnection,
    reference: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("select id from orders where payment_reference = $1")
        .bind(reference.trim())
        .fetch_optional(conn)
        .await
}

/// What staff filter the order list by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub buyer: Option<i64>,
    pub status: Option<OrderStatus>,
    /// Orders with a part of this producer (and only that part shown).
    pub producer: Option<i64>,
    pub part_status: Option<PartStatus>,
    /// An order number, exact.
    pub number: Option<String>,
    pub limit: i64,
}

/// Orders, newest first, with their parts (without lines).
pub async fn list(conn: &mut AnyConnection, filter: &Filter) -> Result<Vec<Order>, sqlx::Error> {
    let mut sql = SqlBuf::new("select ");
    sql.push(ORDER_COLUMNS).push(" from orders where 1 = 1");
    if let Some(buyer) = filter.buyer {
        sql.push(" and user_id = ").bind(buyer);
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
            .bind(producer);
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
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
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

/// The order as the state machine sees it, locked against concurrent changes on PostgreSQL.
pub(crate) async fn load_state(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> Result<Option<OrderState>, sqlx::Error> {
    let sql = format!(
        "select id, user_id, status, total_fen, expires_at from orders where id = $1{}",
        backend.lock_suffix()
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let parts = sqlx::query(
        "select id, producer_id, status, items_fen, shipping_fen, shipped_at, delivered_at
         from order_parts where order_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(OrderState {
        id,
        buyer_id: row.try_get("user_id")?,
        status: OrderStatus::parse(&status).ok_or_else(|| sqlx::Error::Decode(status.into()))?,
        total_fen: row.try_get("total_fen")?,
        expires_at: row.try_get("expires_at")?,
        parts: parts
            .iter()
            .map(|p| {
                let status: String = p.try_get("status")?;
                Ok(PartState {
                    id: p.try_get("id")?,
                    producer_id: p.try_get("producer_id")?,
                    status: PartStatus::parse(&status)
                        .ok_or_else(|| sqlx::Error::Decode(status.into()))?,
                    total_fen: p.try_get::<i64, _>("items_fen")?
                        + p.try_get::<i64, _>("shipping_fen")?,
                    shipped_at: p.try_get("shipped_at")?,
                    delivered_at: p.try_get("delivered_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
    }))
}

/// One row of an order's history; the arguments are its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_event(
    conn: &mut AnyConnection,
    order: i64,
    part: Option<i64>,
    actor: Actor,
    from: Option<&str>,
    to: &str,
    reason: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let actor_id = match actor {
        Actor::Buyer(id) | Actor::Producer(id) | Actor::Staff(id) => Some(id),
        Actor::System => None,
    };
    sqlx::query(
        "insert into order_events (order_id, part_id, actor, actor_id, from_status, to_status, reason, at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(order)
    .bind(part)
    .bind(actor.as_str())
    .bind(actor_id)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn reason(action: &Action) -> String {
    match action {
        Action::Expire => "payment not received in time".to_owned(),
        Action::Cancel { reason }
        | Action::RequestReturn { reason, .. }
        | Action::RefuseReturn { reason, .. } => reason.clone(),
        Action::Ship {
            carrier,
            tracking_no,
            ..
        } => format!("{carrier} {tracking_no}"),
        _ => String::new(),
    }
}

/// Gives back the units of the order's reservations in `from` status; returns the products whose
/// stock came back from zero (their search documents change).
async fn release(
    conn: &mut AnyConnection,
    order: i64,
    from: &str,
    now: Millis,
) -> Result<Vec<i64>, sqlx::Error> {
    let held = sqlx::query(
        "select sku_id, quantity from stock_reservations where order_id = $1 and status = $2",
    )
    .bind(order)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let mut revived = Vec::new();
    for r in held {
        let sku: i64 = r.try_get("sku_id")?;
        let quantity: i64 = r.try_get("quantity")?;
        let row = sqlx::query(
            "update skus set stock = stock + $1 where id = $2 returning stock, product_id",
        )
        .bind(quantity)
        .bind(sku)
        .fetch_one(&mut *conn)
        .await?;
        if row.try_get::<i64, _>("stock")? == quantity {
            revived.push(row.try_get("product_id")?);
        }
    }
    sqlx::query("update stock_reservations set status = 'released', updated_at = $1 where order_id = $2 and status = $3")
        .bind(now)
        .bind(order)
        .bind(from)
        .execute(conn)
        .await?;
    Ok(revived)
}

/// What applying an action did.
#[derive(Debug)]
pub(crate) struct Applied {
    pub transition: Transition,
    /// Products whose stock came back from zero.
    pub revived: Vec<i64>,
    /// The refund now owed: (refund id, part, amount in fen).
    pub refund: Option<(i64, Option<i64>, i64)>,
}

/// What an action is applied with besides the order: the database's dialect, the time, the
/// rules' windows and the books money is kept in.
pub(crate) struct Context<'a> {
    pub backend: Backend,
    pub now: Millis,
    pub windows: Windows,
    pub books: Option<&'a dyn Books>,
}

/// Applies `action` by `actor` to order `id`, inside the caller's transaction, and records the
/// money it moves in the context's books.
pub(crate) async fn act_in(
    conn: &mut AnyConnection,
    cx: &Context<'_>,
    id: i64,
    action: &Action,
    actor: Actor,
) -> Result<Applied, OrderError> {
    let (now, windows, books) = (cx.now, cx.windows, cx.books);
    let state = load_state(conn, cx.backend, id)
        .await?
        .ok_or(OrderError::NotFound)?;
    let t = state::decide(&state, action, actor, now, windows)?;
    let why = reason(action);
    if t.order_from != t.order_to {
        let done = sqlx::query(
            "update orders set status = $1, updated_at = $2,
                 paid_at = case when $1 = 'paid' then $2 else paid_at end
             where id = $3 and status = $4",
        )
        .bind(t.order_to.as_str())
        .bind(now)
        .bind(id)
        .bind(t.order_from.as_str())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OrderError::Conflict);
        }
        record_event(
            conn,
            id,
            None,
            actor,
            Some(t.order_from.as_str()),
            t.order_to.as_str(),
            &why,
            now,
        )
        .await?;
    }
    for (part, from, to) in &t.parts {
        let (carrier, tracking) = match action {
            Action::Ship {
                carrier,
                tracking_no,
                ..
            } => (Some(carrier.trim()), Some(tracking_no.trim())),
            _ => (None, None),
        };
        let done = sqlx::query(
            "update order_parts set status = $1,
                 carrier = coalesce($2, carrier), tracking_no = coalesce($3, tracking_no),
                 shipped_at = case when $1 = 'shipped' then $4 else shipped_at end,
                 delivered_at = case when $1 = 'delivered' and delivered_at is null then $4 else delivered_at end
             where id = $5 and status = $6",
        )
        .bind(to.as_str())
        .bind(carrier)
        .bind(tracking)
        .bind(now)
        .bind(part)
        .bind(from.as_str())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OrderError::Conflict);
        }
        record_event(
            conn,
            id,
            Some(*part),
            actor,
            Some(from.as_str()),
            to.as_str(),
            &why,
            now,
        )
        .await?;
    }
    let revived = match t.stock {
        Some(StockEffect::Sell) => {
            sqlx::query("update stock_reservations set status = 'sold', updated_at = $1 where order_id = $2 and status = 'held'")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Vec::new()
        }
        Some(StockEffect::ReleaseHeld) => release(conn, id, "held", now).await?,
        Some(StockEffect::ReleaseSold) => release(conn, id, "sold", now).await?,
        None => Vec::new(),
    };
    let mut refund = None;
    if let Some((part, amount)) = t.refund {
        // What is left to give back, after refunds already made (staff's partial refunds).
        let already: i64 = match part {
            Some(part) => sqlx::query_scalar(
                "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where part_id = $1",
            )
            .bind(part),
            None => sqlx::query_scalar(
                "select cast(coalesce(sum(amount_fen), 0) as bigint) from refunds where order_id = $1",
            )
            .bind(id),
        }
        .fetch_one(&mut *conn)
        .await?;
        let left = amount - already;
        if left > 0 {
            let refund_id: i64 = sqlx::query_scalar(
                "insert into refunds (order_id, part_id, amount_fen, status, reason, created_at) values ($1, $2, $3, 'pending', $4, $5) returning id",
            )
            .bind(id)
            .bind(part)
            .bind(left)
            .bind(&why)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
            refund = Some((refund_id, part, left));
        }
    }
    if let Some(books) = books {
        books
            .record(
                conn,
                &MoneyChange {
                    order: &state,
                    transition: &t,
                    refund,
                    now,
                },
            )
            .await?;
    }
    notify_change(conn, &state, &t, now).await?;
    Ok(Applied {
        transition: t,
        revived,
        refund,
    })
}

/// Tells the buyer of every change, and a producer's staff when there is something for them to do.
async fn notify_change(
    conn: &mut AnyConnection,
    order: &OrderState,
    t: &Transition,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let number: String = sqlx::query_scalar("select number from orders where id = $1")
        .bind(order.id)
        .fetch_one(&mut *conn)
        .await?;
    if t.order_from != t.order_to {
        let kind = format!("order_{}", t.order_to.as_str());
        notify::notify(
            conn,
            order.buyer_id,
            Some(order.id),
            &kind,
            json!({ "number": number }),
            now,
        )
        .await?;
    }
    for (part, _, to) in &t.parts {
        let Some(p) = order.parts.iter().find(|p| p.id == *part) else {
            continue;
        };
        if t.order_from == t.order_to {
            let kind = format!("part_{}", to.as_str());
            notify::notify(
                conn,
                order.buyer_id,
                Some(order.id),
                &kind,
                json!({ "number": number }),
                now,
            )
            .await?;
        }
        if matches!(to, PartStatus::ToShip | PartStatus::ReturnRequested) {
            let kind = format!("producer_{}", to.as_str());
            notify::notify_producer(
                conn,
                p.producer_id,
                order.id,
                &kind,
                json!({ "number": number }),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// Units per SKU currently held by unpaid orders.
pub async fn held_units(conn: &mut AnyConnection, sku: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select cast(coalesce(sum(quantity), 0) as bigint) from stock_reservations where sku_id = $1 and status = 'held'",
    )
    .bind(sku)
    .fetch_one(conn)
    .await
}

/// Units per SKU sold (paid orders, not given back).
pub async fn sold_units(conn: &mut AnyConnection, sku: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select cast(coalesce(sum(quantity), 0) as bigint) from stock_reservations where sku_id = $1 and status = 'sold'",
    )
    .bind(sku)
    .fetch_one(conn)
    .await
}
