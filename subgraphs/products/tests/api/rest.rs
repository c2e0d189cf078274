//! The public and admin REST routes: happy paths and bad input.

use axum::http::{Method, StatusCode};
use serde_json::json;
use testing::{raw_request, request};
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestApp;

async fn app() -> TestApp {
    TestApp::new(Backend::Sqlite).await
}

#[tokio::test]
async fn lists_products_with_total_count_and_caps() {
    let app = app().await;
    for i in 0..3 {
        app.db.product(&format!("P{i}"), 100 * (i + 1), 5).await;
    }
    let response = app
        .send(request(
            Method::GET,
            "/api/products?limit=2&sort=-price",
            None,
            None,
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers["x-total-count"], "3");
    let body = response.json();
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["P2", "P1"]);
    assert_eq!(body[0]["price"], json!(3.0));
    assert_eq!(
        String::from_utf8_lossy(&response.body)
            .matches("\"price\":3.00")
            .count(),
        1,
        "two decimals on the wire"
    );

    for bad in [
        "limit=101",
        "limit=0",
        "limit=abc",
        "offset=-1",
        "sort=nope",
        "colour=red",
    ] {
        let response = app
            .send(request(
                Method::GET,
                &format!("/api/products?{bad}"),
                None,
                None,
            ))
            .await;
        response.assert_error(422, "VALIDATION_FAILED");
    }
}

#[tokio::test]
async fn filters_by_category_and_name() {
    let app = app().await;
    app.db.product_in("Laptop", 99_999, 1, "Electronics").await;
    app.db.product_in("Coffee Beans", 1_850, 1, "Grocery").await;
    let body = app
        .send(request(
            Method::GET,
            "/api/products?category=grocery",
            None,
            None,
        ))
        .await
        .json();
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["name"], "Coffee Beans");
    let body = app
        .send(request(Method::GET, "/api/products?search=LAP", None, None))
        .await
        .json();
    assert_eq!(body[0]["name"], "Laptop");
}

#[tokio::test]
async fn gets_one_product_or_404() {
    let app = app().await;
    let p = app.db.product("Laptop", 99_999, 50).await;
    let response = app
        .send(request(
            Method::GET,
            &format!("/api/products/{}", p.id),
            None,
            None,
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["id"], p.id.to_string());
    assert_eq!(body["price"], json!(999.99));
    assert_eq!(body["stock"], 50);
    let unknown = format!("/api/products/{}", Uuid::new_v4());
    app.send(request(Method::GET, &unknown, None, None))
        .await
        .assert_error(404, "NOT_FOUND");
    app.send(request(Method::GET, "/api/products/not-a-uuid", None, None))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn admin_creates_a_product_exactly_as_sent() {
    let app = app().await;
    let admin = app.auth.admin_token();
    let body = json!({"name": "Laptop", "description": "High-performance laptop", "price": 999.99, "stock": 50, "category": "Electronics"});
    let response = app
        .send(request(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(&body),
        ))
        .await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{:?}",
        response.json()
    );
    let created = response.json();
    assert!(String::from_utf8_lossy(&response.body).contains("\"price\":999.99"));
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let stored = app.db.store.get(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.price_minor, stored.stock, stored.category.as_deref()),
        (99_999, 50, Some("Electronics"))
    );

    // The original system's minimal body still works.
    let minimal = json!({"name": "Mouse", "price": 25, "stock": 100});
    let response = app
        .send(request(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(&minimal),
        ))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.json()["price"], json!(25.0));
}

#[tokio::test]
async fn bad_product_bodies_are_refused_and_nothing_is_stored() {
    let app = app().await;
    let admin = app.auth.admin_token();
    let cases = [
        (
            json!({"name": "X", "price": -1, "stock": 1}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 1.999, "stock": 1}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": "9.99", "stock": 1}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 0, "stock": 1}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 1, "stock": -1}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 1, "stock": 1.5}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 1, "stock": 9_999_999_999_i64}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "", "price": 1, "stock": 1}),
            422,
            "VALIDATION_FAILED",
        ),
        (json!({"price": 1, "stock": 1}), 422, "VALIDATION_FAILED"),
        (
            json!({"name": "X", "price": 1, "stock": 1, "id": "chosen-by-client"}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "price": 1, "stock": 1, "currency": "JPY"}),
            422,
            "VALIDATION_FAILED",
        ),
        (json!([1, 2, 3]), 422, "VALIDATION_FAILED"),
    ];
    for (body, status, code) in cases {
        let response = app
            .send(request(
                Method::POST,
                "/api/products",
                Some(&admin),
                Some(&body),
            ))
            .await;
        assert_eq!(
            (response.status.as_u16(), response.error_code()),
            (status, code.to_owned()),
            "for {body}"
        );
    }
    // Exponent notation is a valid JSON number but not a plain amount.
    let exponent = raw_request(
        Method::POST,
        "/api/products",
        Some(&admin),
        Some("application/json"),
        r#"{"name":"X","price":1e3,"stock":1}"#,
    );
    app.send(exponent)
        .await
        .assert_error(422, "VALIDATION_FAILED");
    let malformed = raw_request(
        Method::POST,
        "/api/products",
        Some(&admin),
        Some("application/json"),
        "{\"name\": ",
    );
    app.send(malformed).await.assert_error(400, "INVALID_JSON");
    let no_type = raw_request(
        Method::POST,
        "/api/products",
        Some(&admin),
        None,
        r#"{"name":"X","price":1,"stock":1}"#,
    );
    app.send(no_type)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let huge = format!(
        r#"{{"name":"X","price":1,"stock":1,"description":"{}"}}"#,
        "a".repeat(200 * 1024)
    );
    let huge = raw_request(
        Method::POST,
        "/api/products",
        Some(&admin),
        Some("application/json"),
        huge,
    );
    app.send(huge).await.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(
        app.db.store.list(&Default::default()).await.unwrap().total,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn stock_delta_applies_or_refuses_without_writing() {
    let app = app().await;
    let admin = app.auth.admin_token();
    let p = app.db.product("Laptop", 99_999, 50).await;
    let uri = format!("/api/products/{}/stock", p.id);
    let response = app
        .send(request(
            Method::PUT,
            &uri,
            Some(&admin),
            Some(&json!({"quantity": -5})),
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["stock"], 45);
    let response = app
        .send(request(
            Method::PUT,
            &uri,
            Some(&admin),
            Some(&json!({"quantity": 10})),
        ))
        .await;
    assert_eq!(response.json()["stock"], 55);
    let response = app
        .send(request(
            Method::PUT,
            &uri,
            Some(&admin),
            Some(&json!({"quantity": -56})),
        ))
        .await;
    response.assert_error(409, "INSUFFICIENT_STOCK");
    assert_eq!(app.db.stock_of(p.id).await, 55);

    for bad in [
        json!({"quantity": 0}),
        json!({"quantity": "5"}),
        json!({"quantity": 1.5}),
        json!({}),
        json!({"quantity": 2_000_000}),
    ] {
        let response = app
            .send(request(Method::PUT, &uri, Some(&admin), Some(&bad)))
            .await;
        response.assert_error(422, "VALIDATION_FAILED");
    }
    let unknown = format!("/api/products/{}/stock", Uuid::new_v4());
    app.send(request(
        Method::PUT,
        &unknown,
        Some(&admin),
        Some(&json!({"quantity": 1})),
    ))
    .await
    .assert_error(404, "NOT_FOUND");
    assert_eq!(app.db.stock_of(p.id).await, 55);
}

#[tokio::test]
async fn health_and_unknown_routes_answer_in_json() {
    let app = app().await;
    testing::assert_health_and_fallbacks(&app.router, "products", "/api/products").await;
}

#[tokio::test]
async fn every_json_route_rejects_bad_bodies_in_the_shared_shape() {
    let app = app().await;
    let p = app.db.product("Laptop", 99_999, 50).await;
    let admin = app.auth.admin_token();
    let service = app.service_token();
    let stock = format!("/api/products/{}/stock", p.id);
    testing::assert_rejects_bad_bodies(&app.router, Method::POST, "/api/products", Some(&admin))
        .await;
    testing::assert_rejects_bad_bodies(&app.router, Method::PUT, &stock, Some(&admin)).await;
    testing::assert_rejects_bad_bodies(
        &app.router,
        Method::POST,
        "/internal/reservations",
        Some(&service),
    )
    .await;
    assert_eq!(app.db.stock_of(p.id).await, 50);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = app().await;
    app.send(request(Method::GET, "/api/products", None, None))
        .await;
    let unknown = format!("/api/products/{}", Uuid::new_v4());
    app.send(request(Method::GET, &unknown, None, None)).await;
    let response = app.send(request(Method::GET, "/metrics", None, None)).await;
    assert_eq!(response.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let has = |route: &str, status: &str| {
        text.lines().any(|line| {
            line.starts_with("http_requests_total{")
                && line.contains("service=\"products\"")
                && line.contains(&format!("route=\"{route}\""))
                && line.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(has("/api/products", "200"), "{text}");
    assert!(has("/api/products/{product_id}", "404"), "{text}");
    assert!(
        !text.contains(&unknown[14..]),
        "raw ids never become labels"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency histogram"
    );
}

#[tokio::test]
async fn random_bodies_never_cause_a_server_error() {
    let app = app().await;
    let p = app.db.product("Laptop", 99_999, 50).await;
    let admin = app.auth.admin_token();
    let service = app.service_token();
    let fields = [
        "name",
        "description",
        "price",
        "currency",
        "stock",
        "category",
    ];
    testing::assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/api/products",
        Some(&admin),
        &fields,
        300,
    )
    .await;
    let stock = format!("/api/products/{}/stock", p.id);
    testing::assert_garbage_never_breaks(
        &app.router,
        Method::PUT,
        &stock,
        Some(&admin),
        &["quantity"],
        200,
    )
    .await;
    let reserve = ["orderId", "items"];
    testing::assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/internal/reservations",
        Some(&service),
        &reserve,
        200,
    )
    .await;
    // Whatever was accepted, stock never went negative.
    let all = app
        .db
        .store
        .list(&products::domain::ProductQuery::default())
        .await
        .unwrap();
    assert!(all.items.iter().all(|p| p.stock >= 0));
}
