//! Serving a router: HTTP/1.1 with header limits, connection limits and eviction, and a graceful
//! drain on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::HttpConfig;

use crate::client_addr::{TrustedProxies, address_group};

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
