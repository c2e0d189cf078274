//! Orders in SQLite, the laptop default.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use storage::StoreError;
use storage::sql::{Pool, Row, placeholders, query};
use web::pagination::Page;

use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::OrderStore;
use crate::domain::{
    Lease, Order, OrderLine, OrderStatus, PaymentMethod, ShippingAddress, StockState, Unsettled,
};

static SQLITE: LazyLock<Migrator> = storage::migrations!("sqlite": ["20261129000001_orders.sql"]);

const COLUMNS: &str = "id, user_id, status, total_minor, currency, street, city, postal_code, \
    country, payment_method, idempotency_key, request_hash, stock, cart_version, cart_done, \
    created_at, updated_at";

/// Orders that still owe a step to products or cart ([`Unsettled`]), as SQL: word for word the
/// condition of the partial index `orders_unsettled` (the migration), or SQLite would not use it
/// and the reconciler would scan every order (a test holds the two together).
static UNSETTLED: LazyLock<String> = LazyLock::new(|| {
    let [back_1, back_2] = Unsettled::STOCK_BACK.map(StockState::as_str);
    format!(
        "stock = '{owed}' OR NOT cart_done \
         OR (status = '{cancelled}' AND stock NOT IN ('{back_1}', '{back_2}'))",
        owed = Unsettled::STOCK_OWED.as_str(),
        cancelled = Unsettled::CANCELLED.as_str(),
    )
});

pub struct SqlOrderStore {
    db: Pool,
}

impl SqlOrderStore {
    /// Applies pending migrations, then serves from `db` (SQLite only: in production orders
    /// live in MongoDB).
    pub async fn open(db: Pool) -> anyhow::Result<Self> {
        anyhow::ensure!(
            matches!(db, Pool::Sqlite(_)),
            "orders are kept in SQLite or MongoDB"
        );
        db.migrate(&Migrator::DEFAULT, &SQLITE).await?;
        Ok(Self { db })
    }

    /// The orders of `rows`, with their lines from one more query.
    async fn with_lines(&self, rows: Vec<Row>) -> Result<Vec<Order>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get("id")).collect::<Result<_, _>>()?;
        let sql = format!(
            "SELECT order_id, product_id, name, quantity, unit_price_minor, currency \
             FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, position",
            placeholders(1, ids.len())
        );
        let line_rows = self
            .db
            .fetch_all(query(sql).bind_all(ids.iter().copied()))
            .await?;
        let mut lines: std::collections::HashMap<Uuid, Vec<OrderLine>> = Default::default();
        for row in &line_rows {
            lines
                .entry(row.get("order_id")?)
                .or_default()
                .push(OrderLine {
                    product_id: row.get("product_id")?,
                    name: row.get("name")?,
                    quantity: row.get("quantity")?,
                    unit_price_minor: row.get("unit_price_minor")?,
                    currency: row.get("currency")?,
                });
        }
        rows.iter()
            .map(|row| {
                let id: Uuid = row.get("id")?;
                order(row, lines.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    async fn one(&self, select: storage::sql::Query<'_>) -> Result<Option<Order>, StoreError> {
        let rows = self.db.fetch_all(select).await?;
        Ok(self.with_lines(rows).await?.pop())
    }
}

fn order(row: &Row, lines: Vec<OrderLine>) -> Result<Order, StoreError> {
    let id: Uuid = row.get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("order {id}: {what}"));
    Ok(Order {
        id,
        user_id: row.get("user_id")?,
        status: OrderStatus::parse(&row.get::<String>("status")?).map_err(|_| corrupt("status"))?,
        lines,
        total_minor: row.get("total_minor")?,
        currency: row.get("currency")?,
        shipping_address: ShippingAddress {
            street: row.get("street")?,
            city: row.get("city")?,
            postal_code: row.get("postal_code")?,
            country: row.get("country")?,
        },
        payment_method: PaymentMethod::parse(&row.get::<String>("payment_method")?)
            .map_err(|_| corrupt("payment method"))?,
        idempotency_key: row.get("idempotency_key")?,
        fingerprint: row.get("request_hash")?,
        stock: StockState::parse(&row.get::<String>("stock")?).ok_or_else(|| corrupt("stock"))?,
        cart_version: row.get("cart_version")?,
        cart_done: row.get("cart_done")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

#[async_trait]
impl OrderStore for SqlOrderStore {
    async fn insert(&self, o: &Order) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let a = &o.shipping_address;
        tx.execute(
            query(format!(
                "INSERT INTO orders ({COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            ))
            .bind(o.id)
            .bind(o.user_id)
            .bind(o.status.as_str())
            .bind(o.total_minor)
            .bind(o.currency.as_str())
            .bind(a.street.as_str())
            .bind(a.city.as_str())
            .bind(a.postal_code.as_str())
            .bind(a.country.as_str())
            .bind(o.payment_method.as_str())
            .bind(o.idempotency_key.as_deref())
            .bind(o.fingerprint.as_str())
            .bind(o.stock.as_str())
            .bind(o.cart_version)
            .bind(o.cart_done)
            .bind(o.created_at)
            .bind(o.updated_at),
        )
        .await?;
        for (position, line) in o.lines.iter().enumerate() {
            tx.execute(
                query(
                    "INSERT INTO order_lines (order_id, position, product_id, name, quantity, \
                     unit_price_minor, currency) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(o.id)
                .bind(position as i64)
                .bind(line.product_id)
                .bind(line.name.as_str())
                .bind(line.quantity)
                .bind(line.unit_price_minor)
                .bind(line.currency.as_str()),
            )
            .await?;
        }
        tx.commit().await
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        self.one(query(format!("SELECT {COLUMNS} FROM orders WHERE id = $1")).bind(id))
            .await
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM orders WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let rows = self
            .db
            .fetch_all(query(sql).bind_all(ids.iter().copied()))
            .await?;
        self.with_lines(rows).await
    }

    async fn by_key(&self, user: Uuid, key: &str) -> Result<Option<Order>, StoreError> {
        self.one(
            query(format!(
                "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND idempotency_key = $2"
            ))
            .bind(user)
            .bind(key),
        )
        .await
    }

    async fn for_user(&self, user: Uuid, page: Page) -> Result<(Vec<Order>, u64), StoreError> {
        let total = self
            .db
            .fetch_one(query("SELECT COUNT(*) AS n FROM orders WHERE user_id = $1").bind(user))
            .await?
            .get::<i64>("n")?;
        let rows = self
            .db
            .fetch_all(
                query(format!(
                    "SELECT {COLUMNS} FROM orders WHERE user_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(user)
                .bind(page.limit_i64())
                .bind(page.offset_i64()),
            )
            .await?;
        Ok((
            self.with_lines(rows).await?,
            u64::try_from(total).unwrap_or_default(),
        ))
    }

    async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<Order>, StoreError> {
        let cancelling = to == OrderStatus::Cancelled;
        let changed = self
            .db
            .execute(
                query(
                    "UPDATE orders SET status = $3, updated_at = $4, \
                     cart_done = CASE WHEN $5 THEN TRUE ELSE cart_done END \
                     WHERE id = $1 AND status = $2",
                )
                .bind(id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(Utc::now())
                .bind(cancelling),
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    async fn record_stock(
        &self,
        order: &Order,
        from: &[StockState],
        to: StockState,
    ) -> Result<Option<Order>, StoreError> {
        let sql = format!(
            "UPDATE orders SET stock = $2, updated_at = $3 WHERE id = $1 AND stock IN ({}) \
             RETURNING {COLUMNS}",
            placeholders(4, from.len())
        );
        let changed = self
            .db
            .fetch_optional(
                query(sql)
                    .bind(order.id)
                    .bind(to.as_str())
                    .bind(Utc::now())
                    .bind_all(from.iter().map(|s| s.as_str())),
            )
            .await?;
        // The lines never change once stored: the caller's are the stored ones.
        changed
            .map(|row| self::order(&row, order.lines.clone()))
            .transpose()
    }

    async fn record_cart_done(&self, order: &Order) -> Result<Option<Order>, StoreError> {
        let changed = self
            .db
            .fetch_optional(
                query(format!(
                    "UPDATE orders SET cart_done = TRUE, updated_at = $2 WHERE id = $1 \
                     RETURNING {COLUMNS}"
                ))
                .bind(order.id)
                .bind(Utc::now()),
            )
            .await?;
        changed
            .map(|row| self::order(&row, order.lines.clone()))
            .transpose()
    }

    async fn unsettled(
        &self,
        before: DateTime<Utc>,
        user: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        let of_user = if user.is_some() {
            "AND user_id = $3"
        } else {
            ""
        };
        let mut select = query(format!(
            "SELECT {COLUMNS} FROM orders WHERE ({}) AND created_at < $1 {of_user} \
             ORDER BY created_at LIMIT $2",
            *UNSETTLED
        ))
        .bind(before)
        .bind(i64::from(limit));
        if let Some(user) = user {
            select = select.bind(user);
        }
        let rows = self.db.fetch_all(select).await?;
        self.with_lines(rows).await
    }

    async fn claim_checkout(
        &self,
        user: Uuid,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        // One transaction: the write takes SQLite's lock, so the holder read after it is the one
        // that refused this claim.
        let mut tx = self.db.begin().await?;
        let claimed = tx
            .execute(
                query(
                    "INSERT INTO checkouts (user_id, order_id, idempotency_key, expires_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                     order_id = excluded.order_id, idempotency_key = excluded.idempotency_key, \
                     expires_at = excluded.expires_at WHERE checkouts.expires_at <= $5",
                )
                .bind(user)
                .bind(lease.order_id)
                .bind(lease.key.clone())
                .bind(lease.expires_at)
                .bind(now),
            )
            .await?;
        if claimed == 1 {
            tx.commit().await?;
            return Ok(None);
        }
        let holder = tx
            .fetch_optional(
                query(
                    "SELECT order_id, idempotency_key, expires_at FROM checkouts \
                     WHERE user_id = $1",
                )
                .bind(user),
            )
            .await?
            .ok_or_else(|| StoreError::Unavailable("the checkout claim vanished".into()))?;
        Ok(Some(Lease {
            order_id: holder.get("order_id")?,
            key: holder.get("idempotency_key")?,
            expires_at: holder.get("expires_at")?,
        }))
    }

    async fn release_checkout(&self, user: Uuid, order_id: Uuid) -> Result<(), StoreError> {
        self.db
            .execute(
                query("DELETE FROM checkouts WHERE user_id = $1 AND order_id = $2")
                    .bind(user)
                    .bind(order_id),
            )
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

storage::embedded_migrations_test!(SQLITE: "sqlite");

#[cfg(test)]
mod tests {
    /// SQLite uses a partial index only for a query whose condition implies the index's, which in
    /// practice means the same expression.
    #[test]
    fn the_unsettled_query_is_the_partial_index_condition() {
        let migration = include_str!("../../migrations/sqlite/20261129000001_orders.sql");
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let index = migration
            .split("CREATE INDEX orders_unsettled ON orders (created_at) WHERE")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("the migration creates orders_unsettled");
        assert_eq!(words(index), words(&super::UNSETTLED));
    }
}
