//! What makes a service a subgraph: the [`Subgraph`] trait its façade implements, the one
//! [`AppState`] every service's routes run with, the GraphQL endpoint (document guard, caller,
//! error codes, playground) mounted beside its REST routes, request-scoped batching for entity
//! lookups, the failures every service's error enum ends with, and [`Service`]: a started service
//! with the tasks that run beside it. The top of the shared crates: it depends on `web`, `auth`,
//! `storage` and `peers`, and nothing depends on it but the services and the launcher.

pub mod batch;
mod failure;
pub mod graphql;
mod service;
mod state;

pub use batch::Batcher;
pub use failure::Failure;
pub use graphql::{Subgraph, app, routes, subgraph};
pub use service::{Service, Shared};
pub use state::AppState;

#[doc(hidden)]
pub mod __private {
    pub use anyhow;
    pub use async_graphql;
    pub use auth;
    pub use axum;
    pub use peers;
    pub use storage;
    pub use web;
}
