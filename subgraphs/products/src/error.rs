//! The products service's errors and the one place they map to codes.

use kit::auth::AuthError;
use kit::db::StoreError;
use kit::{ApiError, ErrorCode};
use uuid::Uuid;

use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("product not found")]
    NotFound,
    #[error("reservation not found")]
    ReservationNotFound,
    #[error(
        "insufficient stock for product {product_id}: {available} available, {requested} requested"
    )]
    InsufficientStock {
        product_id: Uuid,
        requested: i64,
        available: i32,
    },
    #[error("stock would exceed {max}")]
    StockLimit { max: i32 },
    #[error("product {0} is not available")]
    ProductUnavailable(Uuid),
    #[error("this order id was already used to reserve other items")]
    ReservationMismatch,
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
        let message = err.to_string();
        match err {
            Error::Invalid(invalid) => ApiError::validation(invalid.0),
            Error::NotFound | Error::ReservationNotFound => {
                ApiError::new(ErrorCode::NotFound, message)
            }
            Error::InsufficientStock { .. } => ApiError::new(ErrorCode::InsufficientStock, message),
            Error::StockLimit { .. } => ApiError::validation(message),
            Error::ProductUnavailable(_) | Error::ReservationMismatch => {
                ApiError::new(ErrorCode::Conflict, message)
            }
            Error::Auth(auth) => auth.into(),
            Error::Api(api) => api,
            Error::Store(store) => store.into(),
            Error::Unexpected(cause) => cause.into(),
        }
    }
}

kit::api_error_conversions!(Error);
