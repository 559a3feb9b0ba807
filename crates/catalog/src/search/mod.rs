//! Product search behind one trait, so that a shop with a Meilisearch server and a shop with
//! none behave the same to a shopper. The embedded backend (tantivy with jieba segmentation) is
//! the default. Backends receive [`ProductDocument`]s, built here from the tables, and are kept in
//! step by the [outbox](crate::outbox).

pub mod embedded;
pub mod meili;
pub mod tokenizer;

use async_trait::async_trait;
use jinguo_common::region::regions;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

use crate::listing::ListingQuery;
use crate::product::ProductId;
use jinguo_common::db::{SqlBuf, flag};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SearchError {
    #[error("the {backend} search backend cannot be reached: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
    #[error("the {backend} search backend failed: {message}")]
    Failed {
        backend: &'static str,
        message: String,
    },
}

/// What a search backend stores about one published product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductDocument {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub tags: Vec<String>,
    pub producer_name: String,
    pub producer_name_en: String,
    /// The district's official and everyday names, e.g. `城口县 城口`.
    pub district: String,
    pub district_code: String,
    /// Category slug.
    pub category: String,
    pub category_name: String,
    pub producer_kind: String,
    pub description: String,
    /// Last day of the producer's certificate as `YYYYMMDD`, or 0 when the producer is not
    /// verified or has no certificate; "certified" means this is today or later.
    pub certified_until: i64,
    pub in_stock: bool,
    /// Lowest SKU price.
    pub price_fen: i64,
    pub created_at: i64,
    pub sales: i64,
    pub featured: bool,
}

/// Told `(done, total)` as a long job advances.
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A progress report that goes nowhere.
pub fn no_progress() -> Progress {
    std::sync::Arc::new(|_, _| {})
}

/// Counts of matching products per filter value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Facets {
    pub category: BTreeMap<String, u64>,
    pub district: BTreeMap<String, u64>,
    pub producer_kind: BTreeMap<String, u64>,
    /// `"true"`: products of certified producers; `"false"`: the rest.
    pub certified: BTreeMap<String, u64>,
}

/// One page of search results: ids in rank order and what the backend knows about them.
#[derive(Debug, Clone, Default)]
pub struct SearchHits {
    pub ids: Vec<ProductId>,
    pub total: u64,
    pub facets: Facets,
    /// Title with matches marked `<mark>…</mark>`, everything else HTML-escaped.
    pub highlights: HashMap<ProductId, String>,
}

#[async_trait]
pub trait ProductSearch: Send + Sync + 'static {
    /// `embedded` or `meilisearch`.
    fn name(&self) -> &'static str;

    /// Adds or replaces these documents.
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<(), SearchError>;

    /// Removes these products (unpublished or deleted); unknown ids are ignored.
    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError>;

    /// Replaces the whole index with `docs`; searches keep answering from the old index until
    /// the new one is complete. `progress` is told how many documents are in, of how many.
    async fn rebuild(
        &self,
        docs: Vec<ProductDocument>,
        progress: Progress,
    ) -> Result<(), SearchError>;

    /// Number of documents in the index.
    async fn count(&self) -> Result<u64, SearchError>;

    /// Every document in the index, to compare with the database.
    async fn dump(&self) -> Result<Vec<ProductDocument>, SearchError>;

    /// The products matching the query's text and filters, sorted and paged as it asks;
    /// `today` is `YYYYMMDD` for the certified filter.
    async fn search(&self, query: &ListingQuery, today: i64) -> Result<SearchHits, SearchError>;
}

/// `2026-11-29` → `20261129`
pub fn date_number(date: time::Date) -> i64 {
    i64::from(date.year()) * 10_000
        + i64::from(u8::from(date.month())) * 100
        + i64::from(date.day())
}

/// Builds the documents of the given products. Returns the documents of those that are
/// published and the ids of those that are not (or no longer exist), to delete.
pub async fn documents_for(
    conn: &mut AnyConnection,
    ids: &[ProductId],
) -> Result<(Vec<ProductDocument>, Vec<ProductId>), sqlx::Error> {
    let mut sql = SqlBuf::new(DOCUMENT_SELECT);
    sql.push(" where p.status = 'published' and p.id in ")
        .bind_list(ids.iter().map(|id| id.0));
    let docs = read_documents(conn, &sql).await?;
    let found: std::collections::HashSet<i64> = docs.iter().map(|d| d.id).collect();
    let gone = ids
        .iter()
        .copied()
        .filter(|id| !found.contains(&id.0))
        .collect();
    Ok((docs, gone))
}

/// Documents of every published product, for a rebuild.
pub async fn all_documents(conn: &mut AnyConnection) -> Result<Vec<ProductDocument>, sqlx::Error> {
    let mut sql = SqlBuf::new(DOCUMENT_SELECT);
    sql.push(" where p.status = 'published' order by p.id");
    read_documents(conn, &sql).await
}

pub async fn published_count(conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("select count(*) from products where status = 'published'")
        .fetch_one(conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

const DOCUMENT_SELECT: &str = "select p.id, p.slug, p.title, p.title_en, p.tags, p.description, \
    p.created_at, p.sales, p.featured, \
    c.slug as category, c.name as category_name, \
    pr.name as producer_name, pr.name_en as producer_name_en, pr.district_code, pr.kind, \
    pr.verified, pr.certified_until, \
    s.price_fen, s.stock \
    from products p \
    join producers pr on pr.id = p.producer_id \
    join categories c on c.id = p.category_id \
    join (select product_id, min(price_fen) as price_fen, cast(sum(stock) as bigint) as stock \
          from skus group by product_id) s on s.product_id = p.id";

async fn read_documents(
    conn: &mut AnyConnection,
    sql: &SqlBuf,
) -> Result<Vec<ProductDocument>, sqlx::Error> {
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let district_code: String = row.try_get("district_code")?;
            let district = regions()
                .district(&district_code)
                .map(|d| format!("{} {}", d.name, d.short_name))
                .unwrap_or_default();
            let verified = flag(row, "verified")?;
            let certified_until: Option<String> = row.try_get("certified_until")?;
            let certified_until = match (verified, certified_until) {
                (true, Some(until)) => until.replace('-', "").parse().unwrap_or(0),
                _ => 0,
            };
            let tags: String = row.try_get("tags")?;
            let stock: i64 = row.try_get("stock")?;
            Ok(ProductDocument {
                id: row.try_get("id")?,
                slug: row.try_get("slug")?,
                title: row.try_get("title")?,
                title_en: row.try_get("title_en")?,
                tags: tags
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
                producer_name: row.try_get("producer_name")?,
                producer_name_en: row.try_get("producer_name_en")?,
                district,
                district_code,
                category: row.try_get("category")?,
                category_name: row.try_get("category_name")?,
                producer_kind: row.try_get("kind")?,
                description: row.try_get("description")?,
                certified_until,
                in_stock: stock > 0,
                price_fen: row.try_get("price_fen")?,
                created_at: row.try_get("created_at")?,
                sales: row.try_get("sales")?,
                featured: flag(row, "featured")?,
            })
        })
        .collect()
}
