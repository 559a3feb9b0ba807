//! Applying the state machine's transitions ([`crate::state`]) to an order in the database:
//! loading its state under a lock, updating its rows conditionally on the statuses they start
//! from (so that of two racing actions only one applies), giving back stock, booking the money
//! it moves, recording its history and telling the people concerned.

use jinguo_catalog::SkuId;
use jinguo_catalog::stock;
use jinguo_common::Backend;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::OrderError;
use crate::books::{Books, MoneyChange, PartMoney, RefundDue, RefundOwed};
use crate::ids::{OrderId, PartId};
use crate::notify;
use crate::payment::PaymentMethod;
use crate::policy;
use crate::state::{
    self, Action, Actor, OrderState, OrderStatus, PartState, PartStatus, StockEffect, Transition,
    Windows,
};

/// The order as the state machine sees it, and how it is paid, locked against concurrent
/// changes on PostgreSQL.
pub(crate) async fn load_state(
    conn: &mut AnyConnection,
    backend: Backend,
    id: OrderId,
) -> Result<Option<(OrderState, PaymentMethod)>, sqlx::Error> {
    let sql = format!(
        "select id, user_id, status, total_fen, expires_at, payment_method from orders where id = $1{}",
        backend.lock_suffix()
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let parts = sqlx::query(
        "select id, producer_id, status, items_fen, shipping_fen, shipped_at, delivered_at
         from order_parts where order_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let state = OrderState {
        id,
        buyer_id: row.try_get("user_id")?,
        status: row.try_get("status")?,
        total_fen: row.try_get("total_fen")?,
        expires_at: row.try_get("expires_at")?,
        parts: parts
            .iter()
            .map(|p| {
                Ok(PartState {
                    id: p.try_get("id")?,
                    producer_id: p.try_get("producer_id")?,
                    status: p.try_get("status")?,
                    total_fen: p.try_get::<i64, _>("items_fen")?
                        + p.try_get::<i64, _>("shipping_fen")?,
                    shipped_at: p.try_get("shipped_at")?,
                    delivered_at: p.try_get("delivered_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
    };
    Ok(Some((state, row.try_get("payment_method")?)))
}

/// One row of an order's history.
pub(crate) struct HistoryRow<'a> {
    pub order: OrderId,
    pub part: Option<PartId>,
    pub actor: Actor,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub reason: &'a str,
    pub at: Millis,
}

pub(crate) async fn record_event(
    conn: &mut AnyConnection,
    row: HistoryRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into order_events (order_id, part_id, actor, actor_id, from_status, to_status, reason, at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.order)
    .bind(row.part)
    .bind(row.actor.kind())
    .bind(row.actor.id())
    .bind(row.from)
    .bind(row.to)
    .bind(row.reason)
    .bind(row.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back the units of the order's reservations in `from` status; returns the products whose
/// stock came back from zero (their search documents change).
async fn release(
    conn: &mut AnyConnection,
    order: OrderId,
    from: &str,
    now: Millis,
) -> Result<Vec<jinguo_catalog::ProductId>, sqlx::Error> {
    let held = sqlx::query(
        "select sku_id, quantity from stock_reservations where order_id = $1 and status = $2",
    )
    .bind(order)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let mut revived = Vec::new();
    for r in held {
        let sku: SkuId = r.try_get("sku_id")?;
        if let Some(product) = stock::give_back(conn, sku, r.try_get("quantity")?).await? {
            revived.push(product);
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
    pub revived: Vec<jinguo_catalog::ProductId>,
    /// The refund now owed.
    pub refund: Option<RefundOwed>,
    /// How the order is paid (a refund goes back the same way).
    pub method: PaymentMethod,
}

/// What an action is applied with besides the order: the database's dialect, the time, the
/// rules' windows and the books money is kept in.
pub(crate) struct Context<'a> {
    pub backend: Backend,
    pub now: Millis,
    pub windows: Windows,
    pub books: &'a dyn Books,
}

/// Applies `action` by `actor` to order `id`, inside the caller's transaction, and records the
/// money it moves in the context's books. An order (or part) the actor has no part in is "not
/// found", so that guessing ids tells nothing.
pub(crate) async fn act_in(
    conn: &mut AnyConnection,
    cx: &Context<'_>,
    id: OrderId,
    action: &Action,
    actor: Actor,
) -> Result<Applied, OrderError> {
    let now = cx.now;
    let (state, method) = load_state(conn, cx.backend, id)
        .await?
        .ok_or(OrderError::NotFound)?;
    policy::may_reach(&state, actor, action.part())?;
    let t = state::decide(&state, action, actor, now, cx.windows)?;
    let why = action.reason();
    if t.order_from != t.order_to {
        let done = sqlx::query(
            "update orders set status = $1, updated_at = $2,
                 paid_at = case when $1 = 'paid' then $2 else paid_at end
             where id = $3 and status = $4",
        )
        .bind(t.order_to)
        .bind(now)
        .bind(id)
        .bind(t.order_from)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OrderError::Conflict);
        }
        record_event(
            conn,
            HistoryRow {
                order: id,
                part: None,
                actor,
                from: Some(t.order_from.as_str()),
                to: t.order_to.as_str(),
                reason: &why,
                at: now,
            },
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
        .bind(*to)
        .bind(carrier)
        .bind(tracking)
        .bind(now)
        .bind(*part)
        .bind(*from)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OrderError::Conflict);
        }
        record_event(
            conn,
            HistoryRow {
                order: id,
                part: Some(*part),
                actor,
                from: Some(from.as_str()),
                to: to.as_str(),
                reason: &why,
                at: now,
            },
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
    let part_money = |part: PartId| {
        state
            .parts
            .iter()
            .find(|p| p.id == part)
            .map(|p| PartMoney {
                part: p.id,
                producer: p.producer_id,
                total: Fen(p.total_fen),
            })
    };
    let change = MoneyChange {
        order: id,
        method,
        paid: (t.order_from == OrderStatus::AwaitingPayment && t.order_to == OrderStatus::Paid)
            .then_some(Fen(state.total_fen)),
        refund: t.refund.map(|r| RefundDue {
            part: r.part.and_then(part_money),
            amount: r.amount,
            whatever_is_left: r.whatever_is_left,
            reason: why.clone(),
            by: match actor {
                Actor::Staff(user) => Some(user),
                _ => None,
            },
        }),
        completed: t
            .parts
            .iter()
            .filter(|(_, _, to)| *to == PartStatus::Completed)
            .filter_map(|(part, _, _)| part_money(*part))
            .collect(),
        now,
    };
    let refund = cx.books.record(conn, &change).await?;
    notify_change(conn, &state, &t, now).await?;
    Ok(Applied {
        transition: t,
        revived,
        refund,
        method,
    })
}

/// Tells the buyer of every change, and a producer's staff when there is something for them to do.
async fn notify_change(
    conn: &mut AnyConnection,
    order: &OrderState,
    t: &Transition,
    now: Millis,
) -> Result<(), sqlx::Error> {
    if t.order_from == t.order_to && t.parts.is_empty() {
        return Ok(());
    }
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
