//! Helpers for integration tests: a fresh database per test and token minting.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL`, or the `PG*` variables that `pg_virtualenv` sets.
//! Without either, PostgreSQL tests fail loudly: they are never skipped.

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::auth::{Role, ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier};

fn postgres_admin_options() -> PgConnectOptions {
    if let Some(url) = crate::config::var("TEST_DATABASE_URL") {
        return url
            .parse()
            .expect("TEST_DATABASE_URL is not a valid PostgreSQL URL");
    }
    assert!(
        crate::config::var("PGHOST").is_some() || crate::config::var("PGPORT").is_some(),
        "\n\nPostgreSQL tests need a server and none is configured.\n\
         Run the test suite with ./scripts/test.sh (it starts a throwaway cluster),\n\
         or set TEST_DATABASE_URL=postgres://user:pass@host/db.\n"
    );
    PgConnectOptions::new()
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
    crate::db::postgres_pool_with(options, 20)
}

/// A SQLite database in a temporary file, removed when the returned guard drops.
pub async fn sqlite_pool() -> (tempfile::TempDir, SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let pool = crate::db::sqlite_pool(&url).await.expect("open SQLite");
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
