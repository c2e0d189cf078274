//! Calls between the services: one typed client per service. The wire types of each call are
//! `contracts`', which the serving side uses too, so both ends share one definition of it.
//!
//! Every client shares the process's one `reqwest::Client` (pooled keep-alive connections,
//! connect and overall timeouts, see [`web::http::client`]), takes its base URL from config,
//! sends the service credential, and retries only calls that are safe to repeat (reads, and
//! writes the serving side makes idempotent by key), twice, on connection failures, 5xx and
//! answers outside the contract. A refusal is a [`PeerError::Refused`] with its typed code; a
//! client method turns the refusals its call's contract names ("no such reservation") into
//! answers, and never takes a 404 alone for one: a route nobody serves is not a missing record.

pub mod cart;
pub mod products;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use auth::ServiceAuth;
use web::{ApiError, ErrorCode};

/// A call to another service that did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The service could not be reached, timed out, failed (5xx), or answered outside its
    /// contract: a 404 for a route it does not serve (an older version during a rolling update,
    /// a proxy, a wrong base URL), or an error without the shared shape and a known code. Nothing
    /// can be concluded from such an answer, so the caller treats it as no answer.
    #[error("the {service} service is unavailable")]
    Unavailable {
        service: &'static str,
        #[source]
        cause: anyhow::Error,
    },
    /// The service refused the call with a code of the shared error table.
    #[error("the {service} service answered {status} {code}: {message}")]
    Refused {
        service: &'static str,
        status: u16,
        code: ErrorCode,
        message: String,
    },
}

impl PeerError {
    /// Whether the service refused with `code`.
    pub fn is_refusal(&self, code: ErrorCode) -> bool {
        matches!(self, PeerError::Refused { code: refused, .. } if *refused == code)
    }
}

impl From<PeerError> for ApiError {
    /// A peer that cannot be reached is a 503 naming it; a refusal the caller did not turn into
    /// one of its own errors is unexpected (a 500, logged).
    fn from(err: PeerError) -> Self {
        match &err {
            PeerError::Unavailable { service, .. } => {
                tracing::warn!(error = %web::error::ErrorChain(&err), "peer unavailable");
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
    code: ErrorCode,
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

    fn unavailable(&self, cause: impl Into<anyhow::Error>) -> PeerError {
        PeerError::Unavailable {
            service: self.service,
            cause: cause.into(),
        }
    }

    /// Sends a request built by `build` (again, for each attempt of a repeatable call) and reads
    /// a 2xx JSON answer. A refusal comes back typed; an answer outside the contract (see
    /// [`PeerError::Unavailable`]) is retried like a failure.
    async fn call<T: DeserializeOwned>(
        &self,
        repeatable: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T, PeerError> {
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
            if !status.is_success() {
                match self.refusal(status, response).await {
                    refused @ PeerError::Refused { .. } => return Err(refused),
                    off_contract => {
                        last = Some(off_contract);
                        continue;
                    }
                }
            }
            if status == StatusCode::NO_CONTENT {
                return serde_json::from_value(serde_json::Value::Null)
                    .map_err(|e| self.unavailable(e));
            }
            return response.json::<T>().await.map_err(|e| self.unavailable(e));
        }
        Err(last.unwrap_or_else(|| self.unavailable(anyhow::anyhow!("no attempt was made"))))
    }

    /// A 4xx answer as a typed refusal, or as unavailable when it is not one: a body that is
    /// not the shared shape, a code the table does not have, a code whose status is not the one
    /// answered, or `ROUTE_NOT_FOUND`.
    async fn refusal(&self, status: StatusCode, response: reqwest::Response) -> PeerError {
        let body = response.bytes().await.unwrap_or_default();
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        match detail {
            Some(ErrorDetail { code, message })
                if code != ErrorCode::RouteNotFound
                    && code.status().as_u16() == status.as_u16() =>
            {
                PeerError::Refused {
                    service: self.service,
                    status: status.as_u16(),
                    code,
                    message,
                }
            }
            Some(ErrorDetail { code, .. }) => self.unavailable(anyhow::anyhow!(
                "answered {status} {code}, outside its contract"
            )),
            None => self.unavailable(anyhow::anyhow!(
                "answered {status} without an error in the shared shape"
            )),
        }
    }

    /// `GET path`: repeatable.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PeerError> {
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
    ) -> Result<T, PeerError> {
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
