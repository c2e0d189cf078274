use sqlx::SqlitePool;
use uuid::Uuid;

use super::{ProductRow, sql, sql_product_store};

/// Products and reservations in an embedded SQLite file: the laptop default.
pub struct SqliteProductStore {
    pool: SqlitePool,
}

impl SqliteProductStore {
    /// Applies pending migrations, then serves from `pool`.
    pub async fn new(pool: SqlitePool) -> Result<Self, sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn fetch_many(pool: &SqlitePool, ids: &[Uuid]) -> Result<Vec<ProductRow>, sqlx::Error> {
        kit::db::sqlite_in_query(
            &format!("SELECT {} FROM products WHERE id IN (", sql::COLUMNS),
            ids,
        )
        .build_query_as()
        .fetch_all(pool)
        .await
    }
}

sql_product_store!(SqliteProductStore, sqlx::Sqlite);
