//! The orders REST routes: every route, bad input, ownership and the status table.

use axum::http::Method;
use serde_json::json;
use testing::{Backend, assert_garbage_never_breaks, assert_rejects_bad_bodies, request};
use uuid::Uuid;

use crate::helpers::{TestApp, body};

#[tokio::test]
async fn a_customer_checks_out_and_an_admin_ships_the_order() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("buyer@example.com").await;
    let laptop = app.product("Laptop", 99_999, 5).await;
    let mouse = app.product("Mouse", 2_499, 10).await;
    app.fill_cart(user, laptop.id, 2).await;
    app.fill_cart(user, mouse.id, 1).await;

    let placed = app.place(&token, user, Some("first-order")).await;
    assert_eq!(
        placed.status,
        201,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let order = body(&placed);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"], json!(2024.97));
    assert_eq!(order["paymentMethod"], "credit_card");
    assert_eq!(order["shippingAddress"]["city"], "Toronto");
    let lines = order["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let laptop_line = lines
        .iter()
        .find(|l| l["productId"] == laptop.id.to_string())
        .unwrap();
    assert_eq!(
        (
            &laptop_line["name"],
            &laptop_line["quantity"],
            &laptop_line["unitPrice"],
            &laptop_line["lineTotal"]
        ),
        (&json!("Laptop"), &json!(2), &json!(999.99), &json!(1999.98))
    );
    // Stock sold, cart emptied, prices kept on the order even if the catalogue changes.
    assert_eq!(app.ledger(laptop.id).await.sold, 2);
    assert_eq!(app.ledger(laptop.id).await.on_hand, 3);
    assert!(app.cart_store.get(user).await.unwrap().items.is_empty());
    let id = order["id"].as_str().unwrap().to_owned();

    let read = app
        .send(request(
            Method::GET,
            &format!("/api/orders/{id}"),
            Some(&token),
            None,
        ))
        .await;
    assert_eq!(body(&read)["total"], json!(2024.97));
    let list = app
        .send(request(
            Method::GET,
            &format!("/api/orders/user/{user}?limit=10"),
            Some(&token),
            None,
        ))
        .await;
    assert_eq!(list.headers["x-total-count"], "1");
    assert_eq!(body(&list)[0]["id"], id.as_str());

    // A customer may not move their order along; an admin may, by the table only.
    app.set_status(&token, &id, "paid")
        .await
        .assert_error(403, "FORBIDDEN");
    let admin = app.auth.admin_token();
    app.set_status(&admin, &id, "shipped")
        .await
        .assert_error(409, "CONFLICT");
    for status in ["paid", "shipped", "delivered"] {
        let moved = app.set_status(&admin, &id, status).await;
        assert_eq!(body(&moved)["status"], status);
    }
    for status in ["pending", "paid", "shipped", "cancelled", "delivered"] {
        app.set_status(&admin, &id, status)
            .await
            .assert_error(409, "CONFLICT");
    }
    app.set_status(&admin, &id, "lost")
        .await
        .assert_error(422, "VALIDATION_FAILED");
    app.assert_stock_accounted(laptop.id, 5).await;
}

#[tokio::test]
async fn every_illegal_transition_is_a_409_and_cancelling_restocks() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("changer@example.com").await;
    let p = app.product("Chair", 5_000, 20).await;
    let admin = app.auth.admin_token();
    let allowed = [
        ("pending", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
        ("pending", "cancelled"),
        ("paid", "cancelled"),
    ];
    let path_to = |status: &str| -> Vec<&'static str> {
        match status {
            "pending" => vec![],
            "paid" => vec!["paid"],
            "shipped" => vec!["paid", "shipped"],
            "delivered" => vec!["paid", "shipped", "delivered"],
            _ => vec!["cancelled"],
        }
    };
    for from in ["pending", "paid", "shipped", "delivered", "cancelled"] {
        for to in ["pending", "paid", "shipped", "delivered", "cancelled"] {
            app.fill_cart(user, p.id, 1).await;
            let order = body(&app.place(&token, user, None).await);
            let id = order["id"].as_str().unwrap().to_owned();
            for step in path_to(from) {
                assert_eq!(app.set_status(&admin, &id, step).await.status, 200);
            }
            let answer = app.set_status(&admin, &id, to).await;
            if allowed.contains(&(from, to)) {
                assert_eq!(answer.status, 200, "{from} → {to}");
            } else {
                answer.assert_error(409, "CONFLICT");
            }
        }
    }
    // 25 orders of one chair each: the cancelled ones restocked once each.
    app.assert_stock_accounted(p.id, 20).await;
}

#[tokio::test]
async fn another_users_orders_are_not_found_and_an_admin_sees_all() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (alice, alice_token) = app.customer("alice@example.com").await;
    let (bob, bob_token) = app.customer("bob@example.com").await;
    let p = app.product("Vase", 3_000, 5).await;
    app.fill_cart(alice, p.id, 1).await;
    let id = body(&app.place(&alice_token, alice, None).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(request(
        Method::GET,
        &format!("/api/orders/{id}"),
        Some(&bob_token),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    app.send(request(
        Method::GET,
        &format!("/api/orders/user/{alice}"),
        Some(&bob_token),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    app.set_status(&bob_token, &id, "cancelled")
        .await
        .assert_error(404, "NOT_FOUND");
    // Bob cannot check out Alice's cart either, and learns nothing: her id answers word for
    // word as an id nobody has.
    let hers = app.place(&bob_token, alice, None).await;
    hers.assert_error(404, "NOT_FOUND");
    let nobody = Uuid::now_v7();
    let nobodys = app.place(&bob_token, nobody, None).await;
    nobodys.assert_error(404, "NOT_FOUND");
    assert_eq!(
        body(&hers)["error"]["message"],
        format!("user {alice} not found")
    );
    assert_eq!(
        body(&nobodys)["error"]["message"],
        format!("user {nobody} not found")
    );
    let bobs = app
        .send(request(
            Method::GET,
            &format!("/api/orders/user/{bob}"),
            Some(&bob_token),
            None,
        ))
        .await;
    assert_eq!(bobs.headers["x-total-count"], "0");
    let admin = app.auth.admin_token();
    let seen = app
        .send(request(
            Method::GET,
            &format!("/api/orders/{id}"),
            Some(&admin),
            None,
        ))
        .await;
    assert_eq!(seen.status, 200);
    app.send(request(
        Method::GET,
        &format!("/api/orders/{id}"),
        None,
        None,
    ))
    .await
    .assert_error(401, "UNAUTHENTICATED");
    app.send(request(
        Method::GET,
        &format!("/api/orders/{}", Uuid::new_v4()),
        Some(&admin),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    app.send(request(
        Method::GET,
        "/api/orders/not-an-id",
        Some(&admin),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn bad_checkouts_get_a_clear_4xx_and_write_nothing() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("sloppy@example.com").await;
    // An empty cart.
    let empty = app.place(&token, user, None).await;
    empty.assert_error(422, "VALIDATION_FAILED");
    assert!(
        empty.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cart is empty")
    );
    let p = app.product("Desk", 20_000, 3).await;
    app.fill_cart(user, p.id, 1).await;
    let address =
        json!({"street": "1 Main", "city": "Oslo", "postalCode": "0150", "country": "Norway"});
    let bad = [
        json!({"userId": user, "shippingAddress": address, "paymentMethod": "bitcoin"}),
        json!({"userId": user, "shippingAddress": {"street": "1 Main", "city": "Oslo", "postalCode": "0150"}, "paymentMethod": "paypal"}),
        json!({"userId": user, "shippingAddress": {"street": " ", "city": "Oslo", "postalCode": "0150", "country": "Norway"}, "paymentMethod": "paypal"}),
        json!({"userId": user, "shippingAddress": address}),
        json!({"userId": user, "shippingAddress": address, "paymentMethod": "paypal", "total": 0.01}),
        json!({"userId": "someone", "shippingAddress": address, "paymentMethod": "paypal"}),
    ];
    for body in bad {
        let response = app
            .send(request(
                Method::POST,
                "/api/orders",
                Some(&token),
                Some(&body),
            ))
            .await;
        response.assert_error(422, "VALIDATION_FAILED");
    }
    let mut keyed = request(
        Method::POST,
        "/api/orders",
        Some(&token),
        Some(&json!({"userId": user, "shippingAddress": address, "paymentMethod": "paypal"})),
    );
    keyed
        .headers_mut()
        .insert("idempotency-key", "has spaces in it".parse().unwrap());
    app.send(keyed).await.assert_error(422, "VALIDATION_FAILED");
    assert_rejects_bad_bodies(&app.router, Method::POST, "/api/orders", Some(&token)).await;
    assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/api/orders",
        Some(&token),
        &["userId", "shippingAddress", "paymentMethod"],
        200,
    )
    .await;
    // None of it placed an order or touched stock or the cart.
    let (orders, total) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    assert_eq!((orders.len(), total), (0, 0));
    assert_eq!(app.ledger(p.id).await.on_hand, 3);
    assert_eq!(app.cart_store.get(user).await.unwrap().quantity_of(p.id), 1);
}

#[tokio::test]
async fn health_and_unknown_routes_answer_in_json() {
    let app = TestApp::new(Backend::Sqlite).await;
    testing::assert_health_and_fallbacks(&app.router, "orders", "/api/orders").await;
}
