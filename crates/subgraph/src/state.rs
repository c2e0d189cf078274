//! The state every service's routes run with: its domain, how callers and other services are
//! authenticated, and its schema. Handlers extract the part they use: `State<Arc<Domain>>`, and
//! the caller extractors the verifier or the credential.

use std::sync::Arc;

use async_graphql::{EmptySubscription, Schema};
use auth::{ServiceAuth, TokenVerifier};
use axum::extract::FromRef;

use crate::graphql::Subgraph;

/// A service's state around its domain `D`.
pub struct AppState<D: Subgraph> {
    pub domain: Arc<D>,
    /// Verifies customers' and admins' access tokens.
    pub verifier: Arc<TokenVerifier>,
    /// Verifies the credentials of the services that call this one's internal routes.
    pub service_auth: Arc<ServiceAuth>,
    pub schema: Schema<D::Query, D::Mutation, EmptySubscription>,
}

impl<D: Subgraph> AppState<D> {
    /// The state around `domain`, with its schema built.
    pub fn new(domain: D, verifier: Arc<TokenVerifier>, service_auth: Arc<ServiceAuth>) -> Self {
        let domain = Arc::new(domain);
        Self {
            schema: D::schema(domain.clone()),
            domain,
            verifier,
            service_auth,
        }
    }
}

impl<D: Subgraph> Clone for AppState<D> {
    fn clone(&self) -> Self {
        Self {
            domain: self.domain.clone(),
            verifier: self.verifier.clone(),
            service_auth: self.service_auth.clone(),
            schema: self.schema.clone(),
        }
    }
}

impl<D: Subgraph> FromRef<AppState<D>> for Arc<D> {
    fn from_ref(state: &AppState<D>) -> Self {
        state.domain.clone()
    }
}

impl<D: Subgraph> FromRef<AppState<D>> for Arc<TokenVerifier> {
    fn from_ref(state: &AppState<D>) -> Self {
        state.verifier.clone()
    }
}

impl<D: Subgraph> FromRef<AppState<D>> for Arc<ServiceAuth> {
    fn from_ref(state: &AppState<D>) -> Self {
        state.service_auth.clone()
    }
}
