//! REST routes: `/api/cart/...` for customers, and the internal routes orders calls at checkout.

use std::sync::Arc;

use auth::{Caller, ServiceCaller};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post, put};
use contracts::cart::{CartContents, CartLine, OrderTaken};
use contracts::money::Amount;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use web::extract::{Json, Path};

use crate::AppState;
use crate::carts::Carts;
use crate::domain::PricedCart;
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cart", post(add))
        .route("/api/cart/{user_id}", get(view).delete(clear))
        .route(
            "/api/cart/{user_id}/items/{product_id}",
            put(set_quantity).delete(remove),
        )
        .route("/internal/carts/{user_id}", get(contents))
        .route("/internal/carts/{user_id}/ordered", post(take_ordered))
}

/// A cart as the API shows it: current prices, line totals and the subtotal of what can be
/// bought (lines whose product is gone or no longer sold say so and count for nothing).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    user_id: Uuid,
    items: Vec<CartItemView>,
    item_count: i64,
    subtotal: Amount,
    currency: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CartItemView {
    product_id: Uuid,
    name: Option<String>,
    price: Option<Amount>,
    quantity: i32,
    line_total: Option<Amount>,
    available: bool,
}

impl From<PricedCart> for CartView {
    fn from(cart: PricedCart) -> Self {
        Self {
            user_id: cart.cart.user_id,
            item_count: cart.item_count(),
            subtotal: Amount(cart.subtotal_minor()),
            currency: cart.currency().map(str::to_owned),
            items: cart
                .items
                .iter()
                .map(|item| CartItemView {
                    product_id: item.product_id,
                    name: item.product.as_ref().map(|p| p.name.clone()),
                    price: item.product.as_ref().map(|p| p.price),
                    quantity: item.quantity,
                    line_total: item.line_total_minor().map(Amount),
                    available: item.product.is_some(),
                })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddBody {
    user_id: Uuid,
    product_id: Uuid,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityBody {
    quantity: i64,
}

async fn add(
    State(carts): State<Arc<Carts>>,
    caller: Caller,
    Json(body): Json<AddBody>,
) -> Result<Json<CartView>, Error> {
    let cart = carts
        .add(&caller, body.user_id, body.product_id, body.quantity)
        .await?;
    Ok(Json(cart.into()))
}

async fn view(
    State(carts): State<Arc<Carts>>,
    caller: Caller,
    Path(user_id): Path<Uuid>,
) -> Result<Json<CartView>, Error> {
    Ok(Json(carts.view(&caller, user_id).await?.into()))
}

async fn set_quantity(
    State(carts): State<Arc<Carts>>,
    caller: Caller,
    Path((user_id, product_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<QuantityBody>,
) -> Result<Json<CartView>, Error> {
    let cart = carts
        .set_quantity(&caller, user_id, product_id, body.quantity)
        .await?;
    Ok(Json(cart.into()))
}

async fn remove(
    State(carts): State<Arc<Carts>>,
    caller: Caller,
    Path((user_id, product_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<CartView>, Error> {
    let cart = carts.remove(&caller, user_id, product_id).await?;
    Ok(Json(cart.into()))
}

async fn clear(
    State(carts): State<Arc<Carts>>,
    caller: Caller,
    Path(user_id): Path<Uuid>,
) -> Result<Json<CartView>, Error> {
    Ok(Json(carts.clear(&caller, user_id).await?.into()))
}

async fn contents(
    State(carts): State<Arc<Carts>>,
    service: ServiceCaller,
    Path(user_id): Path<Uuid>,
) -> Result<Json<CartContents>, Error> {
    let cart = carts.contents(&service, user_id).await?;
    Ok(Json(CartContents {
        user_id,
        version: cart.version,
        items: cart
            .items
            .iter()
            .map(|i| CartLine {
                product_id: i.product_id,
                quantity: i.quantity,
            })
            .collect(),
    }))
}

async fn take_ordered(
    State(carts): State<Arc<Carts>>,
    service: ServiceCaller,
    Path(user_id): Path<Uuid>,
    Json(taken): Json<OrderTaken>,
) -> Result<Json<serde_json::Value>, Error> {
    carts.take_ordered(&service, user_id, &taken).await?;
    Ok(Json(serde_json::json!({ "taken": true })))
}
