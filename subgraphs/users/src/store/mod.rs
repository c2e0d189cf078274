//! Where users live: the trait, and its adapter on the SQL backends (PostgreSQL and SQLite, one
//! body of code through [`storage::sql`]); every adapter passes the contract in
//! `tests/api/store_contract.rs`.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use auth::Role;
use chrono::{DateTime, Utc};
use storage::StoreError;
use storage::{Database, DatabaseUrl};
use uuid::Uuid;

use crate::domain::{Email, Name, User};

pub use sql::SqlUserStore;

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
    /// Whether `user` logged in from `address` at or after `since`.
    async fn known_address(
        &self,
        user: Uuid,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a successful login of `user` from `address` at `at`, and forgets the user's
    /// addresses not seen since `forget_before`.
    async fn remember_address(
        &self,
        user: Uuid,
        address: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names and applies its migrations.
pub async fn open(database: &Database) -> anyhow::Result<Arc<dyn UserStore>> {
    match &database.url {
        DatabaseUrl::Postgres(_) | DatabaseUrl::Sqlite(_) => {
            let pool = storage::sql::Pool::connect(database).await?;
            Ok(Arc::new(SqlUserStore::open(pool).await?))
        }
        DatabaseUrl::Mongodb(_) => {
            anyhow::bail!("the users service stores its data in PostgreSQL or SQLite")
        }
    }
}
