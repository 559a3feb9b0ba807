//! The catalog's operations as the storefront calls them: each opens what it needs from the pool,
//! runs its queries (one transaction for a write) and returns typed results or a
//! [`CatalogError`].

use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use jinguo_common::region::{District, regions};
use jinguo_common::{Clock, Db};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::CatalogError;
use crate::batch::{self, Trace};
use crate::category::{self, Category};
use crate::image::{self, ImageId, Size};
use crate::listing::{self, Browse, ListingQuery, Page, Sort};
use crate::outbox::{self, OutboxError};
use crate::producer::{self, Producer, ProducerId};
use crate::product::{self, ProductDetail, ProductId, ProductStatus, ProductSummary, SkuId};
use crate::search::embedded::EmbeddedSearch;
use crate::search::meili::MeiliSearch;
use crate::search::{self, ProductSearch, Progress, date_number};
use crate::settings::CatalogSettings;
use jinguo_common::cache::{DEFAULT_CAPACITY, Freshness, Scope, TtlMap};
use secrecy::ExposeSecret;

/// Rows the search worker sends in one batch.
const OUTBOX_BATCH: i64 = 200;

/// How the search index differs from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexCheck {
    /// Published products in the database.
    pub products: usize,
    /// Published products the index lacks.
    pub missing: Vec<ProductId>,
    /// Products in the index that are not published (or gone).
    pub extra: Vec<ProductId>,
    /// Products whose indexed document differs from what the database says.
    pub different: Vec<ProductId>,
}

impl IndexCheck {
    pub fn in_step(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.different.is_empty()
    }
}

/// Counts for the front page. `women_employed` is what producers declared.
#[derive(Debug, Clone, Copy, serde::Serialize, PartialEq, Eq)]
pub struct Stats {
    pub producers: i64,
    pub products: i64,
    pub districts: i64,
    pub women_employed: i64,
}

#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    search: Arc<dyn ProductSearch>,
    /// Woken after each write in this process, so its search documents go out at once.
    changed: Notify,
    fresh: Freshness,
    cache: Caches,
    /// How long this process's search worker holds the outbox rows it claims.
    outbox_lease: Millis,
    /// Passes of this process's search worker that failed (each one a pause).
    worker_failures: std::sync::atomic::AtomicU64,
}

/// What pages read most, kept for a few seconds (see [`jinguo_common::cache`]).
struct Caches {
    products: TtlMap<String, ProductDetail>,
    browse: TtlMap<ListingQuery, Browse>,
    producers: TtlMap<String, (Producer, Vec<ProductSummary>)>,
    products_of: TtlMap<ProducerId, Vec<ProductSummary>>,
    featured: TtlMap<u32, Vec<ProductSummary>>,
    categories: TtlMap<(), Vec<(Category, i64)>>,
    districts: TtlMap<(), Vec<(District, i64)>>,
    stats: TtlMap<(), Stats>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            products: TtlMap::default(),
            // Listings with search text are the index's answers.
            browse: TtlMap::new(Scope::Search, DEFAULT_CAPACITY, usize::MAX),
            producers: TtlMap::default(),
            products_of: TtlMap::default(),
            featured: TtlMap::default(),
            categories: TtlMap::default(),
            districts: TtlMap::default(),
            stats: TtlMap::default(),
        }
    }
}

/// How long cached reads live unless configured otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(2);

impl Catalog {
    pub fn new(db: Db, clock: Clock, search: Arc<dyn ProductSearch>) -> Self {
        Self::with_cache_ttl(db, clock, search, DEFAULT_CACHE_TTL)
    }

    /// A catalog whose cached reads live for `ttl` (zero: no caching).
    pub fn with_cache_ttl(
        db: Db,
        clock: Clock,
        search: Arc<dyn ProductSearch>,
        ttl: Duration,
    ) -> Self {
        Catalog {
            inner: Arc::new(Inner {
                db,
                clock,
                search,
                changed: Notify::new(),
                fresh: Freshness::new(ttl),
                cache: Caches::default(),
                outbox_lease: outbox::LEASE_MS,
                worker_failures: Default::default(),
            }),
        }
    }

    /// The catalog as `settings` describe it: its search backend opened (Meilisearch when a
    /// server is named, else the embedded index under `data_dir`) and brought in step with the
    /// tables. A Meilisearch server that is down does not keep the shop closed: search shows a
    /// notice and the outbox holds changes until it answers.
    pub async fn open(
        db: Db,
        clock: Clock,
        settings: &CatalogSettings,
        data_dir: &std::path::Path,
    ) -> Result<Catalog, CatalogError> {
        let (search, created): (Arc<dyn ProductSearch>, bool) = match &settings.meili_url {
            Some(url) => {
                let key = settings.meili_key.as_ref().map(|k| k.expose_secret());
                let meili = MeiliSearch::new(url.as_str(), key, &settings.meili_index)?;
                match meili.apply_settings().await {
                    Ok(()) => {
                        tracing::info!(%url, index = %settings.meili_index, "search: Meilisearch")
                    }
                    Err(error) => tracing::warn!(
                        %url, %error,
                        "Meilisearch is not answering; search shows a notice until it does"
                    ),
                }
                (Arc::new(meili), false)
            }
            None => {
                let (search, created) = EmbeddedSearch::open(&data_dir.join("search"))?;
                (Arc::new(search), created)
            }
        };
        let catalog = Catalog::with_cache_ttl(db, clock, search, settings.cache_ttl)
            .with_outbox_lease(settings.outbox_lease);
        match catalog.ensure_search_index(created).await {
            Ok(_) => {}
            Err(error) if settings.meili_url.is_some() => {
                tracing::warn!(%error, "search index not checked at start-up; search shows a notice until it answers");
            }
            Err(error) => return Err(error),
        }
        Ok(catalog)
    }

    /// The same catalog with its search worker leasing outbox rows for `lease` (a dead worker's
    /// rows are taken over after that long). Call before sharing the catalog.
    pub fn with_outbox_lease(mut self, lease: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.outbox_lease = i64::try_from(lease.as_millis()).unwrap_or(outbox::LEASE_MS);
        }
        self
    }

    /// After a write: drop cached reads and wake the search worker.
    fn changed(&self) {
        self.inner.fresh.invalidate();
        self.inner.changed.notify_one();
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The lifetime and generation of cached reads; a write here makes them all stale. Caches
    /// of things derived from the catalog (rendered pages) share it.
    pub fn freshness(&self) -> &Freshness {
        &self.inner.fresh
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn search_backend(&self) -> &dyn ProductSearch {
        self.inner.search.as_ref()
    }

    fn now(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.inner.db.pool().acquire().await
    }

    // ---- reading -------------------------------------------------------------------------

    pub async fn categories(&self) -> Result<Vec<Category>, CatalogError> {
        Ok(self
            .categories_with_counts()
            .await?
            .iter()
            .map(|(c, _)| c.clone())
            .collect())
    }

    /// Every category with its number of published products.
    pub async fn categories_with_counts(&self) -> Result<Arc<Vec<(Category, i64)>>, CatalogError> {
        let load = async { Ok(category::with_counts(&mut *self.conn().await?).await?) };
        self.inner
            .cache
            .categories
            .get_or_load(&self.inner.fresh, &(), load)
            .await
    }

    /// Figures for the front page, counted from the tables.
    pub async fn stats(&self) -> Result<Stats, CatalogError> {
        let load = async {
            use sqlx::Row;
            let row = sqlx::query(
                "select (select count(*) from producers) as producers,
                        (select count(*) from products where status = 'published') as products,
                        (select count(distinct district_code) from producers) as districts,
                        (select cast(coalesce(sum(women_employed), 0) as bigint) from producers) as women",
            )
            .fetch_one(self.inner.db.pool())
            .await?;
            Ok::<_, CatalogError>(Stats {
                producers: row.try_get("producers")?,
                products: row.try_get("products")?,
                districts: row.try_get("districts")?,
                women_employed: row.try_get("women")?,
            })
        };
        Ok(*self
            .inner
            .cache
            .stats
            .get_or_load(&self.inner.fresh, &(), load)
            .await?)
    }

    /// The districts and counties the shop sells from, with their number of products.
    pub async fn districts(&self) -> Result<Arc<Vec<(District, i64)>>, CatalogError> {
        let load = async {
            let counts = producer::district_counts(&mut *self.conn().await?).await?;
            Ok(counts
                .into_iter()
                .filter_map(|(code, n)| regions().district(&code).map(|d| (d.clone(), n)))
                .collect())
        };
        self.inner
            .cache
            .districts
            .get_or_load(&self.inner.fresh, &(), load)
            .await
    }

    /// Products for the front page: the shop's own order, in stock.
    pub async fn featured(&self, limit: u32) -> Result<Arc<Vec<ProductSummary>>, CatalogError> {
        let load = async {
            let query = ListingQuery {
                sort: Some(Sort::Recommended),
                page: 1,
                per_page: limit,
                ..ListingQuery::default()
            };
            let today = self.inner.clock.today_in_china();
            Ok(listing::list(&mut *self.conn().await?, &query, today)
                .await?
                .items)
        };
        self.inner
            .cache
            .featured
            .get_or_load(&self.inner.fresh, &limit, load)
            .await
    }

    /// A page of products: from the tables without search text, from the search backend with.
    pub async fn browse(&self, query: &ListingQuery) -> Result<Arc<Browse>, CatalogError> {
        let load = self.browse_uncached(query);
        self.inner
            .cache
            .browse
            .get_or_load(&self.inner.fresh, query, load)
            .await
    }

    async fn browse_uncached(&self, query: &ListingQuery) -> Result<Browse, CatalogError> {
        let today = self.inner.clock.today_in_china();
        if query.q.is_none() {
            let page = listing::list(&mut *self.conn().await?, query, today).await?;
            return Ok(Browse {
                page,
                facets: None,
                highlights: Default::default(),
            });
        }
        let hits = self.inner.search.search(query, date_number(today)).await?;
        let items = listing::summaries_by_ids(&mut *self.conn().await?, &hits.ids).await?;
        Ok(Browse {
            page: Page {
                items,
                total: hits.total,
                page: query.page(),
                per_page: query.per_page(),
            },
            facets: Some(hits.facets),
            highlights: hits.highlights,
        })
    }

    /// A published product with everything its page shows.
    pub async fn product(&self, slug: &str) -> Result<Arc<ProductDetail>, CatalogError> {
        let load = async {
            let mut conn = self.conn().await?;
            let found = product::by_slug(&mut conn, slug).await?;
            let product = found
                .filter(|p| p.status == ProductStatus::Published)
                .ok_or_else(|| CatalogError::not_found("product", slug))?;
            product::detail(&mut conn, product).await
        };
        self.inner
            .cache
            .products
            .get_or_load(&self.inner.fresh, &slug.to_owned(), load)
            .await
    }

    /// A producer and its published products.
    pub async fn producer(
        &self,
        slug: &str,
    ) -> Result<Arc<(Producer, Vec<ProductSummary>)>, CatalogError> {
        let load = async {
            let mut conn = self.conn().await?;
            let producer = producer::by_slug(&mut conn, slug)
                .await?
                .ok_or_else(|| CatalogError::not_found("producer", slug))?;
            let products = listing::of_producer(&mut conn, producer.id).await?;
            Ok((producer, products))
        };
        self.inner
            .cache
            .producers
            .get_or_load(&self.inner.fresh, &slug.to_owned(), load)
            .await
    }

    /// A producer's published products, in the shop's order.
    pub async fn products_of(
        &self,
        producer: ProducerId,
    ) -> Result<Arc<Vec<ProductSummary>>, CatalogError> {
        let load = async { Ok(listing::of_producer(&mut *self.conn().await?, producer).await?) };
        self.inner
            .cache
            .products_of
            .get_or_load(&self.inner.fresh, &producer, load)
            .await
    }

    /// Published products per producer.
    pub async fn product_counts_by_producer(
        &self,
    ) -> Result<std::collections::HashMap<ProducerId, i64>, CatalogError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "select producer_id, count(*) as n from products where status = 'published' group by producer_id",
        )
        .fetch_all(self.inner.db.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((ProducerId(r.try_get("producer_id")?), r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn producers(&self) -> Result<Vec<Producer>, CatalogError> {
        Ok(producer::all(&mut *self.conn().await?).await?)
    }

    pub async fn trace(&self, code: &str) -> Result<Trace, CatalogError> {
        batch::trace(&mut *self.conn().await?, code)
            .await?
            .filter(|t| t.product.status == ProductStatus::Published)
            .ok_or_else(|| CatalogError::not_found("provenance code", code))
    }

    pub async fn image(&self, id: ImageId, size: Size) -> Result<(String, Vec<u8>), CatalogError> {
        image::variant(&mut *self.conn().await?, id, size)
            .await?
            .ok_or_else(|| CatalogError::not_found("image", id.to_string()))
    }

    // ---- writing -------------------------------------------------------------------------

    pub async fn set_price(&self, sku: SkuId, price: Fen) -> Result<(), CatalogError> {
        let mut tx = self.inner.db.begin_write().await?;
        product::set_price(&mut tx, sku, price, self.now()).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    pub async fn set_stock(&self, sku: SkuId, stock: i64) -> Result<(), CatalogError> {
        let mut tx = self.inner.db.begin_write().await?;
        product::set_stock(&mut tx, sku, stock, self.now()).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// The names of these producers (for lists of orders, payouts and the like).
    pub async fn producer_names(
        &self,
        ids: &[ProducerId],
    ) -> Result<std::collections::HashMap<ProducerId, producer::ProducerName>, CatalogError> {
        Ok(producer::names(&mut *self.conn().await?, ids).await?)
    }

    /// Every SKU of a producer's products, for its stock page.
    pub async fn producer_skus(
        &self,
        producer: ProducerId,
    ) -> Result<Vec<product::ProducerSku>, CatalogError> {
        Ok(product::skus_of_producer(&mut *self.conn().await?, producer).await?)
    }

    /// A producer's stock-take of one of its own SKUs. Another producer's SKU looks the same as
    /// no SKU. Stock is what is free to sell: units held by unpaid orders and units sold are not
    /// part of it.
    pub async fn set_stock_of(
        &self,
        producer: ProducerId,
        sku: SkuId,
        stock: i64,
    ) -> Result<(), CatalogError> {
        let mut tx = self.inner.db.begin_write().await?;
        if product::producer_of_sku(&mut tx, sku).await? != Some(producer) {
            return Err(CatalogError::not_found("SKU", sku.to_string()));
        }
        product::set_stock(&mut tx, sku, stock, self.now()).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    pub async fn set_status(
        &self,
        product: ProductId,
        status: ProductStatus,
    ) -> Result<(), CatalogError> {
        let mut tx = self.inner.db.begin_write().await?;
        product::set_status(&mut tx, product, status, self.now()).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Records staff's verification of a producer; its products' documents follow.
    pub async fn set_verification(
        &self,
        producer: ProducerId,
        verified: bool,
        certificate: Option<(&str, &str)>,
    ) -> Result<(), CatalogError> {
        let now = self.now();
        let mut tx = self.inner.db.begin_write().await?;
        producer::set_verification(&mut tx, producer, verified, certificate, now).await?;
        let products = product::ids_of_producer(&mut tx, producer).await?;
        outbox::enqueue(&mut tx, &products, now).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Wakes the search worker after writes made outside these methods (the demo seed).
    pub fn notify_changed(&self) {
        self.changed();
    }

    /// After orders took or gave back stock: wakes the search worker (a product that sold out
    /// or came back leaves or joins in-stock listings) but drops no cached page or read, since
    /// stock on public pages may lag by the cache lifetime; checkout reads the tables.
    pub fn stock_changed(&self) {
        self.inner.changed.notify_one();
    }

    // ---- keeping search in step ----------------------------------------------------------

    /// Sends every due outbox row now; returns how many were sent.
    pub async fn sync_search(&self) -> Result<usize, OutboxError> {
        let mut sent = 0;
        loop {
            let n = outbox::process_batch(
                &self.inner.db,
                self.search_backend(),
                OUTBOX_BATCH,
                self.now(),
                self.inner.outbox_lease,
            )
            .await?;
            if n == 0 {
                return Ok(sent);
            }
            // Search answers changed: cached search pages must not outlive them.
            self.inner.fresh.invalidate_search();
            sent += n;
        }
    }

    /// Rebuilds the whole index from the tables. Returns the number of documents.
    pub async fn reindex(&self, progress: Progress) -> Result<u64, CatalogError> {
        let docs = search::all_documents(&mut *self.conn().await?).await?;
        let n = docs.len() as u64;
        self.inner.search.rebuild(docs, progress).await?;
        Ok(n)
    }

    /// Compares the search index with the database, document by document.
    pub async fn check_search_index(&self) -> Result<IndexCheck, CatalogError> {
        let expected = search::all_documents(&mut *self.conn().await?).await?;
        let indexed = self.inner.search.dump().await?;
        let indexed: std::collections::HashMap<i64, search::ProductDocument> =
            indexed.into_iter().map(|d| (d.id, d)).collect();
        let mut check = IndexCheck {
            products: expected.len(),
            ..IndexCheck::default()
        };
        let mut seen = std::collections::HashSet::new();
        for doc in &expected {
            seen.insert(doc.id);
            match indexed.get(&doc.id) {
                None => check.missing.push(ProductId(doc.id)),
                Some(found) if found != doc => check.different.push(ProductId(doc.id)),
                Some(_) => {}
            }
        }
        check.extra = indexed
            .keys()
            .filter(|id| !seen.contains(id))
            .map(|id| ProductId(*id))
            .collect();
        check.extra.sort();
        Ok(check)
    }

    /// Rebuilds the index when it was just created or disagrees with the tables on how many
    /// products are published. Returns whether it rebuilt.
    pub async fn ensure_search_index(&self, created: bool) -> Result<bool, CatalogError> {
        let published = search::published_count(&mut *self.conn().await?).await?;
        let indexed = self.inner.search.count().await?;
        if created || published != indexed {
            tracing::info!(
                published,
                indexed,
                "rebuilding the search index from the database"
            );
            self.reindex(search::no_progress()).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// How many passes of this process's search worker failed so far.
    pub fn search_worker_failures(&self) -> u64 {
        self.inner
            .worker_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends outbox rows as they appear until `shutdown` completes. A failure (the search
    /// server down) pauses the worker: half a second, doubling up to 30 s, one log line per
    /// pause; catalog writes arriving meanwhile do not cut a pause short. Nothing is lost, since
    /// rows leave the outbox only when sent.
    pub async fn run_search_worker(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0_u32;
        loop {
            let result = outbox::process_batch(
                &self.inner.db,
                self.search_backend(),
                OUTBOX_BATCH,
                self.now(),
                self.inner.outbox_lease,
            )
            .await;
            match result {
                Ok(n) if n > 0 => {
                    self.inner.fresh.invalidate_search();
                    failures = 0;
                }
                Ok(_) => {
                    failures = 0;
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = self.inner.changed.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
                Err(error) => {
                    failures += 1;
                    self.inner
                        .worker_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let pause = backoff(failures);
                    tracing::warn!(
                        %error,
                        failures,
                        retry_in_secs = pause.as_secs_f32(),
                        "search outbox: sending failed; pausing"
                    );
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }
}

/// How often an idle search worker looks at the outbox without being woken (rows written by
/// another process).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The pause after `failures` failures in a row: 0.5 s, doubling, at most 30 s.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(10);
    (Duration::from_millis(500) * 2_u32.pow(doublings)).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_half_a_minute() {
        let secs: Vec<f32> = (1..=9).map(|n| backoff(n).as_secs_f32()).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
