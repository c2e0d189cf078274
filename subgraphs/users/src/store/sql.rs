//! Users in PostgreSQL or SQLite: the same statements on both (see [`storage::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use storage::StoreError;
use storage::sql::{Pool, Row, placeholders, query};

use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{Credentials, NewUser, UserStore};
use crate::domain::{Email, Name, User};

static POSTGRES: LazyLock<Migrator> = storage::migrations!("postgres": [
    "20261123000001_users.sql",
    "20261129000001_login_addresses.sql",
]);
static SQLITE: LazyLock<Migrator> = storage::migrations!("sqlite": [
    "20261123000001_users.sql",
    "20261129000001_login_addresses.sql",
]);

const COLUMNS: &str = "id, email, name, role, created_at, password_hash";

pub struct SqlUserStore {
    db: Pool,
}

impl SqlUserStore {
    /// Applies pending migrations, then serves from `db`.
    pub async fn open(db: Pool) -> anyhow::Result<Self> {
        db.migrate(&POSTGRES, &SQLITE).await?;
        Ok(Self { db })
    }
}

fn credentials(row: &Row) -> Result<Credentials, StoreError> {
    let id: Uuid = row.get("id")?;
    let corrupt = |what: String| StoreError::Corrupt(format!("user {id}: {what}"));
    let user = User {
        id,
        email: Email::parse(&row.get::<String>("email")?).map_err(|e| corrupt(e.0))?,
        name: Name::parse(&row.get::<String>("name")?).map_err(|e| corrupt(e.0))?,
        role: row.get::<String>("role")?.parse().map_err(corrupt)?,
        created_at: row.get("created_at")?,
    };
    Ok(Credentials {
        user,
        password_hash: row.get("password_hash")?,
    })
}

fn user(row: &Row) -> Result<User, StoreError> {
    credentials(row).map(|c| c.user)
}

#[async_trait]
impl UserStore for SqlUserStore {
    async fn insert(&self, new: &NewUser) -> Result<User, StoreError> {
        let sql = format!(
            "INSERT INTO users (id, email, name, role, created_at, updated_at, password_hash) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING {COLUMNS}"
        );
        let row = self
            .db
            .fetch_one(
                query(sql)
                    .bind(new.id)
                    .bind(new.email.as_str())
                    .bind(new.name.as_str())
                    .bind(new.role.as_str())
                    .bind(new.created_at)
                    .bind(new.password_hash.as_str()),
            )
            .await?;
        user(&row)
    }

    async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let row = self.db.fetch_optional(query(sql).bind(id)).await?;
        row.as_ref().map(user).transpose()
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let rows = self
            .db
            .fetch_all(query(sql).bind_all(ids.iter().copied()))
            .await?;
        rows.iter().map(user).collect()
    }

    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        // Emails are stored lower-cased by `Email::parse` (Unicode-aware, unlike SQLite's lower()).
        let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)");
        let row = self
            .db
            .fetch_optional(query(sql).bind(email.as_str()))
            .await?;
        row.as_ref().map(credentials).transpose()
    }

    async fn known_address(
        &self,
        user: Uuid,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = self
            .db
            .fetch_optional(
                query(
                    "SELECT 1 AS known FROM login_addresses \
                     WHERE user_id = $1 AND address = $2 AND last_login_at >= $3",
                )
                .bind(user)
                .bind(address)
                .bind(since),
            )
            .await?;
        Ok(row.is_some())
    }

    async fn remember_address(
        &self,
        user: Uuid,
        address: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            query(
                "INSERT INTO login_addresses (user_id, address, last_login_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = excluded.last_login_at",
            )
            .bind(user)
            .bind(address)
            .bind(at),
        )
        .await?;
        tx.execute(
            query("DELETE FROM login_addresses WHERE user_id = $1 AND last_login_at < $2")
                .bind(user)
                .bind(forget_before),
        )
        .await?;
        tx.commit().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

storage::embedded_migrations_test!(POSTGRES: "postgres", SQLITE: "sqlite");
