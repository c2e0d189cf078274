//! Users: validated inputs and the user record. No I/O here.

mod email;
mod password;

use auth::Role;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use email::Email;
pub use password::Password;

pub use web::Invalid;

/// A user as stored, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: Name,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid("name must not be empty".into()));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "name must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Invalid("name must not contain control characters".into()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What registration needs, validated.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub name: Name,
}

impl Registration {
    pub fn parse(email: &str, password: String, name: &str) -> Result<Self, Invalid> {
        Ok(Self {
            email: Email::parse(email)?,
            password: Password::parse(password)?,
            name: Name::parse(name)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(101)).is_err());
        assert!(Name::parse(&"é".repeat(100)).is_ok());
        assert!(Name::parse("bad\u{0}name").is_err());
    }
}
