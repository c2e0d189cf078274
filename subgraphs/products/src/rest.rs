//! REST routes: the public catalogue, admin writes, and internal reservation endpoints for orders.

use std::sync::Arc;

use auth::{Caller, ServiceCaller};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use contracts::money::Amount;
use contracts::products::{
    LookupRequest, ProductSummary, ReservationView, ReserveRequest, ReservedLineView,
    StockLedgerView,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use web::extract::{Json, Path, Query};
use web::pagination::Page;

use crate::AppState;
use crate::catalog::Catalog;
use crate::domain::{Product, ProductDraft, ProductQuery, Reservation, ReservationRequest, Sort};
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/products", get(list).post(create))
        .route("/api/products/{product_id}", get(get_one))
        .route("/api/products/{product_id}/stock", put(adjust_stock))
        .route("/internal/reservations", post(reserve))
        .route("/internal/reservations/{order_id}", get(reservation))
        .route("/internal/reservations/{order_id}/confirm", post(confirm))
        .route("/internal/reservations/{order_id}/release", post(release))
        .route("/internal/products/lookup", post(lookup))
        .route("/internal/products/{product_id}/stock", get(ledger))
}

/// A product as the API shows it; `price` is a JSON number with two decimals.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    id: Uuid,
    name: String,
    description: String,
    price: Amount,
    currency: String,
    stock: i32,
    category: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            price: Amount(p.price_minor),
            currency: p.currency.to_string(),
            stock: p.stock,
            category: p.category,
            active: p.active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
    offset: Option<u64>,
    category: Option<String>,
    search: Option<String>,
    sort: Option<String>,
}

/// The total number of matching products, for paging through the list.
const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

async fn list(
    State(catalog): State<Arc<Catalog>>,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    let sort = params
        .sort
        .as_deref()
        .map(Sort::parse)
        .transpose()?
        .unwrap_or_default();
    let query = ProductQuery::new(
        Page::new(params.limit, params.offset)?,
        params.category.as_deref(),
        params.search.as_deref(),
        sort,
    )?;
    let listing = catalog.list(&query).await?;
    let items: Vec<ProductView> = listing.items.into_iter().map(Into::into).collect();
    Ok((
        [(TOTAL_COUNT, HeaderValue::from(listing.total))],
        Json(items),
    )
        .into_response())
}

async fn get_one(
    State(catalog): State<Arc<Catalog>>,
    Path(id): Path<Uuid>,
) -> Result<Json<ProductView>, Error> {
    Ok(Json(catalog.get(id).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    description: Option<String>,
    price: Amount,
    currency: Option<String>,
    stock: i64,
    category: Option<String>,
}

async fn create(
    State(catalog): State<Arc<Catalog>>,
    caller: Caller,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, Json<ProductView>), Error> {
    let draft = ProductDraft {
        name: &body.name,
        description: body.description.as_deref(),
        price_minor: body.price.0,
        currency: body.currency.as_deref(),
        stock: body.stock,
        category: body.category.as_deref(),
    };
    let product = catalog.create(&caller, draft).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockBody {
    /// Signed change: `-5` takes five out, `10` adds ten.
    quantity: i64,
}

async fn adjust_stock(
    State(catalog): State<Arc<Catalog>>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<StockBody>,
) -> Result<Json<ProductView>, Error> {
    Ok(Json(
        catalog
            .adjust_stock(&caller, id, body.quantity)
            .await?
            .into(),
    ))
}

fn reservation_view(r: Reservation) -> ReservationView {
    ReservationView {
        order_id: r.order_id,
        status: r.status.as_str().to_owned(),
        lines: r
            .lines
            .into_iter()
            .map(|l| ReservedLineView {
                product_id: l.product_id,
                name: l.name,
                quantity: l.quantity,
                unit_price: Amount(l.unit_price_minor),
                currency: l.currency.to_string(),
            })
            .collect(),
        created_at: r.created_at,
        expires_at: r.expires_at,
    }
}

/// Internal: 201 when stock was taken now, 200 when the same order id was reserved before.
async fn reserve(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Json(body): Json<ReserveRequest>,
) -> Result<(StatusCode, Json<ReservationView>), Error> {
    let request = ReservationRequest::parse(
        body.order_id,
        body.items.iter().map(|i| (i.product_id, i.quantity)),
        body.hold_seconds,
        catalog.default_hold(),
    )?;
    let (reservation, created) = catalog.reserve(&service, &request).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(reservation_view(reservation))))
}

async fn reservation(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Path(order_id): Path<Uuid>,
) -> Result<Json<ReservationView>, Error> {
    let reservation = catalog.reservation(&service, order_id).await?;
    Ok(Json(reservation_view(reservation)))
}

async fn confirm(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Path(order_id): Path<Uuid>,
) -> Result<Json<ReservationView>, Error> {
    let reservation = catalog.confirm(&service, order_id).await?;
    Ok(Json(reservation_view(reservation)))
}

async fn release(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Path(order_id): Path<Uuid>,
) -> Result<Json<ReservationView>, Error> {
    let reservation = catalog.release(&service, order_id).await?;
    Ok(Json(reservation_view(reservation)))
}

/// Internal: the products among the ids (unknown ones left out), in one query.
async fn lookup(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Json(body): Json<LookupRequest>,
) -> Result<Json<Vec<ProductSummary>>, Error> {
    let found = catalog.lookup(&service, &body.ids).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|p| ProductSummary {
                id: p.id,
                name: p.name,
                price: Amount(p.price_minor),
                currency: p.currency.to_string(),
                stock: p.stock,
                active: p.active,
            })
            .collect(),
    ))
}

async fn ledger(
    State(catalog): State<Arc<Catalog>>,
    service: ServiceCaller,
    Path(product_id): Path<Uuid>,
) -> Result<Json<StockLedgerView>, Error> {
    let ledger = catalog.ledger(&service, product_id).await?;
    Ok(Json(StockLedgerView {
        on_hand: ledger.on_hand,
        held: ledger.held,
        sold: ledger.sold,
    }))
}
