//! The cart service's integration tests, one binary. Tests named `sqlite::…` and `mongodb::…`
//! run the same body against each backend; the users and products services they call run as
//! real HTTP servers.

#[macro_use]
extern crate testing;

mod graphql;
mod helpers;
mod rest;
mod store_contract;
