//! Whatever an order still owes products and cart after its checkout: confirming or releasing its
//! stock, taking what it bought out of the cart. Safe to run any number of times, anywhere, at
//! once; the reconciler runs it for every order that owes a step.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use peers::cart::{CartLine, OrderTaken};
use peers::products::{Confirmation, Release};
use uuid::Uuid;

use super::Checkout;
use crate::domain::{Order, OrderStatus, StockState};
use crate::error::Error;

impl Checkout {
    /// Does whatever step the order still owes to products and cart; the order as it stands
    /// after. Safe to run any number of times, anywhere, at once: every write is conditional,
    /// and returns the row it changed, so nothing is read back.
    pub async fn settle(&self, order: Order) -> Result<Order, Error> {
        let id = order.id;
        let mut current = order;
        if current.status == OrderStatus::Cancelled {
            if !current.stock.is_back() {
                // `Unknown`: products never reserved for the order, so nothing is held. Any other
                // answer, a 404 for a route products does not serve included, changes nothing.
                match self.peers.products.release(id).await {
                    Ok(Release::Released(_) | Release::Unknown) => {
                        let back = [StockState::Held, StockState::Confirmed];
                        let written = self
                            .store
                            .record_stock(&current, &back, StockState::Released)
                            .await?;
                        current = self.as_written(written, id).await?;
                    }
                    Err(err) => tracing::warn!(order_id = %id, error = %err, "release pending"),
                }
            }
        } else if current.stock == StockState::Held {
            match self.peers.products.confirm(id).await {
                Ok(Confirmation::Confirmed(_)) => {
                    let written = self
                        .store
                        .record_stock(&current, &[StockState::Held], StockState::Confirmed)
                        .await?;
                    current = self.as_written(written, id).await?;
                }
                // Released (the hold expired before the order could confirm it) or never
                // reserved, as products says in so many words: the order has no stock, so it is
                // cancelled. Anything else leaves it pending, its stock held, for the reconciler.
                Ok(Confirmation::Released | Confirmation::Unknown) => {
                    current = self.cancel_stockless(current).await?;
                }
                Err(err) => tracing::warn!(order_id = %id, error = %err, "confirmation pending"),
            }
        }
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
                Ok(()) => {
                    current = self
                        .store
                        .record_cart_done(&current)
                        .await?
                        .ok_or(Error::NotFound)?;
                }
                Err(err) => {
                    tracing::warn!(order_id = %id, error = %err, "taking the order out of the cart pending")
                }
            }
        }
        Ok(current)
    }

    /// The order a conditional write left: the row it changed, or, when another writer changed
    /// the order first, the order as it is now.
    async fn as_written(&self, written: Option<Order>, id: Uuid) -> Result<Order, Error> {
        match written {
            Some(order) => Ok(order),
            None => self.store.get(id).await?.ok_or(Error::NotFound),
        }
    }

    /// Cancels an order whose stock products no longer holds (its hold expired first). Such an
    /// order is pending: it cannot move on before its stock is confirmed.
    async fn cancel_stockless(&self, order: Order) -> Result<Order, Error> {
        let id = order.id;
        tracing::warn!(order_id = %id, "the order's stock hold expired; cancelling it");
        let mut cancelled = None;
        for from in [OrderStatus::Pending, OrderStatus::Paid] {
            cancelled = self
                .store
                .transition(id, from, OrderStatus::Cancelled)
                .await?;
            if cancelled.is_some() {
                break;
            }
        }
        let order = self.as_written(cancelled, id).await?;
        if order.status != OrderStatus::Cancelled {
            tracing::error!(order_id = %id, status = order.status.as_str(), "an order past pending has no stock; it needs an admin");
            return Ok(order);
        }
        let written = self
            .store
            .record_stock(&order, &[StockState::Held], StockState::Expired)
            .await?;
        self.as_written(written, id).await
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
}

/// Settles unsettled orders every `every`, for as long as it runs.
pub async fn reconciler(checkout: Arc<Checkout>, every: Duration) {
    web::every(every, || async {
        if let Err(err) = checkout.reconcile(every).await {
            tracing::warn!(error = %web::ApiError::from(err), "reconciling orders failed");
        }
    })
    .await
}
