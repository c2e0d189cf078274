//! Who may do what on the products routes.

use axum::http::Method;
use serde_json::json;
use testing::request;

use testing::Backend;

use crate::helpers::TestApp;

#[tokio::test]
async fn writes_need_a_valid_admin_token() {
    let app = TestApp::new(Backend::Sqlite).await;
    let p = app.db.product("Laptop", 99_999, 50).await;
    let body = json!({"name": "X", "price": 1, "stock": 1});
    let stock_uri = format!("/api/products/{}/stock", p.id);
    let delta = json!({"quantity": -1});

    app.send(request(Method::POST, "/api/products", None, Some(&body)))
        .await
        .assert_error(401, "UNAUTHENTICATED");
    app.send(request(Method::PUT, &stock_uri, None, Some(&delta)))
        .await
        .assert_error(401, "UNAUTHENTICATED");

    let customer = app.auth.customer_token();
    app.send(request(
        Method::POST,
        "/api/products",
        Some(&customer),
        Some(&body),
    ))
    .await
    .assert_error(403, "FORBIDDEN");
    app.send(request(
        Method::PUT,
        &stock_uri,
        Some(&customer),
        Some(&delta),
    ))
    .await
    .assert_error(403, "FORBIDDEN");

    let forged = [
        app.auth
            .expired_token(uuid::Uuid::new_v4(), auth::Role::Admin),
        app.auth.alg_none_token(),
        app.auth.hs256_with_public_key_token(),
        app.auth.foreign_token(),
        app.auth.wrong_audience_token(),
        app.service_token(),
        "not.a.jwt".to_owned(),
    ];
    for token in &forged {
        let response = app
            .send(request(
                Method::POST,
                "/api/products",
                Some(token),
                Some(&body),
            ))
            .await;
        response.assert_error(401, "UNAUTHENTICATED");
    }
    let basic = testing::raw_request(
        Method::POST,
        "/api/products",
        None,
        Some("application/json"),
        body.to_string(),
    );
    let mut basic = basic;
    basic
        .headers_mut()
        .insert("authorization", "Basic YWRtaW46YWRtaW4=".parse().unwrap());
    app.send(basic).await.assert_error(401, "UNAUTHENTICATED");

    assert_eq!(app.db.stock_of(p.id).await, 50);
    assert_eq!(
        app.db.store.list(&Default::default()).await.unwrap().total,
        1
    );
}

#[tokio::test]
async fn reads_are_public() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = app
        .send(request(Method::GET, "/api/products", None, None))
        .await;
    assert_eq!(response.status, 200);
}
