//! Test support: a fresh database per test, of either kind.
//!
//! SQLite tests always run, each on its own temporary file. PostgreSQL tests run when
//! `JINGUO_TEST_POSTGRES_URL` names a server (any database on it; each test creates and later
//! drops its own uniquely named database). A crate that uses [`db_test!`](crate::db_test) has a
//! build script that sets `cfg(pg_tests)` when that variable is set at build time, so that
//! without it the PostgreSQL half of every test is reported as ignored, with the reason, rather
//! than passing silently.

use crate::db::{Backend, Db};
use secrecy::SecretString;

pub const POSTGRES_URL_VAR: &str = "JINGUO_TEST_POSTGRES_URL";

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub db: Db,
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A migrated SQLite database in a temporary file.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&SecretString::from(url), 8)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        TestDb {
            db,
            _cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A migrated, freshly created PostgreSQL database on the server named by
    /// `JINGUO_TEST_POSTGRES_URL`.
    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_VAR} is not set; it must name a PostgreSQL server to test on")
        });
        TestDb::postgres_on(&admin_url).await
    }

    /// A migrated, freshly created database on the PostgreSQL server at `admin_url`.
    pub async fn postgres_on(admin_url: &str) -> TestDb {
        let admin_url = admin_url.to_owned();
        let name = format!(
            "jinguo_test_{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let admin = Db::connect(&SecretString::from(admin_url.clone()), 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        admin.close().await;
        let db = Db::connect(&SecretString::from(with_database(&admin_url, &name)), 8)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        TestDb {
            db,
            _cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// The URL of this test's database (for tests that start the real binary).
    pub fn url(&self) -> String {
        match &self._cleanup {
            Cleanup::Sqlite(dir) => format!("sqlite://{}", dir.path().join("test.db").display()),
            Cleanup::Postgres { admin_url, name } => with_database(admin_url, name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self._cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived
            // runtime on another thread removes the database.
            let handle = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok(admin) = Db::connect(&SecretString::from(admin_url), 1).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(admin.pool())
                            .await;
                        admin.close().await;
                    }
                });
            });
            let _ = handle.join();
        }
    }
}

fn with_database(server_url: &str, name: &str) -> String {
    match url::Url::parse(server_url) {
        Ok(mut url) => {
            url.set_path(name);
            url.to_string()
        }
        Err(_) => panic!("{POSTGRES_URL_VAR} is not a URL"),
    }
}

/// Declares that the async test function `name(db: TestDb)` runs once on SQLite and once on
/// PostgreSQL, as `name::sqlite` and `name::postgres`, each on a fresh migrated database. The
/// function is ordinary code (rustfmt formats it); only this line is a macro.
///
/// ```ignore
/// async fn stock_never_goes_negative(db: TestDb) { … }
/// db_test!(stock_never_goes_negative);
/// ```
#[macro_export]
macro_rules! db_test {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::testing::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(pg_tests),
                    ignore = "PostgreSQL not tested: set JINGUO_TEST_POSTGRES_URL (see README)"
                )]
                async fn postgres() {
                    super::$name($crate::testing::TestDb::postgres().await).await;
                }
            }
        )+
    };
}
