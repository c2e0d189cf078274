//! Where users live: one trait, one adapter per backend, and the contract both pass
//! (`tests/api/store_contract.rs`).
//!
//! The SQL is the same on both backends (sqlx binds `$N` on SQLite too), so the adapters share one
//! implementation, [`sql_user_store!`], and differ only in their pool and how they look up many
//! ids at once.

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::auth::Role;
use kit::config::DatabaseUrl;
use kit::db::StoreError;
use uuid::Uuid;

use crate::domain::{Email, Name, User};

pub use postgres::PgUserStore;
pub use sqlite::SqliteUserStore;

/// A user ready to be inserted: validated, password already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Email,
    pub name: Name,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A user with the hash to check a login against.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user; an email already taken (in any case) is `StoreError::Conflict`.
    async fn insert(&self, user: &NewUser) -> Result<User, StoreError>;
    async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    /// The users among `ids`, in no particular order, in one query.
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError>;
    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError>;
    /// Makes the user with `email` an admin; false when there is none.
    async fn promote_to_admin(&self, email: &Email) -> Result<bool, StoreError>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names and applies its migrations.
pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn UserStore>> {
    Ok(match url {
        DatabaseUrl::Postgres(url) => Arc::new(
            PgUserStore::new(kit::db::postgres_pool(
                url,
                kit::config::database_max_connections()?,
            )?)
            .await?,
        ),
        DatabaseUrl::Sqlite(url) => {
            Arc::new(SqliteUserStore::new(kit::db::sqlite_pool(url).await?).await?)
        }
        DatabaseUrl::Mongodb(_) => {
            anyhow::bail!("the users service stores its data in PostgreSQL or SQLite")
        }
    })
}

/// SQL both backends run as written (sqlx binds `$N` on SQLite too).
mod sql {
    pub const COLUMNS: &str = "id, email, name, role, created_at, password_hash";
    pub const INSERT: &str = "INSERT INTO users (id, email, name, role, created_at, updated_at, password_hash) \
                              VALUES ($1, $2, $3, $4, $5, $5, $6)";
    pub const BY_ID: &str =
        "SELECT id, email, name, role, created_at, password_hash FROM users WHERE id = $1";
    pub const BY_EMAIL: &str = "SELECT id, email, name, role, created_at, password_hash FROM users WHERE lower(email) = lower($1)";
    pub const PROMOTE: &str =
        "UPDATE users SET role = 'admin', updated_at = $2 WHERE lower(email) = lower($1)";
}

/// A `users` row as both backends return it.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
    password_hash: String,
}

impl UserRow {
    fn into_credentials(self) -> Result<Credentials, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("user {}: {what}", self.id));
        let user = User {
            id: self.id,
            email: Email::parse(&self.email).map_err(|e| corrupt(e.0))?,
            name: Name::parse(&self.name).map_err(|e| corrupt(e.0))?,
            role: self.role.parse().map_err(corrupt)?,
            created_at: self.created_at,
        };
        Ok(Credentials {
            user,
            password_hash: self.password_hash,
        })
    }

    fn into_user(self) -> Result<User, StoreError> {
        self.into_credentials().map(|c| c.user)
    }
}

/// Implements [`UserStore`] for an adapter with a `pool` field and a `fetch_many` function.
macro_rules! sql_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn insert(
                &self,
                user: &$crate::store::NewUser,
            ) -> Result<$crate::domain::User, kit::db::StoreError> {
                sqlx::query($crate::store::sql::INSERT)
                    .bind(user.id)
                    .bind(user.email.as_str())
                    .bind(user.name.as_str())
                    .bind(user.role.as_str())
                    .bind(user.created_at)
                    .bind(&user.password_hash)
                    .execute(&self.pool)
                    .await?;
                self.get(user.id)
                    .await?
                    .ok_or_else(|| kit::db::StoreError::Corrupt("inserted user vanished".into()))
            }

            async fn get(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::domain::User>, kit::db::StoreError> {
                let row: Option<$crate::store::UserRow> = sqlx::query_as($crate::store::sql::BY_ID)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::store::UserRow::into_user).transpose()
            }

            async fn get_many(
                &self,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::domain::User>, kit::db::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = Self::fetch_many(&self.pool, ids).await?;
                rows.into_iter()
                    .map($crate::store::UserRow::into_user)
                    .collect()
            }

            async fn credentials(
                &self,
                email: &$crate::domain::Email,
            ) -> Result<Option<$crate::store::Credentials>, kit::db::StoreError> {
                let row: Option<$crate::store::UserRow> =
                    sqlx::query_as($crate::store::sql::BY_EMAIL)
                        .bind(email.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                row.map($crate::store::UserRow::into_credentials)
                    .transpose()
            }

            async fn promote_to_admin(
                &self,
                email: &$crate::domain::Email,
            ) -> Result<bool, kit::db::StoreError> {
                let done = sqlx::query($crate::store::sql::PROMOTE)
                    .bind(email.as_str())
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn ping(&self) -> Result<(), kit::db::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}
use sql_user_store;
