//! Server bootstrap, one job per module: the middleware every service runs behind and its JSON
//! fallbacks (`layers`), serving with connection limits, eviction and graceful drain (`serve`),
//! the shutdown signal (`shutdown`) and the outbound client (`client`). Who the client is lives
//! in [`crate::client_addr`], which configuration uses too, so no two modules import each other.

mod client;
mod layers;
mod serve;
mod shutdown;
#[cfg(test)]
mod tests;

pub use crate::client_addr::{ClientAddr, TrustedProxies, address_group};
pub use crate::telemetry::REQUEST_ID;
pub use client::{CLIENT_POOL_IDLE, client};
pub use layers::{SECURITY_HEADERS, finish, service};
pub use serve::{ConnectionLimits, MAX_HEADER_BYTES, SLOW_REQUEST, serve};
pub use shutdown::shutdown_signal;
