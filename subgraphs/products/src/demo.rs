//! Demo products for the laptop default, added once to an empty catalogue.

use contracts::money::Currency;

use crate::domain::{NewProduct, ProductQuery};
use crate::store::ProductStore;

const DEMO: &[(&str, &str, i64, i32, &str)] = &[
    (
        "Laptop",
        "14-inch ultrabook, 16 GB RAM, 512 GB SSD",
        99_999,
        50,
        "Electronics",
    ),
    (
        "Wireless Mouse",
        "Ergonomic, silent clicks, USB-C receiver",
        2_499,
        200,
        "Electronics",
    ),
    (
        "Mechanical Keyboard",
        "Tenkeyless, hot-swappable switches",
        8_950,
        75,
        "Electronics",
    ),
    (
        "Coffee Beans",
        "1 kg, single origin, medium roast",
        1_850,
        120,
        "Grocery",
    ),
    (
        "Running Shoes",
        "Lightweight trainers, neutral support",
        12_000,
        40,
        "Sports",
    ),
    (
        "Desk Lamp",
        "LED, dimmable, warm to cool white",
        3_499,
        60,
        "Home",
    ),
];

/// Inserts the demo products if the catalogue has none.
pub async fn seed(store: &dyn ProductStore) -> anyhow::Result<()> {
    if store.list(&ProductQuery::default()).await?.total > 0 {
        return Ok(());
    }
    for &(name, description, price_minor, stock, category) in DEMO {
        let product = NewProduct {
            name: name.to_owned(),
            description: description.to_owned(),
            price_minor,
            currency: Currency::USD,
            stock,
            category: Some(category.to_owned()),
        };
        store.insert(uuid::Uuid::now_v7(), &product).await?;
    }
    tracing::info!(count = DEMO.len(), "demo products added");
    Ok(())
}
