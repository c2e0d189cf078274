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

    /// Empties the cart if it is still at `version` (nothing was added since it was read);
    /// whether it did. Safe to retry.
    pub async fn clear_if_unchanged(&self, user_id: Uuid, version: i64) -> Result<bool, PeerError> {
        let path = format!("/internal/carts/{user_id}/clear?version={version}");
        let cleared: Option<serde_json::Value> = self
            .0
            .send::<(), _>(Method::POST, &path, None, true)
            .await?;
        Ok(cleared.is_some_and(|body| body["cleared"] == true))
    }
}
