//! The products service's internal routes, as its clients (cart, orders) call them.

use contracts::ErrorCode;
use reqwest::Method;
use uuid::Uuid;

use super::{Peer, PeerError};

pub use contracts::products::*;

/// The products service, as another service calls it.
#[derive(Clone)]
pub struct ProductsClient(pub Peer);

/// What confirming a reservation came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The order owns the stock now (also when it already did).
    Confirmed(ReservationView),
    /// The reservation was released (its hold expired first): it holds no stock.
    Released,
    /// products never reserved for the order id.
    Unknown,
}

/// What releasing a reservation came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// The stock is back (also when it already was).
    Released(ReservationView),
    /// products never reserved for the order id: no stock is held for it.
    Unknown,
}

impl ProductsClient {
    /// The products among `ids` (unknown ids are left out), in one call.
    pub async fn lookup(&self, ids: &[Uuid]) -> Result<Vec<ProductSummary>, PeerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = LookupRequest { ids: ids.to_vec() };
        self.0
            .send(Method::POST, "/internal/products/lookup", Some(&body), true)
            .await
    }

    /// Holds stock for every item or none; idempotent by order id, so safe to retry.
    pub async fn reserve(&self, request: &ReserveRequest) -> Result<ReservationView, PeerError> {
        self.0
            .send(Method::POST, "/internal/reservations", Some(request), true)
            .await
    }

    /// Confirms a held reservation; idempotent.
    pub async fn confirm(&self, order_id: Uuid) -> Result<Confirmation, PeerError> {
        let path = format!("/internal/reservations/{order_id}/confirm");
        match self.0.send::<(), _>(Method::POST, &path, None, true).await {
            Ok(view) => Ok(Confirmation::Confirmed(view)),
            Err(err) if err.is_refusal(ErrorCode::ReservationReleased) => {
                Ok(Confirmation::Released)
            }
            Err(err) if err.is_refusal(ErrorCode::ReservationNotFound) => Ok(Confirmation::Unknown),
            Err(err) => Err(err),
        }
    }

    /// Returns a reservation's stock, once; idempotent.
    pub async fn release(&self, order_id: Uuid) -> Result<Release, PeerError> {
        let path = format!("/internal/reservations/{order_id}/release");
        match self.0.send::<(), _>(Method::POST, &path, None, true).await {
            Ok(view) => Ok(Release::Released(view)),
            Err(err) if err.is_refusal(ErrorCode::ReservationNotFound) => Ok(Release::Unknown),
            Err(err) => Err(err),
        }
    }
}
