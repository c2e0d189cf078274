//! One SQL layer over the PostgreSQL and SQLite backends, so that a service's store is written
//! once, as plain code the compiler checks, and runs on both.
//!
//! A store builds a [`Query`] (SQL text with `$1`, `$2`… placeholders, which sqlx accepts on both
//! backends, and its bound [`Param`]s) and runs it on the [`Pool`] or on a transaction ([`Tx`]);
//! rows come back as [`Row`]s whose columns are read by name into any type both drivers decode.
//! Only the dispatch to the driver differs per backend, and it lives here, once.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Decode, Postgres, Row as _, Sqlite, Type};
use uuid::Uuid;

use crate::StoreError;

/// Migrations embedded in the binary, listed by file name, from the calling crate's
/// `migrations/<dir>/` folder: `store::migrations!("postgres": ["20261123000001_users.sql"])`.
///
/// It does what `sqlx::migrate!` does without sqlx's proc macros, whose build-time copy of the
/// drivers is minutes of every cold build. [`assert_embeds_folder`] keeps the list and the folder
/// in step.
#[macro_export]
macro_rules! migrations {
    ($dir:literal: [$($file:literal),+ $(,)?]) => {
        ::std::sync::LazyLock::new(|| {
            $crate::sql::migrator(&[$((
                $file,
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $dir, "/", $file)),
            )),+])
        })
    };
}

/// A test, `every_migration_file_is_embedded`, that fails unless each named [`migrations!`]
/// static holds exactly the files of its folder: `store::embedded_migrations_test!(SQLITE: "sqlite")`.
#[macro_export]
macro_rules! embedded_migrations_test {
    ($($migrator:ident: $dir:literal),+ $(,)?) => {
        #[cfg(test)]
        #[test]
        fn every_migration_file_is_embedded() {
            $($crate::sql::assert_embeds_folder(
                &$migrator,
                concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $dir),
            );)+
        }
    };
}

/// A [`Migrator`] from `(file name, SQL)` pairs, read as sqlx reads a migrations folder:
/// `<version>_<description>.sql`, with the same SHA-384 checksums `sqlx::migrate!` records, so
/// databases migrated before keep validating.
///
/// # Panics
/// On a file name that is not `<digits>_<description>.sql`: a programming error that
/// [`assert_embeds_folder`] turns into a failing test.
pub fn migrator(files: &[(&'static str, &'static str)]) -> Migrator {
    let mut migrations: Vec<_> = files
        .iter()
        .map(|&(file, sql)| {
            let (version, description) = parse_migration_name(file).unwrap_or_else(|| {
                panic!("migration {file:?} is not named <version>_<description>.sql")
            });
            sqlx::migrate::Migration::new(
                version,
                Cow::Owned(description),
                sqlx::migrate::MigrationType::Simple,
                Cow::Borrowed(sql),
                sql.starts_with("-- no-transaction"),
            )
        })
        .collect();
    migrations.sort_by_key(|m| m.version);
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

fn parse_migration_name(file: &str) -> Option<(i64, String)> {
    let stem = file.strip_suffix(".sql")?;
    // sqlx reads `.up.sql` / `.down.sql` as a reversible pair; these are not supported here, so
    // a down migration can never be run as an up one.
    if stem.ends_with(".up") || stem.ends_with(".down") {
        return None;
    }
    let (version, description) = stem.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) || description.is_empty()
    {
        return None;
    }
    Some((version.parse().ok()?, description.replace('_', " ")))
}

/// Fails unless `migrator` holds exactly the `.sql` files of `folder`, each with its current text:
/// a migration added to the folder but not to the list would otherwise never run.
pub fn assert_embeds_folder(migrator: &Migrator, folder: &str) {
    let mut on_disk: Vec<(i64, String)> = std::fs::read_dir(folder)
        .unwrap_or_else(|err| panic!("{folder}: {err}"))
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 name")
                .to_owned();
            let sql = std::fs::read_to_string(&path).expect("readable migration");
            let (version, _) = parse_migration_name(&name)
                .unwrap_or_else(|| panic!("{name} is not named <version>_<description>.sql"));
            (version, sql)
        })
        .collect();
    on_disk.sort();
    let embedded: Vec<(i64, String)> = migrator
        .iter()
        .map(|m| (m.version, m.sql.to_string()))
        .collect();
    assert_eq!(
        embedded, on_disk,
        "the migrations listed in the code differ from {folder}"
    );
}

/// A connection pool on one of the SQL backends.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Uuid(Uuid),
    Text(Option<String>),
    I64(i64),
    I32(i32),
    Bool(bool),
    Time(DateTime<Utc>),
}

macro_rules! param_from {
    ($($ty:ty => $variant:ident $(($conv:expr))?),+ $(,)?) => {
        $(impl From<$ty> for Param {
            fn from(value: $ty) -> Self {
                Param::$variant($($conv)?(value))
            }
        })+
    };
}

param_from! {
    Uuid => Uuid,
    i64 => I64,
    i32 => I32,
    bool => Bool,
    DateTime<Utc> => Time,
    String => Text(Some),
    Option<String> => Text,
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(Some(value.to_owned()))
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::Text(value.map(str::to_owned))
    }
}

/// SQL text and the values for its placeholders, in order.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    sql: Cow<'a, str>,
    params: Vec<Param>,
}

/// A query with no parameters bound yet.
pub fn query<'a>(sql: impl Into<Cow<'a, str>>) -> Query<'a> {
    Query {
        sql: sql.into(),
        params: Vec::new(),
    }
}

impl Query<'_> {
    /// Binds the next placeholder.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds one placeholder per value, in order.
    pub fn bind_all<T: Into<Param>>(mut self, values: impl IntoIterator<Item = T>) -> Self {
        self.params.extend(values.into_iter().map(Into::into));
        self
    }

    fn postgres(&self) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
        bound(&self.sql, &self.params)
    }

    fn sqlite(&self) -> sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
        bound(&self.sql, &self.params)
    }
}

/// `sql` with `params` bound, for a driver that encodes every [`Param`] type.
fn bound<'q, DB>(sql: &'q str, params: &'q [Param]) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: sqlx::Database,
    Uuid: sqlx::Encode<'q, DB> + Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + Type<DB>,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
    i32: sqlx::Encode<'q, DB> + Type<DB>,
    bool: sqlx::Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + Type<DB>,
{
    params
        .iter()
        .fold(sqlx::query(sql), |q, param| match param {
            Param::Uuid(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.as_deref()),
            Param::I64(v) => q.bind(*v),
            Param::I32(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
            Param::Time(v) => q.bind(*v),
        })
}

/// `$first, $first+1, …` for `count` values: how one query looks up many ids (`id IN (…)`) on
/// both backends.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A result row.
pub enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

/// A column type both drivers decode.
pub trait Column: Sized {
    fn from_row(row: &Row, name: &str) -> Result<Self, sqlx::Error>;
}

impl<T> Column for T
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>,
{
    fn from_row(row: &Row, name: &str) -> Result<Self, sqlx::Error> {
        match row {
            Row::Postgres(row) => row.try_get(name),
            Row::Sqlite(row) => row.try_get(name),
        }
    }
}

impl Row {
    /// The column `name` as a `T`; a missing column or another type is a corrupt row.
    pub fn get<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        T::from_row(self, name).map_err(|err| StoreError::Corrupt(format!("column {name}: {err}")))
    }
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Pool {
    /// Connects to the backend the URL names (`postgres://` or `sqlite://`; a SQLite file is
    /// created with its folder if missing), and returns once the database answers: one that cannot be reached yet (it is still
    /// starting, as on a fresh cluster) is waited for, with a growing pause, for up to
    /// `database.startup_timeout`; any other failure stops start-up at once.
    pub async fn connect(database: &crate::Database) -> anyhow::Result<Self> {
        use crate::DatabaseUrl;
        let url = &database.url;
        let pool = match url {
            DatabaseUrl::Postgres(_) => {
                let options = PgConnectOptions::from_str(url.expose())?;
                Pool::Postgres(postgres_pool(options, database.max_connections))
            }
            DatabaseUrl::Sqlite(_) => Pool::Sqlite(sqlite_pool(url.expose()).await?),
            DatabaseUrl::Mongodb(_) => anyhow::bail!("not a SQL database URL: {}", url.redacted()),
        };
        pool.reachable_within(database.startup_timeout).await?;
        Ok(pool)
    }

    /// Waits, with a growing pause, until the database answers or `patience` has passed.
    async fn reachable_within(&self, patience: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = Duration::from_millis(250);
        loop {
            let answered = match self {
                Pool::Postgres(pool) => pool.acquire().await.map(drop),
                Pool::Sqlite(pool) => pool.acquire().await.map(drop),
            };
            match answered {
                Ok(()) => return Ok(()),
                Err(err)
                    if is_unreachable(&err) && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::warn!(
                        retry_in_ms = pause.as_millis() as u64,
                        "database not reachable yet; waiting"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Applies the pending migrations of this backend ([`Pool::connect`] has waited for the
    /// database to answer).
    pub async fn migrate(&self, postgres: &Migrator, sqlite: &Migrator) -> anyhow::Result<()> {
        match self {
            Pool::Postgres(pool) => postgres.run(pool).await?,
            Pool::Sqlite(pool) => sqlite.run(pool).await?,
        }
        Ok(())
    }

    pub async fn execute(&self, query: Query<'_>) -> Result<u64, StoreError> {
        Ok(match self {
            Pool::Postgres(pool) => query.postgres().execute(pool).await?.rows_affected(),
            Pool::Sqlite(pool) => query.sqlite().execute(pool).await?.rows_affected(),
        })
    }

    pub async fn fetch_optional(&self, query: Query<'_>) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Pool::Postgres(pool) => query
                .postgres()
                .fetch_optional(pool)
                .await?
                .map(Row::Postgres),
            Pool::Sqlite(pool) => query.sqlite().fetch_optional(pool).await?.map(Row::Sqlite),
        })
    }

    pub async fn fetch_all(&self, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Pool::Postgres(pool) => rows(query.postgres().fetch_all(pool).await?, Row::Postgres),
            Pool::Sqlite(pool) => rows(query.sqlite().fetch_all(pool).await?, Row::Sqlite),
        })
    }

    /// The row a query must return (`INSERT … RETURNING`).
    pub async fn fetch_one(&self, query: Query<'_>) -> Result<Row, StoreError> {
        self.fetch_optional(query)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the statement returned no row".into()))
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.execute(query("SELECT 1")).await.map(drop)
    }
}

impl Tx {
    pub async fn execute(&mut self, query: Query<'_>) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Postgres(tx) => query.postgres().execute(&mut **tx).await?.rows_affected(),
            Tx::Sqlite(tx) => query.sqlite().execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub async fn fetch_optional(&mut self, query: Query<'_>) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Tx::Postgres(tx) => query
                .postgres()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
            Tx::Sqlite(tx) => query
                .sqlite()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
        })
    }

    pub async fn fetch_all(&mut self, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Postgres(tx) => rows(query.postgres().fetch_all(&mut **tx).await?, Row::Postgres),
            Tx::Sqlite(tx) => rows(query.sqlite().fetch_all(&mut **tx).await?, Row::Sqlite),
        })
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

fn rows<R>(rows: Vec<R>, wrap: fn(R) -> Row) -> Vec<Row> {
    rows.into_iter().map(wrap).collect()
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A lazily connecting PostgreSQL pool.
pub fn postgres_pool(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

/// A SQLite pool on a file (created with its folder if missing) in WAL mode, so readers never
/// wait for the writer; writers wait for each other up to the busy timeout.
pub async fn sqlite_pool(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if let Some(parent) = options.get_filename().parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?)
}

/// sqlx's errors as store errors: unique violations are conflicts, a database that cannot be
/// reached is unavailable, anything else is unexpected. The driver's text stays in the source
/// chain, for the log, and never reaches a client.
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(err.into())
            }
            _ if is_unreachable(&err) => StoreError::Unavailable(err.into()),
            _ => StoreError::Database(err.into()),
        }
    }
}

/// Whether the database could not be reached (rather than refusing a statement).
fn is_unreachable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are read as sqlx reads a migrations folder, and the checksum is SHA-384 of the text,
    /// as `sqlx::migrate!` recorded it in databases migrated before.
    #[test]
    fn embedded_migrations_read_like_a_sqlx_folder() {
        use sha2::Digest;
        let sql = "CREATE TABLE t (id INTEGER);";
        let m = migrator(&[
            ("20261129000002_two_phase_reservations.sql", sql),
            ("20261123000001_users.sql", "-- no-transaction\nSELECT 1;"),
        ]);
        let got: Vec<_> = m
            .iter()
            .map(|m| (m.version, m.description.to_string(), m.no_tx))
            .collect();
        assert_eq!(
            got,
            [
                (20261123000001, "users".to_owned(), true),
                (20261129000002, "two phase reservations".to_owned(), false)
            ]
        );
        assert_eq!(&*m.migrations[1].checksum, &sha2::Sha384::digest(sql)[..]);
        for bad in [
            "users.sql",
            "_users.sql",
            "2026_.sql",
            "x1_users.sql",
            "1_users.txt",
        ] {
            assert_eq!(parse_migration_name(bad), None, "{bad}");
        }
    }

    /// A PostgreSQL that is not up yet is waited for, not a reason to exit (a fresh cluster
    /// starts the services and the database together); one that never comes gives up after the
    /// start-up timeout.
    #[tokio::test]
    async fn start_up_waits_for_a_database_that_is_still_starting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = crate::DatabaseUrl::parse(&format!(
            "postgres://nobody:secret@127.0.0.1:{port}/nothing?connect_timeout=1"
        ))
        .unwrap();
        let started = std::time::Instant::now();
        let result = Pool::connect(&crate::Database {
            startup_timeout: Duration::from_secs(2),
            ..crate::Database::new(url)
        })
        .await;
        assert!(result.is_err(), "nothing ever listened");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "it retried for a while: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn placeholders_number_on_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
    }

    #[tokio::test]
    async fn one_query_runs_on_sqlite_with_every_parameter_type() {
        let dir = tempfile::tempdir().unwrap();
        let url =
            crate::DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display()))
                .unwrap();
        let pool = Pool::connect(&crate::Database::new(url)).await.unwrap();
        pool.execute(query(
            "CREATE TABLE t (id BLOB PRIMARY KEY, s TEXT, n INTEGER, m INTEGER, b BOOLEAN, at TEXT)",
        ))
        .await
        .unwrap();
        let id = Uuid::new_v4();
        let at = Utc::now();
        let row = pool
            .fetch_one(
                query("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6) RETURNING *")
                    .bind(id)
                    .bind(None::<&str>)
                    .bind(7i64)
                    .bind(3i32)
                    .bind(true)
                    .bind(at),
            )
            .await
            .unwrap();
        assert_eq!(row.get::<Uuid>("id").unwrap(), id);
        assert_eq!(row.get::<Option<String>>("s").unwrap(), None);
        assert_eq!(row.get::<i64>("n").unwrap(), 7);
        assert_eq!(row.get::<i32>("m").unwrap(), 3);
        assert!(row.get::<bool>("b").unwrap());
        assert_eq!(row.get::<DateTime<Utc>>("at").unwrap(), at);
        assert!(matches!(
            row.get::<i64>("nope"),
            Err(StoreError::Corrupt(_))
        ));
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(
            tx.execute(query("DELETE FROM t WHERE id = $1").bind(id))
                .await
                .unwrap(),
            1
        );
        drop(tx);
        assert_eq!(
            pool.fetch_all(query("SELECT id FROM t"))
                .await
                .unwrap()
                .len(),
            1,
            "a dropped transaction rolls back"
        );
    }
}
