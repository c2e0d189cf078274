//! The products service's internal routes, as its clients (cart, orders) call them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Peer, PeerError};
use crate::money::Amount;

/// The longest products holds stock unconfirmed (`holdSeconds`, `RESERVATION_HOLD_SECS`, and so
/// `CHECKOUT_HOLD_SECS`).
pub const MAX_HOLD: Duration = Duration::from_secs(900);

/// `POST /internal/reservations`: hold stock for an order, all or nothing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReserveRequest {
    pub order_id: Uuid,
    pub items: Vec<ReserveItem>,
    /// How long the stock is held unconfirmed (the service's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_seconds: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReserveItem {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// A reservation as products reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReservationView {
    pub order_id: Uuid,
    /// `held`, `confirmed` or `released`.
    pub status: String,
    pub lines: Vec<ReservedLineView>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One product held for an order, priced when it was reserved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReservedLineView {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Amount,
    pub currency: String,
}

/// `POST /internal/products/lookup`: the products among `ids`, in one call.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub ids: Vec<Uuid>,
}

/// What a caller needs of a product: whether it can be bought, and its price now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProductSummary {
    pub id: Uuid,
    pub name: String,
    pub price: Amount,
    pub currency: String,
    pub stock: i32,
    pub active: bool,
}

/// `GET /internal/products/{id}/stock`: where a product's stock is.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StockLedgerView {
    pub on_hand: i64,
    pub held: i64,
    pub sold: i64,
}

/// The most ids one lookup takes.
pub const MAX_LOOKUP: usize = 200;

/// The products service, as another service calls it.
#[derive(Clone)]
pub struct ProductsClient(pub Peer);

impl ProductsClient {
    /// The products among `ids` (unknown ids are left out), in one call.
    pub async fn lookup(&self, ids: &[Uuid]) -> Result<Vec<ProductSummary>, PeerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = LookupRequest { ids: ids.to_vec() };
        let found = self
            .0
            .send(Method::POST, "/internal/products/lookup", Some(&body), true)
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// Holds stock for every item or none; idempotent by order id, so safe to retry.
    pub async fn reserve(&self, request: &ReserveRequest) -> Result<ReservationView, PeerError> {
        let reserved = self
            .0
            .send(Method::POST, "/internal/reservations", Some(request), true)
            .await?;
        reserved.ok_or_else(|| PeerError::Refused {
            service: "products",
            status: 404,
            code: "NOT_FOUND".into(),
            message: "a product is not available".into(),
        })
    }

    /// Confirms a held reservation; `Refused` with `CONFLICT` when it was released.
    pub async fn confirm(&self, order_id: Uuid) -> Result<Option<ReservationView>, PeerError> {
        let path = format!("/internal/reservations/{order_id}/confirm");
        self.0.send::<(), _>(Method::POST, &path, None, true).await
    }

    /// Returns a reservation's stock, once; `None` when products never saw the order id.
    pub async fn release(&self, order_id: Uuid) -> Result<Option<ReservationView>, PeerError> {
        let path = format!("/internal/reservations/{order_id}/release");
        self.0.send::<(), _>(Method::POST, &path, None, true).await
    }

    pub async fn reservation(&self, order_id: Uuid) -> Result<Option<ReservationView>, PeerError> {
        self.0
            .get(&format!("/internal/reservations/{order_id}"))
            .await
    }

    pub async fn ledger(&self, product_id: Uuid) -> Result<Option<StockLedgerView>, PeerError> {
        self.0
            .get(&format!("/internal/products/{product_id}/stock"))
            .await
    }
}
