//! The products service's errors and the one place they map to codes.

use subgraph::Failure;
use uuid::Uuid;
use web::{ApiError, ErrorCode};

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
            Error::NotFound => ApiError::new(ErrorCode::NotFound, message),
            Error::ReservationNotFound => ApiError::new(ErrorCode::ReservationNotFound, message),
            Error::InsufficientStock { .. } => ApiError::new(ErrorCode::InsufficientStock, message),
            Error::StockLimit { .. } => ApiError::validation(message),
            Error::ReservationReleased => ApiError::new(ErrorCode::ReservationReleased, message),
            Error::ProductUnavailable(_) | Error::ReservationMismatch => {
                ApiError::new(ErrorCode::Conflict, message)
            }
            Error::Common(failure) => failure.into(),
        }
    }
}

subgraph::service_error!(Error);
