//! Pagination with caps: REST `limit`/`offset`, GraphQL `first`/`after` with opaque cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Offsets beyond this are refused: deep offset scans are a cheap way to load a database.
pub const MAX_OFFSET: u64 = 100_000;

/// One page of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl Page {
    /// From REST query parameters.
    pub fn new(limit: Option<u32>, offset: Option<u64>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let offset = offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::validation(format!(
                "offset must be at most {MAX_OFFSET}"
            )));
        }
        Ok(Self { limit, offset })
    }

    /// From GraphQL connection arguments: `after` is the cursor of the last item seen.
    pub fn from_connection(first: Option<i32>, after: Option<&str>) -> Result<Self, ApiError> {
        let limit = match first {
            None => None,
            Some(n) => Some(
                u32::try_from(n).map_err(|_| ApiError::validation("first must not be negative"))?,
            ),
        };
        // The page starts after the cursor's item; a crafted cursor at u64::MAX has no "after".
        let offset = after
            .map(|cursor| {
                decode_cursor(cursor)?
                    .checked_add(1)
                    .ok_or_else(|| ApiError::validation("invalid cursor"))
            })
            .transpose()?;
        Self::new(limit, offset)
    }

    pub fn limit_i64(&self) -> i64 {
        i64::from(self.limit)
    }

    pub fn offset_i64(&self) -> i64 {
        // MAX_OFFSET keeps this in range.
        i64::try_from(self.offset).unwrap_or(i64::MAX)
    }
}

/// The cursor of the item at `position` (0-based) in a list.
pub fn encode_cursor(position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{position}"))
}

pub fn decode_cursor(cursor: &str) -> Result<u64, ApiError> {
    let invalid = || ApiError::validation("invalid cursor");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    text.strip_prefix("o:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_pages_are_capped() {
        assert_eq!(
            Page::new(None, None).unwrap(),
            Page {
                limit: DEFAULT_LIMIT,
                offset: 0
            }
        );
        assert_eq!(
            Page::new(Some(100), Some(40)).unwrap(),
            Page {
                limit: 100,
                offset: 40
            }
        );
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(Some(101), None).is_err());
        assert!(Page::new(None, Some(MAX_OFFSET + 1)).is_err());
    }

    #[test]
    fn cursors_round_trip_and_continue_after_the_item() {
        let cursor = encode_cursor(41);
        assert_eq!(decode_cursor(&cursor).unwrap(), 41);
        assert_eq!(
            Page::from_connection(Some(10), Some(&cursor)).unwrap(),
            Page {
                limit: 10,
                offset: 42
            }
        );
        assert!(decode_cursor("garbage!").is_err());
        // A crafted cursor at the very end neither overflows nor wraps to the first page.
        let last = encode_cursor(u64::MAX);
        assert_eq!(
            Page::from_connection(Some(10), Some(&last))
                .unwrap_err()
                .code,
            crate::ErrorCode::ValidationFailed
        );
        let beyond = encode_cursor(MAX_OFFSET);
        assert!(Page::from_connection(Some(10), Some(&beyond)).is_err());
        assert!(Page::from_connection(Some(-1), None).is_err());
    }
}
