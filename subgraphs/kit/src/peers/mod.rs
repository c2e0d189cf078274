//! Calls between the services: one typed client per service, and the wire types of its internal
//! routes, used by the serving side too, so both ends share one definition of each call.
//!
//! Every client shares the process's one `reqwest::Client` (pooled keep-alive connections,
//! connect and overall timeouts, see [`crate::http::client`]), takes its base URL from config,
//! sends the service credential, and retries only calls that are safe to repeat (reads, and
//! writes the serving side makes idempotent by key), twice, on connection failures and 5xx.

pub mod cart;
pub mod products;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::ServiceAuth;
use crate::error::{ApiError, ErrorCode};

/// A call to another service that did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The service could not be reached, timed out, or failed (5xx).
    #[error("the {service} service is unavailable")]
    Unavailable {
        service: &'static str,
        #[source]
        cause: anyhow::Error,
    },
    /// The service refused the call with an error in the shared shape.
    #[error("the {service} service answered {status} {code}: {message}")]
    Refused {
        service: &'static str,
        status: u16,
        code: String,
        message: String,
    },
}

impl PeerError {
    /// The refusal's code, if the service refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            PeerError::Refused { code, .. } => Some(code),
            PeerError::Unavailable { .. } => None,
        }
    }
}

impl From<PeerError> for ApiError {
    /// A peer that cannot be reached is a 503 naming it; a refusal the caller did not turn into
    /// one of its own errors is unexpected (a 500, logged).
    fn from(err: PeerError) -> Self {
        match &err {
            PeerError::Unavailable { service, .. } => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "peer unavailable");
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("the {service} service is unavailable; nothing was changed, try again"),
                )
                .retry_after(Duration::from_secs(1))
            }
            PeerError::Refused { .. } => ApiError::internal(&err),
        }
    }
}

impl From<PeerError> for crate::Failure {
    fn from(err: PeerError) -> Self {
        crate::Failure::Api(err.into())
    }
}

/// Where a service is and how to call it.
#[derive(Clone)]
pub struct Peer {
    service: &'static str,
    base: String,
    http: reqwest::Client,
    auth: Arc<ServiceAuth>,
}

/// The body of a refusal, in the shared error shape.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// Attempts for a call that is safe to repeat.
const ATTEMPTS: u32 = 3;

impl Peer {
    pub fn new(
        service: &'static str,
        base: &str,
        http: reqwest::Client,
        auth: Arc<ServiceAuth>,
    ) -> Self {
        Self {
            service,
            base: base.trim_end_matches('/').to_owned(),
            http,
            auth,
        }
    }

    /// `<NAME>_URL` from the environment, else `default`.
    pub fn from_env(
        service: &'static str,
        variable: &str,
        default: &str,
        http: reqwest::Client,
        auth: Arc<ServiceAuth>,
    ) -> Self {
        let base = crate::config::var(variable).unwrap_or_else(|| default.to_owned());
        Self::new(service, &base, http, auth)
    }

    fn unavailable(&self, cause: impl Into<anyhow::Error>) -> PeerError {
        PeerError::Unavailable {
            service: self.service,
            cause: cause.into(),
        }
    }

    /// Sends a request built by `build` (again, for each attempt of a repeatable call) and reads
    /// a 2xx JSON answer; `Ok(None)` for 404.
    async fn call<T: DeserializeOwned>(
        &self,
        repeatable: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Option<T>, PeerError> {
        let attempts = if repeatable { ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let credential = self.auth.mint().map_err(|e| self.unavailable(e))?;
            let sent = build(&self.http).bearer_auth(credential).send().await;
            let response = match sent {
                Ok(response) => response,
                Err(err) => {
                    last = Some(self.unavailable(err));
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() {
                last = Some(self.unavailable(anyhow::anyhow!("answered {status}")));
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                let body: Option<ErrorBody> = response.json().await.ok();
                let (code, message) = body
                    .map(|b| (b.error.code, b.error.message))
                    .unwrap_or_else(|| ("UNKNOWN".to_owned(), String::new()));
                return Err(PeerError::Refused {
                    service: self.service,
                    status: status.as_u16(),
                    code,
                    message,
                });
            }
            if status == StatusCode::NO_CONTENT {
                return serde_json::from_value(serde_json::Value::Null)
                    .map(Some)
                    .map_err(|e| self.unavailable(e));
            }
            return response
                .json::<T>()
                .await
                .map(Some)
                .map_err(|e| self.unavailable(e));
        }
        Err(last.unwrap_or_else(|| self.unavailable(anyhow::anyhow!("no attempt was made"))))
    }

    /// `GET path`: repeatable; `None` for 404.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, PeerError> {
        let url = format!("{}{path}", self.base);
        self.call(true, |http| http.get(&url)).await
    }

    /// `method path` with a JSON body; `repeatable` when the serving side makes it idempotent.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        repeatable: bool,
    ) -> Result<Option<T>, PeerError> {
        let url = format!("{}{path}", self.base);
        self.call(repeatable, |http| {
            let request = http.request(method.clone(), &url);
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })
        .await
    }
}
