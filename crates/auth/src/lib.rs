//! Authentication and roles: access tokens (EdDSA JWTs issued by users, verified everywhere), the
//! caller extractor, and the service credential for calls between services.

mod keys;
mod service;
mod tokens;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::sync::Arc;
use uuid::Uuid;

pub use keys::{Jwk, JwkSet, PublicKey, SigningKey};
pub use service::{ServiceAuth, ServiceCaller};
pub use tokens::{AccessToken, Claims, TokenIssuer, TokenSettings, TokenVerifier};

use web::{ApiError, ErrorCode};

pub use contracts::Role;

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed Authorization header")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
    #[error("a service credential is required")]
    NotAService,
    #[error("cannot fetch signing keys")]
    KeysUnavailable(#[source] anyhow::Error),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::KeysUnavailable(cause) => ApiError::unavailable(cause.as_ref()),
            AuthError::NotAService => ApiError::new(ErrorCode::Forbidden, err.to_string()),
            other => ApiError::new(ErrorCode::Unauthenticated, other.to_string()),
        }
    }
}

impl From<AuthError> for async_graphql::Error {
    fn from(err: AuthError) -> Self {
        ApiError::from(err).into()
    }
}

/// An authenticated user, taken from a verified access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see or change what belongs to `owner`: themselves, or any as admin.
    pub fn can_act_for(&self, owner: Uuid) -> bool {
        self.is_admin() || self.user_id == owner
    }

    /// Admin-only operations answer 403 to everyone else.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The bearer token of a request, if any. `Authorization` present but not `Bearer <token>` is an
/// error rather than anonymous, so a client with a broken header learns so.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(Some(token))
}

/// The caller of a request that may be anonymous; a present but bad token is still rejected.
pub async fn optional_caller(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
) -> Result<Option<Caller>, AuthError> {
    match bearer_token(headers)? {
        None => Ok(None),
        Some(token) => verifier
            .verify(token)
            .await
            .map(|claims| Some(claims.caller())),
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<TokenVerifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<TokenVerifier>::from_ref(state);
        optional_caller(&verifier, &parts.headers)
            .await?
            .ok_or_else(|| AuthError::Missing.into())
    }
}

/// The GraphQL view of who is asking: inserted into every request's data by the handler.
#[derive(Clone, Copy, Debug, Default)]
pub struct Viewer(pub Option<Caller>);

impl Viewer {
    /// The caller, or `UNAUTHENTICATED`.
    pub fn require(&self) -> Result<Caller, ApiError> {
        self.0.ok_or_else(|| AuthError::Missing.into())
    }

    /// The caller if they are an admin; `UNAUTHENTICATED` or `FORBIDDEN` otherwise.
    pub fn require_admin(&self) -> Result<Caller, ApiError> {
        let caller = self.require()?;
        caller.require_admin()?;
        Ok(caller)
    }
}
