//! What every HTTP server of the platform shares, the router included: the error shape and its
//! extractors, the middleware layers, serving with connection limits and graceful drain, client
//! addresses behind trusted proxies, health, metrics, request tracing, pagination, the outbound
//! client and the GraphiQL playground. No database, no tokens: those are `store` and `auth`.

pub mod client_addr;
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

/// Runs `tick` every `period` (the first at once), for as long as the returned future runs; a
/// tick that overruns delays the next rather than piling up. The services' background loops.
pub async fn every<F, Fut>(period: std::time::Duration, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        tick().await;
    }
}
