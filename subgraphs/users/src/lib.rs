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
use auth::{ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier, Viewer};
use axum::Router;
use futures::future::BoxFuture;
use secrecy::SecretString;
use storage::Database;
use storage::StoreError;
use subgraph::Service;
use web::config::HttpConfig;

use crate::accounts::Accounts;
use crate::graphql::UsersSchema;

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

/// The users service's state: [`Accounts`] and what every service holds.
pub type AppState = subgraph::AppState<Accounts>;

/// The state around `accounts`, whose tokens it verifies with their issuer's own key.
pub fn state(accounts: Accounts, service_auth: Arc<ServiceAuth>) -> anyhow::Result<AppState> {
    let issuer = accounts.issuer();
    let verifier =
        TokenVerifier::with_keys(std::slice::from_ref(issuer.public_key()), issuer.settings())?;
    Ok(AppState::new(accounts, Arc::new(verifier), service_auth))
}

/// Opens the store, loads the signing key, bootstraps the admin: the service, ready to serve.
pub async fn start(
    settings: &Settings,
    credential: Arc<ServiceAuth>,
) -> anyhow::Result<Service<Accounts>> {
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
    let accounts = Accounts::new(
        store,
        Arc::new(TokenIssuer::new(key, settings.tokens.clone())),
        throttle::LoginThrottle::new(settings.login_limits),
        settings.hashing_threads,
    );
    let state = state(accounts, credential)?;
    if let Some(admin) = &settings.admin {
        state
            .domain
            .bootstrap_admin(&admin.email, &admin.password)
            .await
            .context("bootstrapping the admin")?;
    }
    Ok(Service::new(state, settings.http.clone()))
}

impl subgraph::Subgraph for Accounts {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// Each costs a password hash.
    const EXPENSIVE_MUTATIONS: &'static [&'static str] = contracts::expensive::USERS;

    fn rest() -> Router<AppState> {
        rest::routes()
    }

    fn schema(accounts: Arc<Self>) -> UsersSchema {
        graphql::schema(accounts)
    }

    fn request_data(
        self: &Arc<Self>,
        request: async_graphql::Request,
        viewer: Viewer,
    ) -> async_graphql::Request {
        request.data(subgraph::Batcher::new(graphql::UserLoader {
            accounts: self.clone(),
            viewer,
        }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(Accounts::ping(self))
    }
}
