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
use auth::Viewer;
use axum::Router;
use futures::future::BoxFuture;
use peers::products::ProductsClient;
use peers::users::UsersClient;
use storage::Database;
use storage::StoreError;
use subgraph::{Service, Shared};
use web::config::HttpConfig;

use crate::carts::Carts;
use crate::graphql::CartSchema;

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

/// The cart service's state: [`Carts`] and what every service holds.
pub type AppState = subgraph::AppState<Carts>;

/// Opens the store: the service, ready to serve.
pub async fn start(settings: &Settings, shared: &Shared) -> anyhow::Result<Service<Carts>> {
    tracing::info!(database = %settings.database.url.redacted(), "opening cart store");
    let store = store::open(&settings.database)
        .await
        .context("opening the cart store")?;
    let peers = Peers::at(&settings.peers, shared);
    let carts = Carts::new(store, peers.users, peers.products);
    let state = AppState::new(carts, shared.verifier.clone(), shared.credential.clone());
    Ok(Service::new(state, settings.http.clone()))
}

impl subgraph::Subgraph for Carts {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;

    fn rest() -> Router<AppState> {
        rest::routes()
    }

    fn schema(carts: Arc<Self>) -> CartSchema {
        graphql::schema(carts)
    }

    fn request_data(
        self: &Arc<Self>,
        request: async_graphql::Request,
        viewer: Viewer,
    ) -> async_graphql::Request {
        request.data(subgraph::Batcher::new(graphql::CartLoader {
            carts: self.clone(),
            viewer,
        }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(Carts::ping(self))
    }
}
