//! Logging: one `tracing` subscriber per process, and the per-request span.

use axum::extract::MatchedPath;
use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. `LOG_FORMAT=json` gives one JSON object per line (what
/// compose and Kubernetes collect); otherwise human-readable lines. `RUST_LOG` filters.
/// Calling it twice is harmless (the second call is ignored), so tests may call it freely.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let json = crate::config::var("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().compact())
            .try_init()
    };
}

/// The span every request runs in: method, route template (never raw ids), request id and the
/// W3C trace context the caller sent, so a log line can be joined across router and services.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |p| p.as_str().to_owned());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id = header(crate::http::REQUEST_ID),
        traceparent = header("traceparent"),
        status = tracing::field::Empty,
    )
}
