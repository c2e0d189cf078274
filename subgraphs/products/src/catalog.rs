//! What the products service does, whatever the transport.

use std::sync::Arc;

use kit::auth::Caller;
use uuid::Uuid;

use crate::domain::{
    MAX_STOCK, NewProduct, Product, ProductQuery, Reservation, ReservationRequest, StockDelta,
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

    pub fn store(&self) -> &Arc<dyn ProductStore> {
        &self.store
    }

    pub async fn list(&self, query: &ProductQuery) -> Result<Listing, Error> {
        Ok(self.store.list(query).await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<Product, Error> {
        self.store.get(id).await?.ok_or(Error::NotFound)
    }

    /// Admins only.
    pub async fn create(&self, caller: &Caller, product: NewProduct) -> Result<Product, Error> {
        caller.require_admin()?;
        let product = self.store.insert(Uuid::now_v7(), &product).await?;
        tracing::info!(product_id = %product.id, by = %caller.user_id, "product created");
        Ok(product)
    }

    /// Admins only. One conditional write; 409 when stock would go below zero.
    pub async fn adjust_stock(
        &self,
        caller: &Caller,
        id: Uuid,
        delta: StockDelta,
    ) -> Result<Product, Error> {
        caller.require_admin()?;
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
        request: &ReservationRequest,
    ) -> Result<(Reservation, bool), Error> {
        match self.store.reserve(request).await? {
            ReserveOutcome::Reserved(reservation) => {
                tracing::info!(order_id = %request.order_id, lines = request.lines.len(), "stock reserved");
                Ok((reservation, true))
            }
            ReserveOutcome::Replayed(reservation) => Ok((reservation, false)),
            ReserveOutcome::Mismatch => Err(Error::ReservationMismatch),
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
    pub async fn reservation(&self, order_id: Uuid) -> Result<Reservation, Error> {
        self.store
            .reservation(order_id)
            .await?
            .ok_or(Error::ReservationNotFound)
    }

    /// For the orders service: returns a reservation's stock, once.
    pub async fn release(&self, order_id: Uuid) -> Result<Reservation, Error> {
        let reservation = self
            .store
            .release(order_id)
            .await?
            .ok_or(Error::ReservationNotFound)?;
        tracing::info!(%order_id, "reservation released");
        Ok(reservation)
    }
}
