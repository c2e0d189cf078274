//! Reading configuration from the environment, once, in the launcher: [`Env`] is a snapshot of
//! the process's variables that every setting is read from, with working local defaults. A
//! variable that is set but cannot be parsed stops start-up with a message naming it, instead of
//! silently using a default; a secret may come from the file `<NAME>_FILE` names; an empty value
//! is unset.
//!
//! Only the launcher takes the snapshot ([`Env::from_process`]) and turns it into each process's
//! typed settings, which it passes down: no library reads the environment. An [`Env`] remembers
//! every variable read from it, with its default ([`Env::read`]), which is what the README's
//! configuration table is checked against.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;

/// The environment a process's settings are read from. Its `Debug` shows names only: values may
/// be secrets.
#[derive(Default)]
pub struct Env {
    values: BTreeMap<String, String>,
    read: Mutex<BTreeMap<String, Option<String>>>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Env {
    /// The process's environment as it is now. Variables whose name or value is not UTF-8 are
    /// left out (unset).
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// An environment of exactly these variables (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            read: Mutex::default(),
        }
    }

    /// Every variable read so far, with the default it has when unset (`None`: no default, or
    /// one that is not a plain value).
    pub fn read(&self) -> BTreeMap<String, Option<String>> {
        self.log().clone()
    }

    fn log(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<String>>> {
        self.read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note(&self, name: &str, default: Option<String>) {
        let mut log = self.log();
        let entry = log.entry(name.to_owned()).or_default();
        if entry.is_none() {
            *entry = default;
        }
    }

    /// A variable's value, treating an empty string as unset.
    pub fn var(&self, name: &str) -> Option<String> {
        self.note(name, None);
        self.values
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// A variable parsed as `T`, or `None` when unset.
    pub fn parse<T>(&self, name: &str) -> anyhow::Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.var(name)
            .map(|raw| {
                raw.trim()
                    .parse()
                    .map_err(|err| anyhow::anyhow!("{name}={raw:?} is invalid: {err}"))
            })
            .transpose()
    }

    /// A variable parsed as `T`, or `default` when unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr + std::fmt::Display,
        T::Err: std::fmt::Display,
    {
        self.note(name, Some(default.to_string()));
        Ok(self.parse(name)?.unwrap_or(default))
    }

    /// A variable given either directly or, as containers pass secrets, in the file that
    /// `<NAME>_FILE` names (Docker and Kubernetes secret mounts): the file's text without its
    /// trailing line break. Both set is refused, so it is never unclear which one is in effect;
    /// a named file that cannot be read stops start-up. Error messages name the variable and
    /// the path, never a value.
    pub fn var_or_file(&self, name: &str) -> anyhow::Result<Option<String>> {
        let file_var = format!("{name}_FILE");
        value_or_file(name, self.var(name), &file_var, self.var(&file_var))
    }

    /// A secret variable, or the file `<NAME>_FILE` names ([`Env::var_or_file`]); its value
    /// never reaches `Debug` output or logs.
    pub fn secret(&self, name: &str) -> anyhow::Result<Option<SecretString>> {
        Ok(self.var_or_file(name)?.map(SecretString::from))
    }

    /// A duration given in whole seconds, at least 1.
    pub fn seconds_or(&self, name: &str, default: Duration) -> anyhow::Result<Duration> {
        let secs: u64 = self.parse_or(name, default.as_secs())?;
        if secs == 0 {
            bail!("{name} must be at least 1 second");
        }
        Ok(Duration::from_secs(secs))
    }

    /// A duration given in whole seconds, from 1 to `max`.
    pub fn seconds_within(
        &self,
        name: &str,
        default: Duration,
        max: Duration,
    ) -> anyhow::Result<Duration> {
        let value = self.seconds_or(name, default)?;
        if value > max {
            bail!("{name} must be at most {} seconds", max.as_secs());
        }
        Ok(value)
    }
}

/// The largest secret file read: a key or a URL is a few kilobytes.
const MAX_SECRET_FILE: u64 = 64 * 1024;

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
    fn an_env_reads_its_own_variables_and_remembers_each_with_its_default() {
        let env = Env::from_pairs([("PORT", "8080"), ("EMPTY", "  "), ("BAD", "x")]);
        assert_eq!(env.parse_or("PORT", 8001u16).unwrap(), 8080);
        assert_eq!(env.parse_or("HOST", 7u8).unwrap(), 7);
        assert_eq!(env.var("EMPTY"), None, "empty is unset");
        let bad = env.parse_or("BAD", 1u32).unwrap_err().to_string();
        assert_eq!(bad, "BAD=\"x\" is invalid: invalid digit found in string");
        assert!(env.seconds_or("ZERO", Duration::ZERO).is_err());
        assert!(env.secret("SECRET").unwrap().is_none());
        let read = env.read();
        assert_eq!(read["PORT"].as_deref(), Some("8001"));
        assert_eq!(read["HOST"].as_deref(), Some("7"));
        assert_eq!(read["EMPTY"], None);
        assert!(read.contains_key("SECRET") && read.contains_key("SECRET_FILE"));
    }

    #[test]
    fn debug_output_names_the_variables_and_shows_no_value() {
        let env = Env::from_pairs([("SERVICE_SECRET", "s3cret-value")]);
        let shown = format!("{env:?}");
        assert!(
            shown.contains("SERVICE_SECRET") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
