//! The subgraph GraphQL endpoint shared by every service: body parsing with the same limits as
//! REST, the caller in request data, query guards, and the GraphiQL page.

use async_graphql::http::GraphiQLSource;
use async_graphql::{
    EmptySubscription, ObjectType, Request, Schema, SchemaBuilder, SubscriptionType,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::{TokenVerifier, Viewer, optional_caller};
use crate::error::{ApiError, ErrorCode};
use crate::extract::body_rejection;

pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 5_000;

/// Federation v2 subgraph with depth and complexity limits.
pub fn subgraph<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    builder
        .enable_federation()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// A request-level failure (no operation ran) in GraphQL's response shape, with the HTTP status
/// the same code has in REST.
fn error_response(err: ApiError) -> Response {
    let body =
        json!({"errors": [{"message": err.message, "extensions": {"code": err.code.as_str()}}]});
    (err.status(), axum::Json(body)).into_response()
}

fn parse_request(body: Result<Bytes, BytesRejection>) -> Result<Request, ApiError> {
    let body = body.map_err(|rejection| body_rejection(rejection.status()))?;
    serde_json::from_slice::<Request>(&body).map_err(|err| {
        if err.is_data() {
            ApiError::bad_request(format!("not a GraphQL request: {err}"))
        } else {
            ApiError::new(ErrorCode::InvalidJson, format!("malformed JSON: {err}"))
        }
    })
}

/// Runs one POSTed GraphQL request as the caller its bearer token names; `add_data` puts the
/// service's per-request data (its dataloaders) in.
async fn handle<Q, M, S>(
    schema: &Schema<Q, M, S>,
    verifier: &TokenVerifier,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    add_data: impl FnOnce(Request) -> Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let viewer = match optional_caller(verifier, headers).await {
        Ok(caller) => Viewer(caller),
        Err(err) => return error_response(err.into()),
    };
    let request = match parse_request(body) {
        Ok(request) => request,
        Err(err) => return error_response(err),
    };
    let response = schema.execute(add_data(request.data(viewer))).await;
    async_graphql_axum::GraphQLResponse::from(response).into_response()
}

/// A service state that serves a subgraph at `/graphql`.
pub trait Subgraph: Clone + Send + Sync + 'static {
    type Query: ObjectType + 'static;
    type Mutation: ObjectType + 'static;
    /// The GraphiQL page title.
    const TITLE: &'static str;

    fn schema(&self) -> &Schema<Self::Query, Self::Mutation, EmptySubscription>;
    fn verifier(&self) -> &TokenVerifier;
    /// Adds the per-request data (dataloaders, whose caches live for one request).
    fn request_data(&self, request: Request) -> Request;
}

/// `POST /graphql` runs operations, `GET /graphql` serves GraphiQL.
pub fn routes<S: Subgraph>() -> Router<S> {
    Router::new().route("/graphql", get(graphiql::<S>).post(execute::<S>))
}

async fn execute<S: Subgraph>(
    State(state): State<S>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(
        state.schema(),
        state.verifier(),
        &headers,
        body,
        |request| state.request_data(request),
    )
    .await
}

async fn graphiql<S: Subgraph>() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title(S::TITLE)
            .finish(),
    )
}

/// How long a dataloader collects keys before it queries. async-graphql's default (1 ms) is
/// shorter than resolving a hundred `_entities` representations takes (they are polled in
/// groups of 32), which splits one batch into several queries; a few milliseconds keeps a
/// batch whole for the cost of that wait once per batch.
pub const DATALOADER_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// A request-scoped dataloader with the platform's batching window.
pub fn dataloader<L: async_graphql::dataloader::Loader<K>, K>(
    loader: L,
) -> async_graphql::dataloader::DataLoader<L>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    async_graphql::dataloader::DataLoader::new(loader, tokio::spawn).delay(DATALOADER_DELAY)
}
