//! Step 0: one checkout per user at a time, so two requests never buy the same cart twice; a
//! retry with the same Idempotency-Key waits for the first and answers as it did.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::{Checkout, Placed};
use crate::domain::Lease;
use crate::error::Error;
use crate::store::OrderStore;

/// How long a retry waits for the checkout with its Idempotency-Key to finish.
const SAME_KEY_WAIT: Duration = Duration::from_secs(5);

/// A claim on a user's checkout. Released explicitly when the checkout ends; if the checkout's
/// future is dropped instead (a request timeout, a closed connection), releasing is spawned.
pub(super) struct Claim {
    store: Arc<dyn OrderStore>,
    user: Uuid,
    order_id: Uuid,
    released: bool,
}

impl Claim {
    pub(super) async fn release(mut self) {
        self.released = true;
        release_claim(self.store.clone(), self.user, self.order_id).await;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.released
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(release_claim(self.store.clone(), self.user, self.order_id));
        }
    }
}

async fn release_claim(store: Arc<dyn OrderStore>, user: Uuid, order_id: Uuid) {
    if let Err(err) = store.release_checkout(user, order_id).await {
        tracing::warn!(%user, %order_id, error = %err, "could not end the checkout claim; it will expire");
    }
}

/// What claiming a checkout came to.
pub(super) enum Claimed {
    Mine(Claim),
    /// The checkout with the same key finished meanwhile: its order.
    Replayed(Placed),
}

impl Checkout {
    /// Claims `user`'s checkout for order `order_id`, or finds the order an earlier checkout
    /// with the same Idempotency-Key placed. Another checkout holding the claim refuses this
    /// one, unless it has the same key: then this waits for it and returns its order.
    pub(super) async fn claim(
        &self,
        user: Uuid,
        order_id: Uuid,
        key: Option<&str>,
        fingerprint: &str,
    ) -> Result<Claimed, Error> {
        let give_up = Instant::now() + SAME_KEY_WAIT;
        loop {
            let now = Utc::now();
            let lease = Lease {
                order_id,
                key: key.map(str::to_owned),
                expires_at: now + chrono::Duration::from_std(self.lease).unwrap_or_default(),
            };
            let Some(holder) = self.store.claim_checkout(user, &lease, now).await? else {
                let claim = Claim {
                    store: self.store.clone(),
                    user,
                    order_id,
                    released: false,
                };
                // The checkout with this key may have finished just before the claim.
                if let Some(key) = key
                    && let Some(earlier) = self.store.by_key(user, key).await?
                {
                    claim.release().await;
                    return Ok(Claimed::Replayed(self.replay(earlier, fingerprint).await?));
                }
                return Ok(Claimed::Mine(claim));
            };
            // Held by another checkout: this one's key may name an order placed earlier.
            if let Some(key) = key
                && let Some(earlier) = self.store.by_key(user, key).await?
            {
                return Ok(Claimed::Replayed(self.replay(earlier, fingerprint).await?));
            }
            if key.is_none() || holder.key.as_deref() != key || Instant::now() >= give_up {
                return Err(Error::CheckoutInProgress);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
