//! What the processes agree on, and nothing else: the error codes of the shared error shape, the
//! wire types of the services' internal routes, money, roles, and the GraphQL mutations every
//! guard counts as expensive. Both ends of a call use these definitions, so they cannot drift
//! apart; the router depends on this crate, never on a service.
//!
//! No I/O and no framework: serde, `http`'s status codes, and async-graphql only behind the
//! `graphql` feature (for [`Role`] as a GraphQL enum and [`money::Decimal`] as a scalar).

pub mod cart;
mod error_code;
pub mod money;
pub mod products;
mod role;
pub mod users;

pub use error_code::ErrorCode;
pub use role::Role;

/// Mutation fields whose every call is expensive (a password hash, a checkout): the document
/// guard in every subgraph and in the router allows at most `GRAPHQL_MAX_EXPENSIVE_MUTATIONS`
/// of them per request.
pub mod expensive {
    /// users: each call hashes a password.
    pub const USERS: &[&str] = &["login", "register"];
    /// orders: each call is a checkout across three services.
    pub const ORDERS: &[&str] = &["placeOrder"];
    /// Every subgraph's, as the router counts them.
    pub const ALL: &[&[&str]] = &[USERS, ORDERS];
}
