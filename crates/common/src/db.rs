//! The database: one sqlx `Any` pool over SQLite (the embedded default) or PostgreSQL, with the
//! migrations for whichever it is applied at start-up. Queries are written once, with `$1`
//! placeholders, and run on both; where the dialects truly differ the difference lives here,
//! chosen by [`Backend`].

use secrecy::{ExposeSecret, SecretString};
use sqlx::SqlSafeStr;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use crate::config::redact_url;

/// The migrations, `(version, description, sql)` by dialect, compiled in by build.rs.
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

static SQLITE_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(compiled::SQLITE));
static POSTGRES_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| migrator(compiled::POSTGRES));

/// The migrator sqlx's `migrate!` would make of the same folder: same versions, same
/// checksums (SHA-384 of the text), so databases migrated either way agree.
fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// What to append to a `SELECT` that reads a row about to be changed, so that a concurrent
    /// change waits for this one. SQLite's write transactions already exclude each other.
    pub fn lock_suffix(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// What to append to a `SELECT … FOR UPDATE` that claims work, so that several processes
    /// each take different rows. SQLite has one writer at a time and needs nothing.
    pub fn claim_suffix(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("cannot open database {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the directory for database {url}")]
    CreateDir {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot migrate database {url}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// The pool and which database is behind it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

impl Db {
    /// Opens the database at `url` (creating a SQLite file and its directory if missing).
    pub async fn connect(url: &SecretString, max_connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let redacted = redact_url(url);
        let raw = url.expose_secret();
        let (backend, connect_url) = if let Some(path) = sqlite_path(raw) {
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                    url: redacted.clone(),
                    source,
                })?;
            }
            let with_mode = if raw.contains("mode=") {
                raw.to_owned()
            } else if raw.contains('?') {
                format!("{raw}&mode=rwc")
            } else {
                format!("{raw}?mode=rwc")
            };
            (Backend::Sqlite, with_mode)
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            (Backend::Postgres, raw.to_owned())
        } else {
            return Err(DbError::UnsupportedUrl(redacted));
        };

        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed while one writer writes; NORMAL sync is safe
                    // with WAL. The busy timeout (5 s) and foreign keys are sqlx's defaults.
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|source| DbError::Open {
                url: redacted.clone(),
                source,
            })?;
        Ok(Db {
            pool,
            backend,
            url: redacted,
        })
    }

    /// Applies the migrations for this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| DbError::Migrate {
                url: self.url.clone(),
                source,
            })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that two transactions that both read before writing cannot
    /// deadlock on upgrading their locks; PostgreSQL locks rows as they are written.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL this pool was opened with, password redacted.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

/// Reads a yes/no column. PostgreSQL stores these as `boolean`; SQLite as 0/1 integers, which
/// sqlx's `Any` driver hands over as integers. Bind `bool` when writing; both accept it.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_migrations() {
        let steps = |list: &[(i64, &str, &str)]| -> Vec<(i64, String)> {
            list.iter().map(|&(v, d, _)| (v, d.to_owned())).collect()
        };
        assert_eq!(steps(compiled::SQLITE), steps(compiled::POSTGRES));
        assert!(
            compiled::SQLITE.len() >= 5,
            "every migration file is compiled in"
        );
        let sqlite = migrator(compiled::SQLITE);
        let versions: Vec<i64> = sqlite.iter().map(|m| m.version).collect();
        assert!(versions.is_sorted(), "applied in order: {versions:?}");
    }

    #[test]
    fn recognises_sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/jinguo.db"),
            Some("data/jinguo.db")
        );
        assert_eq!(sqlite_path("sqlite:/tmp/x.db?mode=rwc"), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }
}

/// A value bound to a `$n` placeholder by [`SqlBuf`].
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

/// Builds a statement whose shape depends on input (optional filters, `in (…)` lists) with
/// `$n` placeholders, which both backends understand; sqlx's own `QueryBuilder` writes `?` for
/// the `Any` driver, which PostgreSQL does not. Only SQL text written in this codebase goes
/// through [`SqlBuf::push`]; every value goes through [`SqlBuf::bind`].
#[derive(Clone, Debug, Default)]
pub struct SqlBuf {
    sql: String,
    params: Vec<Param>,
}

impl SqlBuf {
    pub fn new(sql: &'static str) -> Self {
        SqlBuf {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text written in this codebase.
    pub fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.params.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    /// Appends `($a, $b, …)` for the values; an empty list becomes `(null)`, which matches nothing.
    pub fn bind_list<T: Into<Param>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        self.sql.push('(');
        let mut first = true;
        for value in values {
            if !first {
                self.sql.push_str(", ");
            }
            first = false;
            self.bind(value);
        }
        if first {
            self.sql.push_str("null");
        }
        self.sql.push(')');
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement with its values bound, ready to run.
    pub fn query(&self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.sql.clone()));
        for param in &self.params {
            query = match param {
                Param::Int(v) => query.bind(*v),
                Param::Text(v) => query.bind(v.clone()),
                Param::Bool(v) => query.bind(*v),
            };
        }
        query
    }

    /// Like [`SqlBuf::query`], decoding the single column of each row as `O`.
    pub fn query_scalar<O>(
        &self,
    ) -> sqlx::query::QueryScalar<'static, sqlx::Any, O, sqlx::any::AnyArguments>
    where
        O: Send + Unpin,
        (O,): for<'r> sqlx::FromRow<'r, AnyRow>,
    {
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(self.sql.clone()));
        for param in &self.params {
            query = match param {
                Param::Int(v) => query.bind(*v),
                Param::Text(v) => query.bind(v.clone()),
                Param::Bool(v) => query.bind(*v),
            };
        }
        query
    }
}
