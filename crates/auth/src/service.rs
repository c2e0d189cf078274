//! The service credential: what one service presents when it calls another's internal endpoints.
//!
//! It is an HS256 JWT signed with `SERVICE_SECRET`, a secret only the services hold, with its own
//! issuer and audience. User tokens are EdDSA and are verified by a different path, so neither
//! kind can stand in for the other.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{AuthError, bearer_token};
use web::ApiError;

const ISSUER: &str = "ecommerce-services";
const AUDIENCE: &str = "ecommerce-internal";
const TTL_SECS: i64 = 60;
const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
struct ServiceClaims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Mints credentials for this service's outgoing calls and checks incoming ones.
pub struct ServiceAuth {
    name: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for ServiceAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAuth")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServiceAuth {
    /// `name` is this service (the `sub` of what it mints).
    pub fn new(name: &str, secret: &SecretString) -> anyhow::Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        anyhow::ensure!(
            bytes.len() >= MIN_SECRET_LEN,
            "SERVICE_SECRET must be at least {MIN_SECRET_LEN} bytes"
        );
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            name: name.to_owned(),
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        })
    }

    /// A random secret, for a process that runs every service itself.
    pub fn generate_secret() -> SecretString {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        use base64::Engine;
        SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// With the shared `secret` (`SERVICE_SECRET`); without one a random secret is used and only
    /// this process's own credentials are accepted (fine for one service alone on a laptop, and
    /// said so in the log).
    pub fn shared_or_own(name: &str, secret: Option<&SecretString>) -> anyhow::Result<Self> {
        match secret {
            Some(secret) => Self::new(name, secret),
            None => {
                tracing::warn!(
                    "SERVICE_SECRET is not set; internal endpoints accept only this process's credentials"
                );
                Self::new(name, &Self::generate_secret())
            }
        }
    }

    /// A short-lived credential for one outgoing call.
    pub fn mint(&self) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = ServiceClaims {
            sub: self.name.clone(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + TTL_SECS,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks an incoming credential; a user's access token answers `NotAService`.
    pub fn verify(&self, token: &str) -> Result<ServiceCaller, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::NotAService);
        }
        let data = jsonwebtoken::decode::<ServiceClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthError::Invalid)?;
        Ok(ServiceCaller {
            service: data.claims.sub,
        })
    }
}

/// Another service of the platform, authenticated by its service credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceCaller {
    pub service: String,
}

impl<S> FromRequestParts<S> for ServiceCaller
where
    Arc<ServiceAuth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<ServiceAuth>::from_ref(state);
        let token = bearer_token(&parts.headers)?.ok_or(AuthError::Missing)?;
        Ok(auth.verify(token)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, SigningKey, TokenIssuer, TokenSettings};

    fn auth(name: &str) -> ServiceAuth {
        ServiceAuth::new(
            name,
            &SecretString::from("a-test-secret-that-is-long-enough-0123456789"),
        )
        .unwrap()
    }

    #[test]
    fn minted_credentials_verify_and_name_the_caller() {
        let orders = auth("orders");
        let products = auth("products");
        let caller = products.verify(&orders.mint().unwrap()).unwrap();
        assert_eq!(caller.service, "orders");
    }

    #[test]
    fn a_user_token_is_not_a_service_credential() {
        let issuer = TokenIssuer::new(SigningKey::generate(), TokenSettings::default());
        let token = issuer
            .issue(uuid::Uuid::new_v4(), Role::Admin)
            .unwrap()
            .token;
        assert!(matches!(
            auth("products").verify(&token),
            Err(AuthError::NotAService)
        ));
    }

    #[test]
    fn another_secret_is_rejected() {
        let other = ServiceAuth::new(
            "x",
            &SecretString::from("another-secret-that-is-long-enough-9876543210"),
        )
        .unwrap();
        assert!(matches!(
            auth("products").verify(&other.mint().unwrap()),
            Err(AuthError::Invalid)
        ));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServiceAuth::new("x", &SecretString::from("short")).is_err());
    }
}
