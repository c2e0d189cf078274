//! MongoDB for the document stores (cart, orders): connecting from a `mongodb://` URL, the
//! driver's errors as store errors, and the conversions between our ids and times and BSON.
//!
//! The stores use single-document atomic updates only, never multi-document transactions: each
//! cart and each order is one document, so none is needed, and the test server (SecantusDB) can
//! stall under transactions.

use std::time::Duration;

use bson::doc;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::ClientOptions;

use crate::DatabaseUrl;
use crate::StoreError;

/// A connected database. Like the SQL pools it connects lazily: the service starts, and reports
/// not-ready, while MongoDB is still coming up.
pub async fn connect(
    url: &DatabaseUrl,
    default_database: &str,
) -> anyhow::Result<mongodb::Database> {
    let DatabaseUrl::Mongodb(raw) = url else {
        anyhow::bail!("not a MongoDB URL: {}", url.redacted());
    };
    let mut options = ClientOptions::parse(raw.as_str()).await?;
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(5));
    options
        .connect_timeout
        .get_or_insert(Duration::from_secs(5));
    options
        .app_name
        .get_or_insert_with(|| default_database.to_owned());
    let name = options
        .default_database
        .clone()
        .unwrap_or_else(|| default_database.to_owned());
    let client = mongodb::Client::with_options(options)?;
    Ok(client.database(&name))
}

/// Whether the database answers.
pub async fn ping(db: &mongodb::Database) -> Result<(), StoreError> {
    db.run_command(doc! { "ping": 1 }).await?;
    Ok(())
}

/// Whether `err` is a unique-key violation (E11000), however the driver reports it.
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    const DUPLICATE_KEY: i32 = 11000;
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(many) => many
            .write_errors
            .iter()
            .flatten()
            .any(|w| w.code == DUPLICATE_KEY),
        _ => false,
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(err: mongodb::error::Error) -> Self {
        if is_duplicate_key(&err) {
            return StoreError::Conflict(err.into());
        }
        match &*err.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Shutdown => StoreError::Unavailable(err.into()),
            ErrorKind::BsonDeserialization(_) => {
                StoreError::Corrupt(format!("a stored document does not read back: {err}"))
            }
            _ => StoreError::Database(err.into()),
        }
    }
}

/// A UUID as BSON binary subtype 4 (plain serde would store it as a string).
pub fn uuid(id: uuid::Uuid) -> bson::Binary {
    bson::Binary {
        subtype: bson::spec::BinarySubtype::Uuid,
        bytes: id.as_bytes().to_vec(),
    }
}

/// Serde helpers for `uuid::Uuid` fields stored as BSON binary subtype 4.
pub mod uuid_as_binary {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(id: &uuid::Uuid, serializer: S) -> Result<S::Ok, S::Error> {
        super::uuid(*id).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<uuid::Uuid, D::Error> {
        let binary = bson::Binary::deserialize(deserializer)?;
        uuid::Uuid::from_slice(&binary.bytes).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for `chrono::DateTime<Utc>` fields stored as BSON dates (millisecond precision).
pub mod time_as_bson {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        bson::DateTime::from_chrono(*at).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        Ok(bson::DateTime::deserialize(deserializer)?.to_chrono())
    }
}

/// A time as a BSON date, for filters and updates.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> bson::DateTime {
    bson::DateTime::from_chrono(at)
}

/// Rounds a time to what BSON keeps (milliseconds), so a value read back equals the one written.
pub fn millis(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    bson::DateTime::from_chrono(at).to_chrono()
}
