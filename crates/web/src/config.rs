//! How a service listens and what it accepts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::playground::Assets;

/// How a service listens and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Requests running longer than this answer 503 `TIMEOUT`.
    pub request_timeout: Duration,
    /// Largest accepted request body in bytes; larger answers 413.
    pub body_limit: usize,
    /// A connection must deliver a request's headers within this, also while it idles between
    /// keep-alive requests; slower ones are closed.
    pub header_timeout: Duration,
    /// Open connections at once; at the bound a new one evicts the longest-idle one.
    pub max_connections: usize,
    /// Open connections one client address may hold (trusted proxies: any).
    pub max_connections_per_address: usize,
    /// Proxies whose `X-Forwarded-For` names the client (the router, an ingress).
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// The GraphQL guard's limits and the playground's assets.
    pub graphql: GraphqlConfig,
}

impl HttpConfig {
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Sized so that the worst case (every connection holding a full body and headers) fits a
    /// small container: about 1024 × 100 KiB.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
    pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;

    /// Defaults for a service listening on `port` on every interface.
    pub fn with_port(port: u16) -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            request_timeout: Self::DEFAULT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: Self::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            trusted_proxies: crate::client_addr::TrustedProxies::default(),
            graphql: GraphqlConfig::default(),
        }
    }
}

/// What the playground and the guard need from configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphqlConfig {
    pub limits: graphql_guard::Limits,
    pub assets: Assets,
}
