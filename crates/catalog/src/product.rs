//! Products and their SKUs: what is for sale, at what price (fen) and how many are left.

use jinguo_common::clock::Millis;
use jinguo_common::db::flag;
use jinguo_common::money::Fen;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::batch::Batch;
use crate::category::Category;
use crate::error::{check_len, check_slug, check_text};
use crate::image::ImageId;
use crate::producer::{Producer, ProducerId};
use crate::{CatalogError, CategoryId};
use jinguo_common::invalid::{Field, Problem};

jinguo_common::id_type!(ProductId);
jinguo_common::id_type!(SkuId);

/// Most SKUs one product may have.
pub const MAX_SKUS: usize = 20;
/// Most tags one product may have.
pub const MAX_TAGS: usize = 10;
/// Highest price of one SKU: ¥1,000,000.00.
pub const MAX_PRICE_FEN: i64 = 100_000_000;
/// Highest stock of one SKU.
pub const MAX_STOCK: i64 = 1_000_000;

jinguo_common::text_enum! {
    pub enum ProductStatus {
        Draft = "draft",
        Published = "published",
        Unpublished = "unpublished",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: ProductId,
    pub slug: String,
    pub producer_id: ProducerId,
    pub category_id: CategoryId,
    pub title: String,
    pub title_en: String,
    pub description: String,
    pub description_en: String,
    pub unit: String,
    pub origin: String,
    pub shelf_life_days: Option<i64>,
    pub tags: Vec<String>,
    pub status: ProductStatus,
    pub featured: bool,
    pub handicraft: bool,
    pub sales: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sku {
    pub id: SkuId,
    pub product_id: ProductId,
    pub name: String,
    pub price: Fen,
    pub stock: i64,
    pub weight_g: i64,
}

/// The producer as a product card shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProducerRef {
    pub slug: String,
    pub name: String,
    pub name_en: String,
    pub district_code: String,
    pub verified: bool,
}

/// A product as listings show it: the lowest SKU price and the stock of all SKUs together.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProductSummary {
    pub id: ProductId,
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub category_slug: String,
    /// Lowest SKU price.
    pub price: Fen,
    /// Highest SKU price.
    pub price_max: Fen,
    pub stock: i64,
    pub image_id: Option<ImageId>,
    pub producer: ProducerRef,
    pub sales: i64,
    pub created_at: Millis,
}

/// Everything the product page shows.
#[derive(Debug, Clone, Serialize)]
pub struct ProductDetail {
    pub product: Product,
    pub producer: Producer,
    pub category: Category,
    pub skus: Vec<Sku>,
    pub images: Vec<ImageId>,
    /// Newest first.
    pub batches: Vec<Batch>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewSku {
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
    #[serde(default)]
    pub weight_g: i64,
}

impl NewSku {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_text(Field::SkuName, &self.name, 40)?;
        check_price(self.price_fen)?;
        check_stock(self.stock)?;
        if !(0..=1_000_000).contains(&self.weight_g) {
            return Err(CatalogError::invalid(
                Field::WeightG,
                Problem::Range {
                    min: 0,
                    max: 1_000_000,
                },
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_price(price_fen: i64) -> Result<(), CatalogError> {
    if !(1..=MAX_PRICE_FEN).contains(&price_fen) {
        return Err(CatalogError::invalid(
            Field::Price,
            Problem::AmountRange {
                min: Fen(1),
                max: Fen(MAX_PRICE_FEN),
            },
        ));
    }
    Ok(())
}

pub(crate) fn check_stock(stock: i64) -> Result<(), CatalogError> {
    if !(0..=MAX_STOCK).contains(&stock) {
        return Err(CatalogError::invalid(
            Field::Stock,
            Problem::Range {
                min: 0,
                max: MAX_STOCK,
            },
        ));
    }
    Ok(())
}

/// A product as written by a producer, staff or the demo seed. Producer and category are named
/// by slug.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProduct {
    pub slug: String,
    pub producer: String,
    pub category: String,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub description_en: String,
    pub unit: String,
    #[serde(default)]
    pub origin: String,
    pub shelf_life_days: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub featured: bool,
    #[serde(default)]
    pub handicraft: bool,
    pub skus: Vec<NewSku>,
}

impl NewProduct {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_slug(Field::Slug, &self.slug)?;
        check_text(Field::Title, &self.title, 120)?;
        check_len(Field::TitleEn, &self.title_en, 200)?;
        check_len(Field::Description, &self.description, 5000)?;
        check_len(Field::DescriptionEn, &self.description_en, 5000)?;
        check_text(Field::Unit, &self.unit, 10)?;
        check_len(Field::Origin, &self.origin, 120)?;
        if let Some(days) = self.shelf_life_days
            && !(1..=36_500).contains(&days)
        {
            return Err(CatalogError::invalid(
                Field::ShelfLifeDays,
                Problem::Range {
                    min: 1,
                    max: 36_500,
                },
            ));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(CatalogError::invalid(
                Field::Tags,
                Problem::TooMany { max: MAX_TAGS },
            ));
        }
        for tag in &self.tags {
            check_text(Field::Tags, tag, 20)?;
            if let Some(comma) = tag.chars().find(|c| matches!(c, ',' | '，')) {
                return Err(CatalogError::invalid(
                    Field::Tags,
                    Problem::BadCharacter { character: comma },
                ));
            }
        }
        if self.skus.is_empty() || self.skus.len() > MAX_SKUS {
            return Err(CatalogError::invalid(
                Field::Skus,
                Problem::Range {
                    min: 1,
                    max: MAX_SKUS as i64,
                },
            ));
        }
        for sku in &self.skus {
            sku.validate()?;
        }
        Ok(())
    }
}

pub(crate) const COLUMNS: &str = "p.id, p.slug, p.producer_id, p.category_id, p.title, p.title_en, \
    p.description, p.description_en, p.unit, p.origin, p.shelf_life_days, p.tags, p.status, \
    p.featured, p.handicraft, p.sales, p.created_at, p.updated_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<Product, sqlx::Error> {
    let tags: String = row.try_get("tags")?;
    Ok(Product {
        id: ProductId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        producer_id: ProducerId(row.try_get("producer_id")?),
        category_id: CategoryId(row.try_get("category_id")?),
        title: row.try_get("title")?,
        title_en: row.try_get("title_en")?,
        description: row.try_get("description")?,
        description_en: row.try_get("description_en")?,
        unit: row.try_get("unit")?,
        origin: row.try_get("origin")?,
        shelf_life_days: row.try_get("shelf_life_days")?,
        tags: split_tags(&tags),
        status: row.try_get("status")?,
        featured: flag(row, "featured")?,
        handicraft: flag(row, "handicraft")?,
        sales: row.try_get("sales")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn sku_from_row(row: &AnyRow) -> Result<Sku, sqlx::Error> {
    Ok(Sku {
        id: SkuId(row.try_get("id")?),
        product_id: ProductId(row.try_get("product_id")?),
        name: row.try_get("name")?,
        price: Fen(row.try_get("price_fen")?),
        stock: row.try_get("stock")?,
        weight_g: row.try_get("weight_g")?,
    })
}

/// The columns of a [`ProductSummary`], over `products p`, `producers pr`, `categories c` and the
/// per-product SKU aggregate `s` (see [`SUMMARY_FROM`]).
pub(crate) const SUMMARY_COLUMNS: &str = "p.id, p.slug, p.title, p.title_en, p.sales, p.created_at, \
    c.slug as category_slug, s.price_fen, s.max_price_fen, s.stock, \
    (select pi.image_id from product_images pi where pi.product_id = p.id \
     order by pi.position, pi.image_id limit 1) as image_id, \
    pr.slug as producer_slug, pr.name as producer_name, pr.name_en as producer_name_en, \
    pr.district_code, pr.verified";

pub(crate) const SUMMARY_FROM: &str = " from products p \
    join producers pr on pr.id = p.producer_id \
    join categories c on c.id = p.category_id \
    join (select product_id, min(price_fen) as price_fen, max(price_fen) as max_price_fen, \
          cast(sum(stock) as bigint) as stock \
          from skus group by product_id) s on s.product_id = p.id";

pub(crate) fn summary_from_row(row: &AnyRow) -> Result<ProductSummary, sqlx::Error> {
    Ok(ProductSummary {
        id: ProductId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        title_en: row.try_get("title_en")?,
        category_slug: row.try_get("category_slug")?,
        price: Fen(row.try_get("price_fen")?),
        price_max: Fen(row.try_get("max_price_fen")?),
        stock: row.try_get("stock")?,
        image_id: row.try_get::<Option<i64>, _>("image_id")?.map(ImageId),
        producer: ProducerRef {
            slug: row.try_get("producer_slug")?,
            name: row.try_get("producer_name")?,
            name_en: row.try_get("producer_name_en")?,
            district_code: row.try_get("district_code")?,
            verified: flag(row, "verified")?,
        },
        sales: row.try_get("sales")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn by_slug(conn: &mut AnyConnection, slug: &str) -> Result<Option<Product>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from products p where p.slug = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(
    conn: &mut AnyConnection,
    id: ProductId,
) -> Result<Option<Product>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from products p where p.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn skus_of(conn: &mut AnyConnection, id: ProductId) -> Result<Vec<Sku>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, product_id, name, price_fen, stock, weight_g from skus
         where product_id = $1 order by position, id",
    )
    .bind(id.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(sku_from_row).collect()
}

pub async fn sku(conn: &mut AnyConnection, id: SkuId) -> Result<Option<Sku>, sqlx::Error> {
    let row = sqlx::query(
        "select id, product_id, name, price_fen, stock, weight_g from skus where id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(sku_from_row).transpose()
}

pub async fn images_of(
    conn: &mut AnyConnection,
    id: ProductId,
) -> Result<Vec<ImageId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select image_id from product_images where product_id = $1 order by position, image_id",
    )
    .bind(id.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(ImageId).collect())
}

/// Inserts the product and its SKUs unless a product with its slug exists; returns its id and
/// whether it was new. Records a search outbox row for a new product.
pub async fn insert_if_missing(
    conn: &mut AnyConnection,
    new: &NewProduct,
    producer_id: ProducerId,
    category_id: CategoryId,
    status: ProductStatus,
    now: Millis,
) -> Result<(ProductId, bool), CatalogError> {
    new.validate()?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into products (slug, producer_id, category_id, title, title_en, description,
             description_en, unit, origin, shelf_life_days, tags, status, featured, handicraft,
             created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
         on conflict (slug) do nothing
         returning id",
    )
    .bind(&new.slug)
    .bind(producer_id.0)
    .bind(category_id.0)
    .bind(&new.title)
    .bind(&new.title_en)
    .bind(&new.description)
    .bind(&new.description_en)
    .bind(&new.unit)
    .bind(&new.origin)
    .bind(new.shelf_life_days)
    .bind(new.tags.join(","))
    .bind(status.as_str())
    .bind(new.featured)
    .bind(new.handicraft)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = inserted else {
        let id: i64 = sqlx::query_scalar("select id from products where slug = $1")
            .bind(&new.slug)
            .fetch_one(&mut *conn)
            .await?;
        return Ok((ProductId(id), false));
    };
    for (position, sku) in new.skus.iter().enumerate() {
        sqlx::query(
            "insert into skus (product_id, name, price_fen, stock, weight_g, position)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&sku.name)
        .bind(sku.price_fen)
        .bind(sku.stock)
        .bind(sku.weight_g)
        .bind(position as i64)
        .execute(&mut *conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => CatalogError::invalid(
                Field::Skus,
                Problem::Duplicate {
                    value: sku.name.clone(),
                },
            ),
            other => other.into(),
        })?;
    }
    crate::outbox::enqueue(conn, &[ProductId(id)], now).await?;
    Ok((ProductId(id), true))
}

pub async fn add_image(
    conn: &mut AnyConnection,
    product: ProductId,
    image: ImageId,
    position: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into product_images (product_id, image_id, position) values ($1, $2, $3)
         on conflict (product_id, image_id) do nothing",
    )
    .bind(product.0)
    .bind(image.0)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    crate::outbox::enqueue(conn, &[product], now).await?;
    Ok(())
}

/// Sets a SKU's price; the product's search document follows through the outbox.
pub async fn set_price(
    conn: &mut AnyConnection,
    sku: SkuId,
    price: Fen,
    now: Millis,
) -> Result<(), CatalogError> {
    check_price(price.0)?;
    let product: Option<i64> =
        sqlx::query_scalar("update skus set price_fen = $1 where id = $2 returning product_id")
            .bind(price.0)
            .bind(sku.0)
            .fetch_optional(&mut *conn)
            .await?;
    let product = product.ok_or_else(|| CatalogError::not_found("SKU", sku.to_string()))?;
    touch(conn, ProductId(product), now).await
}

/// Sets a SKU's stock to a counted number (a producer's stock-take, not a sale).
pub async fn set_stock(
    conn: &mut AnyConnection,
    sku: SkuId,
    stock: i64,
    now: Millis,
) -> Result<(), CatalogError> {
    check_stock(stock)?;
    let product: Option<i64> =
        sqlx::query_scalar("update skus set stock = $1 where id = $2 returning product_id")
            .bind(stock)
            .bind(sku.0)
            .fetch_optional(&mut *conn)
            .await?;
    let product = product.ok_or_else(|| CatalogError::not_found("SKU", sku.to_string()))?;
    touch(conn, ProductId(product), now).await
}

pub async fn set_status(
    conn: &mut AnyConnection,
    product: ProductId,
    status: ProductStatus,
    now: Millis,
) -> Result<(), CatalogError> {
    let done = sqlx::query("update products set status = $1, updated_at = $2 where id = $3")
        .bind(status.as_str())
        .bind(now)
        .bind(product.0)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::not_found("product", product.to_string()));
    }
    crate::outbox::enqueue(conn, &[product], now).await?;
    Ok(())
}

/// Marks the product changed and queues its search document.
async fn touch(
    conn: &mut AnyConnection,
    product: ProductId,
    now: Millis,
) -> Result<(), CatalogError> {
    sqlx::query("update products set updated_at = $1 where id = $2")
        .bind(now)
        .bind(product.0)
        .execute(&mut *conn)
        .await?;
    crate::outbox::enqueue(conn, &[product], now).await?;
    Ok(())
}

/// Ids of the producer's products, for queueing their search documents when the producer changes.
pub async fn ids_of_producer(
    conn: &mut AnyConnection,
    producer: ProducerId,
) -> Result<Vec<ProductId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar("select id from products where producer_id = $1")
        .bind(producer.0)
        .fetch_all(conn)
        .await?;
    Ok(ids.into_iter().map(ProductId).collect())
}

/// One of a producer's SKUs as its stock page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProducerSku {
    pub id: SkuId,
    pub product_title: String,
    pub product_slug: String,
    pub name: String,
    pub price: Fen,
    pub stock: i64,
}

/// Every SKU of the producer's products, by product title.
pub async fn skus_of_producer(
    conn: &mut AnyConnection,
    producer: ProducerId,
) -> Result<Vec<ProducerSku>, sqlx::Error> {
    let rows = sqlx::query(
        "select s.id, s.name, s.price_fen, s.stock, p.slug, p.title from skus s
         join products p on p.id = s.product_id
         where p.producer_id = $1 order by p.title, s.id",
    )
    .bind(producer)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ProducerSku {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                price: r.try_get("price_fen")?,
                stock: r.try_get("stock")?,
                product_slug: r.try_get("slug")?,
                product_title: r.try_get("title")?,
            })
        })
        .collect()
}

/// The producer whose product the SKU is.
pub async fn producer_of_sku(
    conn: &mut AnyConnection,
    sku: SkuId,
) -> Result<Option<ProducerId>, sqlx::Error> {
    sqlx::query_scalar(
        "select p.producer_id from skus s join products p on p.id = s.product_id where s.id = $1",
    )
    .bind(sku)
    .fetch_optional(conn)
    .await
}

/// Everything a product page shows about `product`: its producer, category, SKUs, images and
/// batches.
pub async fn detail(
    conn: &mut AnyConnection,
    product: Product,
) -> Result<ProductDetail, CatalogError> {
    let producer = crate::producer::by_id(conn, product.producer_id)
        .await?
        .ok_or_else(|| CatalogError::not_found("producer", product.producer_id.to_string()))?;
    let category = crate::category::by_id(conn, product.category_id)
        .await?
        .ok_or_else(|| CatalogError::not_found("category", product.category_id.to_string()))?;
    let skus = skus_of(conn, product.id).await?;
    let images = images_of(conn, product.id).await?;
    let batches = crate::batch::of_product(conn, product.id).await?;
    Ok(ProductDetail {
        product,
        producer,
        category,
        skus,
        images,
        batches,
    })
}
