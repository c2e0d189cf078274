//! Server bootstrap: the middleware every service runs behind, JSON fallbacks, and serving with
//! graceful shutdown.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Response, header};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
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
    let routes = routes
        .merge(crate::health::router(name, ready))
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::metrics::track(name, request, next)
        }));
    finish(routes, config)
}

/// Wraps a service's routes with what every service needs: JSON 404/405 fallbacks, a body size
/// limit, a request timeout, panic recovery, request ids and the request span.
pub fn finish(routes: Router, config: &HttpConfig) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let timeout = config.request_timeout;
    routes
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(
            ServiceBuilder::new()
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
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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

/// The HTTP client for calls to other services: connection and overall timeouts so a slow peer
/// never holds a request forever.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("ecommerce/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
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
        let server = tokio::spawn(serve(
            listener,
            finish(app, &HttpConfig::with_port(0)),
            async {
                stopped.await.ok();
            },
        ));

        let in_flight = tokio::spawn(client().get(format!("http://{addr}/slow")).send());
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
                .get(format!("http://{addr}/slow"))
                .send()
                .await
                .is_err(),
            "new connections are refused"
        );
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
