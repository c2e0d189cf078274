//! The cart service's internal routes, as orders calls them at checkout.

use reqwest::Method;
use uuid::Uuid;

use super::{Peer, PeerError};

pub use contracts::cart::*;

/// The cart service, as another service calls it.
#[derive(Clone)]
pub struct CartClient(pub Peer);

impl CartClient {
    /// What is in the user's cart (empty, at version 0, if they never had one).
    pub async fn contents(&self, user_id: Uuid) -> Result<CartContents, PeerError> {
        self.0.get(&format!("/internal/carts/{user_id}")).await
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
