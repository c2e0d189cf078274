//! Extractors whose rejections answer in the shared error shape instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, ErrorCode};

/// `axum::Json`, but malformed JSON is a 400 `INVALID_JSON`, a body of the wrong shape a 422
/// `VALIDATION_FAILED`, a missing content type a 415 and an oversized body a 413.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(err) => ApiError::validation(format!(
                "invalid request body: {}",
                serde_detail(&err.body_text())
            )),
            JsonRejection::JsonSyntaxError(err) => ApiError::new(
                ErrorCode::InvalidJson,
                format!("malformed JSON: {}", serde_detail(&err.body_text())),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected a request body with Content-Type: application/json",
            ),
            other => body_rejection(other.status()),
        }
    }
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
