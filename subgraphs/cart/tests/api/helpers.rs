use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use cart::store::{CartStore, MongoCartStore, SqlCartStore};
use testbed::Platform;
use testing::{Backend, TestDb, TestResponse};
use web::config::HttpConfig;

/// A cart store on a database of its own (kept alive with it).
pub struct TestStore {
    pub store: Arc<dyn CartStore>,
    _db: Option<TestDb>,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Mongodb => Self {
                store: Arc::new(MongoCartStore::open(backend.mongo().await).await.unwrap()),
                _db: None,
            },
            _ => {
                let db = backend.sql().await;
                let store = SqlCartStore::open(db.pool.clone()).await.expect("migrate");
                Self {
                    store: Arc::new(store),
                    _db: Some(db),
                }
            }
        }
    }
}

/// The cart app in-process, with users and products running as real HTTP servers.
pub struct TestApp {
    pub router: Router,
    pub db: TestStore,
    pub platform: Platform,
}

impl std::ops::Deref for TestApp {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        let platform = Platform::start().await;
        let peers = cart::Peers {
            users: platform.users_client(),
            products: platform.products_client(),
        };
        let db = TestStore::new(backend).await;
        let carts = cart::carts::Carts::new(db.store.clone(), peers.users, peers.products);
        let state = cart::AppState::new(
            carts,
            platform.auth.verifier.clone(),
            platform.auth.service.clone(),
        );
        let router = subgraph::app(state, &HttpConfig::with_port(0));
        Self {
            router,
            db,
            platform,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        testing::send(&self.router, request).await
    }
}
