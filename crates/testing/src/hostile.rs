//! Hostile bodies: malformed, mistyped, oversized and generated garbage, none of which may make
//! a service answer 5xx.

use axum::Router;
use axum::http::Method;
use serde_json::Value;
use tower::ServiceExt;

use crate::http::{raw_request, request, send};

/// Sends malformed JSON, a non-JSON content type and an oversized body to a JSON route, and
/// checks each gets its 4xx in the shared shape (and never a 500).
pub async fn assert_rejects_bad_bodies(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) {
    let malformed = raw_request(method.clone(), uri, token, Some("application/json"), "{,");
    send(app, malformed).await.assert_error(400, "INVALID_JSON");
    let not_json = raw_request(method.clone(), uri, token, Some("text/plain"), "{}");
    send(app, not_json)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let wrong_shape = raw_request(
        method.clone(),
        uri,
        token,
        Some("application/json"),
        "[\"not\", \"an\", \"object\"]",
    );
    send(app, wrong_shape)
        .await
        .assert_error(422, "VALIDATION_FAILED");
    let huge = format!(
        "{{\"padding\": \"{}\"}}",
        "x".repeat(web::config::HttpConfig::DEFAULT_BODY_LIMIT + 1)
    );
    let huge = raw_request(method, uri, token, Some("application/json"), huge);
    send(app, huge).await.assert_error(413, "PAYLOAD_TOO_LARGE");
}

/// A small deterministic generator (xorshift), so a failing garbage case replays exactly.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// A JSON value of any type, biased towards the edges: huge, negative, fractional, empty,
    /// unicode and nested.
    fn value(&mut self, depth: u32) -> Value {
        use serde_json::json;
        match self.next() % 14 {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(i64::MIN),
            3 => json!(u64::MAX),
            4 => json!(-1),
            5 => json!(0),
            6 => json!(1.000_000_1),
            7 => json!(1e300),
            8 => json!(""),
            9 => json!(
                self.pick(&[
                    "ü¥€💥",
                    "\u{0}",
                    "a\nb",
                    "'; DROP TABLE users; --",
                    "%_\\",
                    " "
                ])
                .to_string()
            ),
            10 => json!("x".repeat((self.next() % 300) as usize)),
            11 => json!(uuid::Uuid::from_u128(u128::from(self.next()))),
            12 if depth < 3 => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ if depth < 3 => {
                let mut object = serde_json::Map::new();
                for _ in 0..self.next() % 3 {
                    object.insert(format!("k{}", self.next() % 5), self.value(depth + 1));
                }
                Value::Object(object)
            }
            _ => json!(42),
        }
    }
}

/// Sends `cases` bodies to a JSON route: objects with the route's own `fields` (and sometimes
/// one more) holding values of every type. Any 5xx fails the test, naming the body.
pub async fn assert_garbage_never_breaks(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    fields: &[&str],
    cases: u32,
) {
    let mut garbage = Garbage(0x9E37_79B9_7F4A_7C15);
    for _ in 0..cases {
        let mut body = serde_json::Map::new();
        for field in fields {
            if !garbage.next().is_multiple_of(5) {
                body.insert((*field).to_owned(), garbage.value(0));
            }
        }
        if garbage.next().is_multiple_of(7) {
            body.insert("unexpected".to_owned(), garbage.value(0));
        }
        let body = Value::Object(body);
        let response = app
            .clone()
            .oneshot(request(method.clone(), uri, token, Some(&body)))
            .await
            .expect("infallible");
        assert!(
            response.status().is_client_error() || response.status().is_success(),
            "{} for {body}",
            response.status()
        );
    }
}
