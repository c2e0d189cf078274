use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use cart::store::{CartStore, SqlCartStore};
use chrono::{DateTime, Utc};
use orders::checkout::failpoints::Crash;
use orders::checkout::{Checkout, Peers};
use orders::domain::{Lease, Order, OrderStatus, StockState};
use orders::store::{MongoOrderStore, OrderStore, SqlOrderStore};
use peers::Peer;
use peers::cart::CartClient;
use peers::products::ProductsClient;
use products::domain::Product;
use serde_json::{Value, json};
use storage::StoreError;
use testbed::Platform;
use testing::{Backend, Served, TestDb, TestResponse};
use uuid::Uuid;
use web::config::HttpConfig;
use web::pagination::Page;

/// An orders store on a database of its own (kept alive with it).
pub struct TestStore {
    pub store: Arc<dyn OrderStore>,
    _db: Option<TestDb>,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Mongodb => Self {
                store: Arc::new(MongoOrderStore::open(backend.mongo().await).await.unwrap()),
                _db: None,
            },
            _ => {
                let db = backend.sql().await;
                let store = SqlOrderStore::open(db.pool.clone()).await.expect("migrate");
                Self {
                    store: Arc::new(store),
                    _db: Some(db),
                }
            }
        }
    }
}

/// How a test wants its orders service.
#[derive(Default)]
pub struct Options {
    pub hold: Option<Duration>,
    /// The checkout "dies" at this step, as a killed process would.
    pub die_at: Option<orders::checkout::failpoints::Step>,
    /// Every order insert fails, as a database that went away would.
    pub failing_inserts: bool,
    /// orders calls products through a [`StandIn`] that can answer a generic 404.
    pub products_stand_in: bool,
}

/// What a [`StandIn`] answers for reservation confirms and releases while it is "broken": the
/// 404 of something that does not serve the route, never the contract's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generic404 {
    /// A server without the route, in the shared error shape (our own fallback).
    RouteNotFound,
    /// An older products without the route: its fallback said `NOT_FOUND`.
    OldFallback,
    /// A proxy or ingress: plain text, no error shape.
    Proxy,
}

/// A products stand-in: forwards every request to the real products server, except confirms
/// and releases while [`StandIn::answer_404`] is set, which get a generic 404 instead.
pub struct StandIn {
    pub served: Served,
    broken: Arc<std::sync::Mutex<Option<Generic404>>>,
}

impl StandIn {
    async fn start(products: String) -> Self {
        let broken: Arc<std::sync::Mutex<Option<Generic404>>> = Default::default();
        let state = (reqwest::Client::new(), products, broken.clone());
        let app = Router::new().fallback(forward).with_state(state);
        Self {
            served: Served::start(app).await,
            broken,
        }
    }

    /// From now on, confirms and releases get `answer` (or, with `None`, reach products).
    pub fn answer_404(&self, answer: Option<Generic404>) {
        *self.broken.lock().unwrap() = answer;
    }
}

type StandInState = (
    reqwest::Client,
    String,
    Arc<std::sync::Mutex<Option<Generic404>>>,
);

async fn forward(
    axum::extract::State((http, products, broken)): axum::extract::State<StandInState>,
    request: Request<Body>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path().to_owned();
    let settling = path.ends_with("/confirm") || path.ends_with("/release");
    if let (true, Some(answer)) = (settling, *broken.lock().unwrap()) {
        let status = axum::http::StatusCode::NOT_FOUND;
        let json = axum::http::HeaderValue::from_static("application/json");
        return match answer {
            Generic404::RouteNotFound => (
                status,
                [(axum::http::header::CONTENT_TYPE, json)],
                r#"{"error":{"code":"ROUTE_NOT_FOUND","message":"no such route"}}"#,
            )
                .into_response(),
            Generic404::OldFallback => (
                status,
                [(axum::http::header::CONTENT_TYPE, json)],
                r#"{"error":{"code":"NOT_FOUND","message":"no such route"}}"#,
            )
                .into_response(),
            Generic404::Proxy => (status, "404 page not found").into_response(),
        };
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut outbound = http.request(parts.method, format!("{products}{path}"));
    for name in [
        axum::http::header::AUTHORIZATION,
        axum::http::header::CONTENT_TYPE,
    ] {
        if let Some(value) = parts.headers.get(&name) {
            outbound = outbound.header(name, value);
        }
    }
    let answer = outbound.body(body).send().await.unwrap();
    let status = answer.status();
    let content_type = answer
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .cloned();
    let bytes = answer.bytes().await.unwrap();
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, content_type);
    }
    response
}

/// The orders app in-process; users, products and cart as real HTTP servers.
pub struct TestApp {
    pub router: Router,
    pub checkout: Arc<Checkout>,
    pub db: TestStore,
    pub cart_store: Arc<dyn CartStore>,
    pub cart: Served,
    pub platform: Platform,
    /// In front of products when the test asked for it.
    pub stand_in: Option<StandIn>,
    /// The store calls the checkout made.
    pub store_calls: Calls,
    _cart_db: TestDb,
}

impl std::ops::Deref for TestApp {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

/// The orders store as the checkout sees it: every call is recorded (each is one round trip
/// to the database, two for SQL reads of an order with its lines), and inserts may fail (after
/// the stock was reserved, so the checkout must give it back).
struct Instrumented {
    store: Arc<dyn OrderStore>,
    failing_inserts: bool,
    calls: Calls,
}

/// The store calls made, in order.
pub type Calls = Arc<std::sync::Mutex<Vec<&'static str>>>;

impl Instrumented {
    fn call(&self, name: &'static str) -> &dyn OrderStore {
        self.calls.lock().unwrap().push(name);
        self.store.as_ref()
    }
}

#[async_trait]
impl OrderStore for Instrumented {
    async fn insert(&self, order: &Order) -> Result<(), StoreError> {
        if self.failing_inserts {
            return Err(StoreError::Unavailable(
                "injected: the database went away".into(),
            ));
        }
        self.call("insert").insert(order).await
    }
    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        self.call("get").get(id).await
    }
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
        self.call("get_many").get_many(ids).await
    }
    async fn by_key(&self, user: Uuid, key: &str) -> Result<Option<Order>, StoreError> {
        self.call("by_key").by_key(user, key).await
    }
    async fn for_user(&self, user: Uuid, page: Page) -> Result<(Vec<Order>, u64), StoreError> {
        self.call("for_user").for_user(user, page).await
    }
    async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<Order>, StoreError> {
        self.call("transition").transition(id, from, to).await
    }
    async fn record_stock(
        &self,
        order: &Order,
        from: &[StockState],
        to: StockState,
    ) -> Result<Option<Order>, StoreError> {
        self.call("record_stock")
            .record_stock(order, from, to)
            .await
    }
    async fn record_cart_done(&self, order: &Order) -> Result<Option<Order>, StoreError> {
        self.call("record_cart_done").record_cart_done(order).await
    }
    async fn unsettled(
        &self,
        before: DateTime<Utc>,
        user: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        self.call("unsettled").unsettled(before, user, limit).await
    }
    async fn claim_checkout(
        &self,
        user: Uuid,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        self.call("claim_checkout")
            .claim_checkout(user, lease, now)
            .await
    }
    async fn release_checkout(&self, user: Uuid, order_id: Uuid) -> Result<(), StoreError> {
        self.call("release_checkout")
            .release_checkout(user, order_id)
            .await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.call("ping").ping().await
    }
}

fn peers(platform: &Platform, cart: &Served, stand_in: Option<&StandIn>) -> Peers {
    Peers {
        users: platform.users_client(),
        products: match stand_in {
            Some(stand_in) => ProductsClient(Peer::new(
                "products",
                &stand_in.served.url(),
                web::http::client().unwrap(),
                platform.auth.service.clone(),
            )),
            None => platform.products_client(),
        },
        cart: CartClient(Peer::new(
            "cart",
            &cart.url(),
            web::http::client().unwrap(),
            platform.auth.service.clone(),
        )),
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, Options::default()).await
    }

    pub async fn with(backend: Backend, options: Options) -> Self {
        let platform = Platform::start().await;
        let cart_db = Backend::Sqlite.sql().await;
        let cart_store: Arc<dyn CartStore> =
            Arc::new(SqlCartStore::open(cart_db.pool.clone()).await.unwrap());
        let carts = cart::carts::Carts::new(
            cart_store.clone(),
            platform.users_client(),
            platform.products_client(),
        );
        let cart_state = cart::AppState::new(
            carts,
            platform.auth.verifier.clone(),
            platform.auth.service.clone(),
        );
        let cart = Served::start(subgraph::app(cart_state, &HttpConfig::with_port(0))).await;
        let stand_in = match options.products_stand_in {
            true => Some(StandIn::start(platform.products.url()).await),
            false => None,
        };
        let peers = peers(&platform, &cart, stand_in.as_ref());
        let db = TestStore::new(backend).await;
        let calls = Calls::default();
        let store: Arc<dyn OrderStore> = Arc::new(Instrumented {
            store: db.store.clone(),
            failing_inserts: options.failing_inserts,
            calls: calls.clone(),
        });
        let mut checkout = Checkout::new(
            store,
            peers,
            options.hold.unwrap_or(Duration::from_secs(60)),
        );
        if let Some(die_at) = options.die_at {
            let crash: Crash = Arc::new(move |step| step == die_at);
            checkout = checkout.with_crash(crash);
        }
        let state = orders::AppState::new(
            checkout,
            platform.auth.verifier.clone(),
            platform.auth.service.clone(),
        );
        let checkout = state.domain.clone();
        let router = subgraph::app(state, &HttpConfig::with_port(0));
        Self {
            router,
            checkout,
            db,
            cart_store,
            cart,
            platform,
            stand_in,
            store_calls: calls,
            _cart_db: cart_db,
        }
    }

    /// A checkout that "died" right after storing its order: the order is pending with its
    /// stock held and unconfirmed, the cart untouched. Products holds stock for `hold` (60 s by
    /// default). The app, the customer and the product (`name`, price in minor
    /// units, stock) of which the order holds `quantity`.
    pub async fn interrupted(
        hold: Option<Duration>,
        email: &str,
        (name, price, stock): (&str, i64, i32),
        quantity: i64,
    ) -> (Self, Uuid, Product) {
        let app = Self::with(
            Backend::Sqlite,
            Options {
                hold,
                die_at: Some(orders::checkout::failpoints::Step::Stored),
                ..Options::default()
            },
        )
        .await;
        let (user, token) = app.customer(email).await;
        let product = app.product(name, price, stock).await;
        app.fill_cart(user, product.id, quantity).await;
        app.place(&token, user, None)
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
        (app, user, product)
    }

    /// Clients of the services checkout calls, for another `Checkout` on the same store (a
    /// process restarted after a crash).
    pub fn peers(&self) -> Peers {
        peers(&self.platform, &self.cart, self.stand_in.as_ref())
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        testing::send(&self.router, request).await
    }

    /// Puts `quantity` of `product` in the user's cart.
    pub async fn fill_cart(&self, user: Uuid, product: Uuid, quantity: i64) {
        let quantity = cart::domain::Quantity::parse(quantity).unwrap();
        self.cart_store.add(user, product, quantity).await.unwrap();
    }

    /// `POST /api/orders` for `user`, with an `Idempotency-Key` if given.
    pub async fn place(&self, token: &str, user: Uuid, key: Option<&str>) -> TestResponse {
        self.place_to(token, user, key, "Toronto").await
    }

    pub async fn place_to(
        &self,
        token: &str,
        user: Uuid,
        key: Option<&str>,
        city: &str,
    ) -> TestResponse {
        let body = json!({
            "userId": user,
            "shippingAddress": {"street": "123 Main St", "city": city, "postalCode": "M5H 2N2", "country": "Canada"},
            "paymentMethod": "credit_card",
        });
        let mut request = testing::request(Method::POST, "/api/orders", Some(token), Some(&body));
        if let Some(key) = key {
            request
                .headers_mut()
                .insert("idempotency-key", key.parse().unwrap());
        }
        self.send(request).await
    }

    /// Changes an order's status as `token`.
    pub async fn set_status(&self, token: &str, order: &str, status: &str) -> TestResponse {
        self.send(testing::request(
            Method::PUT,
            &format!("/api/orders/{order}/status"),
            Some(token),
            Some(&json!({"status": status})),
        ))
        .await
    }

    /// Asserts the stock invariant for a product: on hand + held + sold = `initial`, and sold
    /// is what the orders not cancelled hold of it.
    pub async fn assert_stock_accounted(&self, product: Uuid, initial: i64) {
        let ledger = self.ledger(product).await;
        assert_eq!(
            ledger.on_hand + ledger.held + ledger.sold,
            initial,
            "stock lost or counted twice: {ledger:?}"
        );
        assert!(ledger.on_hand >= 0);
        let mut ordered = 0;
        for user in self.db_users().await {
            let (orders, _) = self
                .db
                .store
                .for_user(user, Page::new(Some(100), None).unwrap())
                .await
                .unwrap();
            for order in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
                assert!(!order.stock.is_back(), "{order:?} lacks its stock");
                ordered += order
                    .lines
                    .iter()
                    .filter(|l| l.product_id == product)
                    .map(|l| i64::from(l.quantity))
                    .sum::<i64>();
            }
        }
        assert_eq!(ledger.sold + ledger.held, ordered, "{ledger:?}");
    }

    /// Every user the users service knows.
    async fn db_users(&self) -> Vec<Uuid> {
        let rows = self
            .platform
            .users_db()
            .fetch_all(storage::sql::query("SELECT id FROM users"))
            .await
            .unwrap();
        rows.iter().map(|r| r.get("id").unwrap()).collect()
    }
}

/// The JSON of a response, for terse assertions.
pub fn body(response: &TestResponse) -> Value {
    response.json()
}
