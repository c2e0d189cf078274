//! The users service's internal routes: what cart and orders read of an account.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Role;

/// `GET /internal/users/{id}`: that an account exists, and its role.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: Uuid,
    pub role: Role,
}
