//! The cart subgraph: `User.cart`, the mutations, and the references to products.

use serde_json::json;
use testing::{Backend, graphql};

use crate::helpers::TestApp;

#[tokio::test]
async fn mutations_and_the_users_cart_through_the_entity() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("graph@example.com").await;
    let p = app.product("Book", 1_250, 10).await;
    let added = graphql(
        &app.router,
        Some(&token),
        "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { itemCount subtotal items { product { id } quantity lineTotal } } }",
        json!({"p": p.id}),
    )
    .await;
    assert_eq!(
        added["data"]["addToCart"],
        json!({"itemCount": 2, "subtotal": "25.00", "items": [{"product": {"id": p.id}, "quantity": 2, "lineTotal": "25.00"}]})
    );
    // What the router asks for `User.cart`: the user entity by key.
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id cart { itemCount } } } }";
    let entity = graphql(
        &app.router,
        Some(&token),
        query,
        json!({"r": [{"__typename": "User", "id": user}]}),
    )
    .await;
    assert_eq!(entity["data"]["_entities"][0]["cart"]["itemCount"], 2);
    // Someone else's cart resolves to null.
    let (_, other) = app.customer("nosy@example.com").await;
    let spied = graphql(
        &app.router,
        Some(&other),
        query,
        json!({"r": [{"__typename": "User", "id": user}]}),
    )
    .await;
    assert_eq!(spied["data"]["_entities"][0]["cart"], json!(null));

    let updated = graphql(
        &app.router,
        Some(&token),
        "mutation($p: ID!) { updateCartItem(productId: $p, quantity: 5) { itemCount } }",
        json!({"p": p.id}),
    )
    .await;
    assert_eq!(updated["data"]["updateCartItem"]["itemCount"], 5);
    let removed = graphql(
        &app.router,
        Some(&token),
        "mutation($p: ID!) { removeFromCart(productId: $p) { itemCount } }",
        json!({"p": p.id}),
    )
    .await;
    assert_eq!(removed["data"]["removeFromCart"]["itemCount"], 0);
    let refused = graphql(
        &app.router,
        Some(&token),
        "mutation($p: ID!) { addToCart(productId: $p, quantity: 100) { itemCount } }",
        json!({"p": p.id}),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "VALIDATION_FAILED"
    );
    let cleared = graphql(
        &app.router,
        Some(&token),
        "mutation { clearCart { itemCount } }",
        json!({}),
    )
    .await;
    assert_eq!(cleared["data"]["clearCart"]["itemCount"], 0);
    let anonymous = graphql(&app.router, None, "{ cart { itemCount } }", json!({})).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

/// Attacker finding 6: a malformed product id was reported as "product 00000000-… not found".
#[tokio::test]
async fn a_malformed_product_id_is_named_in_a_validation_error() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (_, token) = app.customer("typo@example.com").await;
    for mutation in [
        r#"mutation { addToCart(productId: "zzz", quantity: 1) { itemCount } }"#,
        r#"mutation { updateCartItem(productId: "zzz", quantity: 1) { itemCount } }"#,
        r#"mutation { removeFromCart(productId: "zzz") { itemCount } }"#,
    ] {
        let refused = graphql(&app.router, Some(&token), mutation, json!({})).await;
        let error = &refused["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "VALIDATION_FAILED",
            "{mutation}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("\"zzz\"") && !message.contains("00000000"),
            "{message}"
        );
    }
}

/// Attacker finding 3: 900 representations of one user each priced the cart with its own
/// products call, and a dozen such requests starved everyone else. Now one request takes at
/// most 100, and each user's cart is read and priced once however often it is named.
#[tokio::test]
async fn entity_representations_are_bounded_and_each_cart_is_priced_once() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("popular@example.com").await;
    let (other, _) = app.customer("private@example.com").await;
    let p = app.product("Pen", 150, 10).await;
    let two = cart::domain::Quantity::parse(2).unwrap();
    app.db.store.add(user, p.id, two).await.unwrap();
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id cart { itemCount subtotal } } } }";
    let reps = |n: usize| {
        let mut reps = vec![json!({"__typename": "User", "id": user}); n];
        reps[n - 1] = json!({"__typename": "User", "id": other});
        json!({ "r": reps })
    };
    let before = app.products_lookups();
    let answered = graphql(&app.router, Some(&token), query, reps(100)).await;
    let entities = answered["data"]["_entities"].as_array().unwrap();
    assert_eq!(entities.len(), 100, "{answered}");
    assert!(
        entities[..99]
            .iter()
            .all(|e| e["cart"] == json!({"itemCount": 2, "subtotal": "3.00"}))
    );
    assert_eq!(
        entities[99]["cart"],
        json!(null),
        "another user's cart stays private"
    );
    assert_eq!(
        app.products_lookups() - before,
        1,
        "one products call for the batch"
    );
    let refused = graphql(&app.router, Some(&token), query, reps(101)).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("101 entity representations")
    );
}

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(
        sdl.contains("type Product @key(fields: \"id\", resolvable: false)"),
        "{sdl}"
    );
    testing::assert_committed_sdl("cart", sdl);
}
