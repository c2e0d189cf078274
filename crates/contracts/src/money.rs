//! Money in integer minor units with an ISO 4217 currency. No floating point anywhere: REST amounts
//! are read from the JSON number's own text and written back as text.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// The currencies we price in; all have two minor digits.
const SUPPORTED: &[&str] = &["USD", "EUR", "GBP", "CAD", "AUD", "CHF"];

/// Largest amount accepted: ten billion minus a cent, far above any price, far below `i64::MAX`.
pub const MAX_MINOR: i64 = 999_999_999_999;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        if !SUPPORTED.contains(&code.as_str()) {
            return Err(MoneyError::UnsupportedCurrency(s.to_owned()));
        }
        let mut bytes = [0u8; 3];
        bytes.copy_from_slice(code.as_bytes());
        Ok(Currency(bytes))
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a plain decimal number like 999.99")]
    NotADecimal,
    #[error("amount must not be negative")]
    Negative,
    #[error("amount must have at most 2 decimal places")]
    TooPrecise,
    #[error("amount is too large")]
    TooLarge,
    #[error("unsupported currency {0:?}")]
    UnsupportedCurrency(String),
}

/// Parses a non-negative decimal with at most two fraction digits into minor units, exactly.
/// `999.99` → 99999, `5` → 500, `0.5` → 50. Rejects signs, exponents and more than 2 decimals.
pub fn parse_amount(text: &str) -> Result<i64, MoneyError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return if rest.bytes().any(|b| b.is_ascii_digit()) {
            Err(MoneyError::Negative)
        } else {
            Err(MoneyError::NotADecimal)
        };
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(MoneyError::NotADecimal);
    }
    if text.contains('.') && fraction.is_empty() {
        return Err(MoneyError::NotADecimal);
    }
    // Trailing zeros carry no precision: 1.500 is 1.50.
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return Err(MoneyError::TooPrecise);
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 12 {
        return Err(MoneyError::TooLarge);
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| MoneyError::TooLarge)?
    };
    let cents: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| MoneyError::NotADecimal)?;
    let minor = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or(MoneyError::TooLarge)?;
    if minor > MAX_MINOR {
        return Err(MoneyError::TooLarge);
    }
    Ok(minor)
}

/// Formats minor units as a decimal with two places: 99999 → `999.99`.
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// An amount on the REST wire: a JSON number (`"price": 999.99`), read and written exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub i64);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if !text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            return Err(D::Error::custom("amount must be a JSON number like 999.99"));
        }
        parse_amount(text).map(Amount).map_err(D::Error::custom)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw =
            RawValue::from_string(format_amount(self.0)).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// An amount in GraphQL: the `Decimal` scalar, a string such as `"999.99"`, so no client parses
/// money into a float by accident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub i64);

#[cfg(feature = "graphql")]
#[async_graphql::Scalar(name = "Decimal")]
impl async_graphql::ScalarType for Decimal {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => Ok(Decimal(parse_amount(s)?)),
            async_graphql::Value::Number(n) if n.is_u64() => {
                Ok(Decimal(parse_amount(&n.to_string())?))
            }
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(format_amount(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_amount("999.99"), Ok(99_999));
        assert_eq!(parse_amount("5"), Ok(500));
        assert_eq!(parse_amount("0.5"), Ok(50));
        assert_eq!(parse_amount("0.10"), Ok(10));
        assert_eq!(parse_amount("1.500"), Ok(150));
        assert_eq!(parse_amount("0"), Ok(0));
        assert_eq!(parse_amount("0.07"), Ok(7));
    }

    #[test]
    fn rejects_what_is_not_a_plain_amount() {
        assert_eq!(parse_amount("-1.00"), Err(MoneyError::Negative));
        assert_eq!(parse_amount("1.999"), Err(MoneyError::TooPrecise));
        assert_eq!(parse_amount("1e3"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_amount("NaN"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_amount(".5"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_amount("5."), Err(MoneyError::NotADecimal));
        assert_eq!(parse_amount("+5"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_amount("99999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn formats_two_places() {
        assert_eq!(format_amount(99_999), "999.99");
        assert_eq!(format_amount(5), "0.05");
        assert_eq!(format_amount(-150), "-1.50");
    }

    #[test]
    fn json_round_trip_keeps_the_number() {
        let amount: Amount = serde_json::from_str("999.99").unwrap();
        assert_eq!(amount, Amount(99_999));
        assert_eq!(serde_json::to_string(&amount).unwrap(), "999.99");
        assert!(serde_json::from_str::<Amount>("\"999.99\"").is_err());
        assert!(serde_json::from_str::<Amount>("-1").is_err());
        assert!(serde_json::from_str::<Amount>("0.001").is_err());
    }

    #[test]
    fn currencies_are_checked() {
        assert_eq!("usd".parse::<Currency>().unwrap(), Currency::USD);
        assert!("JPY".parse::<Currency>().is_err());
        assert!("DOLLARS".parse::<Currency>().is_err());
    }
}
