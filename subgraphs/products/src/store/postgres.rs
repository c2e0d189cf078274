use sqlx::PgPool;
use uuid::Uuid;

use super::{ProductRow, sql, sql_product_store};

/// Products and reservations in PostgreSQL.
pub struct PgProductStore {
    pool: PgPool,
}

impl PgProductStore {
    /// Applies pending migrations, then serves from `pool`.
    pub async fn new(pool: PgPool) -> Result<Self, sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn fetch_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ProductRow>, sqlx::Error> {
        let query = format!("SELECT {} FROM products WHERE id = ANY($1)", sql::COLUMNS);
        sqlx::query_as(&query).bind(ids).fetch_all(pool).await
    }
}

sql_product_store!(PgProductStore, sqlx::Postgres);
