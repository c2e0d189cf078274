//! Demo data for `ecommerce up`: a customer with one delivered order and something in their
//! cart, placed through the running services the way a customer's would be. Added once.

use std::sync::Arc;

use anyhow::Context;
use auth::{Caller, Role};
use orders::domain::{
    CheckoutRequest, IdempotencyKey, OrderStatus, PaymentMethod, ShippingAddress,
};
use products::domain::{ProductQuery, Sort};
use secrecy::SecretString;

pub const CUSTOMER_EMAIL: &str = "customer@example.com";
pub const CUSTOMER_PASSWORD: &str = "Customer123!";

pub async fn seed(
    accounts: &users::accounts::Accounts,
    catalog: &products::catalog::Catalog,
    carts: &Arc<cart::carts::Carts>,
    checkout: &orders::checkout::Checkout,
) -> anyhow::Result<()> {
    let customer = accounts
        .ensure_customer(
            CUSTOMER_EMAIL,
            &SecretString::from(CUSTOMER_PASSWORD),
            "Demo Customer",
        )
        .await?;
    let caller = Caller {
        user_id: customer.id,
        role: Role::Customer,
    };
    let (_, placed) = checkout
        .for_user(&caller, customer.id, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!(web::ApiError::from(e)))?;
    if placed > 0 {
        return Ok(());
    }
    let listing = catalog
        .list(&ProductQuery::new(
            Default::default(),
            None,
            None,
            Sort::NameAsc,
        )?)
        .await
        .map_err(|e| anyhow::anyhow!(web::ApiError::from(e)))?;
    let by_name = |name: &str| {
        listing
            .items
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.id)
            .with_context(|| format!("demo product {name:?} is missing"))
    };
    let add = |product, quantity| {
        let carts = carts.clone();
        async move {
            carts
                .add(&caller, caller.user_id, product, quantity)
                .await
                .map_err(|e| anyhow::anyhow!(web::ApiError::from(e)))
        }
    };

    // A past order: two bags of coffee, checked out and delivered.
    add(by_name("Coffee Beans")?, 2).await?;
    let request = CheckoutRequest {
        user_id: customer.id,
        shipping_address: ShippingAddress::parse("123 Main St", "Toronto", "M5H 2N2", "Canada")?,
        payment_method: PaymentMethod::CreditCard,
        idempotency_key: Some(IdempotencyKey::parse("demo-first-order")?),
    };
    let order = checkout
        .place(&caller, request)
        .await
        .map_err(|e| anyhow::anyhow!(web::ApiError::from(e)))?
        .order;
    let admin = Caller {
        user_id: uuid::Uuid::nil(),
        role: Role::Admin,
    };
    for status in [
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ] {
        checkout
            .change_status(&admin, order.id, status)
            .await
            .map_err(|e| anyhow::anyhow!(web::ApiError::from(e)))?;
    }
    // And something in the cart now.
    add(by_name("Wireless Mouse")?, 1).await?;
    tracing::info!(
        email = CUSTOMER_EMAIL,
        "demo customer ready: one delivered order, a mouse in the cart"
    );
    Ok(())
}
