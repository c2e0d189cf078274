//! Ed25519 signing keys and their public JWKS form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The private key that signs access tokens (held by the users service only).
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_dalek(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Parses a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &SecretString) -> anyhow::Result<Self> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&one_line_pem(pem.expose_secret()))
            .map_err(|_| anyhow::anyhow!("not a PKCS#8 PEM Ed25519 private key"))?;
        Ok(Self::from_dalek(key))
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Self {
        let der = key
            .to_pkcs8_der()
            .expect("an Ed25519 key always encodes as PKCS#8");
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let public = PublicKey::from_bytes(key.verifying_key().to_bytes());
        Self {
            key,
            encoding,
            public,
        }
    }

    /// The key as PKCS#8 PEM, for persisting a generated key.
    pub fn to_pem(&self) -> SecretString {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key always encodes as PEM");
        SecretString::from(pem.as_str())
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

/// The public half: verifies tokens and is published as a JWK.
#[derive(Clone)]
pub struct PublicKey {
    bytes: [u8; 32],
    kid: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

impl PublicKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        let x = URL_SAFE_NO_PAD.encode(bytes);
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let thumbprint = Sha256::digest(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        Self {
            bytes,
            kid: URL_SAFE_NO_PAD.encode(thumbprint),
        }
    }

    /// Parses an SPKI PEM public key (`openssl pkey -pubout`).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(&one_line_pem(pem))
            .map_err(|_| anyhow::anyhow!("not an SPKI PEM Ed25519 public key"))?;
        Ok(Self::from_bytes(key.to_bytes()))
    }

    /// The key as SPKI PEM, for handing to services that verify.
    pub fn to_pem(&self) -> String {
        ed25519_dalek::VerifyingKey::from_bytes(&self.bytes)
            .ok()
            .and_then(|k| k.to_public_key_pem(LineEnding::LF).ok())
            .unwrap_or_default()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(self.bytes),
            kid: Some(self.kid.clone()),
            alg: Some("EdDSA".to_owned()),
            key_use: Some("sig".to_owned()),
        }
    }

    pub(crate) fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        Ok(DecodingKey::from_ed_components(
            &URL_SAFE_NO_PAD.encode(self.bytes),
        )?)
    }

    /// Reads a JWK, accepting only Ed25519 signing keys.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if jwk.kty != "OKP"
            || jwk.crv != "Ed25519"
            || jwk.key_use.as_deref().is_some_and(|u| u != "sig")
        {
            return None;
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(&jwk.x).ok()?.try_into().ok()?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
        let mut key = Self::from_bytes(bytes);
        if let Some(kid) = &jwk.kid {
            key.kid.clone_from(kid);
        }
        Some(key)
    }
}

/// A PEM as given in an env file may be one line with literal `\n`s; restore the newlines.
fn one_line_pem(pem: &str) -> String {
    pem.trim().replace("\\n", "\n")
}

/// One JSON Web Key (RFC 8037 OKP form).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    #[serde(default)]
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// The document served at `/.well-known/jwks.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_kid_is_stable() {
        let key = SigningKey::generate();
        let again = SigningKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(key.public().kid(), again.public().kid());
        let public = PublicKey::from_pem(&key.public().to_pem()).unwrap();
        assert_eq!(public.kid(), key.public().kid());
        assert_eq!(
            PublicKey::from_jwk(&key.public().jwk()).unwrap().kid(),
            key.public().kid()
        );
    }

    #[test]
    fn pem_on_one_line_with_escaped_newlines_is_accepted() {
        let key = SigningKey::generate();
        let one_line = key.to_pem().expose_secret().replace('\n', "\\n");
        let again = SigningKey::from_pem(&SecretString::from(one_line)).unwrap();
        assert_eq!(again.public().kid(), key.public().kid());
        let public = PublicKey::from_pem(&key.public().to_pem().replace('\n', "\\n")).unwrap();
        assert_eq!(public.kid(), key.public().kid());
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let key = SigningKey::generate();
        let debug = format!("{key:?}");
        assert!(!debug.contains(key.to_pem().expose_secret().lines().nth(1).unwrap()));
    }

    #[test]
    fn non_ed25519_jwks_are_ignored() {
        let mut jwk = SigningKey::generate().public().jwk();
        jwk.kty = "RSA".to_owned();
        assert!(PublicKey::from_jwk(&jwk).is_none());
    }
}
