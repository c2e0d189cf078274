//! The orders service's integration tests, one binary. Tests named `sqlite::…` and `mongodb::…`
//! run the same body against each backend; users, products and cart run as real HTTP servers.

#[macro_use]
extern crate testing;

mod checkout;
mod graphql;
mod helpers;
mod rest;
mod store_contract;
