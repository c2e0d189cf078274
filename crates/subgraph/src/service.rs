//! A service ready to serve: its state, its routes with the shared middleware, how it listens,
//! and the tasks that run beside it for as long as it serves.

use std::future::Future;
use std::sync::Arc;

use auth::{ServiceAuth, TokenVerifier};
use axum::Router;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use web::config::HttpConfig;

use crate::AppState;
use crate::graphql::Subgraph;

/// What every service but users gets from the process that starts it: how to verify callers'
/// tokens, its own service credential, and the process's one outbound HTTP client.
#[derive(Clone)]
pub struct Shared {
    pub verifier: Arc<TokenVerifier>,
    pub credential: Arc<ServiceAuth>,
    pub client: reqwest::Client,
}

impl Shared {
    /// A client of `service` at `url`, with this process's client and credential.
    pub fn peer(&self, service: &'static str, url: &str) -> peers::Peer {
        peers::Peer::new(service, url, self.client.clone(), self.credential.clone())
    }
}

/// Background tasks, aborted on drop.
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A started service.
pub struct Service<D: Subgraph> {
    /// For whoever started it (`up` seeds demo data through it; tests call it).
    pub state: AppState<D>,
    pub http: HttpConfig,
    app: Router,
    tasks: Vec<BoxFuture<'static, ()>>,
}

impl<D: Subgraph> Service<D> {
    /// `state`'s REST routes, GraphQL at `/graphql`, health, metrics and the shared middleware.
    pub fn new(state: AppState<D>, http: HttpConfig) -> Self {
        let app = crate::graphql::app(state.clone(), &http);
        Self {
            state,
            http,
            app,
            tasks: Vec::new(),
        }
    }

    /// The same, running `task` (a loop) while it serves.
    pub fn with_task(mut self, task: impl Future<Output = ()> + Send + 'static) -> Self {
        self.tasks.push(Box::pin(task));
        self
    }

    /// Every route, for serving or for calling in-process.
    pub fn app(&self) -> Router {
        self.app.clone()
    }

    /// Serves on `listener` until `shutdown` completes and the open requests have drained; the
    /// tasks run until then.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Aborted when serving ends, and also when this future is dropped unfinished (a sibling
        // of `try_join!` failed): no task outlives its service.
        let _tasks = Tasks(self.tasks.into_iter().map(tokio::spawn).collect());
        web::http::serve(listener, self.app, shutdown, (&self.http).into()).await
    }
}
