use super::Invalid;

/// A new password that meets the rules: 8 to 128 characters with at least one letter and one
/// digit. Never printed: `Debug` shows a placeholder.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "password must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if !raw.chars().any(char::is_alphabetic) || !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(Invalid(
                "password must contain at least one letter and one digit".into(),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_the_rules() {
        assert!(Password::parse("Test123!".into()).is_ok());
        assert!(Password::parse("short1".into()).is_err());
        assert!(Password::parse("nodigitshere".into()).is_err());
        assert!(Password::parse("1234567890".into()).is_err());
        assert!(Password::parse(format!("a1{}", "x".repeat(127))).is_err());
    }

    #[test]
    fn debug_hides_the_value() {
        let password = Password::parse("Secret123".into()).unwrap();
        assert!(!format!("{password:?}").contains("Secret123"));
    }
}
