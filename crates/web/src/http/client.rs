//! The process's one outbound HTTP client.

use std::time::Duration;

/// How long the client for other services keeps an idle connection: less than the services
/// keep one open (`HttpConfig::DEFAULT_HEADER_TIMEOUT`), so a request is never sent on a
/// connection the peer is closing (a POST on it would fail, and is not retried).
pub const CLIENT_POOL_IDLE: Duration = Duration::from_secs(5);
const _: () = assert!(
    CLIENT_POOL_IDLE.as_millis() < crate::config::HttpConfig::DEFAULT_HEADER_TIMEOUT.as_millis()
);

/// The HTTP client for calls to other services: connection and overall timeouts so a slow peer
/// never holds a request forever, and pooled keep-alive connections. Fails (at start-up) rather
/// than fall back to a client without timeouts.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(CLIENT_POOL_IDLE)
        .user_agent(concat!("ecommerce/", env!("CARGO_PKG_VERSION")))
        .build()?)
}
