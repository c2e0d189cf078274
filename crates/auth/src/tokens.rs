//! Access tokens: EdDSA JWTs with `sub`, `role`, `iss`, `aud`, `iat`, `exp`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use super::keys::{JwkSet, PublicKey, SigningKey};
use super::{AuthError, Caller, Role};

/// What every token is checked against, shared by issuer and verifiers.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "ecommerce-users".to_owned(),
            audience: "ecommerce".to_owned(),
            ttl: Duration::from_secs(3600),
        }
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn caller(&self) -> Caller {
        Caller {
            user_id: self.sub,
            role: self.role,
        }
    }
}

/// A freshly issued token.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: Duration,
}

/// Signs access tokens (users service).
pub struct TokenIssuer {
    key: SigningKey,
    settings: TokenSettings,
}

impl TokenIssuer {
    pub fn new(key: SigningKey, settings: TokenSettings) -> Self {
        Self { key, settings }
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public()
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Signs arbitrary claims with this issuer's key and `kid` (tests use it for expired tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.public().kid().to_owned());
        header.typ = Some("JWT".to_owned());
        Ok(jsonwebtoken::encode(
            &header,
            claims,
            self.key.encoding_key(),
        )?)
    }

    pub fn issue(&self, user_id: Uuid, role: Role) -> anyhow::Result<AccessToken> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.settings.ttl.as_secs())?;
        let claims = Claims {
            sub: user_id,
            role,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            iat: now,
            exp: now + ttl,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.public().kid().to_owned());
        header.typ = Some("JWT".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding_key())?;
        Ok(AccessToken {
            token,
            expires_in: self.settings.ttl,
        })
    }
}

/// Where a verifier finds the public keys.
enum KeySource {
    /// Keys handed over in config (or in-process by the launcher).
    Static(HashMap<String, DecodingKey>),
    /// The users service's JWKS, fetched on first use and again when an unknown `kid` appears.
    Remote(RemoteJwks),
}

struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    fetches: Mutex<Fetches>,
}

/// When the JWKS was last fetched, and how its recent fetches failed.
#[derive(Default)]
struct Fetches {
    last_success: Option<Instant>,
    last_failure: Option<Instant>,
    failures: u32,
}

impl Fetches {
    /// After `n` failures in a row, the next fetch waits 1 s doubling up to 30 s, so that a users
    /// service that is down is not asked again on every request.
    fn backoff(&self) -> Duration {
        Duration::from_secs(1u64 << self.failures.saturating_sub(1).min(5))
            .min(JWKS_REFETCH_INTERVAL)
    }
}

/// A token with an unknown `kid` triggers at most one JWKS fetch per this interval.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

impl RemoteJwks {
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Some(key.clone()));
        }
        // One fetch at a time; callers that waited re-check the cache first.
        let mut fetches = self.fetches.lock().await;
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Some(key.clone()));
        }
        if fetches
            .last_success
            .is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL)
        {
            return Ok(None);
        }
        if let Some(failed) = fetches.last_failure
            && failed.elapsed() < fetches.backoff()
        {
            return Err(AuthError::KeysUnavailable(anyhow::anyhow!(
                "the last JWKS fetch failed; retrying after a back-off"
            )));
        }
        match self.fetch().await {
            Ok(fetched) => {
                *fetches = Fetches {
                    last_success: Some(Instant::now()),
                    ..Fetches::default()
                };
                let found = fetched.get(kid).cloned();
                *self.keys.write().await = fetched;
                Ok(found)
            }
            Err(err) => {
                fetches.failures = fetches.failures.saturating_add(1);
                fetches.last_failure = Some(Instant::now());
                Err(AuthError::KeysUnavailable(err))
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let Some(public) = PublicKey::from_jwk(jwk) {
                keys.insert(public.kid().to_owned(), public.decoding_key()?);
            }
        }
        tracing::info!(url = %self.url, keys = keys.len(), "fetched JWKS");
        Ok(keys)
    }
}

/// Verifies access tokens: EdDSA only, signature, `exp`, `iss` and `aud`.
pub struct TokenVerifier {
    source: KeySource,
    validation: Validation,
}

impl TokenVerifier {
    fn validation(settings: &TokenSettings) -> Validation {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        validation
    }

    /// Verifies with keys known up front.
    pub fn with_keys(keys: &[PublicKey], settings: &TokenSettings) -> anyhow::Result<Self> {
        let keys = keys
            .iter()
            .map(|k| Ok((k.kid().to_owned(), k.decoding_key()?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            source: KeySource::Static(keys),
            validation: Self::validation(settings),
        })
    }

    /// Verifies with keys fetched from a JWKS URL when needed.
    pub fn with_jwks_url(url: String, client: reqwest::Client, settings: &TokenSettings) -> Self {
        let remote = RemoteJwks {
            url,
            client,
            keys: RwLock::default(),
            fetches: Mutex::default(),
        };
        Self {
            source: KeySource::Remote(remote),
            validation: Self::validation(settings),
        }
    }

    /// Verifying with the SPKI PEM key `pem` (what `JWT_PUBLIC_KEY` holds).
    pub fn with_pem(pem: &str, settings: &TokenSettings) -> anyhow::Result<Self> {
        let key = PublicKey::from_pem(pem).map_err(|e| e.context("JWT_PUBLIC_KEY"))?;
        Self::with_keys(&[key], settings)
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid);
        }
        let key = match (&self.source, header.kid.as_deref()) {
            (KeySource::Static(keys), Some(kid)) => keys.get(kid).cloned(),
            (KeySource::Static(keys), None) if keys.len() == 1 => keys.values().next().cloned(),
            (KeySource::Remote(remote), Some(kid)) => remote.key(kid).await?,
            _ => None,
        };
        let key = key.ok_or(AuthError::Invalid)?;
        match jsonwebtoken::decode::<Claims>(token, &key, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => {
                Err(AuthError::Expired)
            }
            Err(_) => Err(AuthError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn setup() -> (TokenIssuer, TokenVerifier) {
        let settings = TokenSettings::default();
        let issuer = TokenIssuer::new(SigningKey::generate(), settings.clone());
        let verifier = TokenVerifier::with_keys(&[issuer.public_key().clone()], &settings).unwrap();
        (issuer, verifier)
    }

    #[tokio::test]
    async fn issued_tokens_verify() {
        let (issuer, verifier) = setup();
        let user = Uuid::new_v4();
        let token = issuer.issue(user, Role::Admin).unwrap();
        let claims = verifier.verify(&token.token).await.unwrap();
        assert_eq!(
            claims.caller(),
            Caller {
                user_id: user,
                role: Role::Admin
            }
        );
    }

    #[tokio::test]
    async fn another_keys_tokens_are_rejected() {
        let (_, verifier) = setup();
        let (other, _) = setup();
        let token = other.issue(Uuid::new_v4(), Role::Customer).unwrap();
        assert!(matches!(
            verifier.verify(&token.token).await,
            Err(AuthError::Invalid)
        ));
    }

    /// A users service that is down is asked once per back-off, not once per request.
    #[tokio::test]
    async fn a_failing_jwks_fetch_backs_off() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let (issuer, _) = setup();
        let verifier = TokenVerifier::with_jwks_url(
            format!("http://{addr}/jwks"),
            reqwest::Client::new(),
            issuer.settings(),
        );
        let token = issuer.issue(Uuid::new_v4(), Role::Customer).unwrap().token;
        for _ in 0..20 {
            assert!(matches!(
                verifier.verify(&token).await,
                Err(AuthError::KeysUnavailable(_))
            ));
        }
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "one fetch, then the back-off"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(verifier.verify(&token).await.is_err());
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "asked again after the back-off"
        );
    }

    #[tokio::test]
    async fn alg_none_is_rejected() {
        let (issuer, verifier) = setup();
        let token = issuer.issue(Uuid::new_v4(), Role::Admin).unwrap().token;
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.");
        assert!(verifier.verify(&forged).await.is_err());
    }
}
