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

use anyhow::Context as _;
use axum::Router;
use axum::extract::FromRef;
use futures::future::BoxFuture;
use kit::auth::{ServiceAuth, TokenVerifier, Viewer};
use kit::config::{DatabaseUrl, HttpConfig};
use kit::db::StoreError;

use crate::catalog::Catalog;
use crate::graphql::ProductsSchema;
use crate::store::ProductStore;

pub const SERVICE: &str = "products";
pub const DEFAULT_PORT: u16 = 8002;

pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseUrl,
}

impl Config {
    /// Reads `PORT`, `DATABASE_URL` (token and service settings are read by their own types).
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            http: HttpConfig::from_env(DEFAULT_PORT)?,
            database: DatabaseUrl::from_env("products.db")?,
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
    ) -> Self {
        let catalog = Arc::new(Catalog::new(store));
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
        Ok(Self::new(store, verifier, service_auth))
    }
}

impl kit::graphql::Subgraph for AppState {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;

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
        request.data(kit::graphql::dataloader(graphql::ProductLoader(
            self.catalog.clone(),
        )))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.catalog.ping())
    }
}

/// Every route of the service, with the shared middleware.
pub fn app(state: AppState, http: &HttpConfig) -> Router {
    kit::graphql::app(state, rest::routes(), http)
}
