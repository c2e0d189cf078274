use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kit::money::Currency;
use uuid::Uuid;

use super::Invalid;

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i32 = 1_000;

/// Stock to hold for an order, all or nothing. Lines for the same product are merged and sorted
/// by product id, so two reservations lock rows in the same order and cannot deadlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRequest {
    pub order_id: Uuid,
    pub lines: Vec<(Uuid, i32)>,
}

impl ReservationRequest {
    pub fn parse(
        order_id: Uuid,
        lines: impl IntoIterator<Item = (Uuid, i64)>,
    ) -> Result<Self, Invalid> {
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
        Ok(Self { order_id, lines })
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Reserved,
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Released => "released",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reserved" => Some(Self::Reserved),
            "released" => Some(Self::Released),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_merged_and_sorted() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let request = ReservationRequest::parse(Uuid::new_v4(), [(a, 2), (b, 1), (a, 3)]).unwrap();
        let mut expected = vec![(a, 5), (b, 1)];
        expected.sort_unstable();
        assert_eq!(request.lines, expected);
    }

    #[test]
    fn bad_quantities_and_empty_requests_are_refused() {
        let id = Uuid::new_v4();
        assert!(ReservationRequest::parse(id, []).is_err());
        assert!(ReservationRequest::parse(id, [(Uuid::new_v4(), 0)]).is_err());
        assert!(ReservationRequest::parse(id, [(Uuid::new_v4(), -3)]).is_err());
        let p = Uuid::new_v4();
        assert!(ReservationRequest::parse(id, [(p, 600), (p, 600)]).is_err());
    }
}
