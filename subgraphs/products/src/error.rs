//! The products service's errors and the one place they map to codes.

use kit::{ApiError, ErrorCode, Failure};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    #[error(
        "this order id's reservation was released and holds no stock; reserve with a new order id"
    )]
    ReservationReleased,
    #[error(transparent)]
    Common(#[from] Failure),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::NotFound | Error::ReservationNotFound => {
                ApiError::new(ErrorCode::NotFound, message)
            }
            Error::InsufficientStock { .. } => ApiError::new(ErrorCode::InsufficientStock, message),
            Error::StockLimit { .. } => ApiError::validation(message),
            Error::ProductUnavailable(_)
            | Error::ReservationMismatch
            | Error::ReservationReleased => ApiError::new(ErrorCode::Conflict, message),
            Error::Common(failure) => failure.into(),
        }
    }
}

kit::service_error!(Error);
