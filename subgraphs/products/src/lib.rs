//! The products service: the catalogue, stock, and reservations for orders; the `Product`
//! entity of the supergraph.

pub mod catalog;
pub mod demo;
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

use crate::catalog::Catalog;
use crate::graphql::ProductsSchema;
use crate::store::ProductStore;

pub const SERVICE: &str = "products";
pub const DEFAULT_PORT: u16 = 8002;

pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseUrl,
    pub reservations: ReservationSettings,
}

/// How long stock is held for an order that has not confirmed, and how often expired holds
/// are returned to stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservationSettings {
    pub default_hold: Duration,
    pub sweep_every: Duration,
}

impl Default for ReservationSettings {
    fn default() -> Self {
        Self {
            default_hold: Duration::from_secs(120),
            sweep_every: Duration::from_secs(5),
        }
    }
}

impl ReservationSettings {
    /// `RESERVATION_HOLD_SECS` (default 120, at most 900), `RESERVATION_SWEEP_SECS` (5).
    pub fn from_env() -> anyhow::Result<Self> {
        let d = Self::default();
        Ok(Self {
            default_hold: settings::seconds_within(
                "RESERVATION_HOLD_SECS",
                d.default_hold,
                domain::MAX_HOLD,
            )?,
            sweep_every: settings::seconds_or("RESERVATION_SWEEP_SECS", d.sweep_every)?,
        })
    }
}

impl Config {
    /// Reads `PORT`, `DATABASE_URL`, `RESERVATION_*` (token and service settings are read by
    /// their own types).
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpConfig::from_env(DEFAULT_PORT)?,
            database: DatabaseUrl::from_env("products.db")?,
            reservations: ReservationSettings::from_env()?,
        })
    }
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub catalog: Arc<Catalog>,
    pub verifier: Arc<TokenVerifier>,
    pub service_auth: Arc<ServiceAuth>,
    pub schema: ProductsSchema,
}

impl AppState {
    pub fn new(
        store: Arc<dyn ProductStore>,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
        reservations: ReservationSettings,
    ) -> Self {
        let catalog = Arc::new(Catalog::new(store, reservations.default_hold));
        Self {
            schema: graphql::schema(catalog.clone()),
            catalog,
            verifier,
            service_auth,
        }
    }

    pub async fn from_config(
        config: &Config,
        verifier: Arc<TokenVerifier>,
        service_auth: Arc<ServiceAuth>,
    ) -> anyhow::Result<Self> {
        tracing::info!(database = %config.database.redacted(), "opening products store");
        let store = store::open(&config.database)
            .await
            .context("opening the products store")?;
        Ok(Self::new(
            store,
            verifier,
            service_auth,
            config.reservations,
        ))
    }
}

impl subgraph::graphql::Subgraph for AppState {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// Product entities select no lists and resolve in one store query for the whole batch;
    /// an orders page references up to a hundred lines per order.
    const MAX_REPRESENTATIONS: u64 = 1_000;

    fn schema(&self) -> &ProductsSchema {
        &self.schema
    }

    fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    fn request_data(
        &self,
        request: async_graphql::Request,
        _viewer: Viewer,
    ) -> async_graphql::Request {
        request.data(subgraph::Batcher::new(graphql::ProductLoader(
            self.catalog.clone(),
        )))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.catalog.ping())
    }
}

/// Every route of the service, with the shared middleware.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    subgraph::graphql::app(state, rest::routes(), http)
}
