//! The cart subgraph: `User.cart`, the mutations, and the references to products.

use kit::testing::{Backend, graphql};
use serde_json::json;

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

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(
        sdl.contains("type Product @key(fields: \"id\", resolvable: false)"),
        "{sdl}"
    );
    kit::testing::assert_committed_sdl("cart", sdl);
}
