//! What the four subgraph services share: config, telemetry, auth (JWT, roles), the error table,
//! health, server bootstrap with graceful shutdown, the GraphQL endpoint and its guard, one SQL
//! layer over PostgreSQL and SQLite, pagination and money.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod graphql;
pub mod health;
pub mod http;
pub mod metrics;
pub mod money;
pub mod mongo;
pub mod pagination;
pub mod peers;
pub mod sql;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ErrorCode, Failure, Invalid};

#[doc(hidden)]
pub mod __private {
    pub use anyhow;
    pub use async_graphql;
    pub use axum;
}
