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
use auth::{ServiceAuth, TokenVerifier, Viewer};
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use peers::products::ProductsClient;
use peers::users::UsersClient;
use storage::Database;
use storage::StoreError;
use subgraph::{Service, Shared};
use web::config::HttpConfig;

use crate::carts::Carts;
use crate::graphql::CartSchema;
use crate::store::CartStore;

pub const SERVICE: &str = "cart";
pub const DEFAULT_PORT: u16 = 8003;

/// What the cart service runs with (the launcher reads it from the environment).
pub struct Settings {
    pub http: HttpConfig,
    pub database: Database,
    pub peers: PeerUrls,
}

/// Where the services cart calls are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUrls {
    pub users: String,
    pub products: String,
}

/// The services cart calls.
pub struct Peers {
    pub users: UsersClient,
    pub products: ProductsClient,
}

impl Peers {
    /// Clients of the services at `urls`, sharing the process's client and cart's credential.
    pub fn at(urls: &PeerUrls, shared: &Shared) -> Self {
        Self {
            users: UsersClient(shared.peer("users", &urls.users)),
            products: ProductsClient(shared.peer("products", &urls.products)),
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
}

/// Opens the store: the service, ready to serve.
pub async fn start(settings: &Settings, shared: &Shared) -> anyhow::Result<Service<AppState>> {
    tracing::info!(database = %settings.database.url.redacted(), "opening cart store");
    let store = store::open(&settings.database)
        .await
        .context("opening the cart store")?;
    let state = AppState::new(
        store,
        Peers::at(&settings.peers, shared),
        shared.verifier.clone(),
        shared.credential.clone(),
    );
    Ok(Service::new(state, rest::routes(), settings.http.clone()))
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
