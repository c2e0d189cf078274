use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use cart::store::{CartStore, MongoCartStore, SqlCartStore};
use kit::auth::Role;
use kit::config::HttpConfig;
use kit::money::Currency;
use kit::peers::Peer;
use kit::peers::products::ProductsClient;
use kit::peers::users::UsersClient;
use kit::testing::{Backend, TestAuth, TestDb, TestResponse};
use products::domain::{NewProduct, Product};
use products::store::{ProductStore, SqlProductStore};
use users::store::{NewUser, SqlUserStore, UserStore};
use uuid::Uuid;

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

/// A service served over real HTTP on port 0 until stopped (or dropped).
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = HttpConfig::with_port(0);
        let task = tokio::spawn(kit::http::serve(
            listener,
            app,
            async {
                stopped.await.ok();
            },
            (&config).into(),
        ));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server; its port then refuses connections.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The cart app in-process, with users and products running as real HTTP servers.
pub struct TestApp {
    pub router: Router,
    pub auth: TestAuth,
    pub db: TestStore,
    pub users_store: Arc<dyn UserStore>,
    pub products_store: Arc<dyn ProductStore>,
    pub products_db: TestDb,
    pub users: Served,
    pub products: Served,
    _users_db: TestDb,
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        let auth = TestAuth::default();
        let users_db = Backend::Sqlite.sql().await;
        let users_store: Arc<dyn UserStore> =
            Arc::new(SqlUserStore::open(users_db.pool.clone()).await.unwrap());
        let users_state = users::AppState::new(
            users_store.clone(),
            auth.issuer.clone(),
            Default::default(),
            1,
            auth.service.clone(),
        )
        .unwrap();
        let users = Served::start(users::app(users_state, &HttpConfig::with_port(0))).await;
        let products_db = Backend::Sqlite.sql().await;
        let products_store: Arc<dyn ProductStore> = Arc::new(
            SqlProductStore::open(products_db.pool.clone())
                .await
                .unwrap(),
        );
        let products_state = products::AppState::new(
            products_store.clone(),
            auth.verifier.clone(),
            auth.service.clone(),
            Default::default(),
        );
        let products =
            Served::start(products::app(products_state, &HttpConfig::with_port(0))).await;
        let http = kit::http::client().unwrap();
        let peers = cart::Peers {
            users: UsersClient(Peer::new(
                "users",
                &users.url(),
                http.clone(),
                auth.service.clone(),
            )),
            products: ProductsClient(Peer::new(
                "products",
                &products.url(),
                http,
                auth.service.clone(),
            )),
        };
        let db = TestStore::new(backend).await;
        let state = cart::AppState::new(
            db.store.clone(),
            peers,
            auth.verifier.clone(),
            auth.service.clone(),
        );
        let router = cart::app(state, &HttpConfig::with_port(0));
        Self {
            router,
            auth,
            db,
            users_store,
            products_store,
            products_db,
            users,
            products,
            _users_db: users_db,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        kit::testing::send(&self.router, request).await
    }

    /// A customer account in the users service, and their token.
    pub async fn customer(&self, email: &str) -> (Uuid, String) {
        let id = Uuid::now_v7();
        self.users_store
            .insert(&NewUser {
                id,
                email: users::domain::Email::parse(email).unwrap(),
                name: users::domain::Name::parse("Shopper").unwrap(),
                role: Role::Customer,
                password_hash: "unused".to_owned(),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
        (id, self.auth.token(id, Role::Customer))
    }

    pub async fn product(&self, name: &str, price_minor: i64, stock: i32) -> Product {
        let new = NewProduct {
            name: name.to_owned(),
            description: String::new(),
            price_minor,
            currency: Currency::USD,
            stock,
            category: None,
        };
        self.products_store
            .insert(Uuid::now_v7(), &new)
            .await
            .unwrap()
    }

    /// Takes a product off sale, as an operator would in the database.
    pub async fn deactivate(&self, id: Uuid) {
        self.products_db
            .pool
            .execute(kit::sql::query("UPDATE products SET active = FALSE WHERE id = $1").bind(id))
            .await
            .unwrap();
    }
}
