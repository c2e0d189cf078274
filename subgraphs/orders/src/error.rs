//! The orders service's errors and the one place they map to codes.

use subgraph::Failure;
use uuid::Uuid;
use web::{ApiError, ErrorCode};

use crate::domain::OrderStatus;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another user's order (or orders), or one that does not exist.
    #[error("order not found")]
    NotFound,
    #[error("user {0} not found")]
    UserNotFound(Uuid),
    #[error("the cart is empty: add something before checking out")]
    EmptyCart,
    #[error("{0}")]
    InsufficientStock(String),
    #[error("this Idempotency-Key was used for another request; use a new key for a new order")]
    KeyReused,
    #[error("an order that is {} cannot become {}", from.as_str(), to.as_str())]
    IllegalTransition { from: OrderStatus, to: OrderStatus },
    #[error("{0}")]
    Conflict(String),
    /// Another checkout of the same user's cart is under way.
    #[error(
        "another checkout of this cart is in progress; wait for it (a retry with its Idempotency-Key returns its order)"
    )]
    CheckoutInProgress,
    /// An earlier order's items could not yet be taken out of the cart (cart unreachable).
    #[error("the previous order is still being completed; try again shortly")]
    PreviousUnfinished,
    /// The order was stored but its stock not yet confirmed (products could not be reached).
    #[error(
        "the order was stored but could not be confirmed yet; it will be completed or cancelled shortly (retry with the same Idempotency-Key to see which)"
    )]
    Unfinished,
    /// A test made the checkout "die" at a failpoint (feature `failpoints`).
    #[cfg(feature = "failpoints")]
    #[error("the checkout was interrupted")]
    Interrupted,
    #[error(transparent)]
    Common(#[from] Failure),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::NotFound | Error::UserNotFound(_) => ApiError::new(ErrorCode::NotFound, message),
            Error::EmptyCart | Error::KeyReused => ApiError::validation(message),
            Error::InsufficientStock(_) => ApiError::new(ErrorCode::InsufficientStock, message),
            Error::IllegalTransition { .. } | Error::Conflict(_) | Error::CheckoutInProgress => {
                ApiError::new(ErrorCode::Conflict, message)
            }
            #[cfg(feature = "failpoints")]
            Error::Interrupted => ApiError::new(ErrorCode::Unavailable, message)
                .retry_after(std::time::Duration::from_secs(2)),
            Error::Unfinished | Error::PreviousUnfinished => {
                ApiError::new(ErrorCode::Unavailable, message)
                    .retry_after(std::time::Duration::from_secs(2))
            }
            Error::Common(failure) => failure.into(),
        }
    }
}

subgraph::service_error!(Error);
