//! What the four subgraph services share: config, telemetry, auth (JWT, roles), the error table,
//! health, server bootstrap with graceful shutdown, pagination and money.

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
pub mod pagination;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ErrorCode};

#[doc(hidden)]
pub mod __private {
    pub use async_graphql;
    pub use axum;
}
