//! Orders: what one holds, the rules of its status, and what a checkout request must carry. No
//! I/O here.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use web::Invalid;

/// Where an order stands. `pending → paid → shipped → delivered`; `pending` or `paid` →
/// `cancelled` (its stock goes back on the shelf). Nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown status {raw:?}; use pending, paid, shipped, delivered or cancelled"
                ))
            })
    }

    /// Whether the transition table allows `self → to`.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Paid)
                | (Paid, Shipped)
                | (Shipped, Delivered)
                | (Pending, Cancelled)
                | (Paid, Cancelled)
        )
    }
}

/// How the customer pays (collected outside this platform).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    CreditCard,
    DebitCard,
    Paypal,
    BankTransfer,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 4] = [
        Self::CreditCard,
        Self::DebitCard,
        Self::Paypal,
        Self::BankTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreditCard => "credit_card",
            Self::DebitCard => "debit_card",
            Self::Paypal => "paypal",
            Self::BankTransfer => "bank_transfer",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown payment method {raw:?}; use credit_card, debit_card, paypal or bank_transfer"
                ))
            })
    }
}

/// Where an order goes: every field present, trimmed, at most 200 characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingAddress {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl ShippingAddress {
    pub fn parse(
        street: &str,
        city: &str,
        postal_code: &str,
        country: &str,
    ) -> Result<Self, Invalid> {
        let field = |name: &str, raw: &str| -> Result<String, Invalid> {
            let text = raw.trim();
            if text.is_empty() {
                return Err(Invalid(format!("shippingAddress.{name} must not be empty")));
            }
            if text.chars().count() > 200 {
                return Err(Invalid(format!(
                    "shippingAddress.{name} must be at most 200 characters"
                )));
            }
            if text.chars().any(char::is_control) {
                return Err(Invalid(format!(
                    "shippingAddress.{name} must not contain control characters"
                )));
            }
            Ok(text.to_owned())
        };
        Ok(Self {
            street: field("street", street)?,
            city: field("city", city)?,
            postal_code: field("postalCode", postal_code)?,
            country: field("country", country)?,
        })
    }
}

/// A client's `Idempotency-Key`: 1 to 200 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > 200 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid(
                "Idempotency-Key must be 1 to 200 visible ASCII characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a checkout asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub user_id: Uuid,
    pub shipping_address: ShippingAddress,
    pub payment_method: PaymentMethod,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CheckoutRequest {
    /// A fingerprint of what was asked: the same key with another request is refused.
    pub fn fingerprint(&self) -> String {
        let a = &self.shipping_address;
        let mut hash = Sha256::new();
        for part in [
            self.user_id.to_string().as_str(),
            &a.street,
            &a.city,
            &a.postal_code,
            &a.country,
            self.payment_method.as_str(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where an order's stock reservation at products stands, as orders last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockState {
    /// Reserved, not yet confirmed (the order was just stored, or a step is still owed).
    Held,
    /// The order owns the stock.
    Confirmed,
    /// Back on the shelf: the order was cancelled.
    Released,
    /// Back on the shelf before the order ever owned it: the hold expired first, and the
    /// order was cancelled for it (its checkout failed).
    Expired,
}

impl StockState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// Whether the stock is back on the shelf (released or expired).
    pub fn is_back(self) -> bool {
        matches!(self, Self::Released | Self::Expired)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Held, Self::Confirmed, Self::Released, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One product bought, at the price products gave when the stock was reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
}

impl OrderLine {
    pub fn total_minor(&self) -> i64 {
        self.unit_price_minor * i64::from(self.quantity)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    pub shipping_address: ShippingAddress,
    pub payment_method: PaymentMethod,
    pub idempotency_key: Option<String>,
    pub fingerprint: String,
    pub stock: StockState,
    /// The version of the cart the order was made from: a cart still at it is emptied, one
    /// changed since loses only what the order bought.
    pub cart_version: i64,
    /// Whether the cart needs nothing more (what the order bought is out of it, or the order
    /// was cancelled).
    pub cart_done: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// When an order still owes a step to products or cart (the reconciler settles it), defined once:
/// its stock is not confirmed yet ([`Self::STOCK_OWED`]); or its cart step is owed (never for a
/// cancelled order: cancelling marks it done); or it is cancelled and its stock is not back
/// ([`Self::STOCK_BACK`]). Both stores render their `unsettled` query from these constants (the
/// SQL one is also the condition of its partial index), and nothing else decides it.
pub struct Unsettled;

impl Unsettled {
    pub const STOCK_OWED: StockState = StockState::Held;
    pub const CANCELLED: OrderStatus = OrderStatus::Cancelled;
    pub const STOCK_BACK: [StockState; 2] = [StockState::Released, StockState::Expired];
}

/// A user's checkout claim: one checkout per user at a time, so two requests cannot both buy
/// the same cart. It ends when the checkout does, or at `expires_at` when its process died.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The order the claiming checkout will place.
    pub order_id: Uuid,
    /// Its Idempotency-Key: a retry with the same key waits for it instead of being refused.
    pub key: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table_is_the_only_way() {
        use OrderStatus::*;
        let allowed = [
            (Pending, Paid),
            (Paid, Shipped),
            (Shipped, Delivered),
            (Pending, Cancelled),
            (Paid, Cancelled),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
        assert!(OrderStatus::parse("shipped").is_ok());
        assert!(OrderStatus::parse("SHIPPED").is_err());
    }

    #[test]
    fn requests_are_validated() {
        assert!(ShippingAddress::parse("1 Main St", "Toronto", "M5H 2N2", "Canada").is_ok());
        assert!(ShippingAddress::parse(" ", "Toronto", "M5H", "Canada").is_err());
        assert!(ShippingAddress::parse("x", "a\u{0}b", "M5H", "Canada").is_err());
        assert!(ShippingAddress::parse(&"x".repeat(201), "a", "b", "c").is_err());
        assert_eq!(
            PaymentMethod::parse("paypal").unwrap(),
            PaymentMethod::Paypal
        );
        assert!(PaymentMethod::parse("bitcoin").is_err());
        assert!(IdempotencyKey::parse("order-2026-11-29-a").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(201)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fingerprint_tells_requests_apart() {
        let request = |city: &str| CheckoutRequest {
            user_id: Uuid::nil(),
            shipping_address: ShippingAddress::parse("1 Main", city, "1", "CA").unwrap(),
            payment_method: PaymentMethod::CreditCard,
            idempotency_key: None,
        };
        assert_eq!(request("A").fingerprint(), request("A").fingerprint());
        assert_ne!(request("A").fingerprint(), request("B").fingerprint());
    }
}
