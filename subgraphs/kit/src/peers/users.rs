//! The users service's internal routes, as its clients (cart, orders) call them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Peer, PeerError};
use crate::auth::Role;

/// `GET /internal/users/{id}`: that an account exists, and its role.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: Uuid,
    pub role: Role,
}

/// The users service, as another service calls it.
#[derive(Clone)]
pub struct UsersClient(pub Peer);

impl UsersClient {
    /// The account with `id`, if there is one.
    pub async fn user(&self, id: Uuid) -> Result<Option<UserSummary>, PeerError> {
        self.0.get(&format!("/internal/users/{id}")).await
    }
}
