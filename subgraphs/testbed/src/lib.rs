//! The users and products services running as real HTTP servers on port 0, for the tests of the
//! services that call them (cart, orders), with helpers to create accounts and products directly
//! in their stores and to read a product's stock ledger.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth::Role;
use contracts::money::Currency;
use peers::Peer;
use peers::products::ProductsClient;
use peers::users::UsersClient;
use products::domain::{NewProduct, Product};
use products::store::{ProductStore, SqlProductStore, StockLedger};
use testing::{Backend, Served, TestAuth, TestDb};
use users::store::{NewUser, SqlUserStore, UserStore};
use uuid::Uuid;
use web::config::HttpConfig;

/// users and products, each on SQLite files of their own, sharing one set of keys.
pub struct Platform {
    pub auth: TestAuth,
    pub users: Served,
    pub products: Served,
    pub users_store: Arc<dyn UserStore>,
    pub products_store: Arc<dyn ProductStore>,
    pub catalog: Arc<products::catalog::Catalog>,
    pub products_db: TestDb,
    users_db: TestDb,
    /// Requests the products server has answered at `/internal/products/lookup`.
    lookups: Arc<AtomicUsize>,
}

impl Platform {
    pub async fn start() -> Self {
        let auth = TestAuth::default();
        let users_db = Backend::Sqlite.sql().await;
        let users_store: Arc<dyn UserStore> =
            Arc::new(SqlUserStore::open(users_db.pool.clone()).await.unwrap());
        let accounts = users::accounts::Accounts::new(
            users_store.clone(),
            auth.issuer.clone(),
            users::throttle::LoginThrottle::new(Default::default()),
            1,
        );
        let users_state = users::state(accounts, auth.service.clone()).unwrap();
        let users = Served::start(subgraph::app(users_state, &HttpConfig::with_port(0))).await;
        let products_db = Backend::Sqlite.sql().await;
        let products_store: Arc<dyn ProductStore> = Arc::new(
            SqlProductStore::open(products_db.pool.clone())
                .await
                .unwrap(),
        );
        let hold = products::ReservationSettings::default().default_hold;
        let products_state = products::AppState::new(
            products::catalog::Catalog::new(products_store.clone(), hold),
            auth.verifier.clone(),
            auth.service.clone(),
        );
        let catalog = products_state.domain.clone();
        let lookups = Arc::new(AtomicUsize::new(0));
        let counted = lookups.clone();
        let products_app = subgraph::app(products_state, &HttpConfig::with_port(0)).layer(
            axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    if request.uri().path() == "/internal/products/lookup" {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    next.run(request)
                },
            ),
        );
        let products = Served::start(products_app).await;
        Self {
            auth,
            users,
            products,
            users_store,
            products_store,
            catalog,
            products_db,
            users_db,
            lookups,
        }
    }

    /// How many product lookups (the batched call cart and orders price with) products has
    /// answered so far.
    pub fn products_lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    /// A client of the users service as another service holds it.
    pub fn users_client(&self) -> UsersClient {
        UsersClient(Peer::new(
            "users",
            &self.users.url(),
            web::http::client().unwrap(),
            self.auth.service.clone(),
        ))
    }

    /// A client of the products service as another service holds it.
    pub fn products_client(&self) -> ProductsClient {
        ProductsClient(Peer::new(
            "products",
            &self.products.url(),
            web::http::client().unwrap(),
            self.auth.service.clone(),
        ))
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
            .execute(
                storage::sql::query("UPDATE products SET active = FALSE WHERE id = $1").bind(id),
            )
            .await
            .unwrap();
    }

    /// The users service's database.
    pub fn users_db(&self) -> &storage::sql::Pool {
        &self.users_db.pool
    }

    /// Where a product's stock is.
    pub async fn ledger(&self, id: Uuid) -> StockLedger {
        self.products_store.ledger(id).await.unwrap().unwrap()
    }
}
