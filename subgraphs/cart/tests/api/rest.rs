//! The cart's REST routes: every route, bad input, ownership, and calls to users and products.

use axum::http::Method;
use serde_json::{Value, json};
use testing::{Backend, assert_garbage_never_breaks, assert_rejects_bad_bodies, request};
use uuid::Uuid;

use crate::helpers::TestApp;

async fn add(
    app: &TestApp,
    token: &str,
    user: Uuid,
    product: Uuid,
    quantity: i64,
) -> testing::TestResponse {
    let body = json!({"userId": user, "productId": product, "quantity": quantity});
    app.send(request(Method::POST, "/api/cart", Some(token), Some(&body)))
        .await
}

#[tokio::test]
async fn a_customer_fills_changes_and_empties_their_cart() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("shopper@example.com").await;
    let laptop = app.product("Laptop", 99_999, 5).await;
    let mouse = app.product("Mouse", 2_499, 50).await;

    let response = add(&app, &token, user, laptop.id, 1).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    add(&app, &token, user, mouse.id, 2).await;
    let cart = add(&app, &token, user, mouse.id, 1).await.json();
    assert_eq!(cart["itemCount"], 4);
    assert_eq!(cart["subtotal"], json!(1074.96));
    assert_eq!(cart["currency"], "USD");
    let mouse_line = &cart["items"][1];
    assert_eq!(
        (
            &mouse_line["name"],
            &mouse_line["quantity"],
            &mouse_line["lineTotal"]
        ),
        (&json!("Mouse"), &json!(3), &json!(74.97))
    );

    let uri = format!("/api/cart/{user}/items/{}", mouse.id);
    let cart = app
        .send(request(
            Method::PUT,
            &uri,
            Some(&token),
            Some(&json!({"quantity": 1})),
        ))
        .await
        .json();
    assert_eq!(cart["subtotal"], json!(1024.98));
    let cart = app
        .send(request(Method::DELETE, &uri, Some(&token), None))
        .await
        .json();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    app.send(request(Method::DELETE, &uri, Some(&token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    let read = app
        .send(request(
            Method::GET,
            &format!("/api/cart/{user}"),
            Some(&token),
            None,
        ))
        .await
        .json();
    assert_eq!(read["itemCount"], 1);
    let emptied = app
        .send(request(
            Method::DELETE,
            &format!("/api/cart/{user}"),
            Some(&token),
            None,
        ))
        .await
        .json();
    assert_eq!(
        (emptied["itemCount"].clone(), emptied["subtotal"].clone()),
        (json!(0), json!(0.00))
    );
    assert!(
        app.db.store.get(user).await.unwrap().items.is_empty(),
        "stored empty"
    );
}

#[tokio::test]
async fn another_users_cart_is_not_found_and_an_admin_may_help() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (alice, alice_token) = app.customer("alice@example.com").await;
    let (bob, bob_token) = app.customer("bob@example.com").await;
    let p = app.product("Pen", 150, 10).await;
    add(&app, &alice_token, alice, p.id, 1).await;
    let cart_uri = format!("/api/cart/{alice}");
    let item_uri = format!("/api/cart/{alice}/items/{}", p.id);
    app.send(request(Method::GET, &cart_uri, Some(&bob_token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    add(&app, &bob_token, alice, p.id, 1)
        .await
        .assert_error(404, "NOT_FOUND");
    app.send(request(
        Method::PUT,
        &item_uri,
        Some(&bob_token),
        Some(&json!({"quantity": 9})),
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    app.send(request(Method::DELETE, &item_uri, Some(&bob_token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    app.send(request(Method::DELETE, &cart_uri, Some(&bob_token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(
        app.db.store.get(alice).await.unwrap().quantity_of(p.id),
        1,
        "untouched"
    );
    assert!(app.db.store.get(bob).await.unwrap().items.is_empty());
    app.send(request(Method::GET, &cart_uri, None, None))
        .await
        .assert_error(401, "UNAUTHENTICATED");
    let admin = app.auth.admin_token();
    let cart = app
        .send(request(Method::GET, &cart_uri, Some(&admin), None))
        .await
        .json();
    assert_eq!(cart["itemCount"], 1);
}

#[tokio::test]
async fn products_and_users_are_checked_with_their_services() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("careful@example.com").await;
    let ghost = Uuid::new_v4();
    let response = add(&app, &token, user, ghost, 1).await;
    response.assert_error(404, "NOT_FOUND");
    assert!(
        response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&ghost.to_string())
    );

    let scarce = app.product("Scarce", 100, 2).await;
    add(&app, &token, user, scarce.id, 2).await;
    add(&app, &token, user, scarce.id, 1)
        .await
        .assert_error(409, "INSUFFICIENT_STOCK");
    let uri = format!("/api/cart/{user}/items/{}", scarce.id);
    app.send(request(
        Method::PUT,
        &uri,
        Some(&token),
        Some(&json!({"quantity": 3})),
    ))
    .await
    .assert_error(409, "INSUFFICIENT_STOCK");

    let retired = app.product("Retired", 100, 10).await;
    app.deactivate(retired.id).await;
    add(&app, &token, user, retired.id, 1)
        .await
        .assert_error(409, "CONFLICT");
    // An admin filling the cart of an account that does not exist.
    let nobody = Uuid::new_v4();
    let response = add(&app, &app.auth.admin_token(), nobody, scarce.id, 1).await;
    response.assert_error(404, "NOT_FOUND");
    assert!(
        response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user")
    );
    assert_eq!(
        app.db.store.get(user).await.unwrap().quantity_of(scarce.id),
        2
    );
}

#[tokio::test]
async fn a_stopped_peer_is_a_503_and_nothing_is_written() {
    let mut app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("patient@example.com").await;
    let p = app.product("Kettle", 3_000, 5).await;
    app.platform.products.stop().await;
    let response = add(&app, &token, user, p.id, 1).await;
    response.assert_error(503, "SERVICE_UNAVAILABLE");
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("products service is unavailable"),
        "{message}"
    );
    assert!(response.headers.contains_key("retry-after"));
    assert!(
        app.db.store.get(user).await.unwrap().items.is_empty(),
        "nothing written"
    );
    app.platform.users.stop().await;
    add(&app, &token, user, p.id, 1)
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("sloppy@example.com").await;
    let p = app.product("Cup", 500, 500).await;
    for quantity in [0, -1, 100, i64::MAX] {
        add(&app, &token, user, p.id, quantity)
            .await
            .assert_error(422, "VALIDATION_FAILED");
    }
    for bad in [
        json!({"userId": user, "productId": p.id}),
        json!({"userId": "nope", "productId": p.id, "quantity": 1}),
        json!({"userId": user, "productId": p.id, "quantity": "2"}),
        json!({"userId": user, "productId": p.id, "quantity": 1, "extra": true}),
    ] {
        app.send(request(Method::POST, "/api/cart", Some(&token), Some(&bad)))
            .await
            .assert_error(422, "VALIDATION_FAILED");
    }
    assert_rejects_bad_bodies(&app.router, Method::POST, "/api/cart", Some(&token)).await;
    let uri = format!("/api/cart/{user}/items/{}", p.id);
    assert_rejects_bad_bodies(&app.router, Method::PUT, &uri, Some(&token)).await;
    app.send(request(
        Method::GET,
        "/api/cart/not-a-uuid",
        Some(&token),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/api/cart",
        Some(&token),
        &["userId", "productId", "quantity"],
        300,
    )
    .await;
    assert_garbage_never_breaks(
        &app.router,
        Method::PUT,
        &uri,
        Some(&token),
        &["quantity"],
        200,
    )
    .await;
    // Nothing of it was written.
    let stored: Value = json!(app.db.store.get(user).await.unwrap().items.len());
    assert!(stored.as_u64().unwrap() <= 1);
}

#[tokio::test]
async fn orders_reads_and_empties_carts_with_the_service_credential_only() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("buyer@example.com").await;
    let p = app.product("Lamp", 2_000, 5).await;
    add(&app, &token, user, p.id, 2).await;
    let service = app.auth.service.mint().unwrap();
    let contents = app
        .send(request(
            Method::GET,
            &format!("/internal/carts/{user}"),
            Some(&service),
            None,
        ))
        .await
        .json();
    assert_eq!(
        contents["items"],
        json!([{"productId": p.id, "quantity": 2}])
    );
    let version = contents["version"].as_i64().unwrap();
    let uri = format!("/internal/carts/{user}/ordered");
    let taken = |order: Uuid, version: i64, quantity: i32| json!({"orderId": order, "version": version, "items": [{"productId": p.id, "quantity": quantity}]});
    // Customers, even the cart's owner, cannot take orders out of carts.
    let order = Uuid::now_v7();
    app.send(request(
        Method::POST,
        &uri,
        Some(&token),
        Some(&taken(order, version, 2)),
    ))
    .await
    .assert_error(403, "FORBIDDEN");
    assert_eq!(app.db.store.get(user).await.unwrap().quantity_of(p.id), 2);
    // The cart changed since the order read it: the order's one lamp goes, the other stays.
    let answer = app
        .send(request(
            Method::POST,
            &uri,
            Some(&service),
            Some(&taken(order, version - 1, 1)),
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    assert_eq!(app.db.store.get(user).await.unwrap().quantity_of(p.id), 1);
    // The same order again takes nothing; a cart still at the order's version is emptied.
    app.send(request(
        Method::POST,
        &uri,
        Some(&service),
        Some(&taken(order, version - 1, 1)),
    ))
    .await;
    assert_eq!(app.db.store.get(user).await.unwrap().quantity_of(p.id), 1);
    let now = app.db.store.get(user).await.unwrap().version;
    app.send(request(
        Method::POST,
        &uri,
        Some(&service),
        Some(&taken(Uuid::now_v7(), now, 1)),
    ))
    .await;
    assert!(app.db.store.get(user).await.unwrap().items.is_empty());
    app.send(request(
        Method::POST,
        &uri,
        Some(&service),
        Some(&json!({"orderId": order})),
    ))
    .await
    .assert_error(422, "VALIDATION_FAILED");
    // Attacker finding (second round): negative quantities added to the cart, and extreme
    // ones answered 500. A line is what a cart holds: 1 to 99 of a product, once.
    add(&app, &token, user, p.id, 5).await;
    let line = |quantity: i64| json!({"productId": p.id, "quantity": quantity});
    let too_many: Vec<_> = (0..51)
        .map(|_| json!({"productId": Uuid::new_v4(), "quantity": 1}))
        .collect();
    for items in [
        json!([line(-5)]),
        json!([line(0)]),
        json!([line(100)]),
        json!([line(2_147_483_647)]),
        json!([line(-2_147_483_648)]),
        json!([line(1), line(1)]),
        json!(too_many),
    ] {
        let body = json!({"orderId": Uuid::now_v7(), "version": 0, "items": items});
        app.send(request(Method::POST, &uri, Some(&service), Some(&body)))
            .await
            .assert_error(422, "VALIDATION_FAILED");
    }
    assert_eq!(
        app.db.store.get(user).await.unwrap().quantity_of(p.id),
        5,
        "nothing changed"
    );
}

#[tokio::test]
async fn health_and_unknown_routes_answer_in_json() {
    let app = TestApp::new(Backend::Sqlite).await;
    testing::assert_health_and_fallbacks(&app.router, "cart", "/api/cart").await;
}
