//! Orders in MongoDB: one document per order, its lines inside it. Changes are single-document
//! updates conditional on what they change from; no multi-document transaction is needed.
//! Indexes: unique (userId, idempotencyKey) where a key was given, (userId, createdAt) for a
//! user's list, and (stock, cartDone, createdAt) for the reconciler.

use async_trait::async_trait;
use bson::{Bson, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};
use storage::StoreError;
use storage::mongo::{is_duplicate_key, time, uuid};
use uuid::Uuid;
use web::pagination::Page;

use super::OrderStore;
use crate::domain::{
    Lease, Order, OrderLine, OrderStatus, PaymentMethod, ShippingAddress, StockState, Unsettled,
};

/// The shape of the documents this code writes.
const SCHEMA_VERSION: i32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderDocument {
    #[serde(rename = "_id", with = "storage::mongo::uuid_as_binary")]
    id: Uuid,
    #[serde(with = "storage::mongo::uuid_as_binary")]
    user_id: Uuid,
    status: String,
    lines: Vec<LineDocument>,
    total_minor: i64,
    currency: String,
    shipping_address: AddressDocument,
    payment_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<String>,
    request_hash: String,
    stock: String,
    cart_version: i64,
    cart_done: bool,
    #[serde(with = "storage::mongo::time_as_bson")]
    created_at: DateTime<Utc>,
    #[serde(with = "storage::mongo::time_as_bson")]
    updated_at: DateTime<Utc>,
    schema_version: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineDocument {
    #[serde(with = "storage::mongo::uuid_as_binary")]
    product_id: Uuid,
    name: String,
    quantity: i32,
    unit_price_minor: i64,
    currency: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressDocument {
    street: String,
    city: String,
    postal_code: String,
    country: String,
}

impl From<&Order> for OrderDocument {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id,
            user_id: o.user_id,
            status: o.status.as_str().to_owned(),
            lines: o
                .lines
                .iter()
                .map(|l| LineDocument {
                    product_id: l.product_id,
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    currency: l.currency.clone(),
                })
                .collect(),
            total_minor: o.total_minor,
            currency: o.currency.clone(),
            shipping_address: AddressDocument {
                street: o.shipping_address.street.clone(),
                city: o.shipping_address.city.clone(),
                postal_code: o.shipping_address.postal_code.clone(),
                country: o.shipping_address.country.clone(),
            },
            payment_method: o.payment_method.as_str().to_owned(),
            idempotency_key: o.idempotency_key.clone(),
            request_hash: o.fingerprint.clone(),
            stock: o.stock.as_str().to_owned(),
            cart_version: o.cart_version,
            cart_done: o.cart_done,
            created_at: o.created_at,
            updated_at: o.updated_at,
            schema_version: SCHEMA_VERSION,
        }
    }
}

impl TryFrom<OrderDocument> for Order {
    type Error = StoreError;

    fn try_from(d: OrderDocument) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("order {}: {what}", d.id));
        Ok(Order {
            id: d.id,
            user_id: d.user_id,
            status: OrderStatus::parse(&d.status).map_err(|_| corrupt("status"))?,
            lines: d
                .lines
                .into_iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    currency: l.currency,
                })
                .collect(),
            total_minor: d.total_minor,
            currency: d.currency,
            shipping_address: ShippingAddress {
                street: d.shipping_address.street,
                city: d.shipping_address.city,
                postal_code: d.shipping_address.postal_code,
                country: d.shipping_address.country,
            },
            payment_method: PaymentMethod::parse(&d.payment_method)
                .map_err(|_| corrupt("payment method"))?,
            idempotency_key: d.idempotency_key,
            fingerprint: d.request_hash,
            stock: StockState::parse(&d.stock).ok_or_else(|| corrupt("stock"))?,
            cart_version: d.cart_version,
            cart_done: d.cart_done,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
    }
}

/// A user's checkout claim, in collection `checkouts` (`_id` is the user).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseDocument {
    #[serde(rename = "_id", with = "storage::mongo::uuid_as_binary")]
    user_id: Uuid,
    #[serde(with = "storage::mongo::uuid_as_binary")]
    order_id: Uuid,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(with = "storage::mongo::time_as_bson")]
    expires_at: DateTime<Utc>,
}

impl From<LeaseDocument> for Lease {
    fn from(d: LeaseDocument) -> Self {
        Lease {
            order_id: d.order_id,
            key: d.idempotency_key,
            expires_at: d.expires_at,
        }
    }
}

pub struct MongoOrderStore {
    db: mongodb::Database,
    orders: Collection<OrderDocument>,
    checkouts: Collection<LeaseDocument>,
}

/// Attempts at a claim that loses races to claims ending and starting.
const CLAIM_ATTEMPTS: usize = 10;

impl MongoOrderStore {
    /// Serves orders from `db`, creating the indexes if missing.
    pub async fn open(db: mongodb::Database) -> anyhow::Result<Self> {
        let orders: Collection<OrderDocument> = db.collection("orders");
        let keyed = IndexOptions::builder()
            .name("user_idempotency_key".to_owned())
            .unique(true)
            .partial_filter_expression(doc! { "idempotencyKey": { "$type": "string" } })
            .build();
        orders
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "userId": 1, "idempotencyKey": 1 })
                    .options(keyed)
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "userId": 1, "createdAt": -1, "_id": -1 })
                    .build(),
                IndexModel::builder()
                    .keys(doc! { "stock": 1, "cartDone": 1, "createdAt": 1 })
                    .build(),
            ])
            .await?;
        Ok(Self {
            checkouts: db.collection("checkouts"),
            db,
            orders,
        })
    }

    async fn one(&self, filter: bson::Document) -> Result<Option<Order>, StoreError> {
        self.orders
            .find_one(filter)
            .await?
            .map(Order::try_from)
            .transpose()
    }
}

#[async_trait]
impl OrderStore for MongoOrderStore {
    async fn insert(&self, order: &Order) -> Result<(), StoreError> {
        self.orders.insert_one(OrderDocument::from(order)).await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        self.one(doc! { "_id": uuid(id) }).await
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Bson> = ids.iter().map(|&id| Bson::from(uuid(id))).collect();
        let found: Vec<OrderDocument> = self
            .orders
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await?;
        found.into_iter().map(Order::try_from).collect()
    }

    async fn by_key(&self, user: Uuid, key: &str) -> Result<Option<Order>, StoreError> {
        self.one(doc! { "userId": uuid(user), "idempotencyKey": key })
            .await
    }

    async fn for_user(&self, user: Uuid, page: Page) -> Result<(Vec<Order>, u64), StoreError> {
        let filter = doc! { "userId": uuid(user) };
        let total = self.orders.count_documents(filter.clone()).await?;
        let found: Vec<OrderDocument> = self
            .orders
            .find(filter)
            .sort(doc! { "createdAt": -1, "_id": -1 })
            .skip(page.offset)
            .limit(page.limit_i64())
            .await?
            .try_collect()
            .await?;
        let orders = found
            .into_iter()
            .map(Order::try_from)
            .collect::<Result<_, _>>()?;
        Ok((orders, total))
    }

    async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<Order>, StoreError> {
        let mut set = doc! { "status": to.as_str(), "updatedAt": time(Utc::now()) };
        if to == OrderStatus::Cancelled {
            set.insert("cartDone", true);
        }
        let changed = self
            .orders
            .update_one(
                doc! { "_id": uuid(id), "status": from.as_str() },
                doc! { "$set": set },
            )
            .await?;
        if changed.matched_count == 0 {
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
        let from: Vec<Bson> = from.iter().map(|s| Bson::from(s.as_str())).collect();
        self.orders
            .find_one_and_update(
                doc! { "_id": uuid(order.id), "stock": { "$in": from } },
                doc! { "$set": { "stock": to.as_str(), "updatedAt": time(Utc::now()) } },
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(Order::try_from)
            .transpose()
    }

    async fn record_cart_done(&self, order: &Order) -> Result<Option<Order>, StoreError> {
        self.orders
            .find_one_and_update(
                doc! { "_id": uuid(order.id) },
                doc! { "$set": { "cartDone": true, "updatedAt": time(Utc::now()) } },
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(Order::try_from)
            .transpose()
    }

    async fn unsettled(
        &self,
        before: DateTime<Utc>,
        user: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        // [`Unsettled`], as a filter.
        let cancelled = Unsettled::CANCELLED.as_str();
        let back = Unsettled::STOCK_BACK.map(StockState::as_str);
        let mut filter = doc! {
            "createdAt": { "$lt": time(before) },
            "$or": [
                { "stock": Unsettled::STOCK_OWED.as_str() },
                { "cartDone": false },
                { "status": cancelled, "stock": { "$nin": back.to_vec() } },
            ],
        };
        if let Some(user) = user {
            filter.insert("userId", uuid(user));
        }
        let found: Vec<OrderDocument> = self
            .orders
            .find(filter)
            .sort(doc! { "createdAt": 1 })
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        found.into_iter().map(Order::try_from).collect()
    }

    async fn claim_checkout(
        &self,
        user: Uuid,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, StoreError> {
        let claim = LeaseDocument {
            user_id: user,
            order_id: lease.order_id,
            idempotency_key: lease.key.clone(),
            expires_at: lease.expires_at,
        };
        for _ in 0..CLAIM_ATTEMPTS {
            match self.checkouts.insert_one(&claim).await {
                Ok(_) => return Ok(None),
                Err(err) if is_duplicate_key(&err) => {}
                Err(err) => return Err(err.into()),
            }
            // Held: take it over if it expired (its checkout died), else report the holder.
            let key = lease.key.as_deref().map_or(Bson::Null, Bson::from);
            let taken = self
                .checkouts
                .update_one(
                    doc! { "_id": uuid(user), "expiresAt": { "$lte": time(now) } },
                    doc! { "$set": {
                        "orderId": uuid(lease.order_id),
                        "idempotencyKey": key,
                        "expiresAt": time(lease.expires_at),
                    } },
                )
                .await?;
            if taken.matched_count == 1 {
                return Ok(None);
            }
            if let Some(holder) = self.checkouts.find_one(doc! { "_id": uuid(user) }).await? {
                return Ok(Some(holder.into()));
            }
            // Released between the two writes: claim again.
        }
        Err(StoreError::Unavailable(
            "the checkout claim kept changing hands".into(),
        ))
    }

    async fn release_checkout(&self, user: Uuid, order_id: Uuid) -> Result<(), StoreError> {
        self.checkouts
            .delete_one(doc! { "_id": uuid(user), "orderId": uuid(order_id) })
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        storage::mongo::ping(&self.db).await
    }
}
