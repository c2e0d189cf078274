//! The failures every service shares, and the macro that makes a service's own error enum answer
//! through the one error table.

use web::{ApiError, Invalid};

/// The failures every service shares, raised by the shared crates: bad input, authentication,
/// ready-made API errors, the store, and the unexpected. Each service's error enum ends with a
/// `Common(Failure)` variant and [`service_error!`](crate::service_error) wires it up.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid(invalid) => invalid.into(),
            Failure::Auth(auth) => auth.into(),
            Failure::Api(api) => api,
            Failure::Store(store) => store.into(),
            Failure::Unexpected(cause) => cause.into(),
        }
    }
}

impl From<peers::PeerError> for Failure {
    fn from(err: peers::PeerError) -> Self {
        Failure::Api(err.into())
    }
}

/// For a service error enum with a `Common(subgraph::Failure)` variant and
/// `From<Error> for ApiError`: converts every shared error into it, and answers HTTP responses and
/// GraphQL errors through that one mapping.
#[macro_export]
macro_rules! service_error {
    ($error:ty) => {
        $crate::service_error!(@from $error: $crate::__private::web::Invalid,
            $crate::__private::auth::AuthError, $crate::__private::web::ApiError,
            $crate::__private::storage::StoreError, $crate::__private::peers::PeerError,
            $crate::__private::anyhow::Error);

        impl $crate::__private::axum::response::IntoResponse for $error {
            fn into_response(self) -> $crate::__private::axum::response::Response {
                $crate::__private::web::ApiError::from(self).into_response()
            }
        }

        impl From<$error> for $crate::__private::async_graphql::Error {
            fn from(err: $error) -> Self {
                $crate::__private::web::ApiError::from(err).into()
            }
        }
    };
    (@from $error:ty: $($kit:ty),+) => {
        $(impl From<$kit> for $error {
            fn from(err: $kit) -> Self {
                Self::Common(err.into())
            }
        })+
    };
}
