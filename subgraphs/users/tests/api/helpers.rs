use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;
use testing::{Backend, TestAuth, TestDb, TestResponse, request};
use users::store::{SqlUserStore, UserStore};
use web::config::HttpConfig;

/// A store on a database of its own (kept alive with it).
pub struct TestStore {
    pub store: Arc<dyn UserStore>,
    _db: TestDb,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        let db = backend.sql().await;
        let store = SqlUserStore::open(db.pool.clone()).await.expect("migrate");
        Self {
            store: Arc::new(store),
            _db: db,
        }
    }
}

/// The whole users app in-process, with its own database and signing key.
pub struct TestApp {
    pub router: Router,
    pub auth: TestAuth,
    pub state: users::AppState,
    pub db: TestStore,
}

/// A registered user and their token.
pub struct Account {
    pub id: String,
    pub token: String,
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        let db = TestStore::new(backend).await;
        let auth = TestAuth::default();
        let accounts = users::accounts::Accounts::new(
            db.store.clone(),
            auth.issuer.clone(),
            users::throttle::LoginThrottle::new(Default::default()),
            2,
        );
        let state = users::state(accounts, auth.service.clone()).expect("state");
        let router = subgraph::app(state.clone(), &HttpConfig::with_port(0));
        Self {
            router,
            auth,
            state,
            db,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        testing::send(&self.router, request).await
    }

    /// `POST /api/users/register` with `body`.
    pub async fn register_with(&self, body: &serde_json::Value) -> TestResponse {
        self.send(request(
            Method::POST,
            "/api/users/register",
            None,
            Some(body),
        ))
        .await
    }

    /// `POST /api/users/login` with `body`.
    pub async fn login_with(&self, body: &serde_json::Value) -> TestResponse {
        self.send(request(Method::POST, "/api/users/login", None, Some(body)))
            .await
    }

    /// Registers and logs in a customer.
    pub async fn account(&self, email: &str) -> Account {
        let body = json!({"email": email, "password": "Test123!", "name": "Test User"});
        let registered = self.register_with(&body).await;
        assert_eq!(registered.status, 201, "{:?}", registered.json());
        let login = json!({"email": email, "password": "Test123!"});
        let response = self.login_with(&login).await;
        assert_eq!(response.status, 200);
        let body = response.json();
        Account {
            id: registered.json()["id"].as_str().unwrap().to_owned(),
            token: body["accessToken"].as_str().unwrap().to_owned(),
        }
    }
}
