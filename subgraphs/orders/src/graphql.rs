//! The orders subgraph: `Order @key(fields: "id")` with lines referencing `Product`, contributes
//! `User.orders(first, after)`; `order(id)`; `placeOrder`, `updateOrderStatus`, `cancelOrder`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject};
use auth::Viewer;
use chrono::{DateTime, Utc};
use contracts::money::Decimal;
use subgraph::Batcher;
use subgraph::graphql::ProductRef;
use uuid::Uuid;
use web::ApiError;
use web::pagination::{Page, encode_cursor};

use crate::checkout::Checkout;
use crate::domain::{
    CheckoutRequest, IdempotencyKey, Order, OrderLine, OrderStatus, PaymentMethod, ShippingAddress,
};
use crate::error::Error;

pub type OrdersSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(checkout: Arc<Checkout>) -> OrdersSchema {
    subgraph::graphql::subgraph(Schema::build(Query, Mutation, EmptySubscription))
        .data(checkout)
        .finish()
}

#[derive(SimpleObject)]
pub struct ShippingAddressObject {
    street: String,
    city: String,
    postal_code: String,
    country: String,
}

/// An order, with the prices of the moment it was placed.
pub struct OrderObject(Order);

#[Object(name = "Order")]
impl OrderObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn status(&self) -> OrderStatus {
        self.0.status
    }

    async fn items(&self) -> Vec<OrderLineObject<'_>> {
        self.0.lines.iter().map(OrderLineObject).collect()
    }

    async fn total(&self) -> Decimal {
        Decimal(self.0.total_minor)
    }

    /// ISO 4217 code of every price of the order.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    async fn shipping_address(&self) -> ShippingAddressObject {
        let a = &self.0.shipping_address;
        ShippingAddressObject {
            street: a.street.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }

    async fn payment_method(&self) -> &str {
        self.0.payment_method.as_str()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct OrderLineObject<'a>(&'a OrderLine);

#[Object(name = "OrderLine")]
impl OrderLineObject<'_> {
    async fn product(&self) -> ProductRef {
        ProductRef::of(self.0.product_id)
    }

    /// The product's name when it was bought.
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    async fn unit_price(&self) -> Decimal {
        Decimal(self.0.unit_price_minor)
    }

    async fn line_total(&self) -> Decimal {
        Decimal(self.0.total_minor())
    }
}

#[derive(SimpleObject)]
pub struct OrderListInfo {
    /// How many orders the user has in all.
    total_count: u64,
}

type OrderConnection = Connection<String, OrderObject, OrderListInfo, EmptyFields>;

/// The users subgraph's `User`, to which this subgraph adds `orders`.
pub struct UserRef(Uuid);

#[Object(name = "User")]
impl UserRef {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }

    /// The user's orders, newest first (`first` at most 100): yours, or anyone's for an
    /// admin; null otherwise.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<OrderConnection>> {
        ctx.data::<Viewer>()?.require()?;
        let page = Page::from_connection(first, after.as_deref())?;
        let loader = ctx.data::<Batcher<(Uuid, Page), UserOrdersLoader>>()?;
        let Some((orders, total)) = loader.load_one((self.0, page)).await? else {
            return Ok(None);
        };
        let shown = page.offset + orders.len() as u64;
        let mut connection = Connection::with_additional_fields(
            page.offset > 0,
            shown < total,
            OrderListInfo { total_count: total },
        );
        connection.edges.extend(
            orders
                .into_iter()
                .enumerate()
                .map(|(i, o)| Edge::new(encode_cursor(page.offset + i as u64), OrderObject(o))),
        );
        Ok(Some(connection))
    }
}

/// Batches one request's `Order` entities into one store query (each order once, however
/// often the request names it).
pub struct OrderLoader {
    pub(crate) checkout: Arc<Checkout>,
    pub(crate) viewer: Viewer,
}

impl Loader<Uuid> for OrderLoader {
    type Value = Order;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Order>, ApiError> {
        let found = self.checkout.visible(self.viewer.0, keys).await?;
        Ok(found.into_iter().map(|o| (o.id, o)).collect())
    }
}

/// One request's `User.orders` pages: each (user, page) read once, however many
/// representations of the same user the request holds. Users the caller may not see are left
/// out (their `orders` is null).
pub struct UserOrdersLoader {
    pub(crate) checkout: Arc<Checkout>,
    pub(crate) viewer: Viewer,
}

impl Loader<(Uuid, Page)> for UserOrdersLoader {
    type Value = (Vec<Order>, u64);
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(Uuid, Page)],
    ) -> Result<HashMap<(Uuid, Page), (Vec<Order>, u64)>, ApiError> {
        let Some(caller) = self.viewer.0 else {
            return Ok(HashMap::new());
        };
        let mut pages = HashMap::with_capacity(keys.len());
        for &(user, page) in keys {
            match self.checkout.for_user(&caller, user, page).await {
                Ok(found) => {
                    pages.insert((user, page), found);
                }
                Err(Error::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(pages)
    }
}

#[derive(InputObject)]
pub struct ShippingAddressInput {
    street: String,
    city: String,
    postal_code: String,
    country: String,
}

#[derive(InputObject)]
pub struct PlaceOrderInput {
    shipping_address: ShippingAddressInput,
    /// `credit_card`, `debit_card`, `paypal` or `bank_transfer`.
    payment_method: String,
    /// The same key with the same input returns the first order instead of placing another.
    idempotency_key: Option<String>,
    /// Whose cart to check out (admins only; yours by default).
    user_id: Option<ID>,
}

fn order_id(id: &ID) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::NotFound)
}

pub struct Query;

#[Object]
impl Query {
    /// An order: yours, or any for an admin; null otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<OrderObject>> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let Ok(id) = order_id(&id) else {
            return Ok(None);
        };
        match ctx.data::<Arc<Checkout>>()?.get(&caller, id).await {
            Ok(order) => Ok(Some(OrderObject(order))),
            Err(Error::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Federation entity resolver for `Order`: null for orders the caller may not see.
    #[graphql(entity)]
    async fn find_order_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrderObject>> {
        let Ok(id) = order_id(&id) else {
            return Ok(None);
        };
        let loader = ctx.data::<Batcher<Uuid, OrderLoader>>()?;
        Ok(loader.load_one(id).await?.map(OrderObject))
    }

    /// Federation entity resolver for `User`: `orders` is resolved (and authorized) on it.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<UserRef> {
        Uuid::parse_str(&id).ok().map(UserRef)
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Places an order for everything in the cart (an expensive mutation: one per request).
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> async_graphql::Result<OrderObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let user_id = match &input.user_id {
            None => caller.user_id,
            Some(id) => Uuid::parse_str(id).map_err(|_| Error::NotFound)?,
        };
        let a = &input.shipping_address;
        let request = CheckoutRequest {
            user_id,
            shipping_address: ShippingAddress::parse(
                &a.street,
                &a.city,
                &a.postal_code,
                &a.country,
            )
            .map_err(Error::from)?,
            payment_method: PaymentMethod::parse(&input.payment_method).map_err(Error::from)?,
            idempotency_key: input
                .idempotency_key
                .as_deref()
                .map(IdempotencyKey::parse)
                .transpose()
                .map_err(Error::from)?,
        };
        let placed = ctx.data::<Arc<Checkout>>()?.place(&caller, request).await?;
        Ok(OrderObject(placed.order))
    }

    /// Admins: moves an order along pending → paid → shipped → delivered, or cancels it.
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: OrderStatus,
    ) -> async_graphql::Result<OrderObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let order = ctx
            .data::<Arc<Checkout>>()?
            .change_status(&caller, order_id(&id)?, status)
            .await?;
        Ok(OrderObject(order))
    }

    /// Cancels your pending order (admins: any pending or paid one); its stock is returned.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let order = ctx
            .data::<Arc<Checkout>>()?
            .change_status(&caller, order_id(&id)?, OrderStatus::Cancelled)
            .await?;
        Ok(OrderObject(order))
    }
}
