//! What the products service does, whatever the transport, and who may do it: REST and GraphQL
//! call this and never the store.

use std::collections::HashMap;
use std::sync::Arc;

use kit::auth::{Caller, ServiceCaller};
use kit::db::StoreError;
use uuid::Uuid;

use crate::domain::{
    MAX_STOCK, NewProduct, Product, ProductDraft, ProductQuery, Reservation, ReservationRequest,
    StockDelta,
};
use crate::error::Error;
use crate::store::{Listing, ProductStore, ReserveOutcome, StockChange};

pub struct Catalog {
    store: Arc<dyn ProductStore>,
}

impl Catalog {
    pub fn new(store: Arc<dyn ProductStore>) -> Self {
        Self { store }
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The products among `ids`, in one store query: what federation entity lookups resolve.
    pub async fn products_by_ids(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Product>, Error> {
        let products = self.store.get_many(ids).await?;
        Ok(products.into_iter().map(|p| (p.id, p)).collect())
    }

    pub async fn list(&self, query: &ProductQuery) -> Result<Listing, Error> {
        Ok(self.store.list(query).await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<Product, Error> {
        self.store.get(id).await?.ok_or(Error::NotFound)
    }

    /// Admins only; the caller is checked before the draft is validated.
    pub async fn create(&self, caller: &Caller, draft: ProductDraft<'_>) -> Result<Product, Error> {
        caller.require_admin()?;
        let product = NewProduct::parse(draft)?;
        let product = self.store.insert(Uuid::now_v7(), &product).await?;
        tracing::info!(product_id = %product.id, by = %caller.user_id, "product created");
        Ok(product)
    }

    /// Admins only. One conditional write; 409 when stock would go below zero.
    pub async fn adjust_stock(
        &self,
        caller: &Caller,
        id: Uuid,
        delta: i64,
    ) -> Result<Product, Error> {
        caller.require_admin()?;
        let delta = StockDelta::parse(delta)?;
        match self.store.adjust_stock(id, delta).await? {
            StockChange::Updated(product) => {
                tracing::info!(product_id = %id, delta = delta.get(), stock = product.stock, "stock adjusted");
                Ok(product)
            }
            StockChange::Insufficient { available } => Err(Error::InsufficientStock {
                product_id: id,
                requested: -i64::from(delta.get()),
                available,
            }),
            StockChange::TooMuch { .. } => Err(Error::StockLimit { max: MAX_STOCK }),
            StockChange::NotFound => Err(Error::NotFound),
        }
    }

    /// For the orders service: holds stock for every line, or for none.
    pub async fn reserve(
        &self,
        _service: &ServiceCaller,
        request: &ReservationRequest,
    ) -> Result<(Reservation, bool), Error> {
        match self.store.reserve(request).await? {
            ReserveOutcome::Reserved(reservation) => {
                tracing::info!(order_id = %request.order_id, lines = request.lines.len(), "stock reserved");
                Ok((reservation, true))
            }
            ReserveOutcome::Replayed(reservation) => Ok((reservation, false)),
            ReserveOutcome::Mismatch => Err(Error::ReservationMismatch),
            ReserveOutcome::Released => Err(Error::ReservationReleased),
            ReserveOutcome::Insufficient {
                product_id,
                requested,
                available,
            } => Err(Error::InsufficientStock {
                product_id,
                requested: i64::from(requested),
                available,
            }),
            ReserveOutcome::Unavailable { product_id } => {
                Err(Error::ProductUnavailable(product_id))
            }
        }
    }

    /// For the orders service: a reservation as it stands.
    pub async fn reservation(
        &self,
        _service: &ServiceCaller,
        order_id: Uuid,
    ) -> Result<Reservation, Error> {
        self.store
            .reservation(order_id)
            .await?
            .ok_or(Error::ReservationNotFound)
    }

    /// For the orders service: returns a reservation's stock, once.
    pub async fn release(
        &self,
        _service: &ServiceCaller,
        order_id: Uuid,
    ) -> Result<Reservation, Error> {
        let reservation = self
            .store
            .release(order_id)
            .await?
            .ok_or(Error::ReservationNotFound)?;
        tracing::info!(%order_id, "reservation released");
        Ok(reservation)
    }
}
