//! A database of each test's own: SQLite in a temporary file, a PostgreSQL schema, a MongoDB
//! database; and the macro that runs a test once per backend.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL`, or the `PG*` variables that `pg_virtualenv` sets.
//! Without either, PostgreSQL tests fail loudly: they are never skipped.

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::var;

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
