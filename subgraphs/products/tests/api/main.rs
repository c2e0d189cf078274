//! The products service's integration tests, one binary. Tests named `sqlite::…` and
//! `postgres::…` run the same body against each backend.

#[macro_use]
extern crate testing;

mod auth;
mod concurrency;
mod graphql;
mod helpers;
mod internal;
mod rest;
mod store_contract;
