//! What every HTTP server of the platform shares, the router included: the error shape and its
//! extractors, the middleware layers, serving with connection limits and graceful drain, client
//! addresses behind trusted proxies, health, metrics, request tracing, pagination, the outbound
//! client and the GraphiQL playground. No database, no tokens: those are `store` and `auth`.

pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod metrics;
pub mod pagination;
pub mod playground;
pub mod telemetry;

pub use error::{ApiError, ErrorCode, Invalid};
pub use playground::{Assets, Playground};

