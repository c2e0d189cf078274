//! The users service's errors and the one place they map to codes.

use subgraph::Failure;
use web::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("user not found")]
    NotFound,
    #[error("too many failed logins for this account; try again later")]
    TooManyAttempts(std::time::Duration),
    #[error("too many logins are being checked right now; try again in a moment")]
    Busy,
    #[error(transparent)]
    Common(#[from] Failure),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::EmailTaken => ApiError::new(ErrorCode::EmailTaken, err.to_string()),
            Error::InvalidCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, err.to_string())
            }
            Error::NotFound => ApiError::not_found("user"),
            Error::TooManyAttempts(wait) => {
                ApiError::new(ErrorCode::RateLimited, err.to_string()).retry_after(wait)
            }
            Error::Busy => ApiError::new(ErrorCode::Unavailable, err.to_string())
                .retry_after(std::time::Duration::from_secs(1)),
            Error::Common(failure) => failure.into(),
        }
    }
}

subgraph::service_error!(Error);
