//! Shared set-up for the catalog's tests: a catalog over a test database with a search backend
//! (the embedded index in a temporary directory, or a fresh index on the Meilisearch server named
//! by `JINGUO_TEST_MEILI_URL`), empty for tests that build what they need, or holding the demo
//! catalog (seeded without pictures) for the tests about the demo and the search conformance
//! suite, which needs a realistic catalog to judge relevance on.

use jinguo_catalog::Catalog;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::search::ProductSearch;
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_catalog::search::meili::MeiliSearch;
use jinguo_common::Clock;
use jinguo_common::testing::TestDb;
use std::sync::Arc;

/// Noon on 2026-11-29 in Chongqing (04:00 UTC).
pub const NOW: i64 = 1_795_924_800_000;

pub const MEILI_URL_VAR: &str = "JINGUO_TEST_MEILI_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    Meili,
}

pub struct Fixture {
    pub catalog: Catalog,
    pub search: Arc<dyn ProductSearch>,
    pub index_dir: tempfile::TempDir,
    pub clock: Clock,
    /// Held so that the test's Meilisearch index is removed with the fixture.
    #[expect(dead_code, reason = "held for its Drop")]
    pub meili: Option<MeiliIndex>,
    pub db: TestDb,
}

/// A Meilisearch index that exists for one test.
pub struct MeiliIndex {
    pub url: String,
    pub uid: String,
}

impl Drop for MeiliIndex {
    fn drop(&mut self) {
        let (url, uid) = (self.url.clone(), self.uid.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(meili) = MeiliSearch::new(&url, meili_key().as_deref(), &uid) {
                    let _ = meili.drop_index().await;
                }
            });
        })
        .join();
    }
}

fn meili_key() -> Option<String> {
    std::env::var("JINGUO_TEST_MEILI_KEY")
        .ok()
        .filter(|k| !k.is_empty())
}

/// An empty catalog on the embedded index.
pub async fn catalog(db: TestDb) -> Fixture {
    catalog_on(db, Engine::Embedded).await
}

pub async fn catalog_on(db: TestDb, engine: Engine) -> Fixture {
    let index_dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW);
    let (search, meili): (Arc<dyn ProductSearch>, Option<MeiliIndex>) = match engine {
        Engine::Embedded => {
            let (search, created) = EmbeddedSearch::open(index_dir.path()).unwrap();
            assert!(created);
            (Arc::new(search), None)
        }
        Engine::Meili => {
            let url = std::env::var(MEILI_URL_VAR)
                .unwrap_or_else(|_| panic!("{MEILI_URL_VAR} must name a Meilisearch server"));
            let uid = format!(
                "jinguo_test_{}_{:x}",
                std::process::id(),
                rand::random::<u64>()
            );
            let meili = MeiliSearch::new(&url, meili_key().as_deref(), &uid).unwrap();
            meili.apply_settings().await.unwrap();
            (Arc::new(meili), Some(MeiliIndex { url, uid }))
        }
    };
    let catalog = Catalog::new(db.db.clone(), clock.clone(), search.clone());
    Fixture {
        catalog,
        search,
        index_dir,
        clock,
        meili,
        db,
    }
}

/// A catalog holding the demo data, its search index in step.
pub async fn demo(db: TestDb) -> Fixture {
    demo_on(db, Engine::Embedded).await
}

pub async fn demo_on(db: TestDb, engine: Engine) -> Fixture {
    let fixture = catalog_on(db, engine).await;
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

/// Declares that the async test function `name(f: Fixture)` of the search conformance suite runs
/// on the demo catalog on the embedded index (over SQLite and over PostgreSQL) and on Meilisearch
/// (over SQLite; the database does not matter to it), as `name::embedded_sqlite`,
/// `name::embedded_postgres` and `name::meilisearch`. The ones whose server is not configured
/// are listed as ignored, with the variable to set. The function is ordinary code (rustfmt
/// formats it); only this line is a macro, and it may list several names.
///
/// ```ignore
/// async fn finds_chinese_words_inside_titles(f: Fixture) { … }
/// conformance!(finds_chinese_words_inside_titles);
/// ```
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded_sqlite() {
                    let db = jinguo_common::testing::TestDb::sqlite().await;
                    let engine = $crate::support::Engine::Embedded;
                    super::$name($crate::support::demo_on(db, engine).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(pg_tests),
                    ignore = "PostgreSQL not tested: set JINGUO_TEST_POSTGRES_URL (see README)"
                )]
                async fn embedded_postgres() {
                    let db = jinguo_common::testing::TestDb::postgres().await;
                    let engine = $crate::support::Engine::Embedded;
                    super::$name($crate::support::demo_on(db, engine).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(meili_tests),
                    ignore = "Meilisearch not tested: set JINGUO_TEST_MEILI_URL to a running server"
                )]
                async fn meilisearch() {
                    let db = jinguo_common::testing::TestDb::sqlite().await;
                    let engine = $crate::support::Engine::Meili;
                    super::$name($crate::support::demo_on(db, engine).await).await;
                }
            }
        )+
    };
}
pub(crate) use conformance;
