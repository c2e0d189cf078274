//! The users service: accounts, login and access tokens; the `User` entity of the supergraph.

pub mod accounts;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod store;
pub mod throttle;

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use auth::{
    JwkSet, ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier, Viewer,
};
use storage::DatabaseUrl;
use web::config::HttpConfig;
use storage::StoreError;
use secrecy::SecretString;

use crate::accounts::Accounts;
use crate::graphql::UsersSchema;
use crate::store::UserStore;

pub const SERVICE: &str = "users";
pub const DEFAULT_PORT: u16 = 8001;

/// The first admin, created at start-up if missing.
pub struct AdminAccount {
    pub email: String,
    pub password: SecretString,
}

pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseUrl,
    pub tokens: TokenSettings,
    /// PKCS#8 PEM Ed25519 key that signs access tokens; generated per process when absent.
    pub signing_key: Option<SecretString>,
    pub admin: Option<AdminAccount>,
    /// The login throttle's rules.
    pub login_limits: throttle::LoginLimits,
    /// Threads hashing passwords at once.
    pub hashing_threads: usize,
}

impl Config {
    /// Reads `PORT`, `DATABASE_URL`, `JWT_*`, `ACCESS_TOKEN_TTL_SECS`, `ADMIN_EMAIL`,
    /// `ADMIN_PASSWORD`, `LOGIN_*`, `PASSWORD_HASHING_THREADS`.
    pub fn from_env() -> anyhow::Result<Self> {
        let admin = match (
            settings::var("ADMIN_EMAIL"),
            settings::secret("ADMIN_PASSWORD")?,
        ) {
            (Some(email), Some(password)) => Some(AdminAccount { email, password }),
            (None, None) => None,
            _ => anyhow::bail!("set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither"),
        };
        Ok(Self {
            http: HttpConfig::from_env(DEFAULT_PORT)?,
            database: DatabaseUrl::from_env("users.db")?,
            tokens: TokenSettings::from_env()?,
            signing_key: settings::secret("JWT_PRIVATE_KEY")?,
            admin,
            login_limits: throttle::LoginLimits::from_env()?,
            hashing_threads: accounts::hashing_threads_from_env()?,
        })
    }
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub accounts: Arc<Accounts>,
    pub verifier: Arc<TokenVerifier>,
    pub service_auth: Arc<ServiceAuth>,
    pub schema: UsersSchema,
    pub jwks: Arc<JwkSet>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn UserStore>,
        issuer: Arc<TokenIssuer>,
        login_limits: throttle::LoginLimits,
        hashing_threads: usize,
        service_auth: Arc<ServiceAuth>,
    ) -> anyhow::Result<Self> {
        let public = issuer.public_key().clone();
        let verifier = TokenVerifier::with_keys(std::slice::from_ref(&public), issuer.settings())?;
        let throttle = throttle::LoginThrottle::new(login_limits);
        let accounts = Arc::new(Accounts::new(store, issuer, throttle, hashing_threads));
        Ok(Self {
            schema: graphql::schema(accounts.clone()),
            accounts,
            verifier: Arc::new(verifier),
            service_auth,
            jwks: Arc::new(JwkSet {
                keys: vec![public.jwk()],
            }),
        })
    }

    /// Opens the store, loads the signing key and bootstraps the admin.
    pub async fn from_config(
        config: &Config,
        service_auth: Arc<ServiceAuth>,
    ) -> anyhow::Result<Self> {
        tracing::info!(database = %config.database.redacted(), "opening users store");
        let store = store::open(&config.database)
            .await
            .context("opening the users store")?;
        let key = match &config.signing_key {
            Some(pem) => SigningKey::from_pem(pem).context("JWT_PRIVATE_KEY")?,
            None => {
                tracing::warn!(
                    "JWT_PRIVATE_KEY is not set; signing with a key generated for this process only"
                );
                SigningKey::generate()
            }
        };
        let state = Self::new(
            store,
            Arc::new(TokenIssuer::new(key, config.tokens.clone())),
            config.login_limits,
            config.hashing_threads,
            service_auth,
        )?;
        if let Some(admin) = &config.admin {
            state
                .accounts
                .bootstrap_admin(&admin.email, &admin.password)
                .await
                .context("bootstrapping the admin")?;
        }
        Ok(state)
    }
}

impl subgraph::graphql::Subgraph for AppState {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// Each costs a password hash.
    const EXPENSIVE_MUTATIONS: &'static [&'static str] = contracts::expensive::USERS;

    fn schema(&self) -> &UsersSchema {
        &self.schema
    }

    fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    fn request_data(
        &self,
        request: async_graphql::Request,
        viewer: Viewer,
    ) -> async_graphql::Request {
        request.data(subgraph::Batcher::new(graphql::UserLoader {
            accounts: self.accounts.clone(),
            viewer,
        }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.accounts.ping())
    }
}

/// Every route of the service, with the shared middleware.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    subgraph::graphql::app(state, rest::routes(), http)
}
