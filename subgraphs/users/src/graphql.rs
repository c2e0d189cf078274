//! The users subgraph: `User @key(fields: "id")`, `me`, `user(id)`, `register`, `login`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject};
use auth::{Role, Viewer};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use subgraph::Batcher;
use uuid::Uuid;
use web::ApiError;
use web::http::ClientAddr;

use crate::accounts::Accounts;
use crate::domain::{Registration, User};
use crate::error::Error;

pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(accounts: Arc<Accounts>) -> UsersSchema {
    subgraph::graphql::subgraph(Schema::build(Query, Mutation, EmptySubscription))
        .data(accounts)
        .finish()
}

/// A user account.
#[derive(SimpleObject)]
#[graphql(name = "User")]
pub struct UserObject {
    id: ID,
    email: String,
    name: String,
    role: Role,
    created_at: DateTime<Utc>,
}

impl From<User> for UserObject {
    fn from(user: User) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    access_token: String,
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
    user: UserObject,
}

#[derive(InputObject)]
pub struct RegisterInput {
    email: String,
    password: String,
    name: String,
}

/// Loads the users a request's caller may see, one query per batch.
pub struct UserLoader {
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) viewer: Viewer,
}

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, ApiError> {
        Ok(self.accounts.visible_users(self.viewer.0, keys).await?)
    }
}

fn parse_id(id: &ID) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let accounts = ctx.data::<Arc<Accounts>>()?;
        Ok(accounts.profile(&caller, caller.user_id).await?.into())
    }

    /// A user by id: yourself, or anyone for an admin; null otherwise.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<UserObject>> {
        let caller = ctx.data::<Viewer>()?.require()?;
        let Some(id) = parse_id(&id) else {
            return Ok(None);
        };
        match ctx.data::<Arc<Accounts>>()?.profile(&caller, id).await {
            Ok(user) => Ok(Some(user.into())),
            Err(Error::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Federation entity resolver, batched per request. Answers null for users the
    /// caller may not see, so a reference never leaks another account.
    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<UserObject>> {
        let Some(id) = parse_id(&id) else {
            return Ok(None);
        };
        let user = ctx
            .data::<Batcher<Uuid, UserLoader>>()?
            .load_one(id)
            .await?;
        Ok(user.map(Into::into))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates a customer account.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<UserObject> {
        let registration =
            Registration::parse(&input.email, input.password, &input.name).map_err(Error::from)?;
        let client = ctx.data_opt::<ClientAddr>().copied().unwrap_or_default();
        Ok(ctx
            .data::<Arc<Accounts>>()?
            .register(registration, client)
            .await?
            .into())
    }

    /// Exchanges email and password for an access token.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let client = ctx.data_opt::<ClientAddr>().copied().unwrap_or_default();
        let (token, user) = ctx
            .data::<Arc<Accounts>>()?
            .login(&email, SecretString::from(password), client)
            .await?;
        Ok(AuthPayload {
            access_token: token.token,
            token_type: "Bearer",
            expires_in: token.expires_in.as_secs(),
            user: user.into(),
        })
    }
}
