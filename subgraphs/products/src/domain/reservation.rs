use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::money::Currency;
use uuid::Uuid;

use super::Invalid;

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i32 = 1_000;
pub use contracts::products::MAX_HOLD;

/// Stock to hold for an order, all or nothing, until it is confirmed or the hold expires. Lines
/// for the same product are merged and sorted by product id, so two reservations lock rows in
/// the same order and cannot deadlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRequest {
    pub order_id: Uuid,
    pub lines: Vec<(Uuid, i32)>,
    /// How long the stock is held unconfirmed.
    pub hold: Duration,
}

impl ReservationRequest {
    /// A request holding for `hold` seconds if given (1 to 900), else for `default_hold`.
    pub fn parse(
        order_id: Uuid,
        lines: impl IntoIterator<Item = (Uuid, i64)>,
        hold: Option<i64>,
        default_hold: Duration,
    ) -> Result<Self, Invalid> {
        let hold = match hold {
            None => default_hold,
            Some(secs) => u64::try_from(secs)
                .ok()
                .map(Duration::from_secs)
                .filter(|d| (Duration::from_secs(1)..=MAX_HOLD).contains(d))
                .ok_or_else(|| {
                    Invalid(format!(
                        "holdSeconds must be between 1 and {}",
                        MAX_HOLD.as_secs()
                    ))
                })?,
        };
        let mut merged: BTreeMap<Uuid, i64> = BTreeMap::new();
        for (product_id, quantity) in lines {
            if !(1..=i64::from(MAX_QUANTITY)).contains(&quantity) {
                return Err(Invalid(format!(
                    "quantity must be between 1 and {MAX_QUANTITY}"
                )));
            }
            *merged.entry(product_id).or_default() += quantity;
        }
        if merged.is_empty() {
            return Err(Invalid("a reservation needs at least one item".into()));
        }
        if merged.len() > MAX_LINES {
            return Err(Invalid(format!(
                "a reservation holds at most {MAX_LINES} products"
            )));
        }
        let lines = merged
            .into_iter()
            .map(|(id, q)| {
                i32::try_from(q)
                    .ok()
                    .filter(|q| *q <= MAX_QUANTITY)
                    .map(|q| (id, q))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Invalid(format!("quantity must be between 1 and {MAX_QUANTITY}")))?;
        Ok(Self {
            order_id,
            lines,
            hold,
        })
    }

    /// Whether `reservation` holds exactly what this request asks for (an idempotent replay).
    pub fn matches(&self, reservation: &Reservation) -> bool {
        let mut held: Vec<(Uuid, i32)> = reservation
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        held.sort_unstable();
        held == self.lines
    }
}

/// Where a reservation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    /// Stock taken off the shelf, awaiting confirmation until the hold expires.
    Held,
    /// Sold: an order owns the stock.
    Confirmed,
    /// Back in stock (released by orders, or by products when the hold expired).
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
        }
    }

    /// From the stored columns: `status` says where the stock is ('reserved' off the shelf,
    /// 'released' back), `confirmed` whether an order owns it.
    pub fn from_stored(status: &str, confirmed: bool) -> Option<Self> {
        match (status, confirmed) {
            ("reserved", false) => Some(Self::Held),
            ("reserved", true) => Some(Self::Confirmed),
            ("released", _) => Some(Self::Released),
            _ => None,
        }
    }
}

/// One product held for an order, priced when it was reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedLine {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    pub lines: Vec<ReservedLine>,
    pub created_at: DateTime<Utc>,
    /// When a held reservation is returned to stock unless confirmed first.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_secs(60);

    fn parse(
        order_id: Uuid,
        lines: impl IntoIterator<Item = (Uuid, i64)>,
    ) -> Result<ReservationRequest, Invalid> {
        ReservationRequest::parse(order_id, lines, None, HOLD)
    }

    #[test]
    fn holds_are_bounded() {
        let line = [(Uuid::new_v4(), 1)];
        let id = Uuid::new_v4();
        assert_eq!(parse(id, line).unwrap().hold, HOLD);
        let asked = ReservationRequest::parse(id, line, Some(5), HOLD).unwrap();
        assert_eq!(asked.hold, Duration::from_secs(5));
        for bad in [0, -1, 901, i64::MIN] {
            assert!(
                ReservationRequest::parse(id, line, Some(bad), HOLD).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn lines_are_merged_and_sorted() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let request = parse(Uuid::new_v4(), [(a, 2), (b, 1), (a, 3)]).unwrap();
        let mut expected = vec![(a, 5), (b, 1)];
        expected.sort_unstable();
        assert_eq!(request.lines, expected);
    }

    #[test]
    fn bad_quantities_and_empty_requests_are_refused() {
        let id = Uuid::new_v4();
        assert!(parse(id, []).is_err());
        assert!(parse(id, [(Uuid::new_v4(), 0)]).is_err());
        assert!(parse(id, [(Uuid::new_v4(), -3)]).is_err());
        let p = Uuid::new_v4();
        assert!(parse(id, [(p, 600), (p, 600)]).is_err());
    }
}
