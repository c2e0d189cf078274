//! What the orders service does, whatever the transport, and who may do it: REST and GraphQL
//! call this and never the store. An order is its owner's (another user's answers 404); admins
//! see every order and change statuses; a customer may cancel their own pending order.
//!
//! Checkout, across services that share no transaction:
//! 0. the user's checkout is claimed (one at a time per user, so two requests never buy the
//!    same cart twice), and any earlier order still owing its cart step finishes it;
//! 1. the cart is read (cart service) and the user checked (users service);
//! 2. all its stock is reserved in one call to products, which prices every line: the prices
//!    are products', never the client's. The reservation is *held* with an expiry;
//! 3. the order is stored `pending`, its stock `held`;
//! 4. the reservation is confirmed: the order owns its stock;
//! 5. what the order bought is taken out of the cart (all of it, unless the cart changed
//!    meanwhile; then what was added stays);
//! 6. the claim ends.
//!
//! Whatever fails after 2 releases the reservation. If the process dies between 2 and 3,
//! products returns the stock itself when the hold expires; if it dies after 3, the reconciler
//! ([`Checkout::reconcile`], every few seconds in every replica) finishes 4 and 5, or, when the
//! hold expired first, cancels the order. So at every quiet moment each product's stock on
//! hand + held + sold equals its initial stock plus adjustments, and no order lacks its stock.
//! An `Idempotency-Key` makes a retried checkout return the first one's order; a retry that
//! arrives while the first is still running waits for it. An order moves past `pending` only
//! once its stock is confirmed.
//!
//! This module is the façade; the saga's steps are in `claim` (0 and 6), `place` (1 to 3) and
//! `settle` (4 and 5, whoever runs them: the checkout itself, a retry, or the reconciler).

use std::sync::Arc;
use std::time::Duration;

use auth::Caller;
use peers::cart::CartClient;
use peers::products::ProductsClient;
use peers::users::UsersClient;
use uuid::Uuid;
use web::pagination::Page;

use crate::domain::{Order, OrderStatus, StockState};
use crate::error::Error;
use crate::store::OrderStore;

mod claim;
mod place;
mod settle;

pub use settle::reconciler;

/// Failpoints: where a test can make a checkout "die", stopping there and cleaning up nothing,
/// as a killed process would. Compiled only with the `failpoints` feature, which the tests
/// enable; a build without it has no such hook. Per checkout rather than process-wide (the
/// `fail` crate's registry), so tests running at once do not trip each other's.
#[cfg(feature = "failpoints")]
pub mod failpoints {
    use std::sync::Arc;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Step {
        /// Stock reserved, order not yet stored.
        Reserved,
        /// Order stored, stock not yet confirmed.
        Stored,
    }

    /// Decides whether to die at a step.
    pub type Crash = Arc<dyn Fn(Step) -> bool + Send + Sync>;
}

/// Ends the checkout at failpoint `$step` when the test asked for it (feature `failpoints`;
/// nothing otherwise).
macro_rules! failpoint {
    ($checkout:expr, $step:ident) => {
        #[cfg(feature = "failpoints")]
        if $checkout
            .crash
            .as_ref()
            .is_some_and(|crash| crash(crate::checkout::failpoints::Step::$step))
        {
            return Err(crate::error::Error::Interrupted);
        }
    };
}
use failpoint;

/// The services orders calls.
pub struct Peers {
    pub users: UsersClient,
    pub products: ProductsClient,
    pub cart: CartClient,
}

pub struct Checkout {
    store: Arc<dyn OrderStore>,
    peers: Peers,
    /// How long products holds a checkout's stock before it must be confirmed.
    hold: Duration,
    /// How long a user's checkout claim outlives a process that died holding it.
    lease: Duration,
    #[cfg(feature = "failpoints")]
    crash: Option<failpoints::Crash>,
}

/// The default checkout claim: longer than any request runs (a request's future, the checkout
/// with it, is dropped at `REQUEST_TIMEOUT_SECS`, 15 by default), so a claim expires only when
/// its checkout can no longer place an order.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The claim for requests that time out after `request_timeout`: [`DEFAULT_LEASE`], or longer
/// when requests may run longer.
pub fn lease_for(request_timeout: Duration) -> Duration {
    DEFAULT_LEASE.max(request_timeout + Duration::from_secs(10))
}

/// A placed order, and whether this call placed it (or returned an earlier one by its key).
pub struct Placed {
    pub order: Order,
    pub created: bool,
}
impl Checkout {
    pub fn new(store: Arc<dyn OrderStore>, peers: Peers, hold: Duration) -> Self {
        Self {
            store,
            peers,
            hold,
            lease: DEFAULT_LEASE,
            #[cfg(feature = "failpoints")]
            crash: None,
        }
    }

    /// The same, with checkout claims that expire after `lease` (see [`DEFAULT_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same, dying at the steps `crash` names (for tests).
    #[cfg(feature = "failpoints")]
    pub fn with_crash(mut self, crash: failpoints::Crash) -> Self {
        self.crash = Some(crash);
        self
    }

    pub async fn ping(&self) -> Result<(), storage::StoreError> {
        self.store.ping().await
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Order, Error> {
        let order = self.store.get(id).await?.ok_or(Error::NotFound)?;
        if caller.can_act_for(order.user_id) {
            Ok(order)
        } else {
            Err(Error::NotFound)
        }
    }

    /// The orders among `ids` the caller may see (federation entity lookups).
    pub async fn visible(&self, caller: Option<Caller>, ids: &[Uuid]) -> Result<Vec<Order>, Error> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        let mut found = self.store.get_many(ids).await?;
        found.retain(|order| caller.can_act_for(order.user_id));
        Ok(found)
    }

    /// A user's orders, newest first, and how many there are.
    pub async fn for_user(
        &self,
        caller: &Caller,
        user: Uuid,
        page: Page,
    ) -> Result<(Vec<Order>, u64), Error> {
        if !caller.can_act_for(user) {
            return Err(Error::NotFound);
        }
        Ok(self.store.for_user(user, page).await?)
    }

    /// Moves an order along the transition table: admins any legal step, a customer only to
    /// cancel their own pending order. Conditional on the status the caller saw, so of two
    /// racing changes one wins and the other is a conflict; cancelling restocks exactly once.
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: Uuid,
        to: OrderStatus,
    ) -> Result<Order, Error> {
        let mut order = self.get(caller, id).await?;
        if !caller.is_admin() && to != OrderStatus::Cancelled {
            return Err(web::ApiError::forbidden().into());
        }
        if !order.status.can_become(to) {
            return Err(Error::IllegalTransition {
                from: order.status,
                to,
            });
        }
        if !caller.is_admin() && order.status != OrderStatus::Pending {
            return Err(web::ApiError::forbidden().into());
        }
        if to != OrderStatus::Cancelled && order.stock != StockState::Confirmed {
            // Only an order that owns its stock moves on: confirm it now if products can.
            let seen = order.status;
            order = self.settle(order).await?;
            if order.status != seen {
                return Err(Error::Conflict(format!(
                    "the order changed meanwhile; it is now {}",
                    order.status.as_str()
                )));
            }
            if order.stock != StockState::Confirmed {
                return Err(Error::Conflict(
                    "the order's stock is not confirmed yet; try again shortly".into(),
                ));
            }
        }
        let changed = self
            .store
            .transition(id, order.status, to)
            .await?
            .ok_or(Error::Conflict(format!(
                "the order changed meanwhile; it is no longer {}",
                order.status.as_str()
            )))?;
        tracing::info!(order_id = %id, from = order.status.as_str(), to = to.as_str(), "order status changed");
        if to == OrderStatus::Cancelled {
            return self.settle(changed).await;
        }
        Ok(changed)
    }
}
