//! Tokens are checked, and profiles are private.

use auth::Role;
use axum::http::{Method, StatusCode};
use testing::request;
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestApp;

#[tokio::test]
async fn profiles_need_a_valid_token() {
    let app = TestApp::new(Backend::Sqlite).await;
    let account = app.account("victim@example.com").await;
    let uri = format!("/api/users/{}", account.id);
    app.send(request(Method::GET, &uri, None, None))
        .await
        .assert_error(401, "UNAUTHENTICATED");
    app.send(request(Method::GET, "/api/users/me", None, None))
        .await
        .assert_error(401, "UNAUTHENTICATED");
    let id = account.id.parse().unwrap();
    let forged = [
        app.auth.expired_token(id, Role::Customer),
        app.auth.alg_none_token(),
        app.auth.hs256_with_public_key_token(),
        app.auth.foreign_token(),
        app.auth.wrong_audience_token(),
        app.auth.service.mint().unwrap(),
        format!("{}x", account.token),
        String::new(),
    ];
    for token in &forged {
        let response = app
            .send(request(Method::GET, &uri, Some(token), None))
            .await;
        response.assert_error(401, "UNAUTHENTICATED");
    }
    let expired = app
        .send(request(
            Method::GET,
            &uri,
            Some(&app.auth.expired_token(id, Role::Customer)),
            None,
        ))
        .await;
    assert_eq!(expired.json()["error"]["message"], "token expired");
}

#[tokio::test]
async fn a_customer_sees_only_their_own_profile_and_an_admin_sees_any() {
    let app = TestApp::new(Backend::Sqlite).await;
    let alice = app.account("alice@example.com").await;
    let bob = app.account("bob@example.com").await;
    let bobs = format!("/api/users/{}", bob.id);
    app.send(request(Method::GET, &bobs, Some(&alice.token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    let unknown = format!("/api/users/{}", Uuid::new_v4());
    app.send(request(Method::GET, &unknown, Some(&alice.token), None))
        .await
        .assert_error(404, "NOT_FOUND");
    app.send(request(
        Method::GET,
        "/api/users/not-a-uuid",
        Some(&alice.token),
        None,
    ))
    .await
    .assert_error(404, "NOT_FOUND");

    let admin = app.auth.admin_token();
    let response = app
        .send(request(Method::GET, &bobs, Some(&admin), None))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["email"], "bob@example.com");
    app.send(request(Method::GET, &unknown, Some(&admin), None))
        .await
        .assert_error(404, "NOT_FOUND");
}

/// Another service verifies users' tokens with the key it fetches from the JWKS endpoint, over
/// real HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_verify_with_keys_fetched_from_jwks() {
    let app = TestApp::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(web::http::serve(
        listener,
        app.router.clone(),
        std::future::pending(),
        (&web::config::HttpConfig::with_port(0)).into(),
    ));
    let account = app.account("remote@example.com").await;

    let settings = auth::TokenSettings::default();
    let url = format!("http://{addr}/.well-known/jwks.json");
    let verifier = auth::TokenVerifier::with_jwks_url(url, web::http::client().unwrap(), &settings);
    let claims = verifier.verify(&account.token).await.unwrap();
    assert_eq!(claims.sub.to_string(), account.id);
    assert!(verifier.verify(&app.auth.foreign_token()).await.is_err());
    server.abort();
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_email() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.account("target@example.com").await;
    let wrong = serde_json::json!({"email": "target@example.com", "password": "Wrong123!"});
    for _ in 0..5 {
        let response = app.login_with(&wrong).await;
        response.assert_error(401, "INVALID_CREDENTIALS");
    }
    // Locked now, even with the right password (and without checking it).
    let right = serde_json::json!({"email": "TARGET@example.com", "password": "Test123!"});
    let response = app.login_with(&right).await;
    response.assert_error(429, "RATE_LIMITED");
    let retry_after: u64 = response.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=300).contains(&retry_after),
        "Retry-After {retry_after}"
    );

    // Unknown emails are throttled alike, so a 429 says nothing about whether an account exists.
    let ghost = serde_json::json!({"email": "ghost@example.com", "password": "Wrong123!"});
    for _ in 0..5 {
        app.login_with(&ghost)
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    app.login_with(&ghost)
        .await
        .assert_error(429, "RATE_LIMITED");

    // Other accounts are unaffected.
    app.account("bystander@example.com").await;
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.account("forgetful@example.com").await;
    let wrong = serde_json::json!({"email": "forgetful@example.com", "password": "Wrong123!"});
    let right = serde_json::json!({"email": "forgetful@example.com", "password": "Test123!"});
    for _ in 0..4 {
        app.login_with(&wrong)
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    assert_eq!(app.login_with(&right).await.status, StatusCode::OK);
    for _ in 0..4 {
        app.login_with(&wrong)
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    assert_eq!(app.login_with(&right).await.status, StatusCode::OK);
}

/// An attacker with many addresses engages the account's back-off; the owner, from an address
/// the account logged in from before, is not slowed down, even after a restart (the known
/// addresses are in the database, not in the replica's memory).
#[tokio::test]
async fn a_known_address_logs_in_through_a_distributed_attack_and_a_restart() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.account("target@example.com").await;
    let from = |last: u8| web::http::ClientAddr(Some(std::net::IpAddr::from([203, 0, 113, last])));
    let login = |accounts: std::sync::Arc<users::accounts::Accounts>,
                 password: &'static str,
                 at: u8| async move {
        accounts
            .login(
                "target@example.com",
                secrecy::SecretString::from(password),
                from(at),
            )
            .await
    };
    login(app.state.domain.clone(), "Test123!", 1)
        .await
        .expect("owner's first login");

    // A restart: a fresh throttle over the same database.
    let accounts = std::sync::Arc::new(users::accounts::Accounts::new(
        app.db.store.clone(),
        app.auth.issuer.clone(),
        users::throttle::LoginThrottle::new(Default::default()),
        2,
    ));
    for attacker in 100..110 {
        assert!(matches!(
            login(accounts.clone(), "Guess123!", attacker).await,
            Err(users::error::Error::InvalidCredentials)
        ));
    }
    assert!(
        matches!(
            login(accounts.clone(), "Test123!", 200).await,
            Err(users::error::Error::TooManyAttempts(_))
        ),
        "a new address waits out the back-off"
    );
    login(accounts, "Test123!", 1)
        .await
        .expect("the owner's known address is not slowed down");
}
