//! The catalogue: products, stock rules and reservations. No I/O here.

mod reservation;

use chrono::{DateTime, Utc};
use contracts::money::Currency;
use uuid::Uuid;

pub use reservation::{MAX_HOLD, Reservation, ReservationRequest, ReservationStatus, ReservedLine};

pub use web::Invalid;

/// The one folding rule for searching, filtering and sorting by text, applied by the service on
/// every backend alike (the databases' own `lower()` and collations disagree beyond ASCII):
/// compatibility decomposition (NFKD), accents and other combining marks dropped, lower case.
/// "Éclair", "ECLAIR" and "e\u{301}clair" all fold to "eclair", and sort among the e's.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// Stock is bounded so that `stock + delta` can never overflow a 32-bit column.
pub const MAX_STOCK: i32 = 1_000_000_000;
/// Largest single stock adjustment.
pub const MAX_DELTA: i32 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: Currency,
    pub stock: i32,
    pub category: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product to create, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: Currency,
    pub stock: i32,
    pub category: Option<String>,
}

/// The raw fields of a product to create, as a transport received them.
pub struct ProductDraft<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub price_minor: i64,
    pub currency: Option<&'a str>,
    pub stock: i64,
    pub category: Option<&'a str>,
}

fn bounded_text(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(Invalid(format!("{field} must be at most {max} characters")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(text.to_owned())
}

impl NewProduct {
    pub fn parse(draft: ProductDraft<'_>) -> Result<Self, Invalid> {
        let name = bounded_text("name", draft.name, 200)?;
        if name.is_empty() {
            return Err(Invalid("name must not be empty".into()));
        }
        let description = bounded_text("description", draft.description.unwrap_or_default(), 5000)?;
        if draft.price_minor <= 0 {
            return Err(Invalid("price must be greater than 0".into()));
        }
        let currency = match draft.currency {
            None => Currency::USD,
            Some(code) => code
                .parse()
                .map_err(|e: contracts::money::MoneyError| Invalid(e.to_string()))?,
        };
        let stock = i32::try_from(draft.stock)
            .ok()
            .filter(|s| (0..=MAX_STOCK).contains(s))
            .ok_or_else(|| Invalid(format!("stock must be between 0 and {MAX_STOCK}")))?;
        let category = match draft
            .category
            .map(|c| bounded_text("category", c, 100))
            .transpose()?
        {
            Some(c) if c.is_empty() => None,
            other => other,
        };
        Ok(Self {
            name,
            description,
            price_minor: draft.price_minor,
            currency,
            stock,
            category,
        })
    }
}

/// A signed change to a product's stock: non-zero, at most [`MAX_DELTA`] either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockDelta(i32);

impl StockDelta {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        if raw == 0 {
            return Err(Invalid("quantity must not be 0".into()));
        }
        i32::try_from(raw)
            .ok()
            .filter(|d| d.unsigned_abs() <= MAX_DELTA.unsigned_abs())
            .map(Self)
            .ok_or_else(|| {
                Invalid(format!(
                    "quantity must be between -{MAX_DELTA} and {MAX_DELTA}"
                ))
            })
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// How a product list is ordered; the id breaks ties so pages never overlap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, async_graphql::Enum)]
pub enum Sort {
    #[default]
    NameAsc,
    NameDesc,
    PriceAsc,
    PriceDesc,
    Newest,
    Oldest,
}

impl Sort {
    /// The REST spelling: `name`, `-name`, `price`, `-price`, `created`, `-created`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Ok(match raw {
            "name" => Self::NameAsc,
            "-name" => Self::NameDesc,
            "price" => Self::PriceAsc,
            "-price" => Self::PriceDesc,
            "created" => Self::Oldest,
            "-created" => Self::Newest,
            other => {
                return Err(Invalid(format!(
                    "unknown sort {other:?}; use name, -name, price, -price, created or -created"
                )));
            }
        })
    }

    pub fn order_by(self) -> &'static str {
        match self {
            Self::NameAsc => "name_folded ASC, id ASC",
            Self::NameDesc => "name_folded DESC, id DESC",
            Self::PriceAsc => "price_minor ASC, id ASC",
            Self::PriceDesc => "price_minor DESC, id DESC",
            Self::Newest => "created_at DESC, id DESC",
            Self::Oldest => "created_at ASC, id ASC",
        }
    }
}

/// Which products to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductQuery {
    pub page: web::pagination::Page,
    pub category: Option<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    pub sort: Sort,
}

impl ProductQuery {
    pub fn new(
        page: web::pagination::Page,
        category: Option<&str>,
        search: Option<&str>,
        sort: Sort,
    ) -> Result<Self, Invalid> {
        let clean = |field: &str, value: Option<&str>| -> Result<Option<String>, Invalid> {
            match value.map(|v| bounded_text(field, v, 100)).transpose()? {
                Some(v) if v.is_empty() => Ok(None),
                other => Ok(other),
            }
        };
        Ok(Self {
            page,
            category: clean("category", category)?,
            search: clean("search", search)?,
            sort,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(price_minor: i64, stock: i64) -> ProductDraft<'static> {
        ProductDraft {
            name: " Laptop ",
            description: None,
            price_minor,
            currency: None,
            stock,
            category: Some("Electronics"),
        }
    }

    #[test]
    fn new_products_are_validated() {
        let product = NewProduct::parse(draft(99_999, 50)).unwrap();
        assert_eq!(product.name, "Laptop");
        assert_eq!(product.currency, Currency::USD);
        assert!(NewProduct::parse(draft(0, 1)).is_err());
        assert!(NewProduct::parse(draft(100, -1)).is_err());
        assert!(NewProduct::parse(draft(100, i64::from(MAX_STOCK) + 1)).is_err());
        let mut blank = draft(100, 1);
        blank.name = "   ";
        assert!(NewProduct::parse(blank).is_err());
    }

    #[test]
    fn stock_deltas_are_bounded_and_non_zero() {
        assert_eq!(StockDelta::parse(-5).unwrap().get(), -5);
        assert!(StockDelta::parse(0).is_err());
        assert!(StockDelta::parse(i64::from(MAX_DELTA) + 1).is_err());
        assert!(StockDelta::parse(i64::MIN).is_err());
    }

    #[test]
    fn folding_is_unicode_aware_and_normalises() {
        assert_eq!(fold("Éclair Pan"), "eclair pan");
        // "é" as one code point and as "e" plus a combining accent fold alike.
        assert_eq!(fold("E\u{301}CLAIR"), fold("\u{c9}clair"));
        assert_eq!(fold("STRASSE Ärger ﬁx"), "strasse arger fix");
        assert_eq!(fold("Кофе"), "кофе");
    }

    #[test]
    fn sorts_parse_from_rest_spelling() {
        assert_eq!(Sort::parse("-price").unwrap(), Sort::PriceDesc);
        assert!(Sort::parse("price; DROP TABLE products").is_err());
    }
}
