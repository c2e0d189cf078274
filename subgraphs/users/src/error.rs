//! The users service's errors and the one place they map to codes.

use kit::auth::AuthError;
use kit::db::StoreError;
use kit::{ApiError, ErrorCode};

use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("user not found")]
    NotFound,
    #[error("too many failed logins for this account; try again later")]
    TooManyAttempts(std::time::Duration),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(invalid) => ApiError::validation(invalid.0),
            Error::EmailTaken => ApiError::new(ErrorCode::EmailTaken, err.to_string()),
            Error::InvalidCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, err.to_string())
            }
            Error::NotFound => ApiError::not_found("user"),
            Error::TooManyAttempts(wait) => {
                ApiError::new(ErrorCode::RateLimited, err.to_string()).retry_after(wait)
            }
            Error::Auth(auth) => auth.into(),
            Error::Api(api) => api,
            Error::Store(store) => store.into(),
            Error::Unexpected(cause) => cause.into(),
        }
    }
}

kit::api_error_conversions!(Error);
