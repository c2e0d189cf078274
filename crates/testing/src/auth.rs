//! Keys, tokens and service credentials for one test app.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use auth::{Claims, Role, ServiceAuth, SigningKey, TokenIssuer, TokenSettings, TokenVerifier};

/// Keys and credentials for one test app.
#[derive(Clone)]
pub struct TestAuth {
    pub issuer: Arc<TokenIssuer>,
    pub verifier: Arc<TokenVerifier>,
    pub service: Arc<ServiceAuth>,
}

impl Default for TestAuth {
    fn default() -> Self {
        let settings = TokenSettings::default();
        let issuer = TokenIssuer::new(SigningKey::generate(), settings.clone());
        let verifier =
            TokenVerifier::with_keys(&[issuer.public_key().clone()], &settings).expect("verifier");
        let service =
            ServiceAuth::new("test", &ServiceAuth::generate_secret()).expect("service auth");
        Self {
            issuer: Arc::new(issuer),
            verifier: Arc::new(verifier),
            service: Arc::new(service),
        }
    }
}

impl TestAuth {
    pub fn token(&self, user_id: Uuid, role: Role) -> String {
        self.issuer.issue(user_id, role).expect("issue token").token
    }

    pub fn admin_token(&self) -> String {
        self.token(Uuid::new_v4(), Role::Admin)
    }

    pub fn customer_token(&self) -> String {
        self.token(Uuid::new_v4(), Role::Customer)
    }
}

impl TestAuth {
    /// A correctly signed token that expired an hour ago.
    pub fn expired_token(&self, user_id: Uuid, role: Role) -> String {
        let now = chrono::Utc::now().timestamp();
        let settings = self.issuer.settings();
        let claims = Claims {
            sub: user_id,
            role,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            iat: now - 7200,
            exp: now - 3600,
        };
        self.issuer.sign(&claims).expect("sign")
    }

    /// A token with claims that would make anyone admin, signed with no algorithm at all.
    pub fn alg_none_token(&self) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self.admin_claims()).expect("claims"));
        format!("{header}.{payload}.")
    }

    /// The classic key-confusion forgery: HS256 with the public key as the HMAC secret.
    pub fn hs256_with_public_key_token(&self) -> String {
        let public = self.issuer.public_key();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(public.kid().to_owned());
        let key = jsonwebtoken::EncodingKey::from_secret(public.to_pem().as_bytes());
        jsonwebtoken::encode(&header, &self.admin_claims(), &key).expect("sign")
    }

    /// A well-formed token from a key nobody trusts.
    pub fn foreign_token(&self) -> String {
        TokenIssuer::new(SigningKey::generate(), self.issuer.settings().clone())
            .issue(Uuid::new_v4(), Role::Admin)
            .expect("issue")
            .token
    }

    /// A token from the right key for another audience.
    pub fn wrong_audience_token(&self) -> String {
        let mut claims = self.admin_claims();
        claims.aud = "someone-else".to_owned();
        self.issuer.sign(&claims).expect("sign")
    }

    fn admin_claims(&self) -> Claims {
        let now = chrono::Utc::now().timestamp();
        let settings = self.issuer.settings();
        Claims {
            sub: Uuid::new_v4(),
            role: Role::Admin,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            iat: now,
            exp: now + 600,
        }
    }
}
