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
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use auth::{ServiceAuth, TokenVerifier, Viewer};
use storage::DatabaseUrl;
use web::config::HttpConfig;
use storage::StoreError;
use peers::Peer;
use peers::cart::CartClient;
use peers::products::ProductsClient;
use peers::users::UsersClient;

use crate::checkout::{Checkout, Peers};
use crate::graphql::OrdersSchema;
use crate::store::OrderStore;

pub const SERVICE: &str = "orders";
pub const DEFAULT_PORT: u16 = 8004;

pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseUrl,
    pub settings: Settings,
}

/// How long a checkout's stock is held before it must be confirmed, and how often unfinished
/// orders are reconciled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub hold: Duration,
    pub reconcile_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(120),
            reconcile_every: Duration::from_secs(5),
        }
    }
}

impl Settings {
    /// `CHECKOUT_HOLD_SECS` (default 120, at most 900), `RECONCILE_EVERY_SECS` (5).
    pub fn from_env() -> anyhow::Result<Self> {
        let d = Self::default();
        Ok(Self {
            hold: settings::seconds_within(
                "CHECKOUT_HOLD_SECS",
                d.hold,
                peers::products::MAX_HOLD,
            )?,
            reconcile_every: settings::seconds_or("RECONCILE_EVERY_SECS", d.reconcile_every)?,
        })
    }
}

impl Config {
    /// Reads `PORT`, `DATABASE_URL`, `CHECKOUT_HOLD_SECS`, `RECONCILE_EVERY_SECS` (peers,
    /// tokens and the service credential are read by their own types).
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpConfig::from_env(DEFAULT_PORT)?,
            database: DatabaseUrl::from_env("orders.db")?,
            settings: Settings::from_env()?,
        })
    }
}

impl Peers {
    /// `USERS_URL`, `PRODUCTS_URL`, `CART_URL` (defaults: the laptop's ports), sharing `http`.
    pub fn from_env(http: reqwest::Client, auth: Arc<ServiceAuth>) -> Self {
        let peer = |service, variable, default| {
            Peer::from_env(service, variable, default, http.clone(), auth.clone())
        };
        Self {
            users: UsersClient(peer("users", "USERS_URL", "http://localhost:8001")),
            products: ProductsClient(peer("products", "PRODUCTS_URL", "http://localhost:8002")),
            cart: CartClient(peer("cart", "CART_URL", "http://localhost:8003")),
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

    pub async fn from_config(
        config: &Config,
        peers: Peers,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
    ) -> anyhow::Result<Self> {
        tracing::info!(database = %config.database.redacted(), "opening orders store");
        let store: Arc<dyn OrderStore> = store::open(&config.database)
            .await
            .context("opening the orders store")?;
        let checkout = Checkout::new(store, peers, config.settings.hold)
            .with_lease(checkout::lease_for(config.http.request_timeout));
        Ok(Self::new(checkout, verifier, service_auth))
    }
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
