//! What the cart service does, whatever the transport, and who may do it: REST and GraphQL call
//! this and never the store. A cart is its owner's: another user's answers 404, an admin may see
//! and change any.

use std::collections::HashMap;
use std::sync::Arc;

use auth::{Caller, ServiceCaller};
use contracts::cart::OrderTaken;
use peers::products::{MAX_LOOKUP, ProductsClient};
use peers::users::UsersClient;
use uuid::Uuid;
use web::Invalid;

use crate::domain::{Cart, MAX_LINES, PricedCart, Quantity};
use crate::error::Error;
use crate::store::{AddOutcome, CartStore};

pub struct Carts {
    store: Arc<dyn CartStore>,
    users: UsersClient,
    products: ProductsClient,
}

impl Carts {
    pub fn new(store: Arc<dyn CartStore>, users: UsersClient, products: ProductsClient) -> Self {
        Self {
            store,
            users,
            products,
        }
    }

    pub async fn ping(&self) -> Result<(), storage::StoreError> {
        self.store.ping().await
    }

    fn authorize(caller: &Caller, user: Uuid) -> Result<(), Error> {
        if caller.can_act_for(user) {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// `cart` at current prices, from one batched products call.
    async fn priced(&self, cart: Cart) -> Result<PricedCart, Error> {
        let products = self.products.lookup(&cart.product_ids()).await?;
        Ok(PricedCart::new(cart, products))
    }

    /// The user's cart at current prices.
    pub async fn view(&self, caller: &Caller, user: Uuid) -> Result<PricedCart, Error> {
        Self::authorize(caller, user)?;
        let cart = self.store.get(user).await?;
        self.priced(cart).await
    }

    /// Adds `quantity` of `product` (to its line, if the cart has one), after checking with the
    /// owning services that the user exists and the product exists, is sold, and has the stock.
    pub async fn add(
        &self,
        caller: &Caller,
        user: Uuid,
        product: Uuid,
        quantity: i64,
    ) -> Result<PricedCart, Error> {
        Self::authorize(caller, user)?;
        let quantity = Quantity::parse(quantity)?;
        self.ensure_user(user).await?;
        let cart = self.store.get(user).await?;
        let wanted = cart.quantity_of(product) + quantity.get();
        self.ensure_available(&cart, product, wanted).await?;
        match self.store.add(user, product, quantity).await? {
            AddOutcome::Added(cart) => {
                tracing::info!(%user, %product, quantity = quantity.get(), "added to cart");
                self.priced(cart).await
            }
            AddOutcome::LineFull { current } => Err(Error::LineFull { current }),
            AddOutcome::CartFull => Err(Error::CartFull),
        }
    }

    /// Sets how many of a product the cart holds.
    pub async fn set_quantity(
        &self,
        caller: &Caller,
        user: Uuid,
        product: Uuid,
        quantity: i64,
    ) -> Result<PricedCart, Error> {
        Self::authorize(caller, user)?;
        let quantity = Quantity::parse(quantity)?;
        let cart = self.store.get(user).await?;
        if cart.quantity_of(product) == 0 {
            return Err(Error::NotInCart(product));
        }
        self.ensure_available(&cart, product, quantity.get())
            .await?;
        let cart = self
            .store
            .set_quantity(user, product, quantity)
            .await?
            .ok_or(Error::NotInCart(product))?;
        self.priced(cart).await
    }

    pub async fn remove(
        &self,
        caller: &Caller,
        user: Uuid,
        product: Uuid,
    ) -> Result<PricedCart, Error> {
        Self::authorize(caller, user)?;
        let cart = self
            .store
            .remove(user, product)
            .await?
            .ok_or(Error::NotInCart(product))?;
        self.priced(cart).await
    }

    pub async fn clear(&self, caller: &Caller, user: Uuid) -> Result<PricedCart, Error> {
        Self::authorize(caller, user)?;
        self.store.clear(user).await?;
        Ok(PricedCart::new(Cart::empty(user), Vec::new()))
    }

    /// For orders, at checkout: the cart as stored.
    pub async fn contents(&self, _service: &ServiceCaller, user: Uuid) -> Result<Cart, Error> {
        Ok(self.store.get(user).await?)
    }

    /// For orders, after checkout: takes what the order bought out of the cart (see
    /// [`CartStore::take_ordered`]).
    pub async fn take_ordered(
        &self,
        _service: &ServiceCaller,
        user: Uuid,
        taken: &OrderTaken,
    ) -> Result<(), Error> {
        let lines = ordered_lines(taken)?;
        Ok(self
            .store
            .take_ordered(user, taken.order_id, taken.version, &lines)
            .await?)
    }

    /// Several users' carts at current prices (federation entity lookups): those the caller
    /// may see, one store read per user and one products call per [`MAX_LOOKUP`] products.
    pub async fn view_many(
        &self,
        caller: Option<Caller>,
        users: &[Uuid],
    ) -> Result<HashMap<Uuid, PricedCart>, Error> {
        let Some(caller) = caller else {
            return Ok(HashMap::new());
        };
        let mut carts = Vec::new();
        for &user in users {
            if caller.can_act_for(user) {
                carts.push(self.store.get(user).await?);
            }
        }
        let mut ids: Vec<Uuid> = carts.iter().flat_map(Cart::product_ids).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut catalog = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_LOOKUP) {
            catalog.extend(
                self.products
                    .lookup(chunk)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p)),
            );
        }
        Ok(carts
            .into_iter()
            .map(|cart| (cart.user_id, PricedCart::from_catalog(cart, &catalog)))
            .collect())
    }

    async fn ensure_user(&self, user: Uuid) -> Result<(), Error> {
        match self.users.user(user).await? {
            Some(_) => Ok(()),
            None => Err(Error::UserNotFound(user)),
        }
    }

    /// The product exists, is sold, has `wanted` in stock, and is priced in the cart's currency.
    async fn ensure_available(&self, cart: &Cart, product: Uuid, wanted: i32) -> Result<(), Error> {
        let mut ids = cart.product_ids();
        if !ids.contains(&product) {
            ids.push(product);
        }
        let summaries = self.products.lookup(&ids).await?;
        let summary = summaries
            .iter()
            .find(|p| p.id == product)
            .ok_or(Error::ProductNotFound(product))?;
        if !summary.active {
            return Err(Error::ProductUnavailable(product));
        }
        if summary.stock < wanted {
            return Err(Error::InsufficientStock {
                product_id: product,
                requested: wanted,
                available: summary.stock,
            });
        }
        let priced = PricedCart::new(cart.clone(), summaries.clone());
        if let Some(cart_currency) = priced.currency()
            && cart.quantity_of(product) == 0
            && cart_currency != summary.currency
        {
            return Err(Error::CurrencyMismatch {
                product_id: product,
                currency: summary.currency.clone(),
                cart_currency: cart_currency.to_owned(),
            });
        }
        Ok(())
    }
}

/// An order's lines as a cart holds them: each product once, 1 to [`crate::domain::MAX_QUANTITY`] of it, at
/// most [`MAX_LINES`] of them (an order is made from a cart).
fn ordered_lines(taken: &OrderTaken) -> Result<Vec<(Uuid, i32)>, Invalid> {
    if taken.items.len() > MAX_LINES {
        return Err(Invalid(format!(
            "an order takes at most {MAX_LINES} lines out of a cart"
        )));
    }
    let mut lines = Vec::with_capacity(taken.items.len());
    for line in &taken.items {
        let quantity = Quantity::parse(i64::from(line.quantity))?;
        if lines.iter().any(|(product, _)| *product == line.product_id) {
            return Err(Invalid(format!(
                "product {} is listed twice",
                line.product_id
            )));
        }
        lines.push((line.product_id, quantity.get()));
    }
    Ok(lines)
}
