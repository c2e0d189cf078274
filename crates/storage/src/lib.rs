//! Storage helpers the services' stores are written with: where the data is ([`DatabaseUrl`]),
//! the error every store returns whatever its backend ([`StoreError`]), one SQL layer over
//! PostgreSQL and SQLite with embedded migrations (`sql`, feature `sql`), and MongoDB's
//! connection and encodings (`mongo`, feature `mongo`).

#[cfg(feature = "mongo")]
pub mod mongo;
#[cfg(feature = "sql")]
pub mod sql;
mod url;

pub use url::{Database, DatabaseUrl};

use web::{ApiError, ErrorCode};

/// A driver's error, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A store failure. `Conflict` is a unique-key violation, which callers usually turn into a
/// domain error (email taken); `Unavailable` is a database that cannot be reached right now.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with the same key already exists")]
    Conflict(#[source] Cause),
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    #[error("database error")]
    Database(#[source] Cause),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
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
