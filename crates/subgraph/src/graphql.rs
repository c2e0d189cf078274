//! The subgraph GraphQL endpoint shared by every service: JSON bodies only, the document guard
//! before async-graphql parses anything, the caller and client address in request data, error
//! codes on every error, and the GraphiQL playground.

use std::sync::Arc;

use async_graphql::{
    EmptySubscription, ID, ObjectType, Request, Response as GraphqlResponse, Schema, SchemaBuilder,
    ServerError, SimpleObject, SubscriptionType,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;

pub use graphql_guard::{Guard, Limits, Refusal};
pub use web::playground::{Assets, Playground};

use auth::{Viewer, optional_caller};
use storage::StoreError;
use web::config::{GraphqlConfig, HttpConfig};
use web::extract::body_rejection;
use web::http::ClientAddr;
use web::{ApiError, ErrorCode};

use crate::AppState;

/// Field depth async-graphql enforces after the guard (which also counts fragment spreads).
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

// What cart lines and order lines point at. The doc line is the type's description in the
// subgraphs' SDL (schema/*.graphql).
/// A product of the products subgraph, referred to by its key.
#[derive(SimpleObject)]
#[graphql(name = "Product", unresolvable = "id")]
pub struct ProductRef {
    id: ID,
}

impl ProductRef {
    pub fn of(id: uuid::Uuid) -> Self {
        Self {
            id: ID(id.to_string()),
        }
    }
}

/// A service's domain (its façade: `Accounts`, `Catalog`, `Carts`, `Checkout`) as a subgraph:
/// the schema over it, its name and limits, the per-request data, and how its readiness is
/// checked. The state around it, shared by every service, is [`AppState`].
pub trait Subgraph: Send + Sync + Sized + 'static {
    type Query: ObjectType + 'static;
    type Mutation: ObjectType + 'static;
    /// The service name, in health answers, metrics and the playground title.
    const NAME: &'static str;
    /// Mutation fields whose every call is expensive (a password hash, a checkout): at most
    /// `GRAPHQL_MAX_EXPENSIVE_MUTATIONS` of them per request.
    const EXPENSIVE_MUTATIONS: &'static [&'static str] = &[];
    /// Entity representations one request may ask `_entities` to resolve (unless
    /// `GRAPHQL_MAX_REPRESENTATIONS` says otherwise): a router sends one per distinct entity of
    /// a page, and each may select lists, so the default is a page's worth.
    const MAX_REPRESENTATIONS: u64 = 100;

    /// The service's REST routes (the GraphQL endpoint, health and metrics are added to them).
    fn rest() -> Router<AppState<Self>>;
    /// The subgraph schema over this domain (built once, when the service starts).
    fn schema(domain: Arc<Self>) -> Schema<Self::Query, Self::Mutation, EmptySubscription>;
    /// Adds the per-request data (batchers, whose caches live for one request and may depend
    /// on who is asking); none by default.
    fn request_data(self: &Arc<Self>, request: Request, _viewer: Viewer) -> Request {
        request
    }
    /// Whether the service's own database answers (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// A whole service: its REST routes, GraphQL at `/graphql`, health, metrics and the shared
/// middleware.
pub fn app<D: Subgraph>(state: AppState<D>, config: &HttpConfig) -> Router {
    let ready: web::health::ReadinessCheck = {
        let domain = state.domain.clone();
        Arc::new(move || {
            let domain = domain.clone();
            Box::pin(async move { Ok(domain.ping().await?) })
        })
    };
    let routes = D::rest()
        .with_state(state.clone())
        .merge(routes(state, &config.graphql));
    web::http::service(D::NAME, routes, ready, config)
}

struct Endpoint<D: Subgraph> {
    state: AppState<D>,
    guard: Arc<Guard>,
}

impl<D: Subgraph> Clone for Endpoint<D> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            guard: self.guard.clone(),
        }
    }
}

/// `POST /graphql` runs operations; `GET /graphql` is the playground (GET never executes).
pub fn routes<D: Subgraph>(state: AppState<D>, config: &GraphqlConfig) -> Router {
    let title = format!("{} subgraph", D::NAME);
    let playground = Arc::new(Playground::new(&title, config.assets.clone()));
    let page = {
        let playground = playground.clone();
        move || async move { playground.page() }
    };
    let endpoint = Endpoint {
        state,
        guard: Arc::new(Guard::new(
            config.limits.clone(),
            D::EXPENSIVE_MUTATIONS,
            D::MAX_REPRESENTATIONS,
        )),
    };
    Router::new()
        .route("/graphql", get(page).post(execute::<D>))
        .with_state(endpoint)
        .merge(
            Router::new()
                .route(
                    "/graphql/assets/{folder}/{*file}",
                    get(web::playground::asset),
                )
                .with_state(playground),
        )
}

/// A request-level failure (nothing ran) in GraphQL's response shape, with the HTTP status the
/// same code has in REST.
fn error_response(err: ApiError) -> Response {
    let body =
        json!({"errors": [{"message": err.message, "extensions": {"code": err.code.as_str()}}]});
    (err.status(), axum::Json(body)).into_response()
}

/// Only JSON bodies run: a browser cannot send `application/json` to another origin without a
/// CORS preflight, which the services never grant, so no web page can make a visitor's browser
/// run a mutation here.
fn is_graphql_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/graphql-response+json")
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

async fn execute<D: Subgraph>(
    State(endpoint): State<Endpoint<D>>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !is_graphql_json(&headers) {
        return error_response(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "POST /graphql needs Content-Type: application/json",
        ));
    }
    let mut request = match parse_request(body) {
        Ok(request) => request,
        Err(err) => return error_response(err),
    };
    let checked = endpoint.guard.check(&request.query).and_then(|document| {
        endpoint
            .guard
            .check_representations(&document, &request.variables)?;
        Ok(document)
    });
    match checked {
        Ok(document) => request.set_parsed_query(document),
        Err(refusal) => return error_response(ApiError::new(refusal.code(), refusal.to_string())),
    }
    let state = &endpoint.state;
    let viewer = match optional_caller(&state.verifier, &headers).await {
        Ok(caller) => Viewer(caller),
        Err(err) => return error_response(err.into()),
    };
    let request = state
        .domain
        .request_data(request.data(viewer).data(client), viewer);
    respond(state.schema.execute(request).await)
}

/// Errors an answer lists at most: a small document can make validation report one error per
/// conflicting field, and the answer must not grow with them.
const MAX_ERRORS: usize = 50;

/// Every error leaves with a code: async-graphql's own validation and input errors carry none,
/// so they get `GRAPHQL_VALIDATION_FAILED` (nothing ran: the answer is a 400) or `BAD_REQUEST`.
/// At most [`MAX_ERRORS`] are listed, the last saying how many more there were.
fn respond(mut response: GraphqlResponse) -> Response {
    if response.errors.len() > MAX_ERRORS {
        let more = response.errors.len() - (MAX_ERRORS - 1);
        response.errors.truncate(MAX_ERRORS - 1);
        let code = response.errors[0]
            .extensions
            .as_ref()
            .and_then(|x| x.get("code").cloned());
        let mut summary = ServerError::new(format!("{more} more errors were left out"), None);
        if let Some(code) = code {
            summary
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
        }
        response.errors.push(summary);
    }
    let has_code = |e: &ServerError| {
        e.extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some())
    };
    let nothing_ran = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| !has_code(e));
    let fallback = if nothing_ran {
        ErrorCode::GraphqlValidationFailed
    } else {
        ErrorCode::BadRequest
    };
    for error in &mut response.errors {
        if !has_code(error) {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", fallback.as_str());
        }
    }
    let mut http = async_graphql_axum::GraphQLResponse::from(response).into_response();
    if nothing_ran {
        *http.status_mut() = StatusCode::BAD_REQUEST;
    }
    http
}
