//! The cart service's internal routes, as orders calls them at checkout.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Peer, PeerError};

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

/// The cart service, as another service calls it.
#[derive(Clone)]
pub struct CartClient(pub Peer);

impl CartClient {
    pub async fn contents(&self, user_id: Uuid) -> Result<CartContents, PeerError> {
        let contents = self.0.get(&format!("/internal/carts/{user_id}")).await?;
        Ok(contents.unwrap_or(CartContents {
            user_id,
            items: Vec::new(),
            version: 0,
        }))
    }

    /// Takes what an order bought out of the cart: all of it if the cart is still at the
    /// version the order was made from, else the ordered quantities. Once per order, so safe to
    /// retry.
    pub async fn take_ordered(&self, user_id: Uuid, taken: &OrderTaken) -> Result<(), PeerError> {
        let path = format!("/internal/carts/{user_id}/ordered");
        self.0
            .send::<_, serde_json::Value>(Method::POST, &path, Some(taken), true)
            .await?;
        Ok(())
    }
}
