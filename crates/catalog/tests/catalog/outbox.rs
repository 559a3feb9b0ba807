//! The search outbox under failure and concurrency, on both databases: two workers never send the
//! same row, a backend that fails keeps the rows (with the error) until it answers, a worker that
//! dies holding rows gives them up when its lease runs out, and in every case the index ends equal
//! to the database. Also: a Meilisearch server that is down makes search fail clearly while
//! nothing is lost.

use async_trait::async_trait;
use jinguo_catalog::outbox::{self, LEASE_MS, MAX_BACKOFF_MS};
use jinguo_catalog::search::meili::MeiliSearch;
use jinguo_catalog::search::{ProductDocument, ProductSearch, Progress, SearchError, SearchHits};
use jinguo_catalog::testing::{ProducerBuilder, ProductBuilder};
use jinguo_catalog::{Catalog, CatalogError, ListingQuery, ProductDetail, ProductId};
use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Fixture, NOW, catalog};

/// Passes writes to a real backend, recording the products it sent; can be told to fail or hang.
struct Recorder {
    inner: Arc<dyn ProductSearch>,
    sent: Mutex<Vec<i64>>,
    fail: AtomicBool,
    hang: AtomicBool,
}

impl Recorder {
    fn new(inner: Arc<dyn ProductSearch>) -> Arc<Recorder> {
        Arc::new(Recorder {
            inner,
            sent: Mutex::new(Vec::new()),
            fail: AtomicBool::new(false),
            hang: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl ProductSearch for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<(), SearchError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(SearchError::Unavailable {
                backend: "recorder",
                message: "down".into(),
            });
        }
        // Long enough for another worker to try to take the same rows meanwhile.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.sent.lock().unwrap().extend(docs.iter().map(|d| d.id));
        self.inner.upsert(docs).await
    }
    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError> {
        self.inner.delete(ids).await
    }
    async fn rebuild(
        &self,
        docs: Vec<ProductDocument>,
        progress: Progress,
    ) -> Result<(), SearchError> {
        self.inner.rebuild(docs, progress).await
    }
    async fn count(&self) -> Result<u64, SearchError> {
        self.inner.count().await
    }
    async fn dump(&self) -> Result<Vec<ProductDocument>, SearchError> {
        self.inner.dump().await
    }
    async fn search(&self, query: &ListingQuery, today: i64) -> Result<SearchHits, SearchError> {
        self.inner.search(query, today).await
    }
}

/// An empty catalog with `n` products of one producer, their documents sent: the outbox is empty
/// and the index in step.
async fn with_products(db: TestDb, n: usize) -> (Fixture, Vec<ProductDetail>) {
    let f = catalog(db).await;
    let producer = ProducerBuilder::new().create(&f.catalog).await;
    let mut products = Vec::new();
    for _ in 0..n {
        products.push(
            ProductBuilder::new()
                .producer(&producer)
                .create(&f.catalog)
                .await,
        );
    }
    assert_eq!(
        f.catalog.sync_search().await.unwrap(),
        n,
        "one row per new product"
    );
    (f, products)
}

/// Queues one outbox row per product; returns how many.
async fn touch(f: &Fixture, products: &[ProductDetail]) -> usize {
    let ids: Vec<ProductId> = products.iter().map(|p| p.product.id).collect();
    let mut tx = f.db.begin_write().await.unwrap();
    outbox::enqueue(&mut tx, &ids, NOW).await.unwrap();
    tx.commit().await.unwrap();
    ids.len()
}

async fn two_workers_never_send_the_same_row(db: TestDb) {
    let (f, products) = with_products(db, 12).await;
    let n = touch(&f, &products).await;
    let recorder = Recorder::new(f.search.clone());
    let worker = |db: jinguo_common::Db, backend: Arc<Recorder>| async move {
        loop {
            let sent = outbox::process_batch(&db, backend.as_ref(), 3, NOW, LEASE_MS)
                .await
                .unwrap();
            if sent == 0 {
                break;
            }
        }
    };
    tokio::join!(
        worker(f.db.db.clone(), recorder.clone()),
        worker(f.db.db.clone(), recorder.clone()),
        worker(f.db.db.clone(), recorder.clone()),
    );
    let mut sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), n, "each row sent once");
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), n, "no product sent twice");
    let mut made: Vec<i64> = products.iter().map(|p| p.product.id.0).collect();
    made.sort();
    assert_eq!(sent, made, "every product sent");
    assert_eq!(outbox::pending(&f.db).await.unwrap(), 0);
}

async fn a_failing_backend_keeps_the_rows_until_it_answers(db: TestDb) {
    let f = catalog(db).await;
    let honey = ProductBuilder::new()
        .slug("chengkou-zhongfeng-honey-500g")
        .sku("250克", Fen(3_900), 5)
        .sku("500克", Fen(6_800), 5)
        .sku("1千克", Fen(12_800), 5)
        .create(&f.catalog)
        .await;
    assert_eq!(f.catalog.sync_search().await.unwrap(), 1);
    let recorder = Recorder::new(f.search.clone());
    let catalog = Catalog::new(f.db.db.clone(), f.clock.clone(), recorder.clone());
    recorder.fail.store(true, Ordering::SeqCst);
    for (i, sku) in honey.skus.iter().enumerate() {
        catalog
            .set_price(sku.id, Fen(1_000 + i as i64))
            .await
            .unwrap();
    }
    let error = catalog.sync_search().await.unwrap_err();
    assert!(error.to_string().contains("down"), "{error}");
    let pending = outbox::pending(&f.db).await.unwrap();
    assert_eq!(pending, honey.skus.len() as i64);
    assert_eq!(pending, 3);
    // No domain function shows a row's last error; the table does.
    let last_error: Option<String> =
        sqlx::query_scalar("select max(last_error) from search_outbox")
            .fetch_one(f.db.pool())
            .await
            .unwrap();
    assert!(last_error.unwrap().contains("down"));
    assert!(
        !catalog.check_search_index().await.unwrap().in_step(),
        "the index is behind"
    );

    // Back up: nothing is sent before the backoff has passed, everything after.
    recorder.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        catalog.sync_search().await.unwrap(),
        0,
        "waits out the backoff"
    );
    f.clock.advance(MAX_BACKOFF_MS);
    assert_eq!(catalog.sync_search().await.unwrap(), honey.skus.len());
    assert!(catalog.check_search_index().await.unwrap().in_step());
    let sent = recorder.sent.lock().unwrap().clone();
    assert!(sent.iter().all(|id| *id == honey.product.id.0), "{sent:?}");
}

async fn rows_of_a_worker_that_died_are_taken_over(db: TestDb) {
    let (f, products) = with_products(db, 12).await;
    let n = touch(&f, &products).await;
    let hanging = Recorder::new(f.search.clone());
    hanging.hang.store(true, Ordering::SeqCst);
    // The worker claims a batch, then never finishes (its process is killed).
    let died = tokio::time::timeout(
        Duration::from_millis(200),
        outbox::process_batch(&f.db, hanging.as_ref(), 500, NOW, LEASE_MS),
    )
    .await;
    assert!(died.is_err(), "the worker hung");
    assert_eq!(
        outbox::pending(&f.db).await.unwrap(),
        n as i64,
        "its rows are still queued"
    );
    // While its lease lasts nobody else sends them; afterwards another worker does.
    assert_eq!(
        outbox::process_batch(&f.db, f.search.as_ref(), 500, NOW, LEASE_MS)
            .await
            .unwrap(),
        0
    );
    let later = NOW + LEASE_MS;
    assert_eq!(
        outbox::process_batch(&f.db, f.search.as_ref(), 500, later, LEASE_MS)
            .await
            .unwrap(),
        n
    );
    assert_eq!(outbox::pending(&f.db).await.unwrap(), 0);
    assert!(f.catalog.check_search_index().await.unwrap().in_step());
}

async fn a_meilisearch_server_that_is_down_fails_clearly_and_loses_nothing(db: TestDb) {
    let f = catalog(db).await;
    let larou = ProductBuilder::new()
        .title("城口老腊肉")
        .create(&f.catalog)
        .await;
    ProductBuilder::new()
        .title("城口中蜂蜜")
        .create(&f.catalog)
        .await;
    f.catalog.sync_search().await.unwrap();
    let down = Arc::new(MeiliSearch::new("http://127.0.0.1:1", None, "products").unwrap());
    let catalog = Catalog::new(f.db.db.clone(), f.clock.clone(), down);
    let query = ListingQuery {
        q: Some("腊肉".into()),
        page: 1,
        ..Default::default()
    };
    match catalog.browse(&query).await {
        Err(CatalogError::Search(SearchError::Unavailable {
            backend: "meilisearch",
            ..
        })) => {}
        other => panic!("expected search to be unavailable, got {other:?}"),
    }
    // Browsing without search text still works: it reads the tables.
    let listing = catalog
        .browse(&ListingQuery {
            page: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(listing.page.total > 0);
    assert_eq!(listing.page.total, 2);
    let sku = larou.skus[0].id;
    catalog.set_price(sku, Fen(7_000)).await.unwrap();
    assert!(catalog.sync_search().await.is_err());
    assert_eq!(
        outbox::pending(&f.db).await.unwrap(),
        1,
        "the change waits in the outbox"
    );
}

db_test!(
    two_workers_never_send_the_same_row,
    a_failing_backend_keeps_the_rows_until_it_answers,
    rows_of_a_worker_that_died_are_taken_over,
    a_meilisearch_server_that_is_down_fails_clearly_and_loses_nothing,
);
