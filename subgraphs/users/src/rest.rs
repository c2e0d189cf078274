//! REST routes: `/api/users/...` and the JWKS.

use std::sync::Arc;

use auth::{Caller, JwkSet, Role, ServiceCaller};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use contracts::users::UserSummary;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use web::extract::{Json, Path};
use web::http::ClientAddr;

use crate::AppState;
use crate::accounts::Accounts;
use crate::domain::{Registration, User};
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users/register", post(register))
        .route("/api/users/login", post(login))
        .route("/api/users/me", get(me))
        .route("/api/users/{user_id}", get(profile))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/internal/users/{user_id}", get(summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: SecretString,
}

/// A user as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    id: Uuid,
    email: String,
    name: String,
    role: Role,
    created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginView {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    user: UserView,
}

async fn register(
    State(accounts): State<Arc<Accounts>>,
    client: ClientAddr,
    Json(body): Json<RegisterBody>,
) -> Result<(StatusCode, Json<UserView>), Error> {
    let registration = Registration::parse(&body.email, body.password, &body.name)?;
    let user = accounts.register(registration, client).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

async fn login(
    State(accounts): State<Arc<Accounts>>,
    client: ClientAddr,
    Json(body): Json<LoginBody>,
) -> Result<Json<LoginView>, Error> {
    let (token, user) = accounts.login(&body.email, body.password, client).await?;
    Ok(Json(LoginView {
        access_token: token.token,
        token_type: "Bearer",
        expires_in: token.expires_in.as_secs(),
        user: user.into(),
    }))
}

async fn me(
    State(accounts): State<Arc<Accounts>>,
    caller: Caller,
) -> Result<Json<UserView>, Error> {
    Ok(Json(
        accounts.profile(&caller, caller.user_id).await?.into(),
    ))
}

async fn profile(
    State(accounts): State<Arc<Accounts>>,
    caller: Caller,
    Path(user_id): Path<Uuid>,
) -> Result<Json<UserView>, Error> {
    Ok(Json(accounts.profile(&caller, user_id).await?.into()))
}

/// Internal: that an account exists, and its role (cart and orders check users with it).
async fn summary(
    State(accounts): State<Arc<Accounts>>,
    service: ServiceCaller,
    Path(user_id): Path<Uuid>,
) -> Result<Json<UserSummary>, Error> {
    let user = accounts.summary(&service, user_id).await?;
    Ok(Json(UserSummary {
        id: user.id,
        role: user.role,
    }))
}

async fn jwks(State(accounts): State<Arc<Accounts>>) -> Json<JwkSet> {
    Json(accounts.jwks())
}
