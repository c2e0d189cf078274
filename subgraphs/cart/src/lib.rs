//! The cart service: a cart per user, checked with the users and products services; contributes
//! `User.cart` to the supergraph.

pub mod carts;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod store;

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use auth::{ServiceAuth, TokenVerifier, Viewer};
use storage::DatabaseUrl;
use web::config::HttpConfig;
use storage::StoreError;
use peers::Peer;
use peers::products::ProductsClient;
use peers::users::UsersClient;

use crate::carts::Carts;
use crate::graphql::CartSchema;
use crate::store::CartStore;

pub const SERVICE: &str = "cart";
pub const DEFAULT_PORT: u16 = 8003;

pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseUrl,
}

impl Config {
    /// Reads `PORT`, `DATABASE_URL` (peers, tokens and the service credential are read by
    /// their own types).
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpConfig::from_env(DEFAULT_PORT)?,
            database: DatabaseUrl::from_env("cart.db")?,
        })
    }
}

/// The services cart calls.
pub struct Peers {
    pub users: UsersClient,
    pub products: ProductsClient,
}

impl Peers {
    /// `USERS_URL` and `PRODUCTS_URL` (defaults: the laptop's ports), sharing `http`.
    pub fn from_env(http: reqwest::Client, auth: Arc<ServiceAuth>) -> Self {
        Self {
            users: UsersClient(Peer::from_env(
                "users",
                "USERS_URL",
                "http://localhost:8001",
                http.clone(),
                auth.clone(),
            )),
            products: ProductsClient(Peer::from_env(
                "products",
                "PRODUCTS_URL",
                "http://localhost:8002",
                http,
                auth,
            )),
        }
    }
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub carts: Arc<Carts>,
    pub verifier: Arc<TokenVerifier>,
    pub service_auth: Arc<ServiceAuth>,
    pub schema: CartSchema,
}

impl AppState {
    pub fn new(
        store: Arc<dyn CartStore>,
        peers: Peers,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
    ) -> Self {
        let carts = Arc::new(Carts::new(store, peers.users, peers.products));
        Self {
            schema: graphql::schema(carts.clone()),
            carts,
            verifier,
            service_auth,
        }
    }

    pub async fn from_config(
        config: &Config,
        peers: Peers,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
    ) -> anyhow::Result<Self> {
        tracing::info!(database = %config.database.redacted(), "opening cart store");
        let store = store::open(&config.database)
            .await
            .context("opening the cart store")?;
        Ok(Self::new(store, peers, verifier, service_auth))
    }
}

impl subgraph::graphql::Subgraph for AppState {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;

    fn schema(&self) -> &CartSchema {
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
        request.data(subgraph::Batcher::new(graphql::CartLoader {
            carts: self.carts.clone(),
            viewer,
        }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.carts.ping())
    }
}

/// Every route of the service, with the shared middleware.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    subgraph::graphql::app(state, rest::routes(), http)
}
