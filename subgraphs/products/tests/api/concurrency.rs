//! Concurrent writers never oversell.

use axum::http::{Method, StatusCode};
use serde_json::json;
use testing::request;
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestApp;

on_each_backend!([sqlite, postgres] {
    fifty_concurrent_decrements_on_stock_twenty_sell_exactly_twenty,
    concurrent_replays_of_one_order_reserve_once
});

async fn fifty_concurrent_decrements_on_stock_twenty_sell_exactly_twenty(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::new(backend).await);
    let p = app.db.product("Hot Item", 1_000, 20).await;
    let admin = app.auth.admin_token();
    let uri = format!("/api/products/{}/stock", p.id);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, admin, uri) = (app.clone(), admin.clone(), uri.clone());
            tokio::spawn(async move {
                app.send(request(
                    Method::PUT,
                    &uri,
                    Some(&admin),
                    Some(&json!({"quantity": -1})),
                ))
                .await
            })
        })
        .collect();
    let (mut ok, mut conflict) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                assert_eq!(response.error_code(), "INSUFFICIENT_STOCK");
                conflict += 1;
            }
            other => panic!("unexpected {other}: {:?}", response.json()),
        }
    }
    assert_eq!((ok, conflict), (20, 30));
    assert_eq!(app.db.stock_of(p.id).await, 0);
}

async fn concurrent_replays_of_one_order_reserve_once(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::new(backend).await);
    let p = app.db.product("Limited", 1_000, 100).await;
    let body = json!({"orderId": Uuid::new_v4(), "items": [{"productId": p.id, "quantity": 3}]});
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, body) = (app.clone(), body.clone());
            tokio::spawn(async move { app.reserve(&body).await.status })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.db.stock_of(p.id).await, 97);
}
