//! The internal reservation endpoints the orders service calls.

use axum::http::{Method, StatusCode};
use serde_json::json;
use testing::request;
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestApp;

#[tokio::test]
async fn reserve_replay_and_release_over_http() {
    let app = TestApp::new(Backend::Sqlite).await;
    let service = app.service_token();
    let laptop = app.db.product("Laptop", 99_999, 5).await;
    let mouse = app.db.product("Mouse", 2_499, 5).await;
    let order = Uuid::new_v4();
    let body = json!({"orderId": order, "items": [
        {"productId": laptop.id, "quantity": 1},
        {"productId": mouse.id, "quantity": 2},
    ]});

    let response = app.reserve(&body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let reservation = response.json();
    assert_eq!(reservation["status"], "held");
    assert!(reservation["expiresAt"].is_string());
    let laptop_line = reservation["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["productId"] == laptop.id.to_string())
        .unwrap();
    assert_eq!(laptop_line["unitPrice"], json!(999.99));

    let replay = app.reserve(&body).await;
    assert_eq!(
        replay.status,
        StatusCode::OK,
        "a retried reservation answers the first one"
    );
    assert_eq!(
        (
            app.db.stock_of(laptop.id).await,
            app.db.stock_of(mouse.id).await
        ),
        (4, 3)
    );

    // Once the order is stored, orders confirms: the stock is sold, whatever the hold.
    let confirm_uri = format!("/internal/reservations/{order}/confirm");
    for _ in 0..2 {
        let response = app
            .send(request(Method::POST, &confirm_uri, Some(&service), None))
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.json()["status"], "confirmed");
    }
    let ledger = app
        .send(request(
            Method::GET,
            &format!("/internal/products/{}/stock", mouse.id),
            Some(&service),
            None,
        ))
        .await
        .json();
    assert_eq!(ledger, json!({"onHand": 3, "held": 0, "sold": 2}));

    let release_uri = format!("/internal/reservations/{order}/release");
    for _ in 0..2 {
        let response = app
            .send(request(Method::POST, &release_uri, Some(&service), None))
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.json()["status"], "released");
    }
    assert_eq!(
        (
            app.db.stock_of(laptop.id).await,
            app.db.stock_of(mouse.id).await
        ),
        (5, 5)
    );

    // Released (the order was cancelled), it can no longer be confirmed.
    app.send(request(Method::POST, &confirm_uri, Some(&service), None))
        .await
        .assert_error(409, "RESERVATION_RELEASED");
    // Retried after its release, the reservation is a 409, never a 2xx an orders service could
    // take for "stock held"; and it takes nothing.
    let retried = app.reserve(&body).await;
    retried.assert_error(409, "RESERVATION_RELEASED");
    assert!(
        retried.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("released")
    );
    assert_eq!(
        (
            app.db.stock_of(laptop.id).await,
            app.db.stock_of(mouse.id).await
        ),
        (5, 5)
    );

    // An order id products never reserved for: the contract's own code, which orders can tell
    // from a 404 for a route products does not serve.
    for action in ["release", "confirm"] {
        let unknown = format!("/internal/reservations/{}/{action}", Uuid::new_v4());
        app.send(request(Method::POST, &unknown, Some(&service), None))
            .await
            .assert_error(404, "RESERVATION_NOT_FOUND");
    }
    app.send(request(
        Method::POST,
        "/internal/reservations/x/y/z",
        Some(&service),
        None,
    ))
    .await
    .assert_error(404, "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn reservation_failures_are_409_and_take_nothing() {
    let app = TestApp::new(Backend::Sqlite).await;
    let p = app.db.product("Scarce", 100, 1).await;
    let other = app.db.product("Plenty", 100, 10).await;
    let body = json!({"orderId": Uuid::new_v4(), "items": [{"productId": other.id, "quantity": 1}, {"productId": p.id, "quantity": 2}]});
    let response = app.reserve(&body).await;
    response.assert_error(409, "INSUFFICIENT_STOCK");
    assert_eq!(
        (app.db.stock_of(p.id).await, app.db.stock_of(other.id).await),
        (1, 10)
    );

    let ghost =
        json!({"orderId": Uuid::new_v4(), "items": [{"productId": Uuid::new_v4(), "quantity": 1}]});
    app.reserve(&ghost).await.assert_error(409, "CONFLICT");

    for bad in [
        json!({"orderId": Uuid::new_v4(), "items": []}),
        json!({"orderId": Uuid::new_v4(), "items": [{"productId": p.id, "quantity": 0}]}),
        json!({"orderId": Uuid::new_v4(), "items": [{"productId": p.id, "quantity": -1}]}),
        json!({"orderId": "nope", "items": [{"productId": p.id, "quantity": 1}]}),
        json!({"orderId": Uuid::new_v4(), "items": [{"productId": p.id, "quantity": 1, "price": 0.01}]}),
    ] {
        let response = app.reserve(&bad).await;
        response.assert_error(422, "VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn only_services_reach_internal_endpoints() {
    let app = TestApp::new(Backend::Sqlite).await;
    let p = app.db.product("Laptop", 99_999, 5).await;
    let body = json!({"orderId": Uuid::new_v4(), "items": [{"productId": p.id, "quantity": 1}]});
    app.send(request(
        Method::POST,
        "/internal/reservations",
        None,
        Some(&body),
    ))
    .await
    .assert_error(401, "UNAUTHENTICATED");
    for user_token in [app.auth.customer_token(), app.auth.admin_token()] {
        let response = app
            .send(request(
                Method::POST,
                "/internal/reservations",
                Some(&user_token),
                Some(&body),
            ))
            .await;
        response.assert_error(403, "FORBIDDEN");
    }
    let other_secret =
        auth::ServiceAuth::new("orders", &auth::ServiceAuth::generate_secret()).unwrap();
    let foreign = other_secret.mint().unwrap();
    app.send(request(
        Method::POST,
        "/internal/reservations",
        Some(&foreign),
        Some(&body),
    ))
    .await
    .assert_error(401, "UNAUTHENTICATED");
    assert_eq!(app.db.stock_of(p.id).await, 5);
}

#[tokio::test]
async fn lookup_answers_many_products_in_one_call() {
    let app = TestApp::new(Backend::Sqlite).await;
    let service = app.service_token();
    let a = app.db.product("A", 150, 3).await;
    let b = app.db.product("B", 99_999, 0).await;
    let body = json!({"ids": [a.id, Uuid::new_v4(), b.id]});
    let response = app
        .send(request(
            Method::POST,
            "/internal/products/lookup",
            Some(&service),
            Some(&body),
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let mut found = response.json().as_array().unwrap().clone();
    found.sort_by_key(|p| p["name"].as_str().unwrap().to_owned());
    assert_eq!(found.len(), 2, "unknown ids are left out");
    assert_eq!(found[0]["price"], json!(1.50));
    assert_eq!(
        (found[1]["stock"].as_i64(), found[1]["active"].as_bool()),
        (Some(0), Some(true))
    );
    let too_many = json!({"ids": vec![Uuid::new_v4(); 201]});
    app.send(request(
        Method::POST,
        "/internal/products/lookup",
        Some(&service),
        Some(&too_many),
    ))
    .await
    .assert_error(422, "VALIDATION_FAILED");
    let customer = app.auth.customer_token();
    app.send(request(
        Method::POST,
        "/internal/products/lookup",
        Some(&customer),
        Some(&body),
    ))
    .await
    .assert_error(403, "FORBIDDEN");
}
