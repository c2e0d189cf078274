//! Server bootstrap: the middleware every service runs behind (request ids, timeouts, panic
//! recovery, security headers, the client's address), JSON fallbacks, and serving with connection
//! hygiene and graceful shutdown.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode};

/// The request-id header: taken from the caller when present (the router sets it), else minted.
pub const REQUEST_ID: &str = "x-request-id";

/// A whole service: its routes, the health routes with its readiness check, `/metrics`, and the
/// shared middleware.
pub fn service(
    name: &'static str,
    routes: Router,
    ready: crate::health::ReadinessCheck,
    config: &HttpConfig,
) -> Router {
    let routes = with_fallbacks(
        routes
            .merge(crate::health::router(name, ready))
            .route("/metrics", axum::routing::get(crate::metrics::render)),
    )
    .layer(axum::middleware::from_fn(move |request, next| {
        crate::metrics::track(name, request, next)
    }));
    shared_layers(routes, config)
}

/// JSON 404 and 405 answers. Set before any layer, so that every layer (security headers,
/// metrics) covers them too: axum applies a layer only to what the router holds at that point.
fn with_fallbacks(routes: Router) -> Router {
    routes
        .fallback(|| async { ApiError::new(ErrorCode::RouteNotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
}

/// Headers every response carries unless its handler chose otherwise: no sniffing, no framing,
/// no referrer, no caching, and a policy under which a JSON answer can run nothing.
pub const SECURITY_HEADERS: [(HeaderName, &str); 7] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
    (header::CACHE_CONTROL, "no-store"),
];

/// Wraps a service's routes with what every service needs: JSON 404/405 fallbacks, a body size
/// limit, a request timeout, panic recovery, request ids, the request span, security headers and
/// the client's address.
pub fn finish(routes: Router, config: &HttpConfig) -> Router {
    shared_layers(with_fallbacks(routes), config)
}

fn shared_layers(routes: Router, config: &HttpConfig) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let timeout = config.request_timeout;
    let proxies = config.trusted_proxies.clone();
    let mut routes = routes;
    for (name, value) in SECURITY_HEADERS {
        routes = routes.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    routes
        .layer(axum::middleware::from_fn(move |request, next| {
            resolve_client(proxies.clone(), request, next)
        }))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(drop_malformed_request_ids))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(crate::telemetry::request_span)
                        .on_response(on_response),
                )
                .layer(CatchPanicLayer::custom(on_panic))
                .layer(HandleErrorLayer::new(on_timeout))
                .layer(tower::timeout::TimeoutLayer::new(timeout)),
        )
}

/// A caller's request id is kept only if it looks like one (at most 128 characters of letters,
/// digits, `-`, `_`, `.`, `:`); anything else is replaced by a fresh id, so no client can fill
/// the logs, or the echoed header, with whatever it likes.
async fn drop_malformed_request_ids(mut request: Request, next: Next) -> axum::response::Response {
    let malformed = request.headers().get(REQUEST_ID).is_some_and(|value| {
        let bytes = value.as_bytes();
        bytes.is_empty()
            || bytes.len() > 128
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    });
    if malformed {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

fn on_response<B>(response: &Response<B>, latency: Duration, span: &tracing::Span) {
    let status = response.status().as_u16();
    span.record("status", status);
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(status, latency_ms, "request failed");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
}

fn on_panic(panic: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "handler panicked");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}

async fn on_timeout(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(ErrorCode::Timeout, "the request took too long")
    } else {
        ApiError::internal(err.as_ref())
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
///
/// Connection hygiene, so that a flood of slow or idle connections never keeps a normal request
/// from being served and never grows memory without bound:
/// - HTTP/1.1 only (the services sit behind the router or a proxy; HTTP/2's many streams per
///   connection, each with its own buffers, are memory a client could pin for free);
/// - a connection must deliver a request's headers within `header_timeout`, also while it idles
///   between keep-alive requests, and headers may not exceed [`MAX_HEADER_BYTES`];
/// - one client address may hold at most `max_per_address` connections (trusted proxies any):
///   beyond that, its newest connection makes room among its own;
/// - at most `max_connections` are open at once. At that bound a new connection evicts the one
///   that has been idle longest; if none is idle, the one whose request has run longest, if that
///   is over [`SLOW_REQUEST`] (a client trickling its body); else the newcomer is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: ConnectionLimits,
) -> std::io::Result<()> {
    raise_open_files_limit();
    let connections = Arc::new(Connections::new(&config));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = connections.admit(peer.ip()) else {
            tracing::warn!(%peer, "connection refused: every connection is busy");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let tracked = slot.state.clone();
        let app = app.clone();
        let service = tower::service_fn(move |request: axum::http::Request<Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            // The connection counts as busy until the response is ready.
            let running = tracked.clone().start();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(running);
                response
            }
        });
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let mut connection =
                std::pin::pin!(builder.serve_connection(io, TowerToHyperService::new(service)));
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(%err, "connection ended with an error");
                        }
                        break;
                    }
                    () = slot.state.evicted.notified() => {
                        tracing::debug!(%peer, "connection evicted for a new one");
                        break;
                    }
                    changed = stop.changed(), if !stopping => {
                        let _ = changed;
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = stop_tx.send(());
    done_tx.closed().await;
    Ok(())
}

/// The most a request's line and headers may take; a connection holding more is answered 431
/// and closed. Hyper's default (about 400 KiB) let each slow connection pin that much.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A request running longer than this may lose its connection to a newcomer when every
/// connection is busy: normal requests take milliseconds; a trickled body takes until the
/// request timeout.
pub const SLOW_REQUEST: Duration = Duration::from_secs(2);

/// How long a connection may take to send headers, and how many may be open at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Connections one client address (IPv6: its /64) may hold; trusted proxies may hold any.
    pub max_per_address: usize,
    pub trusted: TrustedProxies,
}

impl From<&HttpConfig> for ConnectionLimits {
    fn from(config: &HttpConfig) -> Self {
        Self {
            header_timeout: config.header_timeout,
            max_connections: config.max_connections,
            max_per_address: config.max_connections_per_address,
            trusted: config.trusted_proxies.clone(),
        }
    }
}

/// Raises the soft limit on open files to the hard limit (once), so `max_connections` is
/// reachable; the kernel default of 1024 is far below what a server needs.
fn raise_open_files_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: getrlimit/setrlimit only read and write the plain struct passed to them.
        unsafe {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}

/// The open connections, for the bound on how many there are.
struct Connections {
    limit: usize,
    per_address: usize,
    trusted: TrustedProxies,
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
    epoch: std::time::Instant,
}

/// What the server knows of one connection.
struct ConnectionState {
    /// Requests being handled right now.
    in_flight: AtomicUsize,
    /// When a request last started or finished (or the connection opened), in ms since `epoch`.
    last_active: AtomicU64,
    /// When the running requests started (the connection became busy), in ms since `epoch`.
    busy_since: AtomicU64,
    /// The client's [`address_group`].
    group: IpAddr,
    epoch: std::time::Instant,
    evicted: tokio::sync::Notify,
}

impl ConnectionState {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_active.store(self.now(), Ordering::Relaxed);
    }

    /// Marks a request as running until the returned guard drops.
    fn start(self: Arc<Self>) -> InFlight {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.busy_since.store(self.now(), Ordering::Relaxed);
        }
        self.touch();
        InFlight(self)
    }
}

/// A running request on a connection.
struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A connection's place among the open ones; dropping it frees the place.
struct Slot {
    id: u64,
    state: Arc<ConnectionState>,
    connections: Arc<Connections>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

impl Connections {
    fn new(limits: &ConnectionLimits) -> Self {
        Self {
            limit: limits.max_connections.max(1),
            per_address: limits.max_per_address.max(1),
            trusted: limits.trusted.clone(),
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnectionState>>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection to give up for a newcomer, among those `eligible`: the longest-idle one,
    /// else the one whose request has run longest if that is over [`SLOW_REQUEST`].
    fn victim(
        &self,
        open: &HashMap<u64, Arc<ConnectionState>>,
        eligible: impl Fn(&ConnectionState) -> bool,
    ) -> Option<u64> {
        let idle = open
            .iter()
            .filter(|(_, c)| eligible(c) && c.in_flight.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, c)| c.last_active.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let slow_before = now.saturating_sub(SLOW_REQUEST.as_millis() as u64);
        idle.or_else(|| {
            open.iter()
                .filter(|(_, c)| eligible(c))
                .map(|(id, c)| (*id, c.busy_since.load(Ordering::Relaxed)))
                .filter(|(_, since)| *since < slow_before)
                .min_by_key(|(_, since)| *since)
                .map(|(id, _)| id)
        })
    }

    /// A place for a connection from `peer`. When that address already holds its share, one of
    /// its own connections makes room (so one client can never crowd out the others); at the
    /// overall bound, anyone's. `None` when no connection can give way.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let group = address_group(peer);
        let capped = !self.trusted.trusts(peer.to_canonical());
        let mut open = self.lock();
        let mine = |c: &ConnectionState| c.group == group;
        let at_share = capped && open.values().filter(|c| mine(c)).count() >= self.per_address;
        if at_share || open.len() >= self.limit {
            let victim = if at_share {
                self.victim(&open, mine)?
            } else {
                self.victim(&open, |_| true)?
            };
            if let Some(state) = open.remove(&victim) {
                state.evicted.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            epoch: self.epoch,
            group,
            evicted: tokio::sync::Notify::new(),
        });
        state.touch();
        open.insert(id, state.clone());
        Some(Slot {
            id,
            state,
            connections: self.clone(),
        })
    }
}

/// The address a client is counted by: IPv4 addresses as they are, IPv6 ones by their /64 (one
/// host is usually given a whole /64, so counting single addresses would not bind it).
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes and compose send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining in-flight requests");
}

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

    fn trusts(&self, ip: IpAddr) -> bool {
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

async fn resolve_client(
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
        let app = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = HttpConfig::with_port(0);
        let server = tokio::spawn(serve(
            listener,
            finish(app, &config),
            async {
                stopped.await.ok();
            },
            (&config).into(),
        ));

        let in_flight = tokio::spawn(client().unwrap().get(format!("http://{addr}/slow")).send());
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();

        let response = in_flight
            .await
            .unwrap()
            .expect("the in-flight request completes");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "done");
        server.await.unwrap().expect("the server stops cleanly");
        assert!(
            client()
                .unwrap()
                .get(format!("http://{addr}/slow"))
                .send()
                .await
                .is_err(),
            "new connections are refused"
        );
    }

    /// A server on port 0 running `finish(hello())`, with these connection limits; it stops
    /// when the test ends.
    async fn spawn_server(header_timeout: Duration, max_connections: usize) -> SocketAddr {
        let limits = ConnectionLimits {
            header_timeout,
            max_connections,
            max_per_address: max_connections,
            trusted: TrustedProxies::default(),
        };
        let app = hello();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = finish(app, &HttpConfig::with_port(0));
        tokio::spawn(serve(listener, app, std::future::pending(), limits));
        addr
    }

    fn hello() -> Router {
        Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    "slow"
                }),
            )
    }

    /// Opens a raw connection and sends half a request's headers.
    async fn half_open(addr: SocketAddr) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        stream
    }

    /// Whether the server closed `stream` within `within`.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(within, stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }

    #[tokio::test]
    async fn connections_that_never_finish_their_headers_are_closed() {
        let addr = spawn_server(Duration::from_millis(300), 100).await;
        let mut slow = half_open(addr).await;
        assert!(closed_within(&mut slow, Duration::from_secs(3)).await);
    }

    #[tokio::test]
    async fn idle_keep_alive_connections_are_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = spawn_server(Duration::from_millis(300), 100).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
    }

    #[tokio::test]
    async fn at_the_bound_a_new_connection_evicts_the_longest_idle_one() {
        let addr = spawn_server(Duration::from_secs(60), 4).await;
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(half_open(addr).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        let response = client()
            .unwrap()
            .get(format!("http://{addr}/hello"))
            .send()
            .await
            .expect("served despite the flood");
        assert_eq!(response.text().await.unwrap(), "hello");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            closed_within(&mut held[0], Duration::from_secs(2)).await,
            "the oldest idle connection made room"
        );
    }

    #[tokio::test]
    async fn one_address_makes_room_among_its_own_connections() {
        let serve_with = |trusted: &str| {
            let trusted = TrustedProxies::parse(trusted).unwrap();
            async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let limits = ConnectionLimits {
                    header_timeout: Duration::from_secs(60),
                    max_connections: 100,
                    max_per_address: 3,
                    trusted,
                };
                let app = finish(hello(), &HttpConfig::with_port(0));
                tokio::spawn(serve(listener, app, std::future::pending(), limits));
                addr
            }
        };
        let addr = serve_with("").await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(half_open(addr).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let response = client()
            .unwrap()
            .get(format!("http://{addr}/hello"))
            .send()
            .await
            .expect("served: it took the place of its own oldest connection");
        assert_eq!(response.status(), 200);
        assert!(closed_within(&mut held[0], Duration::from_secs(2)).await);
        assert!(!closed_within(&mut held[2], Duration::from_millis(300)).await);

        // A trusted proxy (the router) carries many clients: it may hold any number.
        let addr = serve_with("127.0.0.1").await;
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(half_open(addr).await);
        }
        for stream in &mut held {
            assert!(!closed_within(stream, Duration::from_millis(100)).await);
        }
    }

    #[tokio::test]
    async fn a_connection_running_a_recent_request_is_never_evicted() {
        let addr = spawn_server(Duration::from_secs(60), 1).await;
        let busy = tokio::spawn(client().unwrap().get(format!("http://{addr}/slow")).send());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let shed = client()
            .unwrap()
            .get(format!("http://{addr}/hello"))
            .send()
            .await;
        assert!(shed.is_err(), "no room: the new connection is closed");
        let done = busy.await.unwrap().expect("the running request completes");
        assert_eq!(done.text().await.unwrap(), "slow");
    }

    #[tokio::test]
    async fn a_client_trickling_its_body_loses_its_connection_to_a_newcomer() {
        use tokio::io::AsyncWriteExt;
        let app = Router::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(60),
            max_connections: 2,
            max_per_address: 2,
            trusted: TrustedProxies::default(),
        };
        tokio::spawn(serve(
            listener,
            finish(app, &HttpConfig::with_port(0)),
            std::future::pending(),
            limits,
        ));
        let mut trickling = Vec::new();
        for _ in 0..2 {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nabc")
                .await
                .unwrap();
            trickling.push(stream);
        }
        tokio::time::sleep(SLOW_REQUEST + Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        let response = client()
            .unwrap()
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .expect("served: a trickling connection made room");
        assert_eq!(response.status(), 404);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn http2_is_not_spoken_and_huge_headers_are_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = spawn_server(Duration::from_secs(60), 100).await;
        let mut h2 = tokio::net::TcpStream::connect(addr).await.unwrap();
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), h2.read_to_end(&mut answer)).await;
        assert!(
            !String::from_utf8_lossy(&answer).contains(" 200 "),
            "no HTTP/2 stream was served"
        );

        let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
        let header = format!(
            "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(MAX_HEADER_BYTES * 2)
        );
        let _ = big.write_all(header.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), big.read_to_end(&mut answer)).await;
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }

    #[tokio::test]
    async fn only_well_formed_request_ids_are_kept() {
        let app = finish(hello(), &HttpConfig::with_port(0));
        let id_of = |sent: &str| {
            let request = axum::http::Request::get("/hello")
                .header(REQUEST_ID, sent)
                .body(axum::body::Body::empty())
                .unwrap();
            let app = app.clone();
            async move {
                let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
                response.headers()[REQUEST_ID].to_str().unwrap().to_owned()
            }
        };
        assert_eq!(id_of("router-7f3a.9:1").await, "router-7f3a.9:1");
        let replaced = id_of(&"x".repeat(300)).await;
        assert!(
            replaced.len() == 36 && replaced != "x".repeat(300),
            "{replaced}"
        );
        assert_ne!(id_of("bad id with spaces").await, "bad id with spaces");
    }

    #[tokio::test]
    async fn not_found_and_wrong_methods_carry_the_security_headers_too() {
        let app = finish(hello(), &HttpConfig::with_port(0));
        for (method, path, status) in [("GET", "/nope", 404), ("PUT", "/hello", 405)] {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(app.clone(), request)
                .await
                .unwrap();
            assert_eq!(response.status(), status);
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(response.headers()[&name], value, "{method} {path}: {name}");
            }
        }
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        // Nobody trusted: a client cannot choose its own address.
        assert_eq!(TrustedProxies::default().client(peer, &headers), peer);
        // The proxies at 10/8 forwarded it: the first untrusted hop from the right.
        let proxies = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        assert_eq!(
            proxies.client(peer, &headers),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // A spoofed entry left of an untrusted hop is ignored.
        let mut spoofed = HeaderMap::new();
        spoofed.append("x-forwarded-for", "1.2.3.4, 198.51.100.1".parse().unwrap());
        assert_eq!(
            proxies.client(peer, &spoofed),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert!(TrustedProxies::parse("not-an-ip").is_err());
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let request = axum::http::Request::get("/hello")
            .body(axum::body::Body::empty())
            .unwrap();
        let response =
            tower::ServiceExt::oneshot(finish(hello(), &HttpConfig::with_port(0)), request)
                .await
                .unwrap();
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(response.headers()[&name], value, "{name}");
        }
    }

    #[tokio::test]
    async fn slow_requests_time_out_in_the_shared_shape() {
        let app = Router::new().route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "never"
            }),
        );
        let config = HttpConfig {
            request_timeout: Duration::from_millis(50),
            ..HttpConfig::with_port(0)
        };
        let request = axum::http::Request::get("/stuck")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(finish(app, &config), request)
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"TIMEOUT\""));
    }

    #[tokio::test]
    async fn panics_answer_a_generic_500_in_the_shared_shape() {
        async fn boom() -> &'static str {
            panic!("secret internal detail")
        }
        let app = Router::new().route("/boom", get(boom));
        let request = axum::http::Request::get("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(finish(app, &HttpConfig::with_port(0)), request)
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("\"INTERNAL\"") && !text.contains("secret"),
            "{text}"
        );
    }
}
