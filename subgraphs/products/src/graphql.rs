//! The products subgraph: `Product @key(fields: "id")`, `products` (a connection), `product(id)`,
//! `createProduct`, `adjustStock`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject};
use auth::Viewer;
use chrono::{DateTime, Utc};
use contracts::money::Decimal;
use subgraph::Batcher;
use uuid::Uuid;
use web::ApiError;
use web::pagination::{Page, encode_cursor};

use crate::catalog::Catalog;
use crate::domain::{Product, ProductDraft, ProductQuery, Sort};
use crate::error::Error;

pub type ProductsSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(catalog: Arc<Catalog>) -> ProductsSchema {
    subgraph::graphql::subgraph(Schema::build(Query, Mutation, EmptySubscription))
        .data(catalog)
        .finish()
}

/// A product in the catalogue.
#[derive(SimpleObject)]
#[graphql(name = "Product")]
pub struct ProductObject {
    id: ID,
    name: String,
    description: String,
    /// Unit price, exact, as a decimal string such as "999.99".
    price: Decimal,
    /// ISO 4217 code of `price`.
    currency: String,
    stock: i32,
    category: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Product> for ProductObject {
    fn from(p: Product) -> Self {
        Self {
            id: ID(p.id.to_string()),
            name: p.name,
            description: p.description,
            price: Decimal(p.price_minor),
            currency: p.currency.to_string(),
            stock: p.stock,
            category: p.category,
            active: p.active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct ProductListInfo {
    /// How many products match the filter in all.
    total_count: u64,
}

#[derive(InputObject, Default)]
pub struct ProductFilter {
    category: Option<String>,
    /// Case-insensitive part of the name.
    search: Option<String>,
}

#[derive(InputObject)]
pub struct CreateProductInput {
    name: String,
    description: Option<String>,
    price: Decimal,
    currency: Option<String>,
    stock: i32,
    category: Option<String>,
}

/// Loads products by id, one query per batch.
pub struct ProductLoader(pub(crate) Arc<Catalog>);

impl Loader<Uuid> for ProductLoader {
    type Value = Product;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Product>, ApiError> {
        Ok(self.0.products_by_ids(keys).await?)
    }
}

/// A product by id through the request's batcher; null for ids that are not UUIDs.
async fn load_product(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<ProductObject>> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    Ok(ctx
        .data::<Batcher<Uuid, ProductLoader>>()?
        .load_one(id)
        .await?
        .map(Into::into))
}

pub struct Query;

#[Object]
impl Query {
    /// Active products, a page at a time (`first` at most 100).
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProductFilter>,
        #[graphql(default)] sort: Sort,
    ) -> async_graphql::Result<Connection<String, ProductObject, ProductListInfo, EmptyFields>>
    {
        let page = Page::from_connection(first, after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = ProductQuery::new(
            page,
            filter.category.as_deref(),
            filter.search.as_deref(),
            sort,
        )
        .map_err(Error::from)?;
        let listing = ctx.data::<Arc<Catalog>>()?.list(&query).await?;
        let shown = page.offset + listing.items.len() as u64;
        let mut connection = Connection::with_additional_fields(
            page.offset > 0,
            shown < listing.total,
            ProductListInfo {
                total_count: listing.total,
            },
        );
        connection
            .edges
            .extend(listing.items.into_iter().enumerate().map(|(i, p)| {
                Edge::new(
                    encode_cursor(page.offset + i as u64),
                    ProductObject::from(p),
                )
            }));
        Ok(connection)
    }

    async fn product(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductObject>> {
        load_product(ctx, &id).await
    }

    /// Federation entity resolver; concurrent lookups in one request become one query.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<ProductObject>> {
        load_product(ctx, &id).await
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Admins only.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let draft = ProductDraft {
            name: &input.name,
            description: input.description.as_deref(),
            price_minor: input.price.0,
            currency: input.currency.as_deref(),
            stock: i64::from(input.stock),
            category: input.category.as_deref(),
        };
        Ok(ctx
            .data::<Arc<Catalog>>()?
            .create(&caller, draft)
            .await?
            .into())
    }

    /// Admins only: a signed change to stock, refused with INSUFFICIENT_STOCK below zero.
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        delta: i32,
    ) -> async_graphql::Result<ProductObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let id = Uuid::parse_str(&product_id).map_err(|_| Error::NotFound)?;
        Ok(ctx
            .data::<Arc<Catalog>>()?
            .adjust_stock(&caller, id, i64::from(delta))
            .await?
            .into())
    }
}
