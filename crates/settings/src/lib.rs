//! Reading configuration from environment variables, with working local defaults: a variable that
//! is set but cannot be parsed stops start-up with a message naming it, instead of silently using
//! a default, and a secret may come from the file `<NAME>_FILE` names.

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

/// Connections a service keeps to its database: `DATABASE_MAX_CONNECTIONS`, default 10.
pub fn database_max_connections() -> anyhow::Result<u32> {
    let n: u32 = parse_or("DATABASE_MAX_CONNECTIONS", 10)?;
    anyhow::ensure!(n > 0, "DATABASE_MAX_CONNECTIONS must be at least 1");
    Ok(n)
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
}
