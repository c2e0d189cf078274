//! Carts: what one holds, its bounds, and how it is priced. No I/O here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use peers::products::ProductSummary;
use uuid::Uuid;
use web::Invalid;

/// The most of one product a cart line holds.
pub const MAX_QUANTITY: i32 = 99;
/// The most different products one cart holds.
pub const MAX_LINES: usize = 50;

/// How many of a product: 1 to [`MAX_QUANTITY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        i32::try_from(raw)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .map(Self)
            .ok_or_else(|| Invalid(format!("quantity must be between 1 and {MAX_QUANTITY}")))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// One product in a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: Uuid,
    pub quantity: i32,
    pub added_at: DateTime<Utc>,
}

/// A user's cart as stored: an empty one for a user who never added anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cart {
    pub user_id: Uuid,
    /// Oldest first.
    pub items: Vec<CartItem>,
    /// Grows with every change.
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Cart {
    pub fn empty(user_id: Uuid) -> Self {
        Self {
            user_id,
            items: Vec::new(),
            version: 0,
            updated_at: None,
        }
    }

    pub fn quantity_of(&self, product_id: Uuid) -> i32 {
        self.items
            .iter()
            .find(|i| i.product_id == product_id)
            .map_or(0, |i| i.quantity)
    }

    pub fn product_ids(&self) -> Vec<Uuid> {
        self.items.iter().map(|i| i.product_id).collect()
    }

    /// The lines left once `ordered` (product, quantity) pairs are taken out: a line taken to
    /// zero goes, what was added beyond the order stays.
    pub fn remaining_after(&self, ordered: &[(Uuid, i32)]) -> Vec<CartItem> {
        self.items
            .iter()
            .filter_map(|item| {
                let taken: i64 = ordered
                    .iter()
                    .filter(|(product, _)| *product == item.product_id)
                    .map(|(_, quantity)| i64::from(*quantity).max(0))
                    .sum();
                let left = i64::from(item.quantity) - taken;
                (left > 0).then(|| CartItem {
                    quantity: i32::try_from(left).unwrap_or(item.quantity),
                    ..item.clone()
                })
            })
            .collect()
    }
}

/// A cart line with the product's current price, if it can still be bought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedItem {
    pub product_id: Uuid,
    pub quantity: i32,
    /// `None`: the product is gone or no longer sold (the line stays, out of the subtotal).
    pub product: Option<ProductSummary>,
}

impl PricedItem {
    pub fn line_total_minor(&self) -> Option<i64> {
        self.product
            .as_ref()
            .map(|p| p.price.0 * i64::from(self.quantity))
    }
}

/// A cart priced at current prices, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedCart {
    pub cart: Cart,
    pub items: Vec<PricedItem>,
}

impl PricedCart {
    /// Prices `cart` with `products` (the current summaries of its products, in any order).
    pub fn new(cart: Cart, products: Vec<ProductSummary>) -> Self {
        let by_id: HashMap<Uuid, ProductSummary> =
            products.into_iter().map(|p| (p.id, p)).collect();
        Self::from_catalog(cart, &by_id)
    }

    /// Prices `cart` with the summaries in `by_id` (which may hold other carts' products too).
    /// A cart is in the currency of its oldest line that can be bought; a line priced in
    /// another currency (two adds racing each other's check) cannot be bought and is left out
    /// of the subtotal, so the subtotal never adds up two currencies.
    pub fn from_catalog(cart: Cart, by_id: &HashMap<Uuid, ProductSummary>) -> Self {
        let buyable = |id: &Uuid| by_id.get(id).filter(|p| p.active);
        let currency = cart
            .items
            .iter()
            .find_map(|item| buyable(&item.product_id).map(|p| p.currency.clone()));
        let items = cart
            .items
            .iter()
            .map(|item| PricedItem {
                product_id: item.product_id,
                quantity: item.quantity,
                product: buyable(&item.product_id)
                    .filter(|p| Some(&p.currency) == currency.as_ref())
                    .cloned(),
            })
            .collect();
        Self { cart, items }
    }

    /// Units in the cart, whether or not they can still be bought.
    pub fn item_count(&self) -> i64 {
        self.items.iter().map(|i| i64::from(i.quantity)).sum()
    }

    /// What the lines that can be bought cost now, in minor units.
    pub fn subtotal_minor(&self) -> i64 {
        self.items
            .iter()
            .filter_map(PricedItem::line_total_minor)
            .sum()
    }

    /// The currency of the cart's priced lines (a cart holds one currency).
    pub fn currency(&self) -> Option<&str> {
        self.items
            .iter()
            .find_map(|i| i.product.as_ref().map(|p| p.currency.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::money::Amount;

    #[test]
    fn quantities_are_bounded() {
        assert_eq!(Quantity::parse(3).unwrap().get(), 3);
        for bad in [0, -1, 100, i64::MAX, i64::MIN] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    fn summary(id: Uuid, price: i64, active: bool) -> ProductSummary {
        ProductSummary {
            id,
            name: "x".into(),
            price: Amount(price),
            currency: "USD".into(),
            stock: 10,
            active,
        }
    }

    #[test]
    fn a_cart_is_priced_at_current_prices_without_gone_products() {
        let (a, b, gone) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let item = |product_id, quantity| CartItem {
            product_id,
            quantity,
            added_at: Utc::now(),
        };
        let cart = Cart {
            items: vec![item(a, 2), item(b, 1), item(gone, 5)],
            ..Cart::empty(Uuid::new_v4())
        };
        let priced = PricedCart::new(cart, vec![summary(b, 250, true), summary(a, 1_000, true)]);
        assert_eq!(priced.item_count(), 8);
        assert_eq!(priced.subtotal_minor(), 2_250);
        assert_eq!(priced.currency(), Some("USD"));
        assert!(priced.items[2].product.is_none());
        let inactive = PricedCart::new(
            Cart {
                items: vec![item(a, 1)],
                ..Cart::empty(Uuid::new_v4())
            },
            vec![summary(a, 100, false)],
        );
        assert_eq!(inactive.subtotal_minor(), 0);
    }

    /// Attacker finding 5: two adds racing each other's currency check left a USD and an EUR
    /// line in one cart, and the subtotal added them up as USD.
    #[test]
    fn a_line_in_another_currency_is_not_added_to_the_subtotal() {
        let (usd, eur) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Utc::now();
        let cart = Cart {
            items: vec![
                CartItem {
                    product_id: usd,
                    quantity: 1,
                    added_at: now,
                },
                CartItem {
                    product_id: eur,
                    quantity: 1,
                    added_at: now,
                },
            ],
            ..Cart::empty(Uuid::new_v4())
        };
        let mut euro = summary(eur, 100, true);
        euro.currency = "EUR".into();
        let priced = PricedCart::new(cart, vec![summary(usd, 1_000, true), euro]);
        assert_eq!(priced.currency(), Some("USD"));
        assert_eq!(
            priced.subtotal_minor(),
            1_000,
            "not 1,100 of two currencies"
        );
        assert!(
            priced.items[1].product.is_none(),
            "the EUR line cannot be bought"
        );
        assert_eq!(priced.item_count(), 2, "it is still in the cart");
    }

    #[test]
    fn an_order_takes_its_quantities_out_and_leaves_the_rest() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let now = Utc::now();
        let item = |product_id, quantity| CartItem {
            product_id,
            quantity,
            added_at: now,
        };
        let cart = Cart {
            items: vec![item(a, 2), item(b, 5), item(c, 1)],
            ..Cart::empty(Uuid::new_v4())
        };
        let left = cart.remaining_after(&[(a, 2), (b, 3)]);
        assert_eq!(left, vec![item(b, 2), item(c, 1)]);
        assert_eq!(cart.remaining_after(&[(a, 9)]).len(), 2, "never below zero");
    }
}
