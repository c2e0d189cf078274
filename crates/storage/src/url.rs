//! Where a service keeps its data.

use std::time::Duration;

use anyhow::bail;

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

/// A service's database: where it is, and how the service connects to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    pub url: DatabaseUrl,
    /// Connections a replica keeps to a PostgreSQL database.
    pub max_connections: u32,
    /// How long start-up waits for a database that cannot be reached yet.
    pub startup_timeout: Duration,
}

impl Database {
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    /// Unless `DATABASE_STARTUP_TIMEOUT_SECS` says otherwise (infra/checks/capacity.py reads
    /// this value: the startup probes must outlast it).
    pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

    /// `url` with the default pool size and start-up patience.
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            startup_timeout: Self::DEFAULT_STARTUP_TIMEOUT,
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
