//! REST routes: `/api/orders/...`.

use std::sync::Arc;

use auth::Caller;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use contracts::money::Amount;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use web::extract::{Json, Path, Query};
use web::pagination::Page;

use crate::AppState;
use crate::checkout::Checkout;
use crate::domain::{
    CheckoutRequest, IdempotencyKey, Order, OrderStatus, PaymentMethod, ShippingAddress,
};
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/orders", post(place))
        .route("/api/orders/user/{user_id}", get(for_user))
        .route("/api/orders/{order_id}", get(one))
        .route("/api/orders/{order_id}/status", put(change_status))
}

/// An order as the API shows it: prices as they were at checkout.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    id: Uuid,
    user_id: Uuid,
    status: &'static str,
    items: Vec<OrderLineView>,
    total: Amount,
    currency: String,
    shipping_address: AddressView,
    payment_method: &'static str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderLineView {
    product_id: Uuid,
    name: String,
    quantity: i32,
    unit_price: Amount,
    line_total: Amount,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddressView {
    street: String,
    city: String,
    postal_code: String,
    country: String,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        Self {
            id: o.id,
            user_id: o.user_id,
            status: o.status.as_str(),
            items: o
                .lines
                .iter()
                .map(|l| OrderLineView {
                    product_id: l.product_id,
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: Amount(l.unit_price_minor),
                    line_total: Amount(l.total_minor()),
                })
                .collect(),
            total: Amount(o.total_minor),
            currency: o.currency,
            shipping_address: AddressView {
                street: o.shipping_address.street,
                city: o.shipping_address.city,
                postal_code: o.shipping_address.postal_code,
                country: o.shipping_address.country,
            },
            payment_method: o.payment_method.as_str(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PlaceBody {
    user_id: Uuid,
    shipping_address: AddressView,
    payment_method: String,
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Says a checkout answer is the earlier one for the same `Idempotency-Key`.
const REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// 201 with the new order; 200 with the earlier one when the `Idempotency-Key` was used
/// before for the same request (422 for another request).
async fn place(
    State(checkout): State<Arc<Checkout>>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<PlaceBody>,
) -> Result<Response, Error> {
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(IdempotencyKey::parse(value.to_str().unwrap_or("\u{0}"))?),
    };
    let a = &body.shipping_address;
    let request = CheckoutRequest {
        user_id: body.user_id,
        shipping_address: ShippingAddress::parse(&a.street, &a.city, &a.postal_code, &a.country)?,
        payment_method: PaymentMethod::parse(&body.payment_method)?,
        idempotency_key: key,
    };
    let placed = checkout.place(&caller, request).await?;
    let view = Json(OrderView::from(placed.order));
    Ok(if placed.created {
        (StatusCode::CREATED, view).into_response()
    } else {
        (
            StatusCode::OK,
            [(REPLAYED, HeaderValue::from_static("true"))],
            view,
        )
            .into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
    offset: Option<u64>,
}

const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

async fn for_user(
    State(checkout): State<Arc<Checkout>>,
    caller: Caller,
    Path(user_id): Path<Uuid>,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    let page = Page::new(params.limit, params.offset)?;
    let (orders, total) = checkout.for_user(&caller, user_id, page).await?;
    let views: Vec<OrderView> = orders.into_iter().map(Into::into).collect();
    Ok(([(TOTAL_COUNT, HeaderValue::from(total))], Json(views)).into_response())
}

async fn one(
    State(checkout): State<Arc<Checkout>>,
    caller: Caller,
    Path(order_id): Path<Uuid>,
) -> Result<Json<OrderView>, Error> {
    Ok(Json(checkout.get(&caller, order_id).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

async fn change_status(
    State(checkout): State<Arc<Checkout>>,
    caller: Caller,
    Path(order_id): Path<Uuid>,
    Json(body): Json<StatusBody>,
) -> Result<Json<OrderView>, Error> {
    let to = OrderStatus::parse(&body.status)?;
    Ok(Json(
        checkout.change_status(&caller, order_id, to).await?.into(),
    ))
}
