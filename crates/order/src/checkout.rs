//! Placing an order: one transaction that checks the delivery region, takes each SKU's units with
//! a conditional decrement (`stock >= wanted`, so stock never goes below zero and no unit is sold
//! twice, whatever else runs at the same time), splits the goods into one part per producer with
//! that producer's shipping fee, and empties the cart. Prices come from the catalog, never from
//! the buyer. A new address the order goes to joins the buyer's address book in the same
//! transaction.

use jinguo_catalog::stock;
use jinguo_catalog::{ProductId, SkuId};
use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::money::Fen;
use serde_json::json;
use std::collections::BTreeMap;

use crate::address::{self, NewAddress};
use crate::cart::{self, Owner};
use crate::ids::{OrderId, PartId};
use crate::orders::{HistoryRow, record_event};
use crate::payment::PaymentMethod;
use crate::region::{self, Level};
use crate::shipping;
use crate::state::{Actor, OrderStatus};
use crate::{OrderError, notify};

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub order_id: OrderId,
    pub number: String,
    pub total: Fen,
    /// The restriction notice of the delivery region, when it has one.
    pub notice: Option<String>,
}

struct Taken {
    sku: SkuId,
    producer_id: ProducerId,
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

/// What an order is made of: the buyer's cart (emptied by the order; a price changed since it
/// was put there is refused), or lines sent with the purchase itself (one request, at today's
/// prices; the cart is left alone).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lines<'a> {
    Cart,
    Given(&'a [(SkuId, i64)]),
}

/// The lines of a one-request purchase, checked: 1 to [`cart::MAX_LINES`] SKUs, each once, each
/// 1 to [`cart::MAX_QUANTITY`] units; sorted by SKU like a cart's.
pub fn check_lines(lines: &[(SkuId, i64)]) -> Result<Vec<(SkuId, i64)>, OrderError> {
    use jinguo_common::invalid::{Field, Invalid, Problem};
    if lines.is_empty() {
        return Err(OrderError::EmptyCart);
    }
    if lines.len() > cart::MAX_LINES as usize {
        return Err(OrderError::Invalid(Invalid::new(
            Field::Skus,
            Problem::TooMany {
                max: cart::MAX_LINES as usize,
            },
        )));
    }
    let mut sorted = lines.to_vec();
    sorted.sort_by_key(|(sku, _)| *sku);
    for pair in sorted.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(OrderError::Invalid(Invalid::new(
                Field::Sku,
                Problem::Duplicate {
                    value: pair[0].0.to_string(),
                },
            )));
        }
    }
    for (_, quantity) in &sorted {
        jinguo_common::invalid::range(Field::Quantity, *quantity, 1, cart::MAX_QUANTITY)?;
    }
    Ok(sorted)
}

/// Places the buyer's cart, or the lines given, as an order to `address` (already checked).
/// With `remember`, the address joins the buyer's address book.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn place(
    db: &Db,
    buyer: UserId,
    address: &NewAddress,
    remember: bool,
    method: PaymentMethod,
    now: Millis,
    hold_ms: Millis,
    lines: Lines<'_>,
) -> Result<Placed, OrderError> {
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
    let items: Vec<(SkuId, i64, Option<Fen>)> = match lines {
        Lines::Cart => cart::items(&mut tx, Owner::User(buyer), now)
            .await?
            .into_iter()
            .map(|(sku, quantity, seen)| (sku, quantity, Some(seen)))
            .collect(),
        Lines::Given(given) => check_lines(given)?
            .into_iter()
            .map(|(sku, quantity)| (sku, quantity, None))
            .collect(),
    };
    if items.is_empty() {
        return Err(OrderError::EmptyCart);
    }
    let skus: Vec<SkuId> = items.iter().map(|(sku, _, _)| *sku).collect();
    let offers = stock::offers(&mut tx, &skus).await?;
    let mut taken = Vec::with_capacity(items.len());
    let mut emptied: Vec<ProductId> = Vec::new();
    for (sku, quantity, price_seen) in items {
        let offer = offers.get(&sku).ok_or(OrderError::NotFound)?;
        if !offer.for_sale() {
            return Err(OrderError::NotForSale(offer.title.clone()));
        }
        let Some(took) = stock::take(&mut tx, sku, quantity).await? else {
            return Err(OrderError::OutOfStock {
                sku,
                title: offer.title.clone(),
                available: stock::available(&mut tx, sku).await?,
            });
        };
        // Never charge a price the buyer has not seen: a change is accepted in the cart first.
        if price_seen.is_some_and(|seen| took.price != seen) {
            return Err(OrderError::PriceChanged(offer.title.clone()));
        }
        if took.left == 0 {
            emptied.push(took.product);
        }
        taken.push(Taken {
            sku,
            producer_id: offer.producer,
            slug: offer.product_slug.clone(),
            title: offer.title.clone(),
            sku_name: offer.sku_name.clone(),
            price: took.price,
            quantity,
            weight_g: offer.weight_g,
        });
    }

    let mut by_producer: BTreeMap<ProducerId, Vec<&Taken>> = BTreeMap::new();
    for t in &taken {
        by_producer.entry(t.producer_id).or_default().push(t);
    }
    let producers: Vec<ProducerId> = by_producer.keys().copied().collect();
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
    let order_id: OrderId = sqlx::query_scalar(
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
    .bind(total)
    .bind(method)
    .bind(now + hold_ms)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        HistoryRow {
            order: order_id,
            part: None,
            actor: Actor::Buyer(buyer),
            from: None,
            to: OrderStatus::AwaitingPayment.as_str(),
            reason: "",
            at: now,
        },
    )
    .await?;

    for (producer, items, fee) in &parts {
        let part_id: PartId = sqlx::query_scalar(
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
    if matches!(lines, Lines::Cart) {
        cart::clear(&mut tx, Owner::User(buyer), now).await?;
    }
    if remember {
        address::remember(&mut tx, buyer, address, now).await?;
    }
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
