use sqlx::PgPool;
use uuid::Uuid;

use super::{UserRow, sql, sql_user_store};

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

    async fn fetch_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<UserRow>, sqlx::Error> {
        let query = format!("SELECT {} FROM users WHERE id = ANY($1)", sql::COLUMNS);
        sqlx::query_as(&query).bind(ids).fetch_all(pool).await
    }
}

sql_user_store!(PgUserStore);
