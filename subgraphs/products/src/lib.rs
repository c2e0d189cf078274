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
use auth::Viewer;
use axum::Router;
use futures::future::BoxFuture;
use storage::Database;
use storage::StoreError;
use subgraph::{Service, Shared};
use web::config::HttpConfig;

use crate::catalog::Catalog;
use crate::graphql::ProductsSchema;
use crate::store::ProductStore;

pub const SERVICE: &str = "products";
pub const DEFAULT_PORT: u16 = 8002;

/// What the products service runs with (the launcher reads it from the environment).
pub struct Settings {
    pub http: HttpConfig,
    pub database: Database,
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

/// The products service's state: the [`Catalog`] and what every service holds.
pub type AppState = subgraph::AppState<Catalog>;

/// Opens the store: the service, ready to serve, returning expired holds to stock every
/// `sweep_every`. `seed` runs on the store first (`up`'s demo catalogue).
pub async fn start(
    settings: &Settings,
    shared: &Shared,
    seed: Option<fn(&dyn ProductStore) -> BoxFuture<'_, anyhow::Result<()>>>,
) -> anyhow::Result<Service<Catalog>> {
    tracing::info!(database = %settings.database.url.redacted(), "opening products store");
    let store = store::open(&settings.database)
        .await
        .context("opening the products store")?;
    if let Some(seed) = seed {
        seed(store.as_ref())
            .await
            .context("seeding the catalogue")?;
    }
    let catalog = Catalog::new(store, settings.reservations.default_hold);
    let state = AppState::new(catalog, shared.verifier.clone(), shared.credential.clone());
    let sweeper = catalog::expiry_sweeper(state.domain.clone(), settings.reservations.sweep_every);
    Ok(Service::new(state, settings.http.clone()).with_task(sweeper))
}

impl subgraph::Subgraph for Catalog {
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    const NAME: &'static str = SERVICE;
    /// Product entities select no lists and resolve in one store query for the whole batch;
    /// an orders page references up to a hundred lines per order.
    const MAX_REPRESENTATIONS: u64 = 1_000;

    fn rest() -> Router<AppState> {
        rest::routes()
    }

    fn schema(catalog: Arc<Self>) -> ProductsSchema {
        graphql::schema(catalog)
    }

    fn request_data(
        self: &Arc<Self>,
        request: async_graphql::Request,
        _viewer: Viewer,
    ) -> async_graphql::Request {
        request.data(subgraph::Batcher::new(graphql::ProductLoader(self.clone())))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(Catalog::ping(self))
    }
}
