//! Requests sent through an app in-process, and responses as a test sees them.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Checks `/health`, `/health/live` and `/health/ready` answer 200 for `service`, and that
/// unknown routes and methods answer in the shared error shape.
pub async fn assert_health_and_fallbacks(app: &Router, service: &str, known_route: &str) {
    for path in ["/health", "/health/live", "/health/ready"] {
        let response = send(app, request(Method::GET, path, None, None)).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.json()["service"], service);
        assert!(
            response.headers.contains_key(web::http::REQUEST_ID),
            "responses carry a request id"
        );
    }
    send(app, request(Method::GET, "/no/such/route", None, None))
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    send(app, request(Method::DELETE, known_route, None, None))
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error.code` of a REST error body, after checking the body has the shared shape.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("no error object in {body}"));
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {body}"
        );
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body}"))
            .to_owned()
    }

    /// Asserts the status and the error code together.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error_code().as_str()),
            (status, code),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

/// Sends a request through the app in-process. A 5xx other than 503 fails the test on the spot:
/// no input may make a service answer 500.
pub async fn send(app: &Router, request: Request<Body>) -> TestResponse {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes();
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "server error {status}: {}",
        String::from_utf8_lossy(&body)
    );
    TestResponse {
        status,
        headers,
        body,
    }
}

/// A request with an optional bearer token and an optional JSON body.
pub fn request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(body).expect("serialize")))
            .expect("request"),
        None => builder.body(Body::empty()).expect("request"),
    }
}

/// A request whose body is sent as given, for malformed and oversized bodies.
pub fn raw_request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).expect("request")
}

/// Runs a GraphQL operation and returns the whole response body.
pub async fn graphql(app: &Router, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = serde_json::json!({"query": query, "variables": variables});
    let response = send(app, request(Method::POST, "/graphql", token, Some(&body))).await;
    response.json()
}
