//! Extractors whose rejections answer in the shared error shape instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::{ApiError, ErrorCode};

/// A JSON request body (an object) or response. Malformed JSON is a 400 `INVALID_JSON`; a body of
/// the wrong shape (not an object, missing, unknown or mistyped fields) a 422 `VALIDATION_FAILED`
/// naming the field; a missing JSON content type a 415; an oversized body a 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected a request body with Content-Type: application/json",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_rejection(rejection.status()))?;
        parse_object(&body).map(Json)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes a JSON object into `T`, with errors phrased for the client.
fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed = |err: serde_json::Error| {
        ApiError::new(ErrorCode::InvalidJson, format!("malformed JSON: {err}"))
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Serde would read a struct from an array too; only objects are accepted.
        serde_json::from_slice::<IgnoredAny>(body).map_err(malformed)?;
        return Err(ApiError::validation(
            "the request body must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            let at = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            ApiError::validation(format!("invalid request body: {at}{inner}"))
        } else {
            malformed(inner)
        }
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

/// Maps a failure to read the body (too large, broken stream) to the shared shape.
pub fn body_rejection(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
    } else {
        ApiError::bad_request("could not read the request body")
    }
}

/// axum prefixes serde's message with its own sentence; keep only serde's part.
fn serde_detail(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, detail)| detail)
}

/// `axum::extract::Query` with rejections in the shared shape (422).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::validation(format!(
            "invalid query string: {}",
            serde_detail(&rejection.body_text())
        ))
    }
}

/// `axum::extract::Path` with rejections in the shared shape. A path segment that cannot be parsed
/// (say, a product id that is not a UUID) names nothing that exists, so it answers 404.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => {
                ApiError::new(ErrorCode::NotFound, "no such resource")
            }
            other => ApiError::bad_request(other.body_text()),
        }
    }
}
