//! Logging: one `tracing` subscriber per process, and the per-request span.

use axum::extract::MatchedPath;
use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How a process logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logging {
    /// One JSON object per line (what compose and Kubernetes collect); else human-readable lines.
    pub json: bool,
    /// An `EnvFilter` directive (`RUST_LOG`'s syntax); unset or invalid: info, quieter for sqlx
    /// and tower_http.
    pub filter: Option<String>,
}

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored), so
/// tests may call it freely.
pub fn init(logging: &Logging) {
    let filter = logging
        .filter
        .as_deref()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let json = logging.json;
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

/// The request-id header: taken from the caller when present (the router sets it), else minted.
pub const REQUEST_ID: &str = "x-request-id";

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
    let traceparent = header("traceparent");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id = header(REQUEST_ID),
        traceparent = if is_traceparent(&traceparent) { traceparent.as_str() } else { "" },
        status = tracing::field::Empty,
    )
}

/// Whether `value` is a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`): only those are
/// logged, so a client cannot write whatever it likes into every log line.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && [2, 32, 16, 2]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_well_formed_traceparents_are_logged() {
        assert!(super::is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!super::is_traceparent(&"0".repeat(90_000)));
        assert!(!super::is_traceparent("00-xyz-00f067aa0ba902b7-01"));
    }
}
