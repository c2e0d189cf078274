//! Configuration from environment variables, with working local defaults.
//!
//! Each service has one typed config struct built from these readers; a variable that is set but
//! cannot be parsed stops start-up with a message naming it, instead of silently using a default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;

/// A variable's value, treating an empty string as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable parsed as `T`, or `default` when unset.
pub fn parse_or<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|err| anyhow::anyhow!("{name}={raw:?} is invalid: {err}")),
    }
}

/// The largest secret file read: a key or a URL is a few kilobytes.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A variable given either directly or, as containers pass secrets, in the file that
/// `<NAME>_FILE` names (Docker and Kubernetes secret mounts): the file's text without its trailing
/// line break. Both set is refused, so it is never unclear which one is in effect; a named file
/// that cannot be read stops start-up. Error messages name the variable and the path, never a
/// value.
pub fn var_or_file(name: &str) -> anyhow::Result<Option<String>> {
    let file_var = format!("{name}_FILE");
    value_or_file(name, var(name), &file_var, var(&file_var))
}

fn value_or_file(
    name: &str,
    value: Option<String>,
    file_var: &str,
    file: Option<String>,
) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(_), Some(_)) => bail!("set {name} or {file_var}, not both"),
        (Some(value), None) => Ok(Some(value)),
        (None, None) => Ok(None),
        (None, Some(path)) => {
            // A regular file, and a bounded read: a FIFO or a device must not hang start-up.
            let unreadable = || format!("{file_var}={path:?} cannot be read");
            if !std::fs::metadata(&path).with_context(unreadable)?.is_file() {
                bail!("{file_var}={path:?} is not a file");
            }
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(
                    std::fs::File::open(&path).with_context(unreadable)?,
                    MAX_SECRET_FILE + 1,
                ),
                &mut text,
            )
            .with_context(unreadable)?;
            if text.len() as u64 > MAX_SECRET_FILE {
                bail!("{file_var}={path:?} is larger than {MAX_SECRET_FILE} bytes");
            }
            let value = text.trim_end_matches(['\n', '\r']);
            if value.trim().is_empty() {
                bail!("{file_var}={path:?} is empty");
            }
            Ok(Some(value.to_owned()))
        }
    }
}

/// A secret variable, or the file `<NAME>_FILE` names ([`var_or_file`]); its value never reaches
/// `Debug` output or logs.
pub fn secret(name: &str) -> anyhow::Result<Option<SecretString>> {
    Ok(var_or_file(name)?.map(SecretString::from))
}

/// A duration given in whole seconds.
pub fn seconds_or(name: &str, default: Duration) -> anyhow::Result<Duration> {
    let secs: u64 = parse_or(name, default.as_secs())?;
    if secs == 0 {
        bail!("{name} must be at least 1 second");
    }
    Ok(Duration::from_secs(secs))
}

/// A duration given in whole seconds, from 1 to `max`.
pub fn seconds_within(name: &str, default: Duration, max: Duration) -> anyhow::Result<Duration> {
    let value = seconds_or(name, default)?;
    if value > max {
        bail!("{name} must be at most {} seconds", max.as_secs());
    }
    Ok(value)
}

/// How a service listens and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Requests running longer than this answer 503 `TIMEOUT`.
    pub request_timeout: Duration,
    /// Largest accepted request body in bytes; larger answers 413.
    pub body_limit: usize,
    /// A connection must deliver a request's headers within this, also while it idles between
    /// keep-alive requests; slower ones are closed.
    pub header_timeout: Duration,
    /// Open connections at once; at the bound a new one evicts the longest-idle one.
    pub max_connections: usize,
    /// Open connections one client address may hold (trusted proxies: any).
    pub max_connections_per_address: usize,
    /// Proxies whose `X-Forwarded-For` names the client (the router, an ingress).
    pub trusted_proxies: crate::http::TrustedProxies,
    /// The GraphQL guard's limits and the playground's assets.
    pub graphql: crate::graphql::GraphqlConfig,
}

impl HttpConfig {
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Sized so that the worst case (every connection holding a full body and headers) fits a
    /// small container: about 1024 × 100 KiB.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
    pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;

    /// Defaults for a service listening on `port` on every interface.
    pub fn with_port(port: u16) -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            request_timeout: Self::DEFAULT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: Self::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            trusted_proxies: crate::http::TrustedProxies::default(),
            graphql: crate::graphql::GraphqlConfig::default(),
        }
    }

    /// Reads `HOST`, `PORT`, `REQUEST_TIMEOUT_SECS`, `BODY_LIMIT_BYTES`,
    /// `HEADER_TIMEOUT_SECS`, `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS`, `TRUSTED_PROXIES` and the GraphQL settings.
    pub fn from_env(default_port: u16) -> anyhow::Result<Self> {
        let defaults = Self::with_port(default_port);
        let host: IpAddr = parse_or("HOST", defaults.addr.ip())?;
        let port: u16 = parse_or("PORT", default_port)?;
        Self::with_port(port).overridden_from_env(host)
    }

    /// This config with every setting but the address read from the environment.
    pub fn overridden_from_env(self, host: IpAddr) -> anyhow::Result<Self> {
        let max_connections: usize = parse_or("MAX_CONNECTIONS", self.max_connections)?;
        let per_address: usize = parse_or(
            "MAX_CONNECTIONS_PER_ADDRESS",
            self.max_connections_per_address,
        )?;
        anyhow::ensure!(
            max_connections > 0 && per_address > 0,
            "MAX_CONNECTIONS and MAX_CONNECTIONS_PER_ADDRESS must be at least 1"
        );
        Ok(Self {
            addr: SocketAddr::new(host, self.addr.port()),
            request_timeout: seconds_or("REQUEST_TIMEOUT_SECS", self.request_timeout)?,
            body_limit: parse_or("BODY_LIMIT_BYTES", self.body_limit)?,
            header_timeout: seconds_or("HEADER_TIMEOUT_SECS", self.header_timeout)?,
            max_connections,
            max_connections_per_address: per_address,
            trusted_proxies: match var("TRUSTED_PROXIES") {
                Some(list) => crate::http::TrustedProxies::parse(&list)?,
                None => self.trusted_proxies,
            },
            graphql: crate::graphql::GraphqlConfig::from_env()?,
        })
    }
}

/// Connections a service keeps to its database: `DATABASE_MAX_CONNECTIONS`, default 10.
pub fn database_max_connections() -> anyhow::Result<u32> {
    let n: u32 = parse_or("DATABASE_MAX_CONNECTIONS", 10)?;
    anyhow::ensure!(n > 0, "DATABASE_MAX_CONNECTIONS must be at least 1");
    Ok(n)
}

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

    /// Secrets mounted as files (compose's generated secrets, Kubernetes Secret volumes) read like
    /// the variable itself; both at once, an unreadable or an empty file stop start-up, and no
    /// message carries the value.
    #[test]
    fn a_secret_comes_from_the_variable_or_from_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("service_secret");
        std::fs::write(&file, "s3cret-from-file\r\n").unwrap();
        let path = || Some(file.display().to_string());
        let read = |value: Option<&str>, file: Option<String>| {
            value_or_file("SECRET", value.map(str::to_owned), "SECRET_FILE", file)
        };
        assert_eq!(
            read(None, path()).unwrap().as_deref(),
            Some("s3cret-from-file")
        );
        assert_eq!(
            read(Some("direct"), None).unwrap().as_deref(),
            Some("direct")
        );
        assert_eq!(read(None, None).unwrap(), None);

        let both = read(Some("direct"), path()).unwrap_err().to_string();
        assert_eq!(both, "set SECRET or SECRET_FILE, not both");
        let missing = read(None, Some(dir.path().join("absent").display().to_string()));
        assert!(format!("{:#}", missing.unwrap_err()).starts_with("SECRET_FILE=\""));
        let not_a_file = read(None, Some(dir.path().display().to_string())).unwrap_err();
        assert!(
            not_a_file.to_string().ends_with("is not a file"),
            "{not_a_file}"
        );
        let huge = dir.path().join("huge");
        std::fs::write(&huge, "x".repeat(70_000)).unwrap();
        let too_big = read(None, Some(huge.display().to_string()))
            .unwrap_err()
            .to_string();
        assert!(too_big.contains("is larger than 65536 bytes"), "{too_big}");
        std::fs::write(&file, "\n").unwrap();
        let empty = format!("{:#}", read(None, path()).unwrap_err());
        assert!(
            empty.contains("is empty") && !empty.contains("s3cret"),
            "{empty}"
        );
    }

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
