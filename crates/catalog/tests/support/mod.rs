//! Shared set-up for the catalog's tests: a catalog over a test database with an embedded search
//! index in a temporary directory, and the demo catalog seeded (without pictures, which the
//! storefront's tests look at).

#![allow(dead_code)]

use jinguo_catalog::Catalog;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_common::Clock;
use jinguo_common::testing::TestDb;
use std::sync::Arc;

/// Noon on 2026-11-29 in Chongqing (04:00 UTC).
pub const NOW: i64 = 1_795_924_800_000;

pub struct Fixture {
    pub catalog: Catalog,
    pub search: EmbeddedSearch,
    pub index_dir: tempfile::TempDir,
    pub db: TestDb,
}

pub async fn catalog(db: TestDb) -> Fixture {
    let index_dir = tempfile::tempdir().unwrap();
    let (search, created) = EmbeddedSearch::open(index_dir.path()).unwrap();
    assert!(created);
    let catalog = Catalog::new(db.db.clone(), Clock::manual(NOW), Arc::new(search.clone()));
    Fixture {
        catalog,
        search,
        index_dir,
        db,
    }
}

/// A catalog holding the demo data, its search index in step.
pub async fn demo(db: TestDb) -> Fixture {
    let fixture = catalog(db).await;
    demo::seed(
        &fixture.catalog,
        SeedOptions { pictures: false },
        &|_, _| {},
    )
    .await
    .unwrap();
    fixture.catalog.sync_search().await.unwrap();
    fixture
}
