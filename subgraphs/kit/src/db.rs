//! Connection pools for the SQL backends and the error every store returns.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{ApiError, ErrorCode};

/// A store failure. `Conflict` is a unique-constraint violation, which callers usually turn into a
/// domain error (email taken); `Unavailable` is a database that cannot be reached right now.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same key already exists")]
    Conflict(#[source] sqlx::Error),
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(err),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(err),
            _ => StoreError::Database(err),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(_) => ApiError::new(
                ErrorCode::Conflict,
                "a record with the same key already exists",
            ),
            StoreError::Unavailable(_) => ApiError::unavailable(&err),
            StoreError::Database(_) | StoreError::Corrupt(_) => ApiError::internal(&err),
        }
    }
}

impl From<StoreError> for async_graphql::Error {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL pool. Connections are made lazily so a service starts (and reports not-ready)
/// while its database is still coming up.
pub fn postgres_pool(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(postgres_pool_with(options, max_connections))
}

pub fn postgres_pool_with(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

/// A SQLite pool on a file (created with its folder if missing) in WAL mode, so readers never
/// wait for the writer; writers wait for each other up to the busy timeout.
pub async fn sqlite_pool(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if let Some(parent) = options.get_filename().parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?)
}

/// `prefix` followed by one bound parameter per id and a closing parenthesis: SQLite has no
/// array parameters, so `id IN (...)` is how one query looks up many ids.
pub fn sqlite_in_query<'a>(
    prefix: &str,
    ids: &'a [uuid::Uuid],
) -> sqlx::QueryBuilder<'a, sqlx::Sqlite> {
    let mut query = sqlx::QueryBuilder::new(prefix);
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
    query
}
