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

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use auth::Caller;
use web::pagination::Page;
use peers::PeerError;
use peers::cart::{CartClient, CartLine, OrderTaken};
use peers::products::{
    Confirmation, ProductsClient, Release, ReservationView, ReserveItem, ReserveRequest,
};
use peers::users::UsersClient;
use uuid::Uuid;
use web::ErrorCode;

use crate::domain::{CheckoutRequest, Lease, Order, OrderLine, OrderStatus, StockState};
use crate::error::Error;
use crate::store::OrderStore;

/// Points of a checkout where a test can make the process "die": the checkout stops there,
/// cleaning up nothing, as a killed process would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Stock reserved, order not yet stored.
    Reserved,
    /// Order stored, stock not yet confirmed.
    Stored,
}

/// Decides whether to die at a step (tests only; production has none).
pub type Crash = Arc<dyn Fn(Step) -> bool + Send + Sync>;

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
    crash: Option<Crash>,
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

/// How long a retry waits for the checkout with its Idempotency-Key to finish.
const SAME_KEY_WAIT: Duration = Duration::from_secs(5);

/// A claim on a user's checkout. Released explicitly when the checkout ends; if the checkout's
/// future is dropped instead (a request timeout, a closed connection), releasing is spawned.
struct Claim {
    store: Arc<dyn OrderStore>,
    user: Uuid,
    order_id: Uuid,
    released: bool,
}

impl Claim {
    async fn release(mut self) {
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
enum Claimed {
    Mine(Claim),
    /// The checkout with the same key finished meanwhile: its order.
    Replayed(Placed),
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
            crash: None,
        }
    }

    /// The same, with checkout claims that expire after `lease` (see [`DEFAULT_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same, dying at the steps `crash` names (for tests).
    pub fn with_crash(mut self, crash: Crash) -> Self {
        self.crash = Some(crash);
        self
    }

    pub async fn ping(&self) -> Result<(), storage::StoreError> {
        self.store.ping().await
    }

    fn dies_at(&self, step: Step) -> bool {
        self.crash.as_ref().is_some_and(|crash| crash(step))
    }

    /// Places an order for everything in the user's cart.
    #[tracing::instrument(skip_all, fields(user = %request.user_id))]
    pub async fn place(&self, caller: &Caller, request: CheckoutRequest) -> Result<Placed, Error> {
        let user = request.user_id;
        if !caller.can_act_for(user) {
            return Err(Error::NotFound);
        }
        let fingerprint = request.fingerprint();
        let key = request
            .idempotency_key
            .as_ref()
            .map(|k| k.as_str().to_owned());
        if let Some(key) = &key
            && let Some(earlier) = self.store.by_key(user, key).await?
        {
            return self.replay(earlier, &fingerprint).await;
        }
        let order_id = Uuid::now_v7();
        let claim = match self
            .claim(user, order_id, key.as_deref(), &fingerprint)
            .await?
        {
            Claimed::Mine(claim) => claim,
            Claimed::Replayed(placed) => return Ok(placed),
        };
        let placed = self
            .place_claimed(&request, order_id, key, fingerprint)
            .await;
        claim.release().await;
        placed
    }

    /// Claims `user`'s checkout for order `order_id`. Another checkout holding it refuses this
    /// one, unless it has the same Idempotency-Key: then this waits for it and returns its order.
    async fn claim(
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
            if key.is_none() || holder.key.as_deref() != key || Instant::now() >= give_up {
                return Err(Error::CheckoutInProgress);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Steps 0 (the earlier orders) to 5, holding the user's checkout claim.
    async fn place_claimed(
        &self,
        request: &CheckoutRequest,
        order_id: Uuid,
        key: Option<String>,
        fingerprint: String,
    ) -> Result<Placed, Error> {
        let user = request.user_id;
        // An earlier order whose items are still in the cart would be bought again.
        for earlier in self.store.unsettled(Utc::now(), Some(user), 20).await? {
            let earlier = self.settle(earlier).await?;
            if earlier.status != OrderStatus::Cancelled && !earlier.cart_done {
                return Err(Error::PreviousUnfinished);
            }
        }
        if self.peers.users.user(user).await?.is_none() {
            return Err(Error::UserNotFound(user));
        }
        let cart = self.peers.cart.contents(user).await?;
        if cart.items.is_empty() {
            return Err(Error::EmptyCart);
        }

        let reservation = self
            .peers
            .products
            .reserve(&ReserveRequest {
                order_id,
                items: cart
                    .items
                    .iter()
                    .map(|i| ReserveItem {
                        product_id: i.product_id,
                        quantity: i64::from(i.quantity),
                    })
                    .collect(),
                hold_seconds: i64::try_from(self.hold.as_secs()).ok(),
            })
            .await
            .map_err(refused_reservation)?;
        if self.dies_at(Step::Reserved) {
            return Err(Error::Interrupted);
        }

        let now = storage::mongo::millis(Utc::now());
        let order = match order_from(
            order_id,
            request,
            fingerprint.clone(),
            key.clone(),
            &reservation,
            cart.version,
            now,
        ) {
            Ok(order) => order,
            Err(err) => {
                self.release_quietly(order_id).await;
                return Err(err);
            }
        };
        match self.store.insert(&order).await {
            Ok(()) => {}
            // The same key, stored by a concurrent retry: that one wins, this one steps back.
            Err(storage::StoreError::Conflict(_)) if key.is_some() => {
                self.release_quietly(order_id).await;
                let key = key.unwrap_or_default();
                let winner = self.store.by_key(user, &key).await?.ok_or(Error::Conflict(
                    "a concurrent checkout with this Idempotency-Key failed; try again".into(),
                ))?;
                return self.replay(winner, &fingerprint).await;
            }
            Err(err) => {
                self.release_quietly(order_id).await;
                return Err(err.into());
            }
        }
        tracing::info!(order_id = %order.id, total_minor = order.total_minor, "order stored");
        if self.dies_at(Step::Stored) {
            return Err(Error::Interrupted);
        }
        let order = self.settle(order).await?;
        placed(order, true)
    }

    /// An earlier checkout with the same key: the answer it had, if the request was the same.
    /// An order placed then is returned (whatever became of it since); one still unconfirmed,
    /// or whose checkout failed, answers as its checkout did.
    async fn replay(&self, earlier: Order, fingerprint: &str) -> Result<Placed, Error> {
        if earlier.fingerprint != fingerprint {
            return Err(Error::KeyReused);
        }
        let order = self.settle(earlier).await?;
        placed(order, false)
    }

    /// Releases a reservation after a failed checkout; if products cannot be reached, its
    /// hold expires on its own.
    async fn release_quietly(&self, order_id: Uuid) {
        if let Err(err) = self.peers.products.release(order_id).await {
            tracing::warn!(%order_id, error = %err, "could not release the reservation; its hold will expire");
        }
    }

    /// Does whatever step the order still owes to products and cart; the order as it stands
    /// after. Safe to run any number of times, anywhere, at once.
    pub async fn settle(&self, order: Order) -> Result<Order, Error> {
        let id = order.id;
        if order.status == OrderStatus::Cancelled {
            if !order.stock.is_back() {
                // `Unknown`: products never reserved for the order, so nothing is held. Any other
                // answer, a 404 for a route products does not serve included, changes nothing.
                match self.peers.products.release(id).await {
                    Ok(Release::Released(_) | Release::Unknown) => {
                        self.store
                            .record_stock(
                                id,
                                &[StockState::Held, StockState::Confirmed],
                                StockState::Released,
                            )
                            .await?;
                    }
                    Err(err) => tracing::warn!(order_id = %id, error = %err, "release pending"),
                }
            }
        } else if order.stock == StockState::Held {
            match self.peers.products.confirm(id).await {
                Ok(Confirmation::Confirmed(_)) => {
                    self.store
                        .record_stock(id, &[StockState::Held], StockState::Confirmed)
                        .await?;
                }
                // Released (the hold expired before the order could confirm it) or never
                // reserved, as products says in so many words: the order has no stock, so it is
                // cancelled. Anything else leaves it pending, its stock held, for the reconciler.
                Ok(Confirmation::Released | Confirmation::Unknown) => {
                    self.cancel_stockless(id).await?
                }
                Err(err) => tracing::warn!(order_id = %id, error = %err, "confirmation pending"),
            }
        }
        let current = self.store.get(id).await?.ok_or(Error::NotFound)?;
        if current.status != OrderStatus::Cancelled
            && current.stock == StockState::Confirmed
            && !current.cart_done
        {
            let taken = OrderTaken {
                order_id: id,
                version: current.cart_version,
                items: current
                    .lines
                    .iter()
                    .map(|l| CartLine {
                        product_id: l.product_id,
                        quantity: l.quantity,
                    })
                    .collect(),
            };
            match self.peers.cart.take_ordered(current.user_id, &taken).await {
                Ok(()) => self.store.record_cart_done(id).await?,
                Err(err) => {
                    tracing::warn!(order_id = %id, error = %err, "taking the order out of the cart pending")
                }
            }
            return Ok(self.store.get(id).await?.ok_or(Error::NotFound)?);
        }
        Ok(current)
    }

    /// Cancels an order whose stock products no longer holds (its hold expired first). Such an
    /// order is pending: it cannot move on before its stock is confirmed.
    async fn cancel_stockless(&self, id: Uuid) -> Result<(), Error> {
        tracing::warn!(order_id = %id, "the order's stock hold expired; cancelling it");
        for from in [OrderStatus::Pending, OrderStatus::Paid] {
            self.store
                .transition(id, from, OrderStatus::Cancelled)
                .await?;
        }
        let order = self.store.get(id).await?.ok_or(Error::NotFound)?;
        if order.status == OrderStatus::Cancelled {
            self.store
                .record_stock(id, &[StockState::Held], StockState::Expired)
                .await?;
        } else {
            tracing::error!(order_id = %id, status = order.status.as_str(), "an order past pending has no stock; it needs an admin");
        }
        Ok(())
    }

    /// Settles every order older than `grace` that still owes a step; how many it looked at.
    pub async fn reconcile(&self, grace: Duration) -> Result<usize, Error> {
        let before = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let owing = self.store.unsettled(before, None, 100).await?;
        let count = owing.len();
        for order in owing {
            self.settle(order).await?;
        }
        Ok(count)
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

/// A checkout's answer once its order is settled as far as it can be.
fn placed(order: Order, created: bool) -> Result<Placed, Error> {
    match (order.status, order.stock) {
        (_, StockState::Expired) => Err(Error::Conflict(
            "the checkout took too long and its stock was returned; check out again (with a new Idempotency-Key)".into(),
        )),
        // Cancelled by someone since it was placed: it was placed.
        (OrderStatus::Cancelled, _) => Ok(Placed { order, created }),
        // products could not be reached to confirm: the reconciler will, or will cancel.
        (_, StockState::Held) => Err(Error::Unfinished),
        _ => Ok(Placed { order, created }),
    }
}

/// A reservation refused by products, as the checkout's own error.
fn refused_reservation(err: PeerError) -> Error {
    let PeerError::Refused { code, message, .. } = &err else {
        return err.into();
    };
    match code {
        ErrorCode::InsufficientStock => Error::InsufficientStock(message.clone()),
        ErrorCode::ValidationFailed => web::Invalid(message.clone()).into(),
        // A product gone or no longer sold, or the order id's reservation released.
        ErrorCode::Conflict | ErrorCode::NotFound | ErrorCode::ReservationReleased => {
            Error::Conflict(message.clone())
        }
        _ => err.into(),
    }
}

/// The order a reservation makes, priced by products.
fn order_from(
    id: Uuid,
    request: &CheckoutRequest,
    fingerprint: String,
    key: Option<String>,
    reservation: &ReservationView,
    cart_version: i64,
    now: chrono::DateTime<Utc>,
) -> Result<Order, Error> {
    let lines: Vec<OrderLine> = reservation
        .lines
        .iter()
        .map(|l| OrderLine {
            product_id: l.product_id,
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price_minor: l.unit_price.0,
            currency: l.currency.clone(),
        })
        .collect();
    let currency = lines
        .first()
        .map(|l| l.currency.clone())
        .unwrap_or_default();
    if lines.iter().any(|l| l.currency != currency) {
        return Err(Error::Conflict(
            "the cart holds products priced in different currencies".into(),
        ));
    }
    let total_minor = lines.iter().map(OrderLine::total_minor).sum();
    Ok(Order {
        id,
        user_id: request.user_id,
        status: OrderStatus::Pending,
        lines,
        total_minor,
        currency,
        shipping_address: request.shipping_address.clone(),
        payment_method: request.payment_method,
        idempotency_key: key,
        fingerprint,
        stock: StockState::Held,
        cart_version,
        cart_done: false,
        created_at: now,
        updated_at: now,
    })
}

/// Settles unsettled orders every `every`, until the process ends.
pub fn spawn_reconciler(checkout: Arc<Checkout>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = checkout.reconcile(every).await {
                tracing::warn!(error = %web::ApiError::from(err), "reconciling orders failed");
            }
        }
    })
}
