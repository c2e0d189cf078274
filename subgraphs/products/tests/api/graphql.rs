//! The products subgraph over GraphQL.

use serde_json::{Value, json};
use testing::graphql;
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestApp;

#[tokio::test]
async fn sdl_declares_the_product_entity_for_federation_v2() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains(r#"type Product @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains("extend schema @link("), "{sdl}");
    assert!(
        sdl.contains("url: \"https://specs.apollo.dev/federation/v2."),
        "{sdl}"
    );
}

#[tokio::test]
async fn products_is_a_paged_connection() {
    let app = TestApp::new(Backend::Sqlite).await;
    for i in 0..5 {
        app.db.product(&format!("Item {i}"), 100 + i, 1).await;
    }
    let query = "query($after: String) { products(first: 2, after: $after, sort: PRICE_ASC) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name price } } } }";
    let mut names = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = graphql(&app.router, None, query, json!({"after": after})).await;
        let products = &body["data"]["products"];
        assert_eq!(products["totalCount"], 5, "{body}");
        for edge in products["edges"].as_array().unwrap() {
            names.push(edge["node"]["name"].as_str().unwrap().to_owned());
        }
        if products["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = products["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(names, ["Item 0", "Item 1", "Item 2", "Item 3", "Item 4"]);
    let body = graphql(
        &app.router,
        None,
        "{ products(first: 1) { edges { node { price } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["products"]["edges"][0]["node"]["price"], "1.00",
        "Decimal is an exact string"
    );
    let body = graphql(
        &app.router,
        None,
        "{ products(first: 500) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION_FAILED");
}

#[tokio::test]
async fn mutations_enforce_roles_and_stock_rules() {
    let app = TestApp::new(Backend::Sqlite).await;
    let create = r#"mutation { createProduct(input: {name: "Desk", price: "149.50", stock: 3, category: "Home"}) { id price stock } }"#;
    let body = graphql(
        &app.router,
        Some(&app.auth.customer_token()),
        create,
        json!({}),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let body = graphql(&app.router, None, create, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let admin = app.auth.admin_token();
    let body = graphql(&app.router, Some(&admin), create, json!({})).await;
    let product = &body["data"]["createProduct"];
    assert_eq!(product["price"], "149.50", "{body}");
    let id = product["id"].as_str().unwrap().to_owned();

    let adjust =
        "mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { stock } }";
    let body = graphql(
        &app.router,
        Some(&admin),
        adjust,
        json!({"id": id, "delta": -2}),
    )
    .await;
    assert_eq!(body["data"]["adjustStock"]["stock"], 1);
    let body = graphql(
        &app.router,
        Some(&admin),
        adjust,
        json!({"id": id, "delta": -2}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INSUFFICIENT_STOCK"
    );
    assert_eq!(app.db.stock_of(id.parse().unwrap()).await, 1);

    let bad_price =
        r#"mutation { createProduct(input: {name: "X", price: "1.001", stock: 1}) { id } }"#;
    let body = graphql(&app.router, Some(&admin), bad_price, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 decimal"),
        "{body}"
    );
}

#[tokio::test]
async fn entities_resolve_in_input_order_with_null_for_unknown() {
    let app = TestApp::new(Backend::Sqlite).await;
    let a = app.db.product("A", 100, 1).await;
    let b = app.db.product("B", 200, 2).await;
    let ghost = Uuid::new_v4();
    let reps: Vec<Value> = [b.id, ghost, a.id, b.id]
        .iter()
        .map(|id| json!({"__typename": "Product", "id": id}))
        .collect();
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name } } }";
    let body = graphql(&app.router, None, query, json!({"r": reps})).await;
    let entities = body["data"]["_entities"].as_array().unwrap();
    assert_eq!(entities[0]["name"], "B");
    assert_eq!(entities[1], Value::Null);
    assert_eq!(entities[2]["name"], "A");
    assert_eq!(entities[3]["id"], b.id.to_string());
}

#[tokio::test]
async fn malformed_graphql_requests_get_graphql_errors() {
    let app = TestApp::new(Backend::Sqlite).await;
    let bad = testing::raw_request(
        axum::http::Method::POST,
        "/graphql",
        None,
        Some("application/json"),
        "{nope",
    );
    let response = app.send(bad).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["errors"][0]["extensions"]["code"],
        "INVALID_JSON"
    );
    let deep = format!("{{ products {{ edges {{ node {{ id {} }} }} }} }}", "");
    let body = graphql(&app.router, Some("garbage"), &deep, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    testing::assert_committed_sdl(
        "products",
        body["data"]["_service"]["sdl"].as_str().unwrap(),
    );
}

/// async-graphql's own errors (syntax, validation, input coercion) carry a code from the shared
/// table too, and a request that ran nothing answers 400.
#[tokio::test]
async fn every_graphql_error_carries_a_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let cases = [
        ("{ products(", json!({}), 400, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", json!({}), 400, "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ products(first: \"ten\") { totalCount } }",
            json!({}),
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($n: Int) { products(first: $n) { totalCount } }",
            json!({"n": "ten"}),
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            json!({}),
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (query, variables, status, code) in cases {
        let body = json!({"query": query, "variables": variables});
        let response = app
            .send(testing::request(
                axum::http::Method::POST,
                "/graphql",
                None,
                Some(&body),
            ))
            .await;
        let json = response.json();
        assert_eq!(
            (
                response.status.as_u16(),
                json["errors"][0]["extensions"]["code"].as_str()
            ),
            (status, Some(code)),
            "{query}: {json}"
        );
    }
    // A cursor crafted at u64::MAX neither overflows (500) nor wraps to the first page.
    let last = web::pagination::encode_cursor(u64::MAX);
    let body = graphql(
        &app.router,
        None,
        "query($after: String) { products(first: 2, after: $after) { totalCount } }",
        json!({"after": last}),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION_FAILED");
}
