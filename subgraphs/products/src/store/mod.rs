//! Where products and reservations live: one trait, one adapter per backend, and the contract
//! both pass (`tests/api/store_contract.rs`).
//!
//! The SQL is the same on both backends (sqlx binds `$N` on SQLite too), so the adapters share one
//! implementation, [`sql_product_store!`], and differ only in their pool and how they look up
//! many ids at once.

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::config::DatabaseUrl;
use kit::db::StoreError;
use uuid::Uuid;

use crate::domain::{
    NewProduct, Product, ProductQuery, Reservation, ReservationRequest, ReservationStatus,
    ReservedLine, StockDelta,
};

pub use postgres::PgProductStore;
pub use sqlite::SqliteProductStore;

/// One page of products and how many match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub items: Vec<Product>,
    pub total: u64,
}

/// What a stock adjustment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StockChange {
    Updated(Product),
    /// The change would take stock below zero; nothing was written.
    Insufficient {
        available: i32,
    },
    /// The change would take stock above [`crate::domain::MAX_STOCK`]; nothing was written.
    TooMuch {
        available: i32,
    },
    NotFound,
}

/// What a reservation did. Anything but `Reserved`/`Replayed` wrote nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved(Reservation),
    /// The order id was reserved before with the same lines: the earlier reservation.
    Replayed(Reservation),
    /// The order id was reserved before with other lines.
    Mismatch,
    Insufficient {
        product_id: Uuid,
        requested: i32,
        available: i32,
    },
    /// The product does not exist or is no longer sold.
    Unavailable {
        product_id: Uuid,
    },
}

#[async_trait]
pub trait ProductStore: Send + Sync + 'static {
    async fn insert(&self, id: Uuid, product: &NewProduct) -> Result<Product, StoreError>;
    async fn get(&self, id: Uuid) -> Result<Option<Product>, StoreError>;
    /// The products among `ids`, in no particular order, in one query.
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Product>, StoreError>;
    async fn list(&self, query: &ProductQuery) -> Result<Listing, StoreError>;
    /// One conditional write: applies `delta` only if the result stays within bounds.
    async fn adjust_stock(&self, id: Uuid, delta: StockDelta) -> Result<StockChange, StoreError>;
    /// Takes stock for every line in one transaction, or none; idempotent by order id.
    async fn reserve(&self, request: &ReservationRequest) -> Result<ReserveOutcome, StoreError>;
    /// Returns a reservation's stock once; releasing again changes nothing. `None`: unknown order.
    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names and applies its migrations.
pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn ProductStore>> {
    Ok(match url {
        DatabaseUrl::Postgres(url) => Arc::new(
            PgProductStore::new(kit::db::postgres_pool(
                url,
                kit::config::database_max_connections()?,
            )?)
            .await?,
        ),
        DatabaseUrl::Sqlite(url) => {
            Arc::new(SqliteProductStore::new(kit::db::sqlite_pool(url).await?).await?)
        }
        DatabaseUrl::Mongodb(_) => {
            anyhow::bail!("the products service stores its data in PostgreSQL or SQLite")
        }
    })
}

mod sql {
    pub const COLUMNS: &str = "id, name, description, price_minor, currency, stock, category, active, created_at, updated_at";
    pub const INSERT: &str = "INSERT INTO products \
        (id, name, description, price_minor, currency, stock, category, active, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8)";
    pub const BY_ID: &str = "SELECT id, name, description, price_minor, currency, stock, category, active, \
        created_at, updated_at FROM products WHERE id = $1";
    /// The single conditional write behind every stock adjustment.
    pub const ADJUST_STOCK: &str = "UPDATE products SET stock = stock + $2, updated_at = $3 \
        WHERE id = $1 AND stock + $2 >= 0 AND stock + $2 <= $4 \
        RETURNING id, name, description, price_minor, currency, stock, category, active, created_at, updated_at";
    pub const STOCK_OF: &str = "SELECT stock FROM products WHERE id = $1";
    pub const CLAIM_ORDER: &str = "INSERT INTO stock_reservations (order_id, status, created_at) \
        VALUES ($1, 'reserved', $2) ON CONFLICT (order_id) DO NOTHING";
    pub const TAKE_STOCK: &str = "UPDATE products SET stock = stock - $2, updated_at = $3 \
        WHERE id = $1 AND active AND stock >= $2 RETURNING name, price_minor, currency";
    pub const AVAILABILITY: &str = "SELECT stock, active FROM products WHERE id = $1";
    pub const INSERT_LINE: &str = "INSERT INTO stock_reservation_items \
        (order_id, product_id, product_name, quantity, unit_price_minor, currency) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const MARK_RELEASED: &str = "UPDATE stock_reservations SET status = 'released', released_at = $2 \
        WHERE order_id = $1 AND status = 'reserved'";
    pub const RESTOCK: &str = "UPDATE products SET stock = stock + i.quantity, updated_at = $2 \
        FROM stock_reservation_items i WHERE i.order_id = $1 AND products.id = i.product_id";
    pub const RESERVATION: &str =
        "SELECT order_id, status, created_at FROM stock_reservations WHERE order_id = $1";
    pub const RESERVATION_LINES: &str = "SELECT product_id, product_name, quantity, unit_price_minor, currency \
        FROM stock_reservation_items WHERE order_id = $1 ORDER BY product_id";

    /// The filter of a product list, as SQL with `$N` placeholders and the values to bind in order.
    pub fn list_filter(query: &crate::domain::ProductQuery) -> (String, Vec<String>) {
        let mut clauses = vec!["active".to_owned()];
        let mut binds = Vec::new();
        if let Some(category) = &query.category {
            binds.push(category.to_lowercase());
            clauses.push(format!("lower(category) = ${}", binds.len()));
        }
        if let Some(search) = &query.search {
            let escaped = search
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(format!("%{escaped}%"));
            clauses.push(format!("lower(name) LIKE ${} ESCAPE '\\'", binds.len()));
        }
        (clauses.join(" AND "), binds)
    }
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: Uuid,
    name: String,
    description: String,
    price_minor: i64,
    currency: String,
    stock: i32,
    category: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProductRow> for Product {
    type Error = StoreError;

    fn try_from(row: ProductRow) -> Result<Self, StoreError> {
        Ok(Product {
            currency: row.currency.parse().map_err(|_| {
                StoreError::Corrupt(format!(
                    "product {} has currency {:?}",
                    row.id, row.currency
                ))
            })?,
            id: row.id,
            name: row.name,
            description: row.description,
            price_minor: row.price_minor,
            stock: row.stock,
            category: row.category,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ReservationRow {
    order_id: Uuid,
    status: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    product_id: Uuid,
    product_name: String,
    quantity: i32,
    unit_price_minor: i64,
    currency: String,
}

fn reservation_from_rows(
    head: ReservationRow,
    lines: Vec<LineRow>,
) -> Result<Reservation, StoreError> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("reservation {}: {what}", head.order_id));
    let lines = lines
        .into_iter()
        .map(|l| {
            Ok(ReservedLine {
                product_id: l.product_id,
                name: l.product_name,
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                currency: l.currency.parse().map_err(|_| corrupt("bad currency"))?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Reservation {
        order_id: head.order_id,
        status: ReservationStatus::parse(&head.status).ok_or_else(|| corrupt("bad status"))?,
        lines,
        created_at: head.created_at,
    })
}

/// Implements [`ProductStore`] for an adapter with a `pool` field and a `get_many` method.
macro_rules! sql_product_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ProductStore for $store {
            async fn insert(
                &self,
                id: uuid::Uuid,
                product: &$crate::domain::NewProduct,
            ) -> Result<$crate::domain::Product, kit::db::StoreError> {
                sqlx::query($crate::store::sql::INSERT)
                    .bind(id)
                    .bind(&product.name)
                    .bind(&product.description)
                    .bind(product.price_minor)
                    .bind(product.currency.as_str())
                    .bind(product.stock)
                    .bind(&product.category)
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?;
                self.get(id)
                    .await?
                    .ok_or_else(|| kit::db::StoreError::Corrupt("inserted product vanished".into()))
            }

            async fn get(
                &self,
                id: uuid::Uuid,
            ) -> Result<Option<$crate::domain::Product>, kit::db::StoreError> {
                let row: Option<$crate::store::ProductRow> =
                    sqlx::query_as($crate::store::sql::BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn get_many(
                &self,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<$crate::domain::Product>, kit::db::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = Self::fetch_many(&self.pool, ids).await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn list(
                &self,
                query: &$crate::domain::ProductQuery,
            ) -> Result<$crate::store::Listing, kit::db::StoreError> {
                let (filter, binds) = $crate::store::sql::list_filter(query);
                let count_sql = format!("SELECT COUNT(*) FROM products WHERE {filter}");
                let mut count = sqlx::query_scalar::<$db, i64>(&count_sql);
                for value in &binds {
                    count = count.bind(value);
                }
                let total = count.fetch_one(&self.pool).await?;
                let n = binds.len();
                let page_sql = format!(
                    "SELECT {} FROM products WHERE {filter} ORDER BY {} LIMIT ${} OFFSET ${}",
                    $crate::store::sql::COLUMNS,
                    query.sort.order_by(),
                    n + 1,
                    n + 2
                );
                let mut page = sqlx::query_as::<$db, $crate::store::ProductRow>(&page_sql);
                for value in &binds {
                    page = page.bind(value);
                }
                let rows = page
                    .bind(query.page.limit_i64())
                    .bind(query.page.offset_i64())
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::store::Listing {
                    items: rows
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect::<Result<_, _>>()?,
                    total: u64::try_from(total).unwrap_or_default(),
                })
            }

            async fn adjust_stock(
                &self,
                id: uuid::Uuid,
                delta: $crate::domain::StockDelta,
            ) -> Result<$crate::store::StockChange, kit::db::StoreError> {
                use $crate::store::StockChange;
                let row: Option<$crate::store::ProductRow> =
                    sqlx::query_as($crate::store::sql::ADJUST_STOCK)
                        .bind(id)
                        .bind(delta.get())
                        .bind(chrono::Utc::now())
                        .bind($crate::domain::MAX_STOCK)
                        .fetch_optional(&self.pool)
                        .await?;
                if let Some(row) = row {
                    return Ok(StockChange::Updated(row.try_into()?));
                }
                // Nothing written: say why, from a fresh read.
                let stock: Option<i32> = sqlx::query_scalar($crate::store::sql::STOCK_OF)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match stock {
                    None => StockChange::NotFound,
                    Some(available) if delta.get() < 0 => StockChange::Insufficient { available },
                    Some(available) => StockChange::TooMuch { available },
                })
            }

            async fn reserve(
                &self,
                request: &$crate::domain::ReservationRequest,
            ) -> Result<$crate::store::ReserveOutcome, kit::db::StoreError> {
                use $crate::store::{ReserveOutcome, sql};
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin().await?;
                // Claiming the order id first makes this transaction the writer from its first
                // statement, and makes a concurrent retry of the same order wait for us.
                let claimed = sqlx::query(sql::CLAIM_ORDER)
                    .bind(request.order_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if claimed.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(match self.reservation(request.order_id).await? {
                        Some(existing) if request.matches(&existing) => {
                            ReserveOutcome::Replayed(existing)
                        }
                        _ => ReserveOutcome::Mismatch,
                    });
                }
                let mut lines = Vec::with_capacity(request.lines.len());
                for &(product_id, quantity) in &request.lines {
                    let taken: Option<(String, i64, String)> = sqlx::query_as(sql::TAKE_STOCK)
                        .bind(product_id)
                        .bind(quantity)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some((name, unit_price_minor, currency)) = taken else {
                        let availability: Option<(i32, bool)> = sqlx::query_as(sql::AVAILABILITY)
                            .bind(product_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        tx.rollback().await?;
                        return Ok(match availability {
                            Some((available, true)) => ReserveOutcome::Insufficient {
                                product_id,
                                requested: quantity,
                                available,
                            },
                            _ => ReserveOutcome::Unavailable { product_id },
                        });
                    };
                    sqlx::query(sql::INSERT_LINE)
                        .bind(request.order_id)
                        .bind(product_id)
                        .bind(&name)
                        .bind(quantity)
                        .bind(unit_price_minor)
                        .bind(&currency)
                        .execute(&mut *tx)
                        .await?;
                    lines.push($crate::domain::ReservedLine {
                        product_id,
                        name,
                        quantity,
                        unit_price_minor,
                        currency: currency.parse().map_err(|_| {
                            kit::db::StoreError::Corrupt(format!("product {product_id} currency"))
                        })?,
                    });
                }
                tx.commit().await?;
                Ok(ReserveOutcome::Reserved($crate::domain::Reservation {
                    order_id: request.order_id,
                    status: $crate::domain::ReservationStatus::Reserved,
                    lines,
                    created_at: now,
                }))
            }

            async fn release(
                &self,
                order_id: uuid::Uuid,
            ) -> Result<Option<$crate::domain::Reservation>, kit::db::StoreError> {
                use $crate::store::sql;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin().await?;
                // Only the transaction that flips the status restocks, so a retried or concurrent
                // release never returns stock twice.
                let flipped = sqlx::query(sql::MARK_RELEASED)
                    .bind(order_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if flipped.rows_affected() == 1 {
                    sqlx::query(sql::RESTOCK)
                        .bind(order_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                self.reservation(order_id).await
            }

            async fn reservation(
                &self,
                order_id: uuid::Uuid,
            ) -> Result<Option<$crate::domain::Reservation>, kit::db::StoreError> {
                use $crate::store::sql;
                let head: Option<$crate::store::ReservationRow> = sqlx::query_as(sql::RESERVATION)
                    .bind(order_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(head) = head else { return Ok(None) };
                let lines: Vec<$crate::store::LineRow> = sqlx::query_as(sql::RESERVATION_LINES)
                    .bind(order_id)
                    .fetch_all(&self.pool)
                    .await?;
                $crate::store::reservation_from_rows(head, lines).map(Some)
            }

            async fn ping(&self) -> Result<(), kit::db::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}
use sql_product_store;
