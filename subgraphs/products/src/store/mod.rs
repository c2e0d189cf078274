//! Where products and reservations live: the trait, and its adapter on the SQL backends
//! (PostgreSQL and SQLite, one body of code through [`storage::sql`]); every adapter passes the
//! contract in `tests/api/store_contract.rs`.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use storage::StoreError;
use storage::{Database, DatabaseUrl};
use uuid::Uuid;

use crate::domain::{
    NewProduct, Product, ProductQuery, Reservation, ReservationRequest, StockDelta,
};

pub use sql::SqlProductStore;

/// One page of products and how many match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub items: Vec<Product>,
    pub total: u64,
}

/// A product's stock by where it is. For every product at every quiet moment,
/// `on_hand + held + sold` equals its initial stock plus the admins' adjustments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StockLedger {
    pub on_hand: i64,
    /// In reservations awaiting confirmation.
    pub held: i64,
    /// In confirmed reservations (orders not cancelled).
    pub sold: i64,
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
    /// The order id was reserved before and that reservation was released: it holds nothing,
    /// and a new reservation needs a new order id.
    Released,
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
    /// Takes stock for every line in one transaction, or none, held until `request.hold` from
    /// now; idempotent by order id.
    async fn reserve(&self, request: &ReservationRequest) -> Result<ReserveOutcome, StoreError>;
    /// Confirms a held reservation (an order owns its stock now); confirming again changes
    /// nothing, and a released one stays released. `None`: unknown order id.
    async fn confirm(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    /// Returns a held or confirmed reservation's stock, once; releasing again changes nothing.
    /// `None`: unknown order id.
    async fn release(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    /// Releases the reservation if it is still held and expired before `now`; whether it did.
    async fn release_if_expired(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Held reservations that expired before `now`, oldest first, at most `limit`.
    async fn expired(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError>;
    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, StoreError>;
    /// Where a product's stock is: on the shelf, held, and sold. `None`: unknown product.
    async fn ledger(&self, product_id: Uuid) -> Result<Option<StockLedger>, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names and applies its migrations.
pub async fn open(database: &Database) -> anyhow::Result<Arc<dyn ProductStore>> {
    match &database.url {
        DatabaseUrl::Postgres(_) | DatabaseUrl::Sqlite(_) => {
            let pool = storage::sql::Pool::connect(database).await?;
            Ok(Arc::new(SqlProductStore::open(pool).await?))
        }
        DatabaseUrl::Mongodb(_) => {
            anyhow::bail!("the products service stores its data in PostgreSQL or SQLite")
        }
    }
}
