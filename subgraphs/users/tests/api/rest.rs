//! Register, login, profiles and JWKS over REST: happy paths and bad input.

use axum::http::{Method, StatusCode};
use serde_json::json;
use testing::{raw_request, request};
use users::domain::Email;

use testing::Backend;

use crate::helpers::TestApp;

async fn app() -> TestApp {
    TestApp::new(Backend::Sqlite).await
}

#[tokio::test]
async fn register_creates_a_customer_and_stores_only_a_hash() {
    let app = app().await;
    let body = json!({"email": "Test@Example.com", "password": "Test123!", "name": "Test User"});
    let response = app.register_with(&body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let user = response.json();
    assert_eq!(user["email"], "test@example.com");
    assert_eq!(user["role"], "customer");
    assert!(user.get("password").is_none() && user.get("passwordHash").is_none());
    let stored = app
        .db
        .store
        .credentials(&Email::parse("test@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "argon2id hash stored"
    );
    assert!(!stored.password_hash.contains("Test123!"));
}

#[tokio::test]
async fn duplicate_email_in_any_case_is_409() {
    let app = app().await;
    app.account("dup@example.com").await;
    let body = json!({"email": "DUP@example.COM", "password": "Other123!", "name": "Other"});
    let response = app.register_with(&body).await;
    response.assert_error(409, "EMAIL_TAKEN");
}

#[tokio::test]
async fn bad_registrations_are_refused_and_nothing_is_stored() {
    let app = app().await;
    let cases = [
        json!({"email": "a@example.com", "password": "short1", "name": "A"}),
        json!({"email": "a@example.com", "password": "nodigitsatall", "name": "A"}),
        json!({"email": "not-an-email", "password": "Test123!", "name": "A"}),
        json!({"email": "a@example.com", "password": "Test123!", "name": "   "}),
        json!({"email": "a@example.com", "password": "Test123!"}),
        json!({"email": "a@example.com", "password": 12345678, "name": "A"}),
        json!({"email": "a@example.com", "password": "Test123!", "name": "A", "role": "admin"}),
        json!("a@example.com"),
    ];
    for body in cases {
        let response = app.register_with(&body).await;
        assert_eq!(
            (response.status.as_u16(), response.error_code()),
            (422, "VALIDATION_FAILED".to_owned()),
            "for {body}"
        );
    }
    let weak = json!({"email": "a@example.com", "password": "short1", "name": "A"});
    let message = app.register_with(&weak).await.json();
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at least 8 characters")
    );

    let malformed = raw_request(
        Method::POST,
        "/api/users/register",
        None,
        Some("application/json"),
        "{\"email\":",
    );
    app.send(malformed).await.assert_error(400, "INVALID_JSON");
    let form = raw_request(
        Method::POST,
        "/api/users/register",
        None,
        Some("application/x-www-form-urlencoded"),
        "email=a",
    );
    app.send(form)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    let huge = format!(
        r#"{{"email":"a@example.com","password":"Test123!","name":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let huge = raw_request(
        Method::POST,
        "/api/users/register",
        None,
        Some("application/json"),
        huge,
    );
    app.send(huge).await.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert!(
        app.db
            .store
            .credentials(&Email::parse("a@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn login_issues_a_token_that_opens_the_profile() {
    let app = app().await;
    let account = app.account("me@example.com").await;
    let response = app
        .send(request(
            Method::GET,
            "/api/users/me",
            Some(&account.token),
            None,
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["email"], "me@example.com");
    let uri = format!("/api/users/{}", account.id);
    let response = app
        .send(request(Method::GET, &uri, Some(&account.token), None))
        .await;
    assert_eq!(response.json()["id"], account.id);

    let login = json!({"email": "ME@example.com", "password": "Test123!"});
    let body = app.login_with(&login).await.json();
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 3600);
    assert_eq!(body["user"]["id"], account.id);
}

#[tokio::test]
async fn failed_logins_do_not_reveal_whether_the_email_exists() {
    let app = app().await;
    app.account("known@example.com").await;
    let wrong_password = json!({"email": "known@example.com", "password": "Wrong123!"});
    let unknown_email = json!({"email": "unknown@example.com", "password": "Wrong123!"});
    let not_an_email = json!({"email": "nope", "password": "Wrong123!"});
    let mut bodies = Vec::new();
    for body in [wrong_password, unknown_email, not_an_email] {
        let response = app.login_with(&body).await;
        response.assert_error(401, "INVALID_CREDENTIALS");
        bodies.push(response.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "identical answers");
    let missing = json!({"email": "known@example.com"});
    app.login_with(&missing)
        .await
        .assert_error(422, "VALIDATION_FAILED");
}

#[tokio::test]
async fn jwks_publishes_the_verifying_key() {
    let app = app().await;
    let response = app
        .send(request(Method::GET, "/.well-known/jwks.json", None, None))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let jwks = response.json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(key["kid"], app.auth.issuer.public_key().kid());
    assert!(key.get("d").is_none(), "no private part");
}

#[tokio::test]
async fn admin_bootstrap_is_idempotent_keeps_passwords_and_never_promotes() {
    let app = app().await;
    let accounts = &app.state.domain;
    let password = secrecy::SecretString::from("Admin123!");
    accounts
        .bootstrap_admin("root@example.com", &password)
        .await
        .unwrap();
    accounts
        .bootstrap_admin("ROOT@example.com", &password)
        .await
        .unwrap();
    let other = secrecy::SecretString::from("Changed123!");
    accounts
        .bootstrap_admin("root@example.com", &other)
        .await
        .unwrap();
    let login = json!({"email": "root@example.com", "password": "Admin123!"});
    let body = app.login_with(&login).await.json();
    assert_eq!(body["user"]["role"], "admin", "{body}");

    // An existing customer named as admin is never promoted (whoever registered the address
    // first would be admin): start-up refuses, saying why, and the account stays a customer.
    app.account("squatter@example.com").await;
    let refused = accounts
        .bootstrap_admin("squatter@example.com", &password)
        .await
        .expect_err("must refuse");
    assert!(refused.to_string().contains("not an admin"), "{refused}");
    let login = json!({"email": "squatter@example.com", "password": "Test123!"});
    let body = app.login_with(&login).await.json();
    assert_eq!(body["user"]["role"], "customer");
    assert!(
        accounts
            .bootstrap_admin("not an email", &password)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn health_and_unknown_routes_answer_in_json() {
    let app = app().await;
    testing::assert_health_and_fallbacks(&app.router, "users", "/api/users/register").await;
}

/// The same journey on PostgreSQL, end to end through the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_profile_on_postgres() {
    let app = TestApp::new(Backend::Postgres).await;
    let account = app.account("pg@example.com").await;
    let response = app
        .send(request(
            Method::GET,
            "/api/users/me",
            Some(&account.token),
            None,
        ))
        .await;
    assert_eq!(response.json()["email"], "pg@example.com");
    let body = json!({"email": "PG@example.com", "password": "Test123!", "name": "Twin"});
    app.register_with(&body)
        .await
        .assert_error(409, "EMAIL_TAKEN");
}

#[tokio::test]
async fn every_json_route_rejects_bad_bodies_in_the_shared_shape() {
    let app = app().await;
    for uri in ["/api/users/register", "/api/users/login"] {
        testing::assert_rejects_bad_bodies(&app.router, Method::POST, uri, None).await;
    }
}

#[tokio::test]
async fn random_bodies_never_cause_a_server_error() {
    let app = app().await;
    let fields = ["email", "password", "name"];
    testing::assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/api/users/register",
        None,
        &fields,
        150,
    )
    .await;
    testing::assert_garbage_never_breaks(
        &app.router,
        Method::POST,
        "/api/users/login",
        None,
        &fields[..2],
        150,
    )
    .await;
}
