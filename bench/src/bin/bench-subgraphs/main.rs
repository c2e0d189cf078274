//! In-memory subgraphs for the router benchmark (`scripts/bench.sh`): accounts, inventory,
//! products and reviews, modelled on the schema and query of graphql-hive's public
//! graphql-gateways-benchmark and written for this project. The data are fixed and nothing
//! waits on I/O, so a benchmark through them measures the router in front of them.
//!
//!   bench-subgraphs                 serve POST /accounts, /inventory, /products, /reviews and
//!                                   GET /health on HOST:PORT (127.0.0.1:4200)
//!   bench-subgraphs sdl <name>      print one subgraph's SDL, as `_service { sdl }` answers
//!
//! `SUBGRAPH_DELAY_MS` adds a fixed wait to every request (default 0), to model subgraphs that
//! take time.

use std::time::Duration;

use async_graphql::{EmptyMutation, EmptySubscription, ObjectType, SDLExportOptions, Schema};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::{get, post_service};

mod data;
mod schemas;

fn schema<Q: ObjectType + 'static>(query: Q) -> Schema<Q, EmptyMutation, EmptySubscription> {
    Schema::build(query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}

fn sdl(name: &str) -> Option<String> {
    let options = SDLExportOptions::new().federation().compose_directive();
    Some(match name {
        "accounts" => schema(schemas::accounts::Query).sdl_with_options(options),
        "inventory" => schema(schemas::inventory::Query).sdl_with_options(options),
        "products" => schema(schemas::products::Query).sdl_with_options(options),
        "reviews" => schema(schemas::reviews::Query).sdl_with_options(options),
        _ => return None,
    })
}

fn app() -> Router {
    let router = Router::new()
        .route(
            "/accounts",
            post_service(GraphQL::new(schema(schemas::accounts::Query))),
        )
        .route(
            "/inventory",
            post_service(GraphQL::new(schema(schemas::inventory::Query))),
        )
        .route(
            "/products",
            post_service(GraphQL::new(schema(schemas::products::Query))),
        )
        .route(
            "/reviews",
            post_service(GraphQL::new(schema(schemas::reviews::Query))),
        )
        .route("/health", get(|| async { "ok" }));
    let delay = std::env::var("SUBGRAPH_DELAY_MS")
        .ok()
        .map(|ms| {
            ms.parse::<u64>()
                .expect("SUBGRAPH_DELAY_MS must be whole milliseconds")
        })
        .unwrap_or(0);
    if delay == 0 {
        return router;
    }
    let delay = Duration::from_millis(delay);
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            tokio::time::sleep(delay).await;
            next.run(request).await
        },
    ))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {}
        ["sdl", name] => match sdl(name) {
            Some(sdl) => {
                print!("{sdl}");
                return;
            }
            None => {
                eprintln!("no subgraph '{name}': accounts, inventory, products or reviews");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: bench-subgraphs [sdl <name>]   (HOST, PORT, SUBGRAPH_DELAY_MS)");
            std::process::exit(2);
        }
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "4200".into());
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}"))
        .await
        .unwrap_or_else(|error| panic!("cannot listen on {host}:{port}: {error}"));
    println!("ready on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app()).await.unwrap();
}

#[cfg(test)]
mod tests {
    use async_graphql::{Request, Value, value};

    use super::*;

    async fn run<Q: ObjectType + 'static>(query: Q, document: &str) -> Value {
        let response = schema(query).execute(Request::new(document)).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data
    }

    #[test]
    fn every_subgraph_declares_federation_v2_and_its_keys() {
        for (name, key) in [
            ("accounts", "type User @key(fields: \"id\")"),
            ("inventory", "type Product @key(fields: \"upc\")"),
            ("products", "type Product @key(fields: \"upc\")"),
            ("reviews", "type Review @key(fields: \"id\")"),
        ] {
            let sdl = sdl(name).unwrap();
            assert!(
                sdl.contains("specs.apollo.dev/federation/v2"),
                "{name}: {sdl}"
            );
            assert!(sdl.contains(key), "{name}: {sdl}");
        }
        assert!(
            sdl("inventory")
                .unwrap()
                .contains("@requires(fields: \"price weight\")")
        );
        assert!(sdl("other").is_none());
    }

    #[tokio::test]
    async fn inventory_estimates_shipping_from_the_required_fields() {
        let data = run(
            schemas::inventory::Query,
            r#"{ _entities(representations: [
                {__typename: "Product", upc: "1", price: 899, weight: 100},
                {__typename: "Product", upc: "2", price: 1299, weight: 1000}
            ]) { ... on Product { upc inStock shippingEstimate } } }"#,
        )
        .await;
        assert_eq!(
            data,
            value!({"_entities": [
                {"upc": "1", "inStock": true, "shippingEstimate": 50},
                {"upc": "2", "inStock": false, "shippingEstimate": 0},
            ]})
        );
    }

    #[tokio::test]
    async fn reviews_provide_the_author_username_that_accounts_has() {
        let reviews = run(schemas::reviews::Query, r#"{ _entities(representations: [
            {__typename: "Product", upc: "1"}]) { ... on Product { reviews { id author { id username } } } } }"#).await;
        let accounts = run(schemas::accounts::Query, "{ users { id username } }").await;
        let Value::Object(reviews) = reviews else {
            panic!()
        };
        let Value::List(products) = &reviews["_entities"] else {
            panic!()
        };
        let Value::Object(product) = &products[0] else {
            panic!()
        };
        let Value::List(reviews) = &product["reviews"] else {
            panic!()
        };
        assert_eq!(reviews.len(), 4);
        let Value::Object(accounts) = accounts else {
            panic!()
        };
        let Value::List(users) = &accounts["users"] else {
            panic!()
        };
        for review in reviews {
            let Value::Object(review) = review else {
                panic!()
            };
            assert!(users.contains(&review["author"]), "{review:?}");
        }
    }
}
