//! The users subgraph over GraphQL.

use serde_json::{Value, json};
use testing::graphql;

use testing::Backend;

use crate::helpers::TestApp;

#[tokio::test]
async fn sdl_declares_the_user_entity() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains(r#"type User @key(fields: "id")"#), "{sdl}");
}

#[tokio::test]
async fn register_login_and_me() {
    let app = TestApp::new(Backend::Sqlite).await;
    let register = r#"mutation { register(input: {email: "gql@example.com", password: "Test123!", name: "Gee"}) { id email role } }"#;
    let body = graphql(&app.router, None, register, json!({})).await;
    assert_eq!(body["data"]["register"]["role"], "CUSTOMER", "{body}");
    let again = graphql(&app.router, None, register, json!({})).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "EMAIL_TAKEN");

    let login = r#"mutation { login(email: "gql@example.com", password: "Test123!") { accessToken user { id } } }"#;
    let body = graphql(&app.router, None, login, json!({})).await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = graphql(
        &app.router,
        Some(&token),
        "{ me { email name } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["me"]["email"], "gql@example.com");

    let body = graphql(&app.router, None, "{ me { email } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let bad_login =
        r#"mutation { login(email: "gql@example.com", password: "nope") { accessToken } }"#;
    let body = graphql(&app.router, None, bad_login, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INVALID_CREDENTIALS"
    );
    let weak = r#"mutation { register(input: {email: "w@example.com", password: "weak", name: "W"}) { id } }"#;
    let body = graphql(&app.router, None, weak, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION_FAILED");
}

#[tokio::test]
async fn other_users_resolve_to_null_for_customers() {
    let app = TestApp::new(Backend::Sqlite).await;
    let alice = app.account("alice@example.com").await;
    let bob = app.account("bob@example.com").await;
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }";
    let reps = json!({"r": [{"__typename": "User", "id": alice.id}, {"__typename": "User", "id": bob.id}]});
    let body = graphql(&app.router, Some(&alice.token), query, reps.clone()).await;
    let entities = body["data"]["_entities"].as_array().unwrap();
    assert_eq!(entities[0]["email"], "alice@example.com");
    assert_eq!(entities[1], Value::Null, "alice cannot resolve bob");

    let body = graphql(&app.router, Some(&app.auth.admin_token()), query, reps).await;
    assert_eq!(body["data"]["_entities"][1]["email"], "bob@example.com");

    let user = "query($id: ID!) { user(id: $id) { email } }";
    let body = graphql(&app.router, Some(&alice.token), user, json!({"id": bob.id})).await;
    assert_eq!(body["data"]["user"], Value::Null);
}

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await;
    let body = graphql(&app.router, None, "{ _service { sdl } }", json!({})).await;
    testing::assert_committed_sdl("users", body["data"]["_service"]["sdl"].as_str().unwrap());
}
