//! What the products service does, whatever the transport, and who may do it: REST and GraphQL
//! call this and never the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auth::{Caller, ServiceCaller};
use storage::StoreError;
use uuid::Uuid;

use crate::domain::{
    MAX_STOCK, NewProduct, Product, ProductDraft, ProductQuery, Reservation, ReservationRequest,
    ReservationStatus, StockDelta,
};
use crate::error::Error;
use crate::store::{Listing, ProductStore, ReserveOutcome, StockChange, StockLedger};

pub struct Catalog {
    store: Arc<dyn ProductStore>,
    /// How long a reservation is held when its caller does not say.
    default_hold: Duration,
}

impl Catalog {
    pub fn new(store: Arc<dyn ProductStore>, default_hold: Duration) -> Self {
        Self {
            store,
            default_hold,
        }
    }

    pub fn default_hold(&self) -> Duration {
        self.default_hold
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// For the other services: the products among `ids` (at most
    /// [`contracts::products::MAX_LOOKUP`]), in one store query.
    pub async fn lookup(
        &self,
        _service: &ServiceCaller,
        ids: &[Uuid],
    ) -> Result<Vec<Product>, Error> {
        if ids.len() > contracts::products::MAX_LOOKUP {
            return Err(web::Invalid(format!(
                "at most {} ids per lookup",
                contracts::products::MAX_LOOKUP
            ))
            .into());
        }
        Ok(self.store.get_many(ids).await?)
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

    /// For the orders service, once the order is stored: the order owns the held stock now.
    /// Idempotent; a reservation already released (by the order, or because its hold expired)
    /// is a conflict, so an order is never stored as owning stock it does not have.
    pub async fn confirm(
        &self,
        _service: &ServiceCaller,
        order_id: Uuid,
    ) -> Result<Reservation, Error> {
        let reservation = self
            .store
            .confirm(order_id)
            .await?
            .ok_or(Error::ReservationNotFound)?;
        match reservation.status {
            ReservationStatus::Released => Err(Error::ReservationReleased),
            _ => {
                tracing::info!(%order_id, "reservation confirmed");
                Ok(reservation)
            }
        }
    }

    /// For the orders service: returns a reservation's stock (held, or sold to an order being
    /// cancelled), once.
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

    /// Returns the stock of every held reservation whose hold expired before `now`: what
    /// nobody confirmed (say, orders died mid-checkout) goes back on the shelf. Safe to run in
    /// every replica at once: each release is conditional. Returns how many it released.
    pub async fn release_expired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, Error> {
        let mut released = 0;
        loop {
            let expired = self.store.expired(now, 100).await?;
            let batch = expired.len();
            for order_id in expired {
                if self.store.release_if_expired(order_id, now).await? {
                    tracing::warn!(%order_id, "hold expired unconfirmed; stock returned");
                    released += 1;
                }
            }
            if batch < 100 {
                return Ok(released);
            }
        }
    }

    /// For the services and operators: where a product's stock is.
    pub async fn ledger(
        &self,
        _service: &ServiceCaller,
        product_id: Uuid,
    ) -> Result<StockLedger, Error> {
        self.store.ledger(product_id).await?.ok_or(Error::NotFound)
    }
}

/// Releases expired holds every `every`, for as long as it runs.
pub async fn expiry_sweeper(catalog: Arc<Catalog>, every: Duration) {
    web::every(every, || async {
        if let Err(err) = catalog.release_expired(chrono::Utc::now()).await {
            tracing::warn!(error = %web::ApiError::from(err), "releasing expired holds failed");
        }
    })
    .await
}
