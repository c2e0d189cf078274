//! The middleware every service's routes get: request ids, spans, metrics, timeouts, body
//! limits, a panic catcher, security headers, and JSON answers for unknown routes and methods.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Response, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode};

use crate::client_addr::resolve_client;
use crate::telemetry::REQUEST_ID;

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
