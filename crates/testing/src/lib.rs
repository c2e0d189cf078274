//! Helpers for integration tests: a fresh database per test and token minting.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL`, or the `PG*` variables that `pg_virtualenv` sets.
//! Without either, PostgreSQL tests fail loudly: they are never skipped.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use tower::ServiceExt;

use auth::{Claims, Role, ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier};

/// A variable of the test run (`TEST_DATABASE_URL`, ...), empty as unset. Test helpers read the
/// environment themselves: the services' settings come from the launcher.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn postgres_admin_options() -> PgConnectOptions {
    if let Some(url) = var("TEST_DATABASE_URL") {
        return url
            .parse()
            .expect("TEST_DATABASE_URL is not a valid PostgreSQL URL");
    }
    assert!(
        var("PGHOST").is_some() || var("PGPORT").is_some(),
        "\n\nPostgreSQL tests need a server and none is configured.\n\
         Run the test suite with ./scripts/test.sh (it starts a throwaway cluster),\n\
         or set TEST_DATABASE_URL=postgres://user:pass@host/db.\n"
    );
    PgConnectOptions::new()
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mongodb,
}

impl Backend {
    /// The backend a test module is named after (`sqlite`, `postgres`, `mongodb`).
    pub fn named(name: &str) -> Self {
        match name {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            "mongodb" => Backend::Mongodb,
            other => panic!("no test backend called {other}"),
        }
    }

    /// A fresh MongoDB database for one test, on the server `TEST_MONGODB_URL` names
    /// (`scripts/test.sh` starts one). Without it the test fails loudly.
    pub async fn mongo(self) -> mongodb::Database {
        assert_eq!(self, Backend::Mongodb, "not a MongoDB backend");
        let url = var("TEST_MONGODB_URL").unwrap_or_else(|| {
            panic!(
                "\n\nMongoDB tests need a server and none is configured.\n\
                 Run the test suite with ./scripts/test.sh (it starts a SecantusDB test server),\n\
                 or set TEST_MONGODB_URL=mongodb://host:port/?directConnection=true.\n"
            )
        });
        let url = storage::DatabaseUrl::parse(&url).expect("TEST_MONGODB_URL");
        let name = format!("t_{}", Uuid::new_v4().simple());
        let db = storage::mongo::connect(&url, &name)
            .await
            .expect("MongoDB client");
        // The URL may name a database; every test gets its own all the same.
        let db = db.client().database(&name);
        storage::mongo::ping(&db)
            .await
            .unwrap_or_else(|err| panic!("\n\ncannot reach the test MongoDB server: {err:?}\n"));
        db
    }

    /// A fresh SQL database for one test.
    pub async fn sql(self) -> TestDb {
        match self {
            Backend::Sqlite => {
                let (dir, pool) = sqlite_pool().await;
                TestDb {
                    pool: storage::sql::Pool::Sqlite(pool),
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => TestDb {
                pool: storage::sql::Pool::Postgres(postgres_pool().await),
                _dir: None,
            },
            Backend::Mongodb => panic!("MongoDB is not a SQL backend"),
        }
    }
}

/// A database of one test's own; holds the SQLite file's folder while it lives.
pub struct TestDb {
    pub pool: storage::sql::Pool,
    _dir: Option<tempfile::TempDir>,
}

/// Runs each named `async fn(Backend)` once per listed backend, as `<backend>::<name>`:
/// `on_each_backend!([sqlite, postgres] { inserts, lists });`. `scripts/test.sh` counts the
/// tests per crate and per backend from those names and fails when a backend ran none.
#[macro_export]
macro_rules! on_each_backend {
    ([$($backend:ident),+ $(,)?] $tests:tt) => {
        $( $crate::on_each_backend!(@module $backend $tests); )+
    };
    (@module $backend:ident { $($name:ident),+ $(,)? }) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::named(stringify!($backend))).await;
                }
            )+
        }
    };
}

/// A service served over real HTTP on port 0 until stopped (or dropped).
pub struct Served {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = web::config::HttpConfig::with_port(0);
        let task = tokio::spawn(web::http::serve(
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

/// Checks `/health`, `/health/live` and `/health/ready` answer 200 for `service`, and that
/// unknown routes and methods answer in the shared error shape.
pub async fn assert_health_and_fallbacks(app: &Router, service: &str, known_route: &str) {
    for path in ["/health", "/health/live", "/health/ready"] {
        let response = send(app, request(Method::GET, path, None, None)).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.json()["service"], service);
        assert!(
            response.headers.contains_key(web::http::REQUEST_ID),
            "responses carry a request id"
        );
    }
    send(app, request(Method::GET, "/no/such/route", None, None))
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    send(app, request(Method::DELETE, known_route, None, None))
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

/// A pool on a schema of its own, so tests never see each other's rows.
pub async fn postgres_pool() -> PgPool {
    let admin = postgres_admin_options();
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .unwrap_or_else(|err| panic!("\n\ncannot connect to the test PostgreSQL server: {err}\n"));
    conn.execute(format!(r#"CREATE SCHEMA "{schema}""#).as_str())
        .await
        .expect("create test schema");
    conn.close().await.ok();
    let options = admin.options([("search_path", schema.as_str())]);
    storage::sql::postgres_pool(options, 20)
}

/// A SQLite database in a temporary file, removed when the returned guard drops.
pub async fn sqlite_pool() -> (tempfile::TempDir, SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let pool = storage::sql::sqlite_pool(&url).await.expect("open SQLite");
    (dir, pool)
}

/// Keys and credentials for one test app.
#[derive(Clone)]
pub struct TestAuth {
    pub issuer: Arc<TokenIssuer>,
    pub verifier: Arc<TokenVerifier>,
    pub service: Arc<ServiceAuth>,
}

impl Default for TestAuth {
    fn default() -> Self {
        let settings = TokenSettings::default();
        let issuer = TokenIssuer::new(SigningKey::generate(), settings.clone());
        let verifier =
            TokenVerifier::with_keys(&[issuer.public_key().clone()], &settings).expect("verifier");
        let service =
            ServiceAuth::new("test", &ServiceAuth::generate_secret()).expect("service auth");
        Self {
            issuer: Arc::new(issuer),
            verifier: Arc::new(verifier),
            service: Arc::new(service),
        }
    }
}

impl TestAuth {
    pub fn token(&self, user_id: Uuid, role: Role) -> String {
        self.issuer.issue(user_id, role).expect("issue token").token
    }

    pub fn admin_token(&self) -> String {
        self.token(Uuid::new_v4(), Role::Admin)
    }

    pub fn customer_token(&self) -> String {
        self.token(Uuid::new_v4(), Role::Customer)
    }
}

impl TestAuth {
    /// A correctly signed token that expired an hour ago.
    pub fn expired_token(&self, user_id: Uuid, role: Role) -> String {
        let now = chrono::Utc::now().timestamp();
        let settings = self.issuer.settings();
        let claims = Claims {
            sub: user_id,
            role,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            iat: now - 7200,
            exp: now - 3600,
        };
        self.issuer.sign(&claims).expect("sign")
    }

    /// A token with claims that would make anyone admin, signed with no algorithm at all.
    pub fn alg_none_token(&self) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self.admin_claims()).expect("claims"));
        format!("{header}.{payload}.")
    }

    /// The classic key-confusion forgery: HS256 with the public key as the HMAC secret.
    pub fn hs256_with_public_key_token(&self) -> String {
        let public = self.issuer.public_key();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(public.kid().to_owned());
        let key = jsonwebtoken::EncodingKey::from_secret(public.to_pem().as_bytes());
        jsonwebtoken::encode(&header, &self.admin_claims(), &key).expect("sign")
    }

    /// A well-formed token from a key nobody trusts.
    pub fn foreign_token(&self) -> String {
        TokenIssuer::new(SigningKey::generate(), self.issuer.settings().clone())
            .issue(Uuid::new_v4(), Role::Admin)
            .expect("issue")
            .token
    }

    /// A token from the right key for another audience.
    pub fn wrong_audience_token(&self) -> String {
        let mut claims = self.admin_claims();
        claims.aud = "someone-else".to_owned();
        self.issuer.sign(&claims).expect("sign")
    }

    fn admin_claims(&self) -> Claims {
        let now = chrono::Utc::now().timestamp();
        let settings = self.issuer.settings();
        Claims {
            sub: Uuid::new_v4(),
            role: Role::Admin,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            iat: now,
            exp: now + 600,
        }
    }
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error.code` of a REST error body, after checking the body has the shared shape.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("no error object in {body}"));
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {body}"
        );
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body}"))
            .to_owned()
    }

    /// Asserts the status and the error code together.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

/// Sends a request through the app in-process. A 5xx other than 503 fails the test on the spot:
/// no input may make a service answer 500.
pub async fn send(app: &Router, request: Request<Body>) -> TestResponse {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes();
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "server error {status}: {}",
        String::from_utf8_lossy(&body)
    );
    TestResponse {
        status,
        headers,
        body,
    }
}

/// A request with an optional bearer token and an optional JSON body.
pub fn request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(body).expect("serialize")))
            .expect("request"),
        None => builder.body(Body::empty()).expect("request"),
    }
}

/// A request whose body is sent as given, for malformed and oversized bodies.
pub fn raw_request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).expect("request")
}

/// Runs a GraphQL operation and returns the whole response body.
pub async fn graphql(app: &Router, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = serde_json::json!({"query": query, "variables": variables});
    let response = send(app, request(Method::POST, "/graphql", token, Some(&body))).await;
    response.json()
}

/// Sends malformed JSON, a non-JSON content type and an oversized body to a JSON route, and
/// checks each gets its 4xx in the shared shape (and never a 500).
pub async fn assert_rejects_bad_bodies(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) {
    let malformed = raw_request(method.clone(), uri, token, Some("application/json"), "{,");
    send(app, malformed).await.assert_error(400, "INVALID_JSON");
    let not_json = raw_request(method.clone(), uri, token, Some("text/plain"), "{}");
    send(app, not_json)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let wrong_shape = raw_request(
        method.clone(),
        uri,
        token,
        Some("application/json"),
        "[\"not\", \"an\", \"object\"]",
    );
    send(app, wrong_shape)
        .await
        .assert_error(422, "VALIDATION_FAILED");
    let huge = format!(
        "{{\"padding\": \"{}\"}}",
        "x".repeat(web::config::HttpConfig::DEFAULT_BODY_LIMIT + 1)
    );
    let huge = raw_request(method, uri, token, Some("application/json"), huge);
    send(app, huge).await.assert_error(413, "PAYLOAD_TOO_LARGE");
}

/// A small deterministic generator (xorshift), so a failing garbage case replays exactly.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// A JSON value of any type, biased towards the edges: huge, negative, fractional, empty,
    /// unicode and nested.
    fn value(&mut self, depth: u32) -> Value {
        use serde_json::json;
        match self.next() % 14 {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(i64::MIN),
            3 => json!(u64::MAX),
            4 => json!(-1),
            5 => json!(0),
            6 => json!(1.000_000_1),
            7 => json!(1e300),
            8 => json!(""),
            9 => json!(
                self.pick(&[
                    "ü¥€💥",
                    "\u{0}",
                    "a\nb",
                    "'; DROP TABLE users; --",
                    "%_\\",
                    " "
                ])
                .to_string()
            ),
            10 => json!("x".repeat((self.next() % 300) as usize)),
            11 => json!(uuid::Uuid::from_u128(u128::from(self.next()))),
            12 if depth < 3 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ if depth < 3 => {
                let mut object = serde_json::Map::new();
                for _ in 0..self.next() % 3 {
                    object.insert(format!("k{}", self.next() % 5), self.value(depth + 1));
                }
                Value::Object(object)
            }
            _ => json!(42),
        }
    }
}

/// Sends `cases` bodies to a JSON route: objects with the route's own `fields` (and sometimes
/// one more) holding values of every type. Any 5xx fails the test, naming the body.
pub async fn assert_garbage_never_breaks(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    fields: &[&str],
    cases: u32,
) {
    let mut garbage = Garbage(0x9E37_79B9_7F4A_7C15);
    for _ in 0..cases {
        let mut body = serde_json::Map::new();
        for field in fields {
            if !garbage.next().is_multiple_of(5) {
                body.insert((*field).to_owned(), garbage.value(0));
            }
        }
        if garbage.next().is_multiple_of(7) {
            body.insert("unexpected".to_owned(), garbage.value(0));
        }
        let body = Value::Object(body);
        let response = app
            .clone()
            .oneshot(request(method.clone(), uri, token, Some(&body)))
            .await
            .expect("infallible");
        assert!(
            response.status().is_client_error() || response.status().is_success(),
            "{} for {body}",
            response.status()
        );
    }
}

/// Compares a subgraph's SDL (as `_service { sdl }` returns it) with `schema/<service>.graphql`.
/// With `UPDATE_SCHEMA=1` the file is rewritten instead, to commit a deliberate change.
pub fn assert_committed_sdl(service: &str, sdl: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../schema/{service}.graphql"));
    let sdl = format!("{}\n", sdl.trim_end());
    if var("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write the schema file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "\n\nschema/{service}.graphql does not match the {service} subgraph's SDL.\n\
         If the change is intended, regenerate it (and the supergraph) with: scripts/schema.sh\n"
    );
}
