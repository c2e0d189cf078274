//! `/health` (as in the original API), `/health/live` (the process is up) and `/health/ready`
//! (the service's own database answers).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};

/// Checks the dependencies a service needs to serve traffic (its database).
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

#[derive(Clone)]
struct Health {
    service: &'static str,
    check: ReadinessCheck,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes for `service`, with their own state so any service router can merge them.
pub fn router(service: &'static str, check: ReadinessCheck) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(Health { service, check })
}

async fn run_check(health: &Health) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, (health.check)()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("{err:#}")),
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn health(State(health): State<Health>) -> Response {
    let (status, database) = match run_check(&health).await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!(error = %err, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let body = json!({
        "status": if status.is_success() { "ok" } else { "degraded" },
        "service": health.service,
        "version": env!("CARGO_PKG_VERSION"),
        "database": database,
    });
    (status, axum::Json(body)).into_response()
}

async fn live(State(health): State<Health>) -> Response {
    axum::Json(json!({"status": "ok", "service": health.service})).into_response()
}

async fn ready(State(health): State<Health>) -> Response {
    match run_check(&health).await {
        Ok(()) => axum::Json(json!({"status": "ready", "service": health.service})).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            ApiError::new(ErrorCode::Unavailable, "database unavailable").into_response()
        }
    }
}
