//! Where carts live: the trait, and its adapters on MongoDB (production: one document per user,
//! changed only by atomic update operators) and SQLite (the laptop default); both pass the
//! contract in `tests/api/store_contract.rs`.

mod mongo;
mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use storage::StoreError;
use storage::{Database, DatabaseUrl};
use uuid::Uuid;

use crate::domain::{Cart, Quantity};

pub use mongo::MongoCartStore;
pub use sql::SqlCartStore;

/// What adding to a cart did. Anything but `Added` wrote nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added(Cart),
    /// The line would hold more than [`crate::domain::MAX_QUANTITY`]; it holds `current`.
    LineFull {
        current: i32,
    },
    /// The cart already holds [`crate::domain::MAX_LINES`] other products.
    CartFull,
}

#[async_trait]
pub trait CartStore: Send + Sync + 'static {
    /// The user's cart; an empty one if they never added anything.
    async fn get(&self, user: Uuid) -> Result<Cart, StoreError>;
    /// Adds `quantity` of `product`, to its line if the cart has one, in one atomic write.
    async fn add(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<AddOutcome, StoreError>;
    /// Sets a line's quantity; `None` when the product is not in the cart.
    async fn set_quantity(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<Option<Cart>, StoreError>;
    /// Removes a line; `None` when the product is not in the cart.
    async fn remove(&self, user: Uuid, product: Uuid) -> Result<Option<Cart>, StoreError>;
    /// Empties the cart.
    async fn clear(&self, user: Uuid) -> Result<(), StoreError>;
    /// After checkout: takes out of the cart what order `order` bought — everything while the
    /// cart is still at `version` (the one the order was made from), else each ordered line's
    /// quantity, so what was added during the checkout stays. Once per order: the cart
    /// remembers the orders taken out (MongoDB: the last 100), and a repeat, however late,
    /// changes nothing.
    async fn take_ordered(
        &self,
        user: Uuid,
        order: Uuid,
        version: i64,
        lines: &[(Uuid, i32)],
    ) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend the URL's scheme names.
pub async fn open(database: &Database) -> anyhow::Result<Arc<dyn CartStore>> {
    let url = &database.url;
    match url {
        DatabaseUrl::Mongodb(_) => Ok(Arc::new(
            MongoCartStore::open(storage::mongo::connect(url, "cart").await?).await?,
        )),
        DatabaseUrl::Sqlite(_) => {
            let pool = storage::sql::Pool::connect(database).await?;
            Ok(Arc::new(SqlCartStore::open(pool).await?))
        }
        DatabaseUrl::Postgres(_) => {
            anyhow::bail!("the cart service stores its data in MongoDB or SQLite")
        }
    }
}
