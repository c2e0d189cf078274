//! Steps 1 to 5 of a checkout, holding the user's claim: read the cart and the user, reserve the
//! stock at products (which prices it), store the order, then settle it.

use auth::Caller;
use chrono::Utc;
use peers::PeerError;
use peers::products::{ReservationView, ReserveItem, ReserveRequest};
use uuid::Uuid;
use web::ErrorCode;

use super::claim::Claimed;
use super::{Checkout, Placed, failpoint};
use crate::domain::{CheckoutRequest, Order, OrderLine, OrderStatus, StockState};
use crate::error::Error;

impl Checkout {
    /// Places an order for everything in the user's cart.
    #[tracing::instrument(skip_all, fields(user = %request.user_id))]
    pub async fn place(&self, caller: &Caller, request: CheckoutRequest) -> Result<Placed, Error> {
        let user = request.user_id;
        if !caller.can_act_for(user) {
            // Another user's id answers as one that does not exist (DESIGN.md), and names the
            // user: this is a checkout, there is no order yet to be "not found".
            return Err(Error::UserNotFound(user));
        }
        let fingerprint = request.fingerprint();
        let key = request
            .idempotency_key
            .as_ref()
            .map(|k| k.as_str().to_owned());
        // Claimed first, then looked up by key: a new checkout (the usual case) costs one
        // lookup, not one before the claim and one after.
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
        failpoint!(self, Reserved);

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
        failpoint!(self, Stored);
        let order = self.settle(order).await?;
        placed(order, true)
    }

    /// An earlier checkout with the same key: the answer it had, if the request was the same.
    /// An order placed then is returned (whatever became of it since); one still unconfirmed,
    /// or whose checkout failed, answers as its checkout did.
    pub(super) async fn replay(&self, earlier: Order, fingerprint: &str) -> Result<Placed, Error> {
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
