//! Stock and offers: how many units of each SKU are free to sell, and what a buyer is offered
//! for it. The order crate calls these inside its own transactions (checkout takes units in the
//! order's transaction; a cancelled or expired order gives them back in its own), so this module
//! is the only place that writes a SKU's stock.

use jinguo_common::db::SqlBuf;
use jinguo_common::money::Fen;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

use crate::image::ImageId;
use crate::producer::ProducerId;
use crate::product::{ProductId, ProductStatus, SkuId};

/// One SKU as a cart and checkout see it: its product, producer, price and stock now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub sku: SkuId,
    pub sku_name: String,
    pub product: ProductId,
    pub product_slug: String,
    pub title: String,
    pub title_en: String,
    pub status: ProductStatus,
    pub producer: ProducerId,
    pub producer_name: String,
    pub producer_slug: String,
    pub image_id: Option<ImageId>,
    pub price: Fen,
    pub stock: i64,
    pub weight_g: i64,
}

impl Offer {
    pub fn for_sale(&self) -> bool {
        self.status == ProductStatus::Published
    }
}

/// The offers for these SKUs (missing ones are left out), in one query.
pub async fn offers(
    conn: &mut AnyConnection,
    skus: &[SkuId],
) -> Result<HashMap<SkuId, Offer>, sqlx::Error> {
    if skus.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = SqlBuf::new(
        "select s.id, s.name, s.price_fen, s.stock, s.weight_g, p.id as product_id, p.slug,
                p.title, p.title_en, p.status, p.producer_id, pr.name as producer_name,
                pr.slug as producer_slug,
                (select pi.image_id from product_images pi where pi.product_id = p.id
                 order by pi.position, pi.image_id limit 1) as image_id
         from skus s
         join products p on p.id = s.product_id
         join producers pr on pr.id = p.producer_id
         where s.id in ",
    );
    sql.bind_list(skus.iter().map(|s| s.0));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let offer = Offer {
                sku: r.try_get("id")?,
                sku_name: r.try_get("name")?,
                product: r.try_get("product_id")?,
                product_slug: r.try_get("slug")?,
                title: r.try_get("title")?,
                title_en: r.try_get("title_en")?,
                status: r.try_get("status")?,
                producer: r.try_get("producer_id")?,
                producer_name: r.try_get("producer_name")?,
                producer_slug: r.try_get("producer_slug")?,
                image_id: r.try_get("image_id")?,
                price: r.try_get("price_fen")?,
                stock: r.try_get("stock")?,
                weight_g: r.try_get("weight_g")?,
            };
            Ok((offer.sku, offer))
        })
        .collect()
}

/// Units taken from a SKU's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub product: ProductId,
    /// The SKU's price as the stock was taken (what the buyer pays).
    pub price: Fen,
    /// What is left after taking.
    pub left: i64,
}

/// Takes `quantity` units of `sku` if that many are left: one conditional decrement
/// (`stock >= quantity`), so stock never goes below zero and no unit is sold twice, whatever
/// else runs at the same time. `None` when fewer are left (or there is no such SKU); nothing
/// is taken then.
pub async fn take(
    conn: &mut AnyConnection,
    sku: SkuId,
    quantity: i64,
) -> Result<Option<Taken>, sqlx::Error> {
    let row = sqlx::query(
        "update skus set stock = stock - $1 where id = $2 and stock >= $1
         returning product_id, price_fen, stock",
    )
    .bind(quantity)
    .bind(sku)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Taken {
            product: r.try_get("product_id")?,
            price: r.try_get("price_fen")?,
            left: r.try_get("stock")?,
        })
    })
    .transpose()
}

/// Gives `quantity` units back to `sku`'s stock (an order cancelled, expired or returned before
/// shipping). Returns the product when its SKU had none left before: its search document
/// changes (in stock again).
pub async fn give_back(
    conn: &mut AnyConnection,
    sku: SkuId,
    quantity: i64,
) -> Result<Option<ProductId>, sqlx::Error> {
    let row =
        sqlx::query("update skus set stock = stock + $1 where id = $2 returning stock, product_id")
            .bind(quantity)
            .bind(sku)
            .fetch_one(conn)
            .await?;
    let stock: i64 = row.try_get("stock")?;
    let product: ProductId = row.try_get("product_id")?;
    Ok((stock == quantity).then_some(product))
}

/// How many units of `sku` are free to sell now (0 for no such SKU).
pub async fn available(conn: &mut AnyConnection, sku: SkuId) -> Result<i64, sqlx::Error> {
    let stock: Option<i64> = sqlx::query_scalar("select stock from skus where id = $1")
        .bind(sku)
        .fetch_optional(conn)
        .await?;
    Ok(stock.unwrap_or(0))
}
