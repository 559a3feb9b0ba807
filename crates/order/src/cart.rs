//! Carts. A guest's cart belongs to their session; a signed-in buyer's to their account, and a
//! guest cart is merged into it on sign-in. Prices and stock are read from the catalog (its
//! offers) every time the cart is shown; each line remembers the price it was added at, to say
//! when it changed.

use jinguo_catalog::SkuId;
use jinguo_catalog::image::ImageId;
use jinguo_catalog::stock::{self, Offer};
use jinguo_common::clock::Millis;
use jinguo_common::ids::{ProducerId, UserId};
use jinguo_common::invalid::{self, Field, Problem};
use jinguo_common::money::Fen;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

use crate::OrderError;
use crate::shipping::{self, ShippingRule};

/// Most units of one SKU on one line.
pub const MAX_QUANTITY: i64 = 99;
/// Most lines in one cart.
pub const MAX_LINES: i64 = 50;

/// Whose cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A guest, by session id.
    Session(i64),
    User(UserId),
}

impl Owner {
    fn column_and_id(self) -> (&'static str, i64) {
        match self {
            Owner::Session(id) => ("session_id", id),
            Owner::User(id) => ("user_id", id.0),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CartLine {
    pub sku_id: SkuId,
    pub product_slug: String,
    pub title: String,
    pub title_en: String,
    pub sku_name: String,
    pub producer_id: ProducerId,
    pub producer_name: String,
    pub producer_slug: String,
    pub image_id: Option<ImageId>,
    pub quantity: i64,
    /// The price now.
    pub price: Fen,
    /// The price when it was put in the cart.
    pub price_seen: Fen,
    pub stock: i64,
    pub weight_g: i64,
    /// The product is still for sale.
    pub available: bool,
}

impl CartLine {
    pub fn price_changed(&self) -> bool {
        self.price != self.price_seen
    }

    /// Fewer in stock than wanted.
    pub fn short(&self) -> bool {
        self.stock < self.quantity
    }

    pub fn total(&self) -> Fen {
        Fen(self.price.0 * self.quantity)
    }
}

/// The lines of one producer and what shipping them costs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CartPart {
    pub producer_id: ProducerId,
    pub producer_name: String,
    pub producer_slug: String,
    pub lines: Vec<CartLine>,
    pub items: Fen,
    pub shipping: Fen,
    pub rule: ShippingRule,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct CartView {
    pub parts: Vec<CartPart>,
    pub items: Fen,
    pub shipping: Fen,
    pub total: Fen,
    /// Units over all lines.
    pub count: i64,
    /// Some line cannot be bought as it stands (unavailable or short of stock). A changed price
    /// does not block the cart, but checkout refuses it until the buyer has accepted it.
    pub blocked: bool,
}

async fn cart_id(
    conn: &mut AnyConnection,
    owner: Owner,
    create: bool,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    let (column, id) = owner.column_and_id();
    let find = format!("select id from carts where {column} = $1");
    let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(find.clone()))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    if found.is_some() || !create {
        return Ok(found);
    }
    let insert = format!(
        "insert into carts ({column}, updated_at) values ($1, $2) on conflict ({column}) do nothing"
    );
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(sqlx::AssertSqlSafe(find))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The SKU as offered now, if its product is for sale.
async fn offer_for_sale(conn: &mut AnyConnection, sku: SkuId) -> Result<Offer, OrderError> {
    let offer = stock::offers(conn, &[sku])
        .await?
        .remove(&sku)
        .ok_or(OrderError::NotFound)?;
    if !offer.for_sale() {
        return Err(OrderError::NotForSale(offer.title));
    }
    Ok(offer)
}

fn check_quantity(quantity: i64) -> Result<(), OrderError> {
    invalid::range(Field::Quantity, quantity, 1, MAX_QUANTITY)?;
    Ok(())
}

/// Puts `quantity` more of a SKU in the cart (or sets it, with `replace`). Refuses more than is
/// in stock.
pub async fn put(
    conn: &mut AnyConnection,
    owner: Owner,
    sku: SkuId,
    quantity: i64,
    replace: bool,
    now: Millis,
) -> Result<(), OrderError> {
    check_quantity(quantity)?;
    let offer = offer_for_sale(conn, sku).await?;
    let cart = cart_id(conn, owner, true, now)
        .await?
        .ok_or(OrderError::NotFound)?;
    let current: Option<i64> =
        sqlx::query_scalar("select quantity from cart_items where cart_id = $1 and sku_id = $2")
            .bind(cart)
            .bind(sku)
            .fetch_optional(&mut *conn)
            .await?;
    let wanted = if replace {
        quantity
    } else {
        current.unwrap_or(0) + quantity
    };
    check_quantity(wanted)?;
    if wanted > offer.stock {
        return Err(OrderError::OutOfStock {
            sku,
            title: offer.title,
            available: offer.stock,
        });
    }
    if current.is_none() {
        let lines: i64 = sqlx::query_scalar("select count(*) from cart_items where cart_id = $1")
            .bind(cart)
            .fetch_one(&mut *conn)
            .await?;
        if lines >= MAX_LINES {
            return Err(OrderError::invalid(
                Field::Cart,
                Problem::TooMany {
                    max: MAX_LINES as usize,
                },
            ));
        }
    }
    sqlx::query(
        "insert into cart_items (cart_id, sku_id, quantity, price_seen_fen, added_at) values ($1, $2, $3, $4, $5)
         on conflict (cart_id, sku_id) do update set quantity = excluded.quantity",
    )
    .bind(cart)
    .bind(sku)
    .bind(wanted)
    .bind(offer.price)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("update carts set updated_at = $1 where id = $2")
        .bind(now)
        .bind(cart)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn remove(
    conn: &mut AnyConnection,
    owner: Owner,
    sku: SkuId,
    now: Millis,
) -> Result<(), OrderError> {
    if let Some(cart) = cart_id(conn, owner, false, now).await? {
        sqlx::query("delete from cart_items where cart_id = $1 and sku_id = $2")
            .bind(cart)
            .bind(sku)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Takes the price now as the price seen (the buyer has seen the change).
pub async fn acknowledge_prices(
    conn: &mut AnyConnection,
    owner: Owner,
    now: Millis,
) -> Result<(), OrderError> {
    let Some(cart) = cart_id(conn, owner, false, now).await? else {
        return Ok(());
    };
    let skus = skus_in(conn, cart).await?;
    for (sku, offer) in stock::offers(conn, &skus).await? {
        sqlx::query("update cart_items set price_seen_fen = $1 where cart_id = $2 and sku_id = $3")
            .bind(offer.price)
            .bind(cart)
            .bind(sku)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Moves a guest's cart into the account's (adding quantities, up to the limit).
pub async fn merge(
    conn: &mut AnyConnection,
    session: i64,
    user: UserId,
    now: Millis,
) -> Result<(), OrderError> {
    let Some(guest) = cart_id(conn, Owner::Session(session), false, now).await? else {
        return Ok(());
    };
    let mine = cart_id(conn, Owner::User(user), true, now)
        .await?
        .ok_or(OrderError::NotFound)?;
    let items = sqlx::query(
        "select sku_id, quantity, price_seen_fen, added_at from cart_items where cart_id = $1",
    )
    .bind(guest)
    .fetch_all(&mut *conn)
    .await?;
    for item in items {
        sqlx::query(
            "insert into cart_items (cart_id, sku_id, quantity, price_seen_fen, added_at) values ($1, $2, $3, $4, $5)
             on conflict (cart_id, sku_id) do update
             set quantity = case when cart_items.quantity + excluded.quantity > $6 then $6
                                 else cart_items.quantity + excluded.quantity end",
        )
        .bind(mine)
        .bind(item.try_get::<i64, _>("sku_id")?)
        .bind(item.try_get::<i64, _>("quantity")?)
        .bind(item.try_get::<i64, _>("price_seen_fen")?)
        .bind(item.try_get::<i64, _>("added_at")?)
        .bind(MAX_QUANTITY)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("delete from carts where id = $1")
        .bind(guest)
        .execute(conn)
        .await?;
    Ok(())
}

/// The cart as it stands now: today's prices and stock, grouped by producer, with shipping.
pub async fn view(
    conn: &mut AnyConnection,
    owner: Owner,
    now: Millis,
) -> Result<CartView, OrderError> {
    let Some(cart) = cart_id(conn, owner, false, now).await? else {
        return Ok(CartView::default());
    };
    let lines = sqlx::query(
        "select sku_id, quantity, price_seen_fen from cart_items where cart_id = $1
         order by added_at, sku_id",
    )
    .bind(cart)
    .fetch_all(&mut *conn)
    .await?;
    let skus: Vec<SkuId> = lines
        .iter()
        .map(|r| r.try_get("sku_id"))
        .collect::<Result<_, _>>()?;
    let offers = stock::offers(conn, &skus).await?;
    let mut by_producer: BTreeMap<ProducerId, Vec<CartLine>> = BTreeMap::new();
    for r in &lines {
        let sku: SkuId = r.try_get("sku_id")?;
        // A SKU the catalog no longer has leaves the cart's view (its row goes with it).
        let Some(offer) = offers.get(&sku) else {
            continue;
        };
        let line = CartLine {
            sku_id: sku,
            product_slug: offer.product_slug.clone(),
            title: offer.title.clone(),
            title_en: offer.title_en.clone(),
            sku_name: offer.sku_name.clone(),
            producer_id: offer.producer,
            producer_name: offer.producer_name.clone(),
            producer_slug: offer.producer_slug.clone(),
            image_id: offer.image_id,
            quantity: r.try_get("quantity")?,
            price: offer.price,
            price_seen: r.try_get("price_seen_fen")?,
            stock: offer.stock,
            weight_g: offer.weight_g,
            available: offer.for_sale(),
        };
        by_producer.entry(line.producer_id).or_default().push(line);
    }
    let producers: Vec<ProducerId> = by_producer.keys().copied().collect();
    let rules = shipping::rules_for(conn, &producers).await?;
    let mut view = CartView::default();
    for (producer_id, lines) in by_producer {
        let items = Fen(lines.iter().map(|l| l.total().0).sum());
        let weight: i64 = lines.iter().map(|l| l.weight_g * l.quantity).sum();
        let rule = rules
            .get(&producer_id)
            .copied()
            .unwrap_or(shipping::DEFAULT_RULE);
        let fee = rule.fee(items, weight);
        view.count += lines.iter().map(|l| l.quantity).sum::<i64>();
        view.blocked |= lines.iter().any(|l| !l.available || l.short());
        view.items = Fen(view.items.0 + items.0);
        view.shipping = Fen(view.shipping.0 + fee.0);
        view.parts.push(CartPart {
            producer_id,
            producer_name: lines[0].producer_name.clone(),
            producer_slug: lines[0].producer_slug.clone(),
            lines,
            items,
            shipping: fee,
            rule,
        });
    }
    view.total = Fen(view.items.0 + view.shipping.0);
    Ok(view)
}

/// Units in the cart (for the header).
pub async fn count(conn: &mut AnyConnection, owner: Owner) -> Result<i64, sqlx::Error> {
    let (column, id) = owner.column_and_id();
    let sql = format!(
        "select cast(coalesce(sum(ci.quantity), 0) as bigint) from cart_items ci join carts c on c.id = ci.cart_id
         where c.{column} = $1"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(conn)
        .await
}

/// The SKUs in a cart.
async fn skus_in(conn: &mut AnyConnection, cart: i64) -> Result<Vec<SkuId>, sqlx::Error> {
    sqlx::query_scalar("select sku_id from cart_items where cart_id = $1")
        .bind(cart)
        .fetch_all(conn)
        .await
}

/// The cart's lines as (SKU, quantity, the price the buyer last saw), in SKU order.
pub(crate) async fn items(
    conn: &mut AnyConnection,
    owner: Owner,
    now: Millis,
) -> Result<Vec<(SkuId, i64, Fen)>, sqlx::Error> {
    let Some(cart) = cart_id(conn, owner, false, now).await? else {
        return Ok(Vec::new());
    };
    let rows =
        sqlx::query("select sku_id, quantity, price_seen_fen from cart_items where cart_id = $1 order by sku_id")
            .bind(cart)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("sku_id")?,
                r.try_get("quantity")?,
                r.try_get("price_seen_fen")?,
            ))
        })
        .collect()
}

pub(crate) async fn clear(
    conn: &mut AnyConnection,
    owner: Owner,
    now: Millis,
) -> Result<(), sqlx::Error> {
    if let Some(cart) = cart_id(conn, owner, false, now).await? {
        sqlx::query("delete from cart_items where cart_id = $1")
            .bind(cart)
            .execute(conn)
            .await?;
    }
    Ok(())
}
