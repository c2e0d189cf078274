//! Where a service keeps its data.

use anyhow::{Context, bail};
use settings::var_or_file;

/// Where a service keeps its data: the scheme picks the backend. `Debug` shows the URL with its
/// password masked.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(String),
    Mongodb(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s)
            .or_else(|| url.split_once(':').map(|(s, _)| s));
        match scheme {
            Some("postgres" | "postgresql") => Ok(Self::Postgres(url.to_owned())),
            Some("sqlite") => Ok(Self::Sqlite(url.to_owned())),
            Some("mongodb" | "mongodb+srv") => Ok(Self::Mongodb(url.to_owned())),
            _ => bail!("DATABASE_URL must start with postgres://, sqlite:// or mongodb://"),
        }
    }

    /// Reads `DATABASE_URL` (or `DATABASE_URL_FILE`), defaulting to a SQLite file under `./data`.
    pub fn from_env(default_sqlite_file: &str) -> anyhow::Result<Self> {
        let url = var_or_file("DATABASE_URL")?
            .unwrap_or_else(|| format!("sqlite://data/{default_sqlite_file}"));
        Self::parse(&url).context("DATABASE_URL")
    }

    /// The URL as given, password included: for connecting, never for printing.
    pub fn expose(&self) -> &str {
        match self {
            Self::Postgres(u) | Self::Sqlite(u) | Self::Mongodb(u) => u,
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                let creds = &url[start + 3..at];
                let user = creds.split(':').next().unwrap_or_default();
                format!("{}{}:***{}", &url[..start + 3], user, &url[at..])
            }
            _ => url.to_owned(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("sqlite::memory:").unwrap(),
            DatabaseUrl::Sqlite(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("mongodb://h:27017").unwrap(),
            DatabaseUrl::Mongodb(_)
        ));
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("nonsense").is_err());
    }

    #[test]
    fn redaction_hides_the_password_only() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/users").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/users");
        assert!(!url.redacted().contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"), "Debug masks it too");
        let plain = DatabaseUrl::parse("sqlite://data/users.db").unwrap();
        assert_eq!(plain.redacted(), "sqlite://data/users.db");
    }
}
