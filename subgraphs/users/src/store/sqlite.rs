use sqlx::SqlitePool;
use uuid::Uuid;

use super::{UserRow, sql, sql_user_store};

/// Users in an embedded SQLite file: the laptop default.
pub struct SqliteUserStore {
    pool: SqlitePool,
}

impl SqliteUserStore {
    /// Applies pending migrations, then serves from `pool`.
    pub async fn new(pool: SqlitePool) -> Result<Self, sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn fetch_many(pool: &SqlitePool, ids: &[Uuid]) -> Result<Vec<UserRow>, sqlx::Error> {
        kit::db::sqlite_in_query(
            &format!("SELECT {} FROM users WHERE id IN (", sql::COLUMNS),
            ids,
        )
        .build_query_as()
        .fetch_all(pool)
        .await
    }
}

sql_user_store!(SqliteUserStore);
