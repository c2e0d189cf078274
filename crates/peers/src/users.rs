//! The users service's internal routes, as its clients (cart, orders) call them.

use contracts::ErrorCode;
use uuid::Uuid;

use super::{Peer, PeerError};

pub use contracts::users::*;

/// The users service, as another service calls it.
#[derive(Clone)]
pub struct UsersClient(pub Peer);

impl UsersClient {
    /// The account with `id`, if there is one.
    pub async fn user(&self, id: Uuid) -> Result<Option<UserSummary>, PeerError> {
        match self.0.get(&format!("/internal/users/{id}")).await {
            Ok(user) => Ok(Some(user)),
            Err(err) if err.is_refusal(ErrorCode::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }
}
