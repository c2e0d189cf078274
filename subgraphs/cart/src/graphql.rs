//! The cart subgraph: contributes `User.cart`; `Cart { items { product quantity lineTotal }
//! itemCount subtotal }` with `product` a reference to the products subgraph's `Product`;
//! `cart`, and the mutations `addToCart`, `updateCartItem`, `removeFromCart`, `clearCart`. Each
//! acts on the caller's own cart unless an admin names another `userId`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, EmptySubscription, ID, Object, Schema};
use auth::{Caller, Viewer};
use contracts::money::Decimal;
use subgraph::Batcher;
use subgraph::graphql::ProductRef;
use uuid::Uuid;
use web::ApiError;

use crate::carts::Carts;
use crate::domain::{PricedCart, PricedItem};
use crate::error::Error;

pub type CartSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(carts: Arc<Carts>) -> CartSchema {
    subgraph::graphql::subgraph(Schema::build(Query, Mutation, EmptySubscription))
        .data(carts)
        .finish()
}

/// A user's cart at current prices.
pub struct CartObject(PricedCart);

#[Object(name = "Cart")]
impl CartObject {
    async fn items(&self) -> Vec<CartItemObject<'_>> {
        self.0.items.iter().map(CartItemObject).collect()
    }

    /// Units in the cart.
    async fn item_count(&self) -> i64 {
        self.0.item_count()
    }

    /// What the lines that can still be bought cost now.
    async fn subtotal(&self) -> Decimal {
        Decimal(self.0.subtotal_minor())
    }

    /// ISO 4217 code of the subtotal; null for an empty cart.
    async fn currency(&self) -> Option<&str> {
        self.0.currency()
    }
}

pub struct CartItemObject<'a>(&'a PricedItem);

#[Object(name = "CartItem")]
impl CartItemObject<'_> {
    async fn product(&self) -> ProductRef {
        ProductRef::of(self.0.product_id)
    }

    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// The current unit price; null when the product can no longer be bought.
    async fn unit_price(&self) -> Option<Decimal> {
        self.0.product.as_ref().map(|p| Decimal(p.price.0))
    }

    /// Unit price times quantity; null when the product can no longer be bought.
    async fn line_total(&self) -> Option<Decimal> {
        self.0.line_total_minor().map(Decimal)
    }

    /// Whether the product can still be bought.
    async fn available(&self) -> bool {
        self.0.product.is_some()
    }
}

/// The users subgraph's `User`, to which this subgraph adds `cart`.
pub struct UserRef(Uuid);

#[Object(name = "User")]
impl UserRef {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }

    /// The user's cart: yours, or anyone's for an admin; null otherwise.
    async fn cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CartObject>> {
        ctx.data::<Viewer>()?.require()?;
        let loader = ctx.data::<Batcher<Uuid, CartLoader>>()?;
        Ok(loader.load_one(self.0).await?.map(CartObject))
    }
}

/// Batches the carts of one request's `User` entities: each user's cart read once however
/// often the request names them, and one products call for all their lines.
pub struct CartLoader {
    pub(crate) carts: Arc<Carts>,
    pub(crate) viewer: Viewer,
}

impl Loader<Uuid> for CartLoader {
    type Value = PricedCart;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, PricedCart>, ApiError> {
        Ok(self.carts.view_many(self.viewer.0, keys).await?)
    }
}

/// The caller, and whose cart they name (their own when `user_id` is absent).
fn target(ctx: &Context<'_>, user_id: Option<ID>) -> async_graphql::Result<(Caller, Uuid)> {
    let caller = ctx.data::<Viewer>()?.require()?;
    let user = match user_id {
        None => caller.user_id,
        Some(id) => Uuid::parse_str(&id).map_err(|_| Error::NotFound)?,
    };
    Ok((caller, user))
}

fn product_id(id: &ID) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| {
        web::Invalid(format!("productId {:?} is not a product id", id.as_str())).into()
    })
}

pub struct Query;

#[Object]
impl Query {
    /// Your cart, or (for an admin) another user's.
    async fn cart(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> async_graphql::Result<Option<CartObject>> {
        let (caller, user) = target(ctx, user_id)?;
        match ctx.data::<Arc<Carts>>()?.view(&caller, user).await {
            Ok(cart) => Ok(Some(CartObject(cart))),
            Err(Error::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Federation entity resolver: the user's cart is resolved (and authorized) by `cart`.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<UserRef> {
        Uuid::parse_str(&id).ok().map(UserRef)
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds to a product's line (or makes one), after checking the user and the product.
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
        user_id: Option<ID>,
    ) -> async_graphql::Result<CartObject> {
        let (caller, user) = target(ctx, user_id)?;
        let product = self::product_id(&product_id)?;
        let cart = ctx
            .data::<Arc<Carts>>()?
            .add(&caller, user, product, i64::from(quantity))
            .await?;
        Ok(CartObject(cart))
    }

    /// Sets how many of a product the cart holds.
    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        quantity: i32,
        user_id: Option<ID>,
    ) -> async_graphql::Result<CartObject> {
        let (caller, user) = target(ctx, user_id)?;
        let product = self::product_id(&product_id)?;
        let cart = ctx
            .data::<Arc<Carts>>()?
            .set_quantity(&caller, user, product, i64::from(quantity))
            .await?;
        Ok(CartObject(cart))
    }

    async fn remove_from_cart(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        user_id: Option<ID>,
    ) -> async_graphql::Result<CartObject> {
        let (caller, user) = target(ctx, user_id)?;
        let product = self::product_id(&product_id)?;
        let cart = ctx
            .data::<Arc<Carts>>()?
            .remove(&caller, user, product)
            .await?;
        Ok(CartObject(cart))
    }

    async fn clear_cart(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> async_graphql::Result<CartObject> {
        let (caller, user) = target(ctx, user_id)?;
        let cart = ctx.data::<Arc<Carts>>()?.clear(&caller, user).await?;
        Ok(CartObject(cart))
    }
}
