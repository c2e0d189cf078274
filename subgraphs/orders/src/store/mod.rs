//! Where orders live: the trait, and its adapters on MongoDB (production: one document per
//! order) and SQLite (the laptop default); both pass the contract in
//! `tests/api/store_contract.rs`. Every change is conditional on what it changes from, so
//! checkout, cancellation and the reconciler can run at once without undoing each other.

mod mongo;
mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use storage::StoreError;
use storage::{Database, DatabaseUrl};
use uuid::Uuid;
use web::pagination::Page;

use crate::domain::{Lease, Order, OrderStatus, StockState};

pub use mongo::MongoOrderStore;
pub use sql::SqlOrderStore;

#[async_trait]
pub trait OrderStore: Send + Sync + 'static {
    /// Stores a new order; one with the same user and idempotency key is `StoreError::Conflict`.
    async fn insert(&self, order: &Order) -> Result<(), StoreError>;
    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError>;
    /// The orders among `ids`, in one query, in no particular order.
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Order>, StoreError>;
    async fn by_key(&self, user: Uuid, key: &str) -> Result<Option<Order>, StoreError>;
    /// A user's orders, newest first, and how many there are.
    async fn for_user(&self, user: Uuid, page: Page) -> Result<(Vec<Order>, u64), StoreError>;
    /// Moves the order from `from` to `to` if it is still at `from`; `None` otherwise.
    /// Cancelling also marks the cart as needing nothing.
    async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<Order>, StoreError>;
    /// Records the reservation's new state if `order`'s is still one of `from`, in one round
    /// trip: the order as stored now, or `None` when it was not at `from`.
    async fn record_stock(
        &self,
        order: &Order,
        from: &[StockState],
        to: StockState,
    ) -> Result<Option<Order>, StoreError>;
    /// Records that `order`'s cart needs nothing more, in one round trip: the order as stored
    /// now (`None`: it is gone).
    async fn record_cart_done(&self, order: &Order) -> Result<Option<Order>, StoreError>;
    /// Orders created before `before` that still owe a step (of `user` only, when given),
    /// oldest first, at most `limit`.
    async fn unsettled(
        &self,
        before: DateTime<Utc>,
        user: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError>;
    /// Claims `user`'s checkout for `lease`, unless another checkout holds a claim that has not
    /// expired by `now`: `None` when claimed, else the holder's lease. One write, so of two
    /// concurrent claims one wins.
    async fn claim_checkout(
        &self,
        user: Uuid,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError>;
    /// Ends the claim of order `order_id` on `user`'s checkout (none if another holds it now).
    async fn release_checkout(&self, user: Uuid, order_id: Uuid) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names.
pub async fn open(database: &Database) -> anyhow::Result<Arc<dyn OrderStore>> {
    let url = &database.url;
    match url {
        DatabaseUrl::Mongodb(_) => Ok(Arc::new(
            MongoOrderStore::open(storage::mongo::connect(url, "orders").await?).await?,
        )),
        DatabaseUrl::Sqlite(_) => {
            let pool = storage::sql::Pool::connect(database).await?;
            Ok(Arc::new(SqlOrderStore::open(pool).await?))
        }
        DatabaseUrl::Postgres(_) => {
            anyhow::bail!("the orders service stores its data in MongoDB or SQLite")
        }
    }
}
