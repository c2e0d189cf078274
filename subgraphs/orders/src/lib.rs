//! The orders service: checkout from the cart with stock reserved at products, order history
//! and statuses; the `Order` entity, and `User.orders`, of the supergraph.

pub mod checkout;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod rest;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use auth::Viewer;
use axum::Router;
use futures::future::BoxFuture;
use peers::cart::CartClient;
use peers::products::ProductsClient;
use peers::users::UsersClient;
use storage::Database;
use storage::StoreError;
use subgraph::{Service, Shared};
use web::config::HttpConfig;

use crate::checkout::{Checkout, Peers};
use crate::graphql::OrdersSchema;
use crate::store::OrderStore;

pub const SERVICE: &str = "orders";
pub const DEFAULT_PORT: u16 = 8004;

/// What the orders service runs with (the launcher reads it from the environment).
pub struct Settings {
    pub http: HttpConfig,
    pub database: Database,
    pub checkout: CheckoutSettings,
    pub peers: PeerUrls,
}

/// How long a checkout's stock is held before it must be confirmed, and how often unfinished
/// orders are reconciled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckoutSettings {
    pub hold: Duration,
    pub reconcile_every: Duration,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(120),
            reconcile_every: Duration::from_secs(5),
        }
    }
}

/// Where the services orders calls are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUrls {
    pub users: String,
    pub products: String,
    pub cart: String,
}

impl Peers {
    /// Clients of the services at `urls`, sharing the process's client and `orders`' credential.
    pub fn at(urls: &PeerUrls, shared: &Shared) -> Self {
        Self {
            users: UsersClient(shared.peer("users", &urls.users)),
            products: ProductsClient(shared.peer("products", &urls.products)),
            cart: CartClient(shared.peer("cart", &urls.cart)),
        }
    }
}

/// The orders service's state: [`Checkout`] and what every service holds.
pub type AppState = subgraph::AppState<Checkout>;

/// Opens the store: the service, ready to serve, reconciling unfinished orders every
/// `reconcile_every`.
pub async fn start(settings: &Settings, shared: &Shared) -> anyhow::Result<Service<Checkout>> {
    tracing::info!(database = %settings.database.url.redacted(), "opening orders store");
    let store: Arc<dyn OrderStore> = store::open(&settings.database)
        .await
        .context("opening the orders store")?;
    let checkout = Checkout::new(
        store,
        Peers::at(&settings.peers, shared),
        settings.checkout.hold,
    )
    .with_lease(checkout::lease_for(settings.http.request_timeout));
    let state = AppState::new(checkout, shared.verifier.clone(), shared.credential.clone());
    let reconciler = checkout::reconciler(state.domain.clone(), settings.checkout.reconcile_every);
    Ok(Service::new(state, settings.http.clone()).with_task(reconciler))
}

impl subgraph::Subgraph for Checkout {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// A checkout reserves stock across services.
    const EXPENSIVE_MUTATIONS: &'static [&'static str] = contracts::expensive::ORDERS;

    fn rest() -> Router<AppState> {
        rest::routes()
    }

    fn schema(checkout: Arc<Self>) -> OrdersSchema {
        graphql::schema(checkout)
    }

    fn request_data(
        self: &Arc<Self>,
        request: async_graphql::Request,
        viewer: Viewer,
    ) -> async_graphql::Request {
        request
            .data(subgraph::Batcher::new(graphql::OrderLoader {
                checkout: self.clone(),
                viewer,
            }))
            .data(subgraph::Batcher::new(graphql::UserOrdersLoader {
                checkout: self.clone(),
                viewer,
            }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(Checkout::ping(self))
    }
}
