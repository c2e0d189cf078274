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
use auth::{JwkSet, ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier, Viewer};
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use secrecy::SecretString;
use storage::Database;
use storage::StoreError;
use subgraph::Service;
use web::config::HttpConfig;

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

/// What the users service runs with (the launcher reads it from the environment).
pub struct Settings {
    pub http: HttpConfig,
    pub database: Database,
    pub tokens: TokenSettings,
    /// PKCS#8 PEM Ed25519 key that signs access tokens; generated per process when absent.
    pub signing_key: Option<SecretString>,
    pub admin: Option<AdminAccount>,
    /// The login throttle's rules.
    pub login_limits: throttle::LoginLimits,
    /// Threads hashing passwords at once.
    pub hashing_threads: usize,
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
}

/// Opens the store, loads the signing key, bootstraps the admin: the service, ready to serve.
pub async fn start(
    settings: &Settings,
    credential: Arc<ServiceAuth>,
) -> anyhow::Result<Service<AppState>> {
    tracing::info!(database = %settings.database.url.redacted(), "opening users store");
    let store = store::open(&settings.database)
        .await
        .context("opening the users store")?;
    let key = match &settings.signing_key {
        Some(pem) => SigningKey::from_pem(pem).context("JWT_PRIVATE_KEY")?,
        None => {
            tracing::warn!(
                "JWT_PRIVATE_KEY is not set; signing with a key generated for this process only"
            );
            SigningKey::generate()
        }
    };
    let state = AppState::new(
        store,
        Arc::new(TokenIssuer::new(key, settings.tokens.clone())),
        settings.login_limits,
        settings.hashing_threads,
        credential,
    )?;
    if let Some(admin) = &settings.admin {
        state
            .accounts
            .bootstrap_admin(&admin.email, &admin.password)
            .await
            .context("bootstrapping the admin")?;
    }
    Ok(Service::new(state, rest::routes(), settings.http.clone()))
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
