//! The products service's internal routes: what cart and orders send and read back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
