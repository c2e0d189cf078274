//! Products and reservations in PostgreSQL or SQLite: the same statements on both (see
//! [`storage::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use storage::StoreError;
use storage::sql::{Pool, Row, Tx, placeholders, query};

use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{Listing, ProductStore, ReserveOutcome, StockChange, StockLedger};
use crate::domain::{
    MAX_STOCK, NewProduct, Product, ProductQuery, Reservation, ReservationRequest,
    ReservationStatus, ReservedLine, StockDelta, fold,
};

static POSTGRES: LazyLock<Migrator> = storage::migrations!("postgres": [
    "20261123000001_products.sql",
    "20261129000001_folded_names.sql",
    "20261129000002_two_phase_reservations.sql",
]);
static SQLITE: LazyLock<Migrator> = storage::migrations!("sqlite": [
    "20261123000001_products.sql",
    "20261129000001_folded_names.sql",
    "20261129000002_two_phase_reservations.sql",
]);

const COLUMNS: &str =
    "id, name, description, price_minor, currency, stock, category, active, created_at, updated_at";

pub struct SqlProductStore {
    db: Pool,
}

impl SqlProductStore {
    /// Applies pending migrations, folds the names of rows from before folding existed, then
    /// serves from `db`.
    pub async fn open(db: Pool) -> anyhow::Result<Self> {
        db.migrate(&POSTGRES, &SQLITE).await?;
        let store = Self { db };
        store.fold_unfolded().await?;
        Ok(store)
    }

    async fn fold_unfolded(&self) -> Result<(), StoreError> {
        let rows = self
            .db
            .fetch_all(query(
                "SELECT id, name, category FROM products WHERE name_folded IS NULL",
            ))
            .await?;
        for row in rows {
            let category: Option<String> = row.get("category")?;
            self.db
                .execute(
                    query(
                        "UPDATE products SET name_folded = $2, category_folded = $3 WHERE id = $1",
                    )
                    .bind(row.get::<Uuid>("id")?)
                    .bind(fold(&row.get::<String>("name")?))
                    .bind(category.as_deref().map(fold)),
                )
                .await?;
        }
        Ok(())
    }

    /// Why a reservation's line could not take stock, read inside its transaction.
    async fn shortfall(
        tx: &mut Tx,
        product_id: Uuid,
        quantity: i32,
    ) -> Result<ReserveOutcome, StoreError> {
        let row = tx
            .fetch_optional(
                query("SELECT stock, active FROM products WHERE id = $1").bind(product_id),
            )
            .await?;
        Ok(match row {
            Some(row) if row.get::<bool>("active")? => ReserveOutcome::Insufficient {
                product_id,
                requested: quantity,
                available: row.get("stock")?,
            },
            _ => ReserveOutcome::Unavailable { product_id },
        })
    }
}

fn product(row: &Row) -> Result<Product, StoreError> {
    let id: Uuid = row.get("id")?;
    let currency: String = row.get("currency")?;
    Ok(Product {
        currency: currency
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("product {id} has currency {currency:?}")))?,
        id,
        name: row.get("name")?,
        description: row.get("description")?,
        price_minor: row.get("price_minor")?,
        stock: row.get("stock")?,
        category: row.get("category")?,
        active: row.get("active")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn reserved_line(row: &Row) -> Result<ReservedLine, StoreError> {
    let product_id: Uuid = row.get("product_id")?;
    let currency: String = row.get("currency")?;
    Ok(ReservedLine {
        product_id,
        name: row.get("product_name")?,
        quantity: row.get("quantity")?,
        unit_price_minor: row.get("unit_price_minor")?,
        currency: currency.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "reserved product {product_id} has currency {currency:?}"
            ))
        })?,
    })
}

impl SqlProductStore {
    /// Flips a reservation from 'reserved' to 'released' under `extra` conditions (with `$3`
    /// bound to `at` when given) and, only if this call flipped it, returns its stock: a retried
    /// or concurrent release never restocks twice.
    async fn release_where(
        &self,
        order_id: Uuid,
        extra: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        let mut flip = query(format!(
            "UPDATE stock_reservations SET status = 'released', released_at = $2 \
             WHERE order_id = $1 AND status = 'reserved' {extra}"
        ))
        .bind(order_id)
        .bind(now);
        if let Some(at) = at {
            flip = flip.bind(at);
        }
        if tx.execute(flip).await? == 0 {
            return Ok(false);
        }
        let lines = tx
            .fetch_all(
                query(
                    "SELECT product_id, quantity FROM stock_reservation_items \
                     WHERE order_id = $1 ORDER BY product_id",
                )
                .bind(order_id),
            )
            .await?;
        for line in lines {
            tx.execute(
                query("UPDATE products SET stock = stock + $2, updated_at = $3 WHERE id = $1")
                    .bind(line.get::<Uuid>("product_id")?)
                    .bind(line.get::<i32>("quantity")?)
                    .bind(now),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// The `WHERE` clause of a product list, with its values to bind in order.
fn list_filter(query: &ProductQuery) -> (String, Vec<String>) {
    let mut clauses = vec!["active".to_owned()];
    let mut binds = Vec::new();
    if let Some(category) = &query.category {
        binds.push(fold(category));
        clauses.push(format!("category_folded = ${}", binds.len()));
    }
    if let Some(search) = &query.search {
        let escaped = fold(search)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        binds.push(format!("%{escaped}%"));
        clauses.push(format!("name_folded LIKE ${} ESCAPE '\\'", binds.len()));
    }
    (clauses.join(" AND "), binds)
}

#[async_trait]
impl ProductStore for SqlProductStore {
    async fn insert(&self, id: Uuid, new: &NewProduct) -> Result<Product, StoreError> {
        let sql = format!(
            "INSERT INTO products (id, name, description, price_minor, currency, stock, category, \
             active, created_at, updated_at, name_folded, category_folded) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8, $9, $10) RETURNING {COLUMNS}"
        );
        let row = self
            .db
            .fetch_one(
                query(sql)
                    .bind(id)
                    .bind(new.name.as_str())
                    .bind(new.description.as_str())
                    .bind(new.price_minor)
                    .bind(new.currency.as_str())
                    .bind(new.stock)
                    .bind(new.category.as_deref())
                    .bind(Utc::now())
                    .bind(fold(&new.name))
                    .bind(new.category.as_deref().map(fold)),
            )
            .await?;
        product(&row)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM products WHERE id = $1");
        let row = self.db.fetch_optional(query(sql).bind(id)).await?;
        row.as_ref().map(product).transpose()
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM products WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let rows = self
            .db
            .fetch_all(query(sql).bind_all(ids.iter().copied()))
            .await?;
        rows.iter().map(product).collect()
    }

    async fn list(&self, list: &ProductQuery) -> Result<Listing, StoreError> {
        let (filter, binds) = list_filter(list);
        let count = self
            .db
            .fetch_one(
                query(format!("SELECT COUNT(*) AS n FROM products WHERE {filter}"))
                    .bind_all(binds.iter().cloned()),
            )
            .await?;
        let n = binds.len();
        let page_sql = format!(
            "SELECT {COLUMNS} FROM products WHERE {filter} ORDER BY {} LIMIT ${} OFFSET ${}",
            list.sort.order_by(),
            n + 1,
            n + 2
        );
        let rows = self
            .db
            .fetch_all(
                query(page_sql)
                    .bind_all(binds)
                    .bind(list.page.limit_i64())
                    .bind(list.page.offset_i64()),
            )
            .await?;
        Ok(Listing {
            items: rows.iter().map(product).collect::<Result<_, _>>()?,
            total: u64::try_from(count.get::<i64>("n")?).unwrap_or_default(),
        })
    }

    async fn adjust_stock(&self, id: Uuid, delta: StockDelta) -> Result<StockChange, StoreError> {
        // The single conditional write behind every stock adjustment.
        let sql = format!(
            "UPDATE products SET stock = stock + $2, updated_at = $3 \
             WHERE id = $1 AND stock + $2 >= 0 AND stock + $2 <= $4 RETURNING {COLUMNS}"
        );
        let updated = self
            .db
            .fetch_optional(
                query(sql)
                    .bind(id)
                    .bind(delta.get())
                    .bind(Utc::now())
                    .bind(MAX_STOCK),
            )
            .await?;
        if let Some(row) = updated {
            return Ok(StockChange::Updated(product(&row)?));
        }
        // Nothing written: say why, from a fresh read.
        let stock = self
            .db
            .fetch_optional(query("SELECT stock FROM products WHERE id = $1").bind(id))
            .await?;
        Ok(match stock {
            None => StockChange::NotFound,
            Some(row) if delta.get() < 0 => StockChange::Insufficient {
                available: row.get("stock")?,
            },
            Some(row) => StockChange::TooMuch {
                available: row.get("stock")?,
            },
        })
    }

    async fn reserve(&self, request: &ReservationRequest) -> Result<ReserveOutcome, StoreError> {
        let now = Utc::now();
        let expires_at = now
            + chrono::Duration::from_std(request.hold)
                .map_err(|_| StoreError::Corrupt("hold out of range".into()))?;
        let mut tx = self.db.begin().await?;
        // Claiming the order id first makes this transaction the writer from its first
        // statement, and makes a concurrent retry of the same order wait for us.
        let claimed = tx
            .execute(
                query(
                    "INSERT INTO stock_reservations (order_id, status, created_at, expires_at) \
                     VALUES ($1, 'reserved', $2, $3) ON CONFLICT (order_id) DO NOTHING",
                )
                .bind(request.order_id)
                .bind(now)
                .bind(expires_at),
            )
            .await?;
        if claimed == 0 {
            drop(tx);
            return Ok(match self.reservation(request.order_id).await? {
                Some(existing) if existing.status == ReservationStatus::Released => {
                    ReserveOutcome::Released
                }
                Some(existing) if request.matches(&existing) => ReserveOutcome::Replayed(existing),
                _ => ReserveOutcome::Mismatch,
            });
        }
        let mut lines = Vec::with_capacity(request.lines.len());
        for &(product_id, quantity) in &request.lines {
            let taken = tx
                .fetch_optional(
                    query(
                        "UPDATE products SET stock = stock - $2, updated_at = $3 \
                         WHERE id = $1 AND active AND stock >= $2 \
                         RETURNING name, price_minor, currency",
                    )
                    .bind(product_id)
                    .bind(quantity)
                    .bind(now),
                )
                .await?;
            let Some(taken) = taken else {
                // Dropping the transaction rolls back what earlier lines took.
                return Self::shortfall(&mut tx, product_id, quantity).await;
            };
            let line = ReservedLine {
                product_id,
                name: taken.get("name")?,
                quantity,
                unit_price_minor: taken.get("price_minor")?,
                currency: taken.get::<String>("currency")?.parse().map_err(|_| {
                    StoreError::Corrupt(format!("product {product_id} has a bad currency"))
                })?,
            };
            tx.execute(
                query(
                    "INSERT INTO stock_reservation_items (order_id, product_id, product_name, \
                     quantity, unit_price_minor, currency) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(request.order_id)
                .bind(product_id)
                .bind(line.name.as_str())
                .bind(quantity)
                .bind(line.unit_price_minor)
                .bind(line.currency.as_str()),
            )
            .await?;
            lines.push(line);
        }
        tx.commit().await?;
        Ok(ReserveOutcome::Reserved(Reservation {
            order_id: request.order_id,
            status: ReservationStatus::Held,
            lines,
            created_at: now,
            expires_at,
        }))
    }

    async fn confirm(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        // Conditional on still holding the stock: a released reservation is never confirmed,
        // and only one of a confirm and an expiry that race can win.
        self.db
            .execute(
                query(
                    "UPDATE stock_reservations SET confirmed_at = $2 \
                     WHERE order_id = $1 AND status = 'reserved' AND confirmed_at IS NULL",
                )
                .bind(order_id)
                .bind(Utc::now()),
            )
            .await?;
        self.reservation(order_id).await
    }

    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        self.release_where(order_id, "", None).await?;
        self.reservation(order_id).await
    }

    async fn release_if_expired(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.release_where(
            order_id,
            "AND confirmed_at IS NULL AND expires_at < $3",
            Some(now),
        )
        .await
    }

    async fn expired(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows = self
            .db
            .fetch_all(
                query(
                    "SELECT order_id FROM stock_reservations \
                     WHERE status = 'reserved' AND confirmed_at IS NULL AND expires_at < $1 \
                     ORDER BY expires_at LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(|row| row.get("order_id")).collect()
    }

    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError> {
        let head = self
            .db
            .fetch_optional(
                query(
                    "SELECT status, confirmed_at, created_at, expires_at \
                     FROM stock_reservations WHERE order_id = $1",
                )
                .bind(order_id),
            )
            .await?;
        let Some(head) = head else { return Ok(None) };
        let lines = self
            .db
            .fetch_all(
                query(
                    "SELECT product_id, product_name, quantity, unit_price_minor, currency \
                     FROM stock_reservation_items WHERE order_id = $1 ORDER BY product_id",
                )
                .bind(order_id),
            )
            .await?;
        let status: String = head.get("status")?;
        let confirmed = head.get::<Option<DateTime<Utc>>>("confirmed_at")?.is_some();
        Ok(Some(Reservation {
            order_id,
            status: ReservationStatus::from_stored(&status, confirmed).ok_or_else(|| {
                StoreError::Corrupt(format!("reservation {order_id} has status {status:?}"))
            })?,
            lines: lines.iter().map(reserved_line).collect::<Result<_, _>>()?,
            created_at: head.get("created_at")?,
            expires_at: head.get("expires_at")?,
        }))
    }

    async fn ledger(&self, product_id: Uuid) -> Result<Option<StockLedger>, StoreError> {
        let Some(product) = self
            .db
            .fetch_optional(query("SELECT stock FROM products WHERE id = $1").bind(product_id))
            .await?
        else {
            return Ok(None);
        };
        let row = self
            .db
            .fetch_one(
                query(
                    "SELECT \
                       COALESCE(SUM(CASE WHEN r.confirmed_at IS NULL THEN i.quantity END), 0) AS held, \
                       COALESCE(SUM(CASE WHEN r.confirmed_at IS NOT NULL THEN i.quantity END), 0) AS sold \
                     FROM stock_reservation_items i \
                     JOIN stock_reservations r ON r.order_id = i.order_id \
                     WHERE i.product_id = $1 AND r.status = 'reserved'",
                )
                .bind(product_id),
            )
            .await?;
        Ok(Some(StockLedger {
            on_hand: i64::from(product.get::<i32>("stock")?),
            held: row.get("held")?,
            sold: row.get("sold")?,
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

storage::embedded_migrations_test!(POSTGRES: "postgres", SQLITE: "sqlite");
