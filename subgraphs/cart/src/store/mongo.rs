//! Carts in MongoDB: one document per user, `{ _id: userId, items: [...], version, updatedAt,
//! schemaVersion }`. Every change is one atomic update whose filter carries its own condition
//! (the line is there, or absent, or has room), so concurrent changes never read-modify-write.

use async_trait::async_trait;
use bson::{Document, doc};
use chrono::Utc;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use storage::StoreError;
use storage::mongo::{is_duplicate_key, time, uuid};
use uuid::Uuid;

use super::{AddOutcome, CartStore};
use crate::domain::{Cart, CartItem, MAX_LINES, MAX_QUANTITY, Quantity};

/// The shape of the documents this code writes; older shapes would be migrated on read.
const SCHEMA_VERSION: i32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CartDocument {
    #[serde(rename = "_id", with = "storage::mongo::uuid_as_binary")]
    user_id: Uuid,
    #[serde(default)]
    items: Vec<ItemDocument>,
    version: i64,
    #[serde(with = "storage::mongo::time_as_bson")]
    updated_at: chrono::DateTime<Utc>,
    schema_version: i32,
    /// The last [`TAKEN_KEPT`] orders taken out of the cart (ids as text), so each is taken
    /// out once however late a retried request arrives.
    #[serde(default)]
    taken_orders: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemDocument {
    #[serde(with = "storage::mongo::uuid_as_binary")]
    product_id: Uuid,
    quantity: i32,
    #[serde(with = "storage::mongo::time_as_bson")]
    added_at: chrono::DateTime<Utc>,
}

impl From<CartDocument> for Cart {
    fn from(doc: CartDocument) -> Self {
        Cart {
            user_id: doc.user_id,
            items: doc
                .items
                .into_iter()
                .map(|i| CartItem {
                    product_id: i.product_id,
                    quantity: i.quantity,
                    added_at: i.added_at,
                })
                .collect(),
            version: doc.version,
            updated_at: Some(doc.updated_at),
        }
    }
}

pub struct MongoCartStore {
    db: mongodb::Database,
    carts: Collection<CartDocument>,
}

/// How many of the orders taken out of a cart it remembers: a request to take one out that is
/// late by more checkouts of the same user than this would apply again.
const TAKEN_KEPT: usize = 100;

/// Attempts at an add that loses races to concurrent changes of the same cart.
const ADD_ATTEMPTS: usize = 5;

impl MongoCartStore {
    /// Serves carts from `db` (the collection needs no index beyond `_id`).
    pub async fn open(db: mongodb::Database) -> anyhow::Result<Self> {
        Ok(Self {
            carts: db.collection("carts"),
            db,
        })
    }

    /// Applies `update` to the cart if it matches `filter` (with `_id` added); whether it did.
    async fn change(
        &self,
        user: Uuid,
        filter: Document,
        update: Document,
    ) -> Result<bool, StoreError> {
        let mut filter = filter;
        filter.insert("_id", uuid(user));
        let result = self.carts.update_one(filter, update).await?;
        Ok(result.matched_count == 1)
    }

    fn touched(now: chrono::DateTime<Utc>) -> Document {
        doc! { "$inc": { "version": 1_i64 }, "$set": { "updatedAt": time(now) } }
    }
}

#[async_trait]
impl CartStore for MongoCartStore {
    async fn get(&self, user: Uuid) -> Result<Cart, StoreError> {
        let found = self.carts.find_one(doc! { "_id": uuid(user) }).await?;
        Ok(found.map_or_else(|| Cart::empty(user), Cart::from))
    }

    async fn add(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<AddOutcome, StoreError> {
        let q = quantity.get();
        for _ in 0..ADD_ATTEMPTS {
            let now = Utc::now();
            // 1. The product is in the cart and its line has room: add to it.
            let update = doc! {
                "$inc": { "version": 1_i64, "items.$.quantity": q },
                "$set": { "updatedAt": time(now) },
            };
            let line_filter = doc! {
                "items": { "$elemMatch": { "productId": uuid(product), "quantity": { "$lte": MAX_QUANTITY - q } } }
            };
            if self.change(user, line_filter, update).await? {
                return self.get(user).await.map(AddOutcome::Added);
            }
            // 2. The product is not in the cart and the cart has room: push a line, creating
            //    the cart if there is none (then the filter's _id becomes the new cart's).
            let item = doc! { "productId": uuid(product), "quantity": q, "addedAt": time(now) };
            let push = doc! {
                "$push": { "items": item },
                "$inc": { "version": 1_i64 },
                "$set": { "updatedAt": time(now) },
                "$setOnInsert": { "schemaVersion": SCHEMA_VERSION },
            };
            let mut absent_filter = doc! {
                "_id": uuid(user),
                "items.productId": { "$ne": uuid(product) },
            };
            absent_filter.insert(
                format!("items.{}", MAX_LINES - 1),
                doc! { "$exists": false },
            );
            match self
                .carts
                .update_one(absent_filter, push)
                .upsert(true)
                .await
            {
                Ok(result) if result.matched_count == 1 || result.upserted_id.is_some() => {
                    return self.get(user).await.map(AddOutcome::Added);
                }
                Ok(_) => {}
                // The cart exists but did not match: the line is there, or the cart is full.
                Err(err) if is_duplicate_key(&err) => {}
                Err(err) => return Err(err.into()),
            }
            // 3. Neither: say why, unless a concurrent change moved the cart under us.
            let cart = self.get(user).await?;
            let current = cart.quantity_of(product);
            if current > 0 && current + q > MAX_QUANTITY {
                return Ok(AddOutcome::LineFull { current });
            }
            if current == 0 && cart.items.len() >= MAX_LINES {
                return Ok(AddOutcome::CartFull);
            }
        }
        Err(StoreError::Unavailable(
            "the cart kept changing under concurrent updates".into(),
        ))
    }

    async fn set_quantity(
        &self,
        user: Uuid,
        product: Uuid,
        quantity: Quantity,
    ) -> Result<Option<Cart>, StoreError> {
        let mut update = Self::touched(Utc::now());
        update
            .get_document_mut("$set")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .insert("items.$.quantity", quantity.get());
        let changed = self
            .change(user, doc! { "items.productId": uuid(product) }, update)
            .await?;
        if !changed {
            return Ok(None);
        }
        self.get(user).await.map(Some)
    }

    async fn remove(&self, user: Uuid, product: Uuid) -> Result<Option<Cart>, StoreError> {
        let mut update = Self::touched(Utc::now());
        update.insert("$pull", doc! { "items": { "productId": uuid(product) } });
        let changed = self
            .change(user, doc! { "items.productId": uuid(product) }, update)
            .await?;
        if !changed {
            return Ok(None);
        }
        self.get(user).await.map(Some)
    }

    async fn clear(&self, user: Uuid) -> Result<(), StoreError> {
        let mut update = Self::touched(Utc::now());
        update
            .get_document_mut("$set")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .insert("items", bson::Bson::Array(Vec::new()));
        // No cart at all is an empty one already.
        self.change(user, doc! {}, update).await?;
        Ok(())
    }

    async fn take_ordered(
        &self,
        user: Uuid,
        order: Uuid,
        version: i64,
        lines: &[(Uuid, i32)],
    ) -> Result<(), StoreError> {
        let tag = order.to_string();
        for _ in 0..ADD_ATTEMPTS {
            // Read, then write conditional on the version read: a concurrent change makes this
            // read again, so nothing added meanwhile is lost.
            let Some(found) = self.carts.find_one(doc! { "_id": uuid(user) }).await? else {
                return Ok(());
            };
            if found.taken_orders.contains(&tag) {
                return Ok(());
            }
            let mut taken = found.taken_orders.clone();
            taken.push(tag.clone());
            taken.drain(..taken.len().saturating_sub(TAKEN_KEPT));
            let seen = found.version;
            let cart = Cart::from(found);
            let left = if seen == version {
                Vec::new()
            } else {
                cart.remaining_after(lines)
            };
            let left: Vec<ItemDocument> = left
                .into_iter()
                .map(|i| ItemDocument {
                    product_id: i.product_id,
                    quantity: i.quantity,
                    added_at: i.added_at,
                })
                .collect();
            let left =
                bson::serialize_to_bson(&left).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let update = doc! {
                "$set": { "items": left, "takenOrders": taken, "updatedAt": time(Utc::now()) },
                "$inc": { "version": 1_i64 },
            };
            // Conditional on the version read: a concurrent change makes this read again.
            if self.change(user, doc! { "version": seen }, update).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "the cart kept changing under concurrent updates".into(),
        ))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        storage::mongo::ping(&self.db).await
    }
}
