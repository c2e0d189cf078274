//! Who the client is: the connection's peer, or what a trusted proxy forwarded, counted by
//! address group. Depends on nothing else of the crate, so configuration and serving both use it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;

/// The address a client is counted by: IPv4 addresses as they are, IPv6 ones by their /64 (one
/// host is usually given a whole /64, so counting single addresses would not bind it).
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Who sent a request: the connection's peer, or, when the peer is a trusted proxy, the address
/// it forwarded. `None` for requests that came through no connection (in-process tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub Option<IpAddr>);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or_default())
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, comma-separated CIDRs such
/// as `10.0.0.0/8`; none by default, so a client can never choose its own address).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn parse(list: &str) -> anyhow::Result<Self> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|cidr| {
                cidr.parse::<ipnet::IpNet>()
                    .or_else(|_| cidr.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!("TRUSTED_PROXIES: {cidr:?} is not an address or CIDR")
                    })
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: walks `X-Forwarded-For` from the right while the hop that
    /// reported it is trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.client_behind(
            peer,
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }

    /// [`Self::client`] over the `X-Forwarded-For` values of any HTTP library's request.
    pub fn client_behind<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

pub(crate) async fn resolve_client(
    proxies: TrustedProxies,
    mut request: Request,
    next: Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = peer.map(|peer| proxies.client(peer, request.headers()));
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}
