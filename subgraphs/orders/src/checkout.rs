//! What the orders service does, whatever the transport, and who may do it: REST and GraphQL
//! call this and never the store. An order is its owner's (another user's answers 404); admins
//! see every order and change statuses; a customer may cancel their own pending order.
//!
//! Checkout, across services that share no transaction:
//! 1. the cart is read (cart service) and the user checked (users service);
//! 2. all its stock is reserved in one call to products, which prices every line: the prices
//!    are products', never the client's. The reservation is *held* with an expiry;
//! 3. the order is stored `pending`, its stock `held`;
//! 4. the reservation is confirmed: the order owns its stock;
//! 5. the cart is emptied, if nothing was added to it meanwhile.
//!
//! Whatever fails after 2 releases the reservation. If the process dies between 2 and 3,
//! products returns the stock itself when the hold expires; if it dies after 3, the reconciler
//! ([`Checkout::reconcile`], every few seconds in every replica) finishes 4 and 5, or, when the
//! hold expired first, cancels the order. So at every quiet moment each product's stock on
//! hand + held + sold equals its initial stock plus adjustments, and no order lacks its stock.
//! An `Idempotency-Key` makes a retried checkout return the first one's order.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kit::auth::Caller;
use kit::pagination::Page;
use kit::peers::PeerError;
use kit::peers::cart::CartClient;
use kit::peers::products::{ProductsClient, ReservationView, ReserveItem, ReserveRequest};
use kit::peers::users::UsersClient;
use uuid::Uuid;

use crate::domain::{CheckoutRequest, Order, OrderLine, OrderStatus, StockState};
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
    crash: Option<Crash>,
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
            crash: None,
        }
    }

    /// The same, dying at the steps `crash` names (for tests).
    pub fn with_crash(mut self, crash: Crash) -> Self {
        self.crash = Some(crash);
        self
    }

    pub async fn ping(&self) -> Result<(), kit::db::StoreError> {
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
        if self.peers.users.user(user).await?.is_none() {
            return Err(Error::UserNotFound(user));
        }
        let cart = self.peers.cart.contents(user).await?;
        if cart.items.is_empty() {
            return Err(Error::EmptyCart);
        }

        let order_id = Uuid::now_v7();
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

        let now = kit::mongo::millis(Utc::now());
        let order = match order_from(
            order_id,
            &request,
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
            Err(kit::db::StoreError::Conflict(_)) if key.is_some() => {
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
        if order.status == OrderStatus::Cancelled {
            return Err(Error::Conflict(
                "the checkout took too long and its stock was returned; try again".into(),
            ));
        }
        if order.stock != StockState::Confirmed {
            // products could not be reached to confirm: the reconciler will, or will cancel.
            return Err(Error::Unfinished);
        }
        Ok(Placed {
            order,
            created: true,
        })
    }

    /// An earlier checkout with the same key: its order, if the request was the same.
    async fn replay(&self, earlier: Order, fingerprint: &str) -> Result<Placed, Error> {
        if earlier.fingerprint != fingerprint {
            return Err(Error::KeyReused);
        }
        let order = self.settle(earlier).await?;
        Ok(Placed {
            order,
            created: false,
        })
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
            if order.stock != StockState::Released {
                match self.peers.products.release(id).await {
                    Ok(_) => {
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
                Ok(Some(_)) => {
                    self.store
                        .record_stock(id, &[StockState::Held], StockState::Confirmed)
                        .await?;
                }
                // Released (the hold expired before the order could confirm it) or unknown:
                // the order has no stock, so it is cancelled.
                Ok(None) => self.cancel_stockless(id).await?,
                Err(PeerError::Refused { code, .. }) if code == "CONFLICT" => {
                    self.cancel_stockless(id).await?;
                }
                Err(err) => tracing::warn!(order_id = %id, error = %err, "confirmation pending"),
            }
        }
        let current = self.store.get(id).await?.ok_or(Error::NotFound)?;
        if current.status != OrderStatus::Cancelled
            && current.stock == StockState::Confirmed
            && !current.cart_done
        {
            match self
                .peers
                .cart
                .clear_if_unchanged(current.user_id, current.cart_version)
                .await
            {
                Ok(_) => self.store.record_cart_done(id).await?,
                Err(err) => {
                    tracing::warn!(order_id = %id, error = %err, "emptying the cart pending")
                }
            }
            return Ok(self.store.get(id).await?.ok_or(Error::NotFound)?);
        }
        Ok(current)
    }

    /// Cancels an order whose stock products no longer holds (its hold expired first).
    async fn cancel_stockless(&self, id: Uuid) -> Result<(), Error> {
        tracing::warn!(order_id = %id, "the order's stock hold expired; cancelling it");
        for from in [OrderStatus::Pending, OrderStatus::Paid] {
            self.store
                .transition(id, from, OrderStatus::Cancelled)
                .await?;
        }
        self.store
            .record_stock(id, &[StockState::Held], StockState::Released)
            .await?;
        Ok(())
    }

    /// Settles every order older than `grace` that still owes a step; how many it looked at.
    pub async fn reconcile(&self, grace: Duration) -> Result<usize, Error> {
        let before = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let owing = self.store.unsettled(before, 100).await?;
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
        let mut found = Vec::new();
        for &id in ids {
            if let Some(order) = self.store.get(id).await?
                && caller.can_act_for(order.user_id)
            {
                found.push(order);
            }
        }
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
        let order = self.get(caller, id).await?;
        if !caller.is_admin() && to != OrderStatus::Cancelled {
            return Err(kit::ApiError::forbidden().into());
        }
        if !order.status.can_become(to) {
            return Err(Error::IllegalTransition {
                from: order.status,
                to,
            });
        }
        if !caller.is_admin() && order.status != OrderStatus::Pending {
            return Err(kit::ApiError::forbidden().into());
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

/// A reservation refused by products, as the checkout's own error.
fn refused_reservation(err: PeerError) -> Error {
    match &err {
        PeerError::Refused { code, message, .. } => match code.as_str() {
            "INSUFFICIENT_STOCK" => Error::InsufficientStock(message.clone()),
            "VALIDATION_FAILED" => kit::Invalid(message.clone()).into(),
            "CONFLICT" | "NOT_FOUND" => Error::Conflict(message.clone()),
            _ => err.into(),
        },
        PeerError::Unavailable { .. } => err.into(),
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
                tracing::warn!(error = %kit::ApiError::from(err), "reconciling orders failed");
            }
        }
    })
}
