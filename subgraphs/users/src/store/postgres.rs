use async_trait::async_trait;
use kit::db::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Credentials, NewUser, UserRow, UserStore, sql};
use crate::domain::{Email, User};

/// Users in PostgreSQL.
pub struct PgUserStore {
    pool: PgPool,
}

impl PgUserStore {
    /// Applies pending migrations, then serves from `pool`.
    pub async fn new(pool: PgPool) -> Result<Self, sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl UserStore for PgUserStore {
    async fn insert(&self, user: &NewUser) -> Result<User, StoreError> {
        sqlx::query(sql::INSERT)
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
            .ok_or_else(|| StoreError::Corrupt("inserted user vanished".into()))
    }

    async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(sql::BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(UserRow::into_user).transpose()
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
        let query = format!("SELECT {} FROM users WHERE id = ANY($1)", sql::COLUMNS);
        let rows: Vec<UserRow> = sqlx::query_as(&query)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(sql::BY_EMAIL)
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(UserRow::into_credentials).transpose()
    }

    async fn promote_to_admin(&self, email: &Email) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::PROMOTE)
            .bind(email.as_str())
            .bind(chrono::Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
