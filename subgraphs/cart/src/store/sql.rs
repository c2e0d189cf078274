//! Carts in SQLite, the laptop default.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::LazyLock;
use storage::StoreError;
use storage::sql::{Pool, Tx, query};

use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{AddOutcome, CartStore};
use crate::domain::{Cart, CartItem, MAX_LINES, MAX_QUANTITY, Quantity};

static SQLITE: LazyLock<Migrator> = storage::migrations!("sqlite": ["20261129000001_carts.sql"]);

pub struct SqlCartStore {
    db: Pool,
}

impl SqlCartStore {
    /// Applies pending migrations, then serves from `db` (SQLite only: in production carts
    /// live in MongoDB).
    pub async fn open(db: Pool) -> anyhow::Result<Self> {
        anyhow::ensure!(
            matches!(db, Pool::Sqlite(_)),
            "carts are kept in SQLite or MongoDB"
        );
        db.migrate(&Migrator::DEFAULT, &SQLITE).await?;
        Ok(Self { db })
    }

    async fn read(tx: &mut Tx, user: Uuid) -> Result<Cart, StoreError> {
        let head = tx
            .fetch_optional(
                query("SELECT version, updated_at FROM carts WHERE user_id = $1").bind(user),
            )
            .await?;
        let Some(head) = head else {
            return Ok(Cart::empty(user));
        };
        let rows = tx
            .fetch_all(
                query(
                    "SELECT product_id, quantity, added_at FROM cart_items \
                     WHERE user_id = $1 ORDER BY added_at, product_id",
                )
                .bind(user),
            )
            .await?;
        Ok(Cart {
            user_id: user,
            items: rows
                .iter()
                .map(|r| {
                    Ok(CartItem {
                        product_id: r.get("product_id")?,
                        quantity: r.get("quantity")?,
                        added_at: r.get("added_at")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            version: head.get("version")?,
            updated_at: Some(head.get("updated_at")?),
        })
    }

    /// Bumps the cart's version after a change, inside the change's transaction.
    async fn touch(tx: &mut Tx, user: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        tx.execute(
            query("UPDATE carts SET version = version + 1, updated_at = $2 WHERE user_id = $1")
                .bind(user)
                .bind(now),
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl CartStore for SqlCartStore {
    async fn get(&self, user: Uuid) -> Result<Cart, StoreError> {
        let mut tx = self.db.begin().await?;
        Self::read(&mut tx, user).await
    }

    async fn add(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<AddOutcome, StoreError> {
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        // Writing first takes SQLite's write lock, so the checks below cannot race.
        tx.execute(
            query(
                "INSERT INTO carts (user_id, version, updated_at) VALUES ($1, 0, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user)
            .bind(now),
        )
        .await?;
        let cart = Self::read(&mut tx, user).await?;
        let current = cart.quantity_of(product);
        if current == 0 && cart.items.len() >= MAX_LINES {
            return Ok(AddOutcome::CartFull);
        }
        if current + quantity.get() > MAX_QUANTITY {
            return Ok(AddOutcome::LineFull { current });
        }
        tx.execute(
            query(
                "INSERT INTO cart_items (user_id, product_id, quantity, added_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, product_id) \
                 DO UPDATE SET quantity = cart_items.quantity + excluded.quantity",
            )
            .bind(user)
            .bind(product)
            .bind(quantity.get())
            .bind(now),
        )
        .await?;
        Self::touch(&mut tx, user, now).await?;
        let cart = Self::read(&mut tx, user).await?;
        tx.commit().await?;
        Ok(AddOutcome::Added(cart))
    }

    async fn set_quantity(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<Option<Cart>, StoreError> {
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        let changed = tx
            .execute(
                query("UPDATE cart_items SET quantity = $3 WHERE user_id = $1 AND product_id = $2")
                    .bind(user)
                    .bind(product)
                    .bind(quantity.get()),
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        Self::touch(&mut tx, user, now).await?;
        let cart = Self::read(&mut tx, user).await?;
        tx.commit().await?;
        Ok(Some(cart))
    }

    async fn remove(&self, user: Uuid, product: Uuid) -> Result<Option<Cart>, StoreError> {
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        let removed = tx
            .execute(
                query("DELETE FROM cart_items WHERE user_id = $1 AND product_id = $2")
                    .bind(user)
                    .bind(product),
            )
            .await?;
        if removed == 0 {
            return Ok(None);
        }
        Self::touch(&mut tx, user, now).await?;
        let cart = Self::read(&mut tx, user).await?;
        tx.commit().await?;
        Ok(Some(cart))
    }

    async fn clear(&self, user: Uuid) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        Self::touch(&mut tx, user, Utc::now()).await?;
        tx.execute(query("DELETE FROM cart_items WHERE user_id = $1").bind(user))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_ordered(
        &self,
        user: Uuid,
        order: Uuid,
        version: i64,
        lines: &[(Uuid, i32)],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        // Writing first takes SQLite's write lock, so nothing changes the cart meanwhile.
        let fresh = tx
            .execute(
                query(
                    "INSERT INTO taken_orders (user_id, order_id) VALUES ($1, $2) \
                     ON CONFLICT (user_id, order_id) DO NOTHING",
                )
                .bind(user)
                .bind(order),
            )
            .await?;
        if fresh == 0 {
            return Ok(()); // taken out already
        }
        let bumped = tx
            .execute(
                query("UPDATE carts SET version = version + 1, updated_at = $2 WHERE user_id = $1")
                    .bind(user)
                    .bind(Utc::now()),
            )
            .await?;
        if bumped == 0 {
            tx.commit().await?; // no cart: nothing to take out
            return Ok(());
        }
        let cart = Self::read(&mut tx, user).await?;
        if cart.version - 1 == version {
            tx.execute(query("DELETE FROM cart_items WHERE user_id = $1").bind(user))
                .await?;
        } else {
            for (product, quantity) in lines {
                // A line taken to zero goes; one with more keeps the rest (quantity stays >= 1).
                let gone = tx
                    .execute(
                        query(
                            "DELETE FROM cart_items \
                             WHERE user_id = $1 AND product_id = $2 AND quantity <= $3",
                        )
                        .bind(user)
                        .bind(*product)
                        .bind(*quantity),
                    )
                    .await?;
                if gone == 0 {
                    tx.execute(
                        query(
                            "UPDATE cart_items SET quantity = quantity - $3 \
                             WHERE user_id = $1 AND product_id = $2",
                        )
                        .bind(user)
                        .bind(*product)
                        .bind(*quantity),
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

storage::embedded_migrations_test!(SQLITE: "sqlite");
