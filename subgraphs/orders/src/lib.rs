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
use auth::{ServiceAuth, TokenVerifier, Viewer};
use axum::Router;
use axum::extract::FromRef;
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

#[derive(Clone, FromRef)]
pub struct AppState {
    pub checkout: Arc<Checkout>,
    pub verifier: Arc<TokenVerifier>,
    pub service_auth: Arc<ServiceAuth>,
    pub schema: OrdersSchema,
}

impl AppState {
    pub fn new(
        checkout: Checkout,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
    ) -> Self {
        let checkout = Arc::new(checkout);
        Self {
            schema: graphql::schema(checkout.clone()),
            checkout,
            verifier,
            service_auth,
        }
    }
}

/// Opens the store: the service, ready to serve, reconciling unfinished orders every
/// `reconcile_every`.
pub async fn start(settings: &Settings, shared: &Shared) -> anyhow::Result<Service<AppState>> {
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
    let reconciler =
        checkout::reconciler(state.checkout.clone(), settings.checkout.reconcile_every);
    Ok(Service::new(state, rest::routes(), settings.http.clone()).with_task(reconciler))
}

impl subgraph::graphql::Subgraph for AppState {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// A checkout reserves stock across services.
    const EXPENSIVE_MUTATIONS: &'static [&'static str] = contracts::expensive::ORDERS;

    fn schema(&self) -> &OrdersSchema {
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
        request
            .data(subgraph::Batcher::new(graphql::OrderLoader {
                checkout: self.checkout.clone(),
                viewer,
            }))
            .data(subgraph::Batcher::new(graphql::UserOrdersLoader {
                checkout: self.checkout.clone(),
                viewer,
            }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.checkout.ping())
    }
}

/// Every route of the service, with the shared middleware.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    subgraph::graphql::app(state, rest::routes(), http)
}
