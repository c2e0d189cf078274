use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use contracts::money::Currency;
use products::domain::{NewProduct, Product};
use products::store::{ProductStore, SqlProductStore};
use testing::{Backend, TestAuth, TestDb, TestResponse};
use uuid::Uuid;
use web::config::HttpConfig;

/// A store on a database of its own (kept alive with it).
pub struct TestStore {
    pub store: Arc<dyn ProductStore>,
    _db: TestDb,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        let db = backend.sql().await;
        let store = SqlProductStore::open(db.pool.clone())
            .await
            .expect("migrate");
        Self {
            store: Arc::new(store),
            _db: db,
        }
    }

    pub async fn product(&self, name: &str, price_minor: i64, stock: i32) -> Product {
        self.product_in(name, price_minor, stock, "Electronics")
            .await
    }

    pub async fn product_in(
        &self,
        name: &str,
        price_minor: i64,
        stock: i32,
        category: &str,
    ) -> Product {
        let new = NewProduct {
            name: name.to_owned(),
            description: String::new(),
            price_minor,
            currency: Currency::USD,
            stock,
            category: Some(category.to_owned()),
        };
        self.store
            .insert(Uuid::now_v7(), &new)
            .await
            .expect("insert product")
    }

    pub async fn stock_of(&self, id: Uuid) -> i32 {
        self.store
            .get(id)
            .await
            .expect("get")
            .expect("product exists")
            .stock
    }
}

/// The whole products app in-process, with its own database and keys.
pub struct TestApp {
    pub router: Router,
    pub auth: TestAuth,
    pub db: TestStore,
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        let db = TestStore::new(backend).await;
        let auth = TestAuth::default();
        let hold = products::ReservationSettings::default().default_hold;
        let state = products::AppState::new(
            products::catalog::Catalog::new(db.store.clone(), hold),
            auth.verifier.clone(),
            auth.service.clone(),
        );
        let router = subgraph::app(state, &HttpConfig::with_port(0));
        Self { router, auth, db }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        testing::send(&self.router, request).await
    }

    /// `POST /internal/reservations` with `body`, as a service.
    pub async fn reserve(&self, body: &serde_json::Value) -> TestResponse {
        let token = self.service_token();
        self.send(testing::request(
            axum::http::Method::POST,
            "/internal/reservations",
            Some(&token),
            Some(body),
        ))
        .await
    }

    pub fn service_token(&self) -> String {
        self.auth.service.mint().expect("mint")
    }
}
