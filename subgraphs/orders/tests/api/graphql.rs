//! The orders subgraph: `placeOrder`, `User.orders`, `order`, the status mutations, and the
//! `Order` entity's privacy.

use serde_json::json;
use testing::{Backend, graphql};

use crate::helpers::TestApp;

const PLACE: &str = "mutation($key: String) { placeOrder(input: {shippingAddress: {street: \"1 Main\", city: \"Oslo\", postalCode: \"0150\", country: \"Norway\"}, paymentMethod: \"paypal\", idempotencyKey: $key}) { id status total items { product { id } quantity unitPrice name } } }";

#[tokio::test]
async fn checkout_history_and_cancellation_over_graphql() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("graph@example.com").await;
    let p = app.product("Globe", 4_200, 9).await;
    app.fill_cart(user, p.id, 2).await;
    let placed = graphql(&app.router, Some(&token), PLACE, json!({"key": "g-1"})).await;
    let order = &placed["data"]["placeOrder"];
    assert_eq!(order["status"], "PENDING", "{placed}");
    assert_eq!(order["total"], "84.00");
    assert_eq!(
        order["items"][0],
        json!({"product": {"id": p.id}, "quantity": 2, "unitPrice": "42.00", "name": "Globe"})
    );
    let id = order["id"].as_str().unwrap().to_owned();

    // What the router asks for `User.orders`: the user entity by key.
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { orders(first: 5) { totalCount edges { node { id total } } } } } }";
    let history = graphql(
        &app.router,
        Some(&token),
        query,
        json!({"r": [{"__typename": "User", "id": user}]}),
    )
    .await;
    assert_eq!(history["data"]["_entities"][0]["orders"]["totalCount"], 1);
    assert_eq!(
        history["data"]["_entities"][0]["orders"]["edges"][0]["node"]["id"],
        id.as_str()
    );
    let (_, other) = app.customer("other@example.com").await;
    let spied = graphql(
        &app.router,
        Some(&other),
        query,
        json!({"r": [{"__typename": "User", "id": user}]}),
    )
    .await;
    assert_eq!(spied["data"]["_entities"][0]["orders"], json!(null));
    let entity =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id status } } }";
    let hidden = graphql(
        &app.router,
        Some(&other),
        entity,
        json!({"r": [{"__typename": "Order", "id": id}]}),
    )
    .await;
    assert_eq!(hidden["data"]["_entities"][0], json!(null));
    let own = graphql(
        &app.router,
        Some(&token),
        "query($id: ID!) { order(id: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(own["data"]["order"]["status"], "PENDING");

    let customer_ships = graphql(
        &app.router,
        Some(&token),
        "mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        customer_ships["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
    let cancelled = graphql(
        &app.router,
        Some(&token),
        "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(cancelled["data"]["cancelOrder"]["status"], "CANCELLED");
    assert_eq!(app.ledger(p.id).await.on_hand, 9, "restocked");
    let twice = graphql(
        &app.router,
        Some(&token),
        "mutation($id: ID!) { cancelOrder(id: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(twice["errors"][0]["extensions"]["code"], "CONFLICT");
}

#[tokio::test]
async fn two_checkouts_in_one_request_are_refused() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (_, token) = app.customer("greedy@example.com").await;
    let input = "input: {shippingAddress: {street: \"a\", city: \"b\", postalCode: \"c\", country: \"d\"}, paymentMethod: \"paypal\"}";
    let doc =
        format!("mutation {{ a: placeOrder({input}) {{ id }} b: placeOrder({input}) {{ id }} }}");
    let body = json!({"query": doc});
    let response = testing::send(
        &app.router,
        testing::request(
            axum::http::Method::POST,
            "/graphql",
            Some(&token),
            Some(&body),
        ),
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
}

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains("type Order @key(fields: \"id\")"), "{sdl}");
    testing::assert_committed_sdl("orders", sdl);
}

/// Attacker finding 3: 900 representations of one user, each selecting a hundred orders, ran
/// 900 store queries at once, held 440 MB and made other users' requests time out. Now one
/// request takes at most 100 representations, and the same user's page is read once.
#[tokio::test]
async fn entity_representations_are_bounded_and_answered_in_batches() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("many@example.com").await;
    let (other, _) = app.customer("elsewhere@example.com").await;
    let p = app.product("Map", 900, 50).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        app.fill_cart(user, p.id, 1).await;
        let placed = graphql(
            &app.router,
            Some(&token),
            PLACE,
            json!({"key": format!("e-{n}")}),
        )
        .await;
        ids.push(
            placed["data"]["placeOrder"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let users = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { orders(first: 100) { totalCount } } } }";
    let mut reps = vec![json!({"__typename": "User", "id": user}); 99];
    reps.push(json!({"__typename": "User", "id": other}));
    let answered = graphql(&app.router, Some(&token), users, json!({"r": reps})).await;
    let entities = answered["data"]["_entities"].as_array().unwrap();
    assert_eq!(entities.len(), 100, "{answered}");
    assert!(
        entities[..99]
            .iter()
            .all(|e| e["orders"]["totalCount"] == 3)
    );
    assert_eq!(
        entities[99]["orders"],
        json!(null),
        "another user's orders stay private"
    );
    reps.push(json!({"__typename": "User", "id": user}));
    let refused = graphql(&app.router, Some(&token), users, json!({"r": reps})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    assert!(refused["data"].is_null(), "nothing ran");

    // Order entities: in one batch, each visible to its owner only.
    let orders =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id total } } }";
    let mut reps: Vec<_> = ids
        .iter()
        .map(|id| json!({"__typename": "Order", "id": id}))
        .collect();
    reps.push(json!({"__typename": "Order", "id": "not-an-id"}));
    let found = graphql(&app.router, Some(&token), orders, json!({"r": reps})).await;
    let found = found["data"]["_entities"].as_array().unwrap().clone();
    assert_eq!(
        found.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(),
        [json!(ids[0]), json!(ids[1]), json!(ids[2]), json!(null)]
    );
    let (_, stranger) = app.customer("stranger@example.com").await;
    let hidden = graphql(&app.router, Some(&stranger), orders, json!({"r": reps})).await;
    assert!(
        hidden["data"]["_entities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.is_null())
    );
}
