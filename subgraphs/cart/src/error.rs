//! The cart service's errors and the one place they map to codes.

use subgraph::Failure;
use uuid::Uuid;
use web::{ApiError, ErrorCode};

use crate::domain::{MAX_LINES, MAX_QUANTITY};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another user's cart, or one the caller may not see.
    #[error("cart not found")]
    NotFound,
    #[error("user {0} not found")]
    UserNotFound(Uuid),
    #[error("product {0} not found")]
    ProductNotFound(Uuid),
    #[error("product {0} is not available")]
    ProductUnavailable(Uuid),
    #[error("product {0} is not in the cart")]
    NotInCart(Uuid),
    #[error(
        "insufficient stock for product {product_id}: {available} available, {requested} requested"
    )]
    InsufficientStock {
        product_id: Uuid,
        requested: i32,
        available: i32,
    },
    #[error("a cart holds at most {MAX_QUANTITY} of one product (it holds {current})")]
    LineFull { current: i32 },
    #[error("a cart holds at most {MAX_LINES} different products")]
    CartFull,
    #[error("product {product_id} is priced in {currency}; this cart is in {cart_currency}")]
    CurrencyMismatch {
        product_id: Uuid,
        currency: String,
        cart_currency: String,
    },
    #[error(transparent)]
    Common(#[from] Failure),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::NotFound
            | Error::UserNotFound(_)
            | Error::ProductNotFound(_)
            | Error::NotInCart(_) => ApiError::new(ErrorCode::NotFound, message),
            Error::ProductUnavailable(_) | Error::CurrencyMismatch { .. } => {
                ApiError::new(ErrorCode::Conflict, message)
            }
            Error::InsufficientStock { .. } => ApiError::new(ErrorCode::InsufficientStock, message),
            Error::LineFull { .. } | Error::CartFull => ApiError::validation(message),
            Error::Common(failure) => failure.into(),
        }
    }
}

subgraph::service_error!(Error);
