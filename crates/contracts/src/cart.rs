//! The cart service's internal routes: what orders sends and reads back at checkout.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `GET /internal/carts/{userId}`: what is in a cart, and its version.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartContents {
    pub user_id: Uuid,
    pub items: Vec<CartLine>,
    /// Grows with every change, so a checkout empties only the cart it bought.
    pub version: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: Uuid,
    pub quantity: i32,
}

/// `POST /internal/carts/{userId}/ordered`: an order placed from the cart at `version`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrderTaken {
    pub order_id: Uuid,
    pub version: i64,
    pub items: Vec<CartLine>,
}
