//! The error codes of the shared error shape `{"error":{"code":"…","message":"…"}}`, each with
//! the one HTTP status it answers with: REST bodies, GraphQL `extensions.code`, and the refusals
//! one service reads from another. A code names what went wrong precisely enough for a caller to
//! act on it without matching messages: a reservation products does not know
//! (`RESERVATION_NOT_FOUND`) is not a route it does not serve (`ROUTE_NOT_FOUND`).

use http::StatusCode;

macro_rules! error_codes {
    ($($variant:ident => ($status:ident, $code:literal)),+ $(,)?) => {
        /// Machine-readable error codes, each with the one HTTP status it answers with.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire name, e.g. `INSUFFICIENT_STOCK`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),+ }
            }

            /// The HTTP status a REST response with this code carries.
            pub const fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status),+ }
            }
        }
    };
}

error_codes! {
    BadRequest => (BAD_REQUEST, "BAD_REQUEST"),
    InvalidJson => (BAD_REQUEST, "INVALID_JSON"),
    GraphqlParseFailed => (BAD_REQUEST, "GRAPHQL_PARSE_FAILED"),
    GraphqlValidationFailed => (BAD_REQUEST, "GRAPHQL_VALIDATION_FAILED"),
    QueryTooComplex => (BAD_REQUEST, "QUERY_TOO_COMPLEX"),
    Unauthenticated => (UNAUTHORIZED, "UNAUTHENTICATED"),
    InvalidCredentials => (UNAUTHORIZED, "INVALID_CREDENTIALS"),
    Forbidden => (FORBIDDEN, "FORBIDDEN"),
    NotFound => (NOT_FOUND, "NOT_FOUND"),
    // No route serves the method and path: an old version of a peer, a proxy, a wrong base URL.
    RouteNotFound => (NOT_FOUND, "ROUTE_NOT_FOUND"),
    // products knows no reservation for the order id (internal API).
    ReservationNotFound => (NOT_FOUND, "RESERVATION_NOT_FOUND"),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
    Conflict => (CONFLICT, "CONFLICT"),
    EmailTaken => (CONFLICT, "EMAIL_TAKEN"),
    InsufficientStock => (CONFLICT, "INSUFFICIENT_STOCK"),
    // The reservation was released and holds no stock (internal API).
    ReservationReleased => (CONFLICT, "RESERVATION_RELEASED"),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"),
    ValidationFailed => (UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
    RateLimited => (TOO_MANY_REQUESTS, "RATE_LIMITED"),
    Internal => (INTERNAL_SERVER_ERROR, "INTERNAL"),
    Unavailable => (SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
    Timeout => (SERVICE_UNAVAILABLE, "TIMEOUT"),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorCode {
    /// The code with wire name `name`, if there is one.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == name)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ErrorCode::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown error code {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_')
            );
        }
    }

    #[test]
    fn every_code_reads_back_from_its_wire_name() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert!(serde_json::from_str::<ErrorCode>("\"NO_SUCH_CODE\"").is_err());
    }

    /// The README's error table is what clients read: every code is in it.
    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../../README.md");
        let missing: Vec<_> = ErrorCode::ALL
            .iter()
            .filter(|code| !readme.contains(&format!("`{}`", code.as_str())))
            .collect();
        assert!(missing.is_empty(), "README.md does not list {missing:?}");
    }
}
