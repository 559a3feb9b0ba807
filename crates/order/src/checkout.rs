//! Placing an order: one transaction that checks the delivery region, takes each SKU's units with
//! a conditional decrement (`stock >= wanted`, so stock never goes below zero and no unit is sold
//! twice, whatever else runs at the same time), splits the goods into one part per producer with
//! that producer's shipping fee, and empties the cart. Prices come from the catalog, never from
//! the buyer.

use jinguo_catalog::ProductId;
use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;

use crate::address::NewAddress;
use crate::cart::{self, Owner};
use crate::orders::record_event;
use crate::payment::PaymentMethod;
use crate::region::{self, Level};
use crate::shipping;
use crate::state::Actor;
use crate::{OrderError, notify};

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub order_id: i64,
    pub number: String,
    pub total: Fen,
    /// The restriction notice of the delivery region, when it has one.
    pub notice: Option<String>,
}

struct Taken {
    sku: i64,
    producer_id: i64,
    slug: String,
    title: String,
    sku_name: String,
    price: Fen,
    quantity: i64,
    weight_g: i64,
}

const CODE: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `JG261129-7K3M9Q`: the date in China and six unambiguous characters.
fn order_number(now: Millis) -> String {
    let date = jinguo_common::clock::to_china_date(now);
    let random: [u8; 6] = rand::random();
    let code: String = random
        .iter()
        .map(|b| CODE[usize::from(b % 32)] as char)
        .collect();
    format!(
        "JG{:02}{:02}{:02}-{code}",
        date.year() % 100,
        u8::from(date.month()),
        date.day()
    )
}

pub(crate) async fn place(
    db: &Db,
    buyer: i64,
    address: &NewAddress,
    method: PaymentMethod,
    now: Millis,
    hold_ms: Millis,
) -> Result<Placed, OrderError> {
    let address = address.validate()?;
    let mut tx = db.begin_write().await?;

    let restriction = region::for_district(&mut tx, &address.region_code).await?;
    if let Some(r) = &restriction
        && r.level == Level::Suspended
    {
        return Err(OrderError::Suspended {
            region: r.region_name.clone(),
            notice: r.notice.clone(),
        });
    }

    // Sorted by SKU, so concurrent checkouts lock rows in the same order.
    let items = cart::items(&mut tx, Owner::User(buyer), now).await?;
    if items.is_empty() {
        return Err(OrderError::EmptyCart);
    }
    let mut taken = Vec::with_capacity(items.len());
    let mut emptied: Vec<ProductId> = Vec::new();
    for (sku, quantity, price_seen) in items {
        let row = sqlx::query(
            "update skus set stock = stock - $1 where id = $2 and stock >= $1
             returning product_id, price_fen, name, stock, weight_g",
        )
        .bind(quantity)
        .bind(sku)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let left = sqlx::query(
                "select s.stock, p.title from skus s join products p on p.id = s.product_id where s.id = $1",
            )
            .bind(sku)
            .fetch_optional(&mut *tx)
            .await?;
            let (available, title) = match left {
                Some(r) => (r.try_get("stock")?, r.try_get("title")?),
                None => (0, String::new()),
            };
            return Err(OrderError::OutOfStock {
                sku,
                title,
                available,
            });
        };
        let product_id: i64 = row.try_get("product_id")?;
        let product =
            sqlx::query("select slug, title, status, producer_id from products where id = $1")
                .bind(product_id)
                .fetch_one(&mut *tx)
                .await?;
        let title: String = product.try_get("title")?;
        if product.try_get::<String, _>("status")? != "published" {
            return Err(OrderError::NotForSale(title));
        }
        // Never charge a price the buyer has not seen: a change is accepted in the cart first.
        if row.try_get::<i64, _>("price_fen")? != price_seen {
            return Err(OrderError::PriceChanged(title));
        }
        if row.try_get::<i64, _>("stock")? == 0 {
            emptied.push(ProductId(product_id));
        }
        taken.push(Taken {
            sku,
            producer_id: product.try_get("producer_id")?,
            slug: product.try_get("slug")?,
            title,
            sku_name: row.try_get("name")?,
            price: Fen(row.try_get("price_fen")?),
            quantity,
            weight_g: row.try_get("weight_g")?,
        });
    }

    let mut by_producer: BTreeMap<i64, Vec<&Taken>> = BTreeMap::new();
    for t in &taken {
        by_producer.entry(t.producer_id).or_default().push(t);
    }
    let producers: Vec<i64> = by_producer.keys().copied().collect();
    let rules = shipping::rules_for(&mut tx, &producers).await?;
    let mut parts = Vec::new();
    for (producer, lines) in &by_producer {
        let items: i64 = lines.iter().map(|t| t.price.0 * t.quantity).sum();
        let weight: i64 = lines.iter().map(|t| t.weight_g * t.quantity).sum();
        let rule = rules
            .get(producer)
            .copied()
            .unwrap_or(shipping::DEFAULT_RULE);
        parts.push((*producer, Fen(items), rule.fee(Fen(items), weight)));
    }
    let items_total: i64 = parts.iter().map(|(_, items, _)| items.0).sum();
    let shipping_total: i64 = parts.iter().map(|(_, _, fee)| fee.0).sum();
    let total = Fen(items_total + shipping_total);

    let number = order_number(now);
    let order_id: i64 = sqlx::query_scalar(
        "insert into orders (number, user_id, status, recipient, phone, region_code, address_detail,
             items_fen, shipping_fen, total_fen, payment_method, payment_reference, expires_at,
             created_at, updated_at)
         values ($1, $2, 'awaiting_payment', $3, $4, $5, $6, $7, $8, $9, $10, $1, $11, $12, $12)
         returning id",
    )
    .bind(&number)
    .bind(buyer)
    .bind(&address.recipient)
    .bind(&address.phone)
    .bind(&address.region_code)
    .bind(&address.detail)
    .bind(items_total)
    .bind(shipping_total)
    .bind(total.0)
    .bind(method.as_str())
    .bind(now + hold_ms)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        order_id,
        None,
        Actor::Buyer(buyer),
        None,
        "awaiting_payment",
        "",
        now,
    )
    .await?;

    for (producer, items, fee) in &parts {
        let part_id: i64 = sqlx::query_scalar(
            "insert into order_parts (order_id, producer_id, status, items_fen, shipping_fen)
             values ($1, $2, 'pending', $3, $4) returning id",
        )
        .bind(order_id)
        .bind(producer)
        .bind(items.0)
        .bind(fee.0)
        .fetch_one(&mut *tx)
        .await?;
        for t in &by_producer[producer] {
            sqlx::query(
                "insert into order_lines (order_id, part_id, sku_id, product_slug, title, sku_name,
                     unit_price_fen, quantity, line_fen)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(order_id)
            .bind(part_id)
            .bind(t.sku)
            .bind(&t.slug)
            .bind(&t.title)
            .bind(&t.sku_name)
            .bind(t.price.0)
            .bind(t.quantity)
            .bind(t.price.0 * t.quantity)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "insert into stock_reservations (order_id, sku_id, quantity, status, updated_at)
                 values ($1, $2, $3, 'held', $4)",
            )
            .bind(order_id)
            .bind(t.sku)
            .bind(t.quantity)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    cart::clear(&mut tx, Owner::User(buyer), now).await?;
    jinguo_catalog::outbox::enqueue(&mut tx, &emptied, now).await?;
    notify::notify(
        &mut tx,
        buyer,
        Some(order_id),
        "order_placed",
        json!({ "number": number }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Placed {
        order_id,
        number,
        total,
        notice: restriction
            .filter(|r| r.level == Level::Restricted)
            .map(|r| r.notice),
    })
}
