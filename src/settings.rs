//! Every setting of the platform, read here and nowhere else. `main` takes one snapshot of the
//! environment ([`Env`]) and these functions turn it into each process's typed settings, which
//! it passes down: the libraries take values and never read a variable. Each variable's name and
//! default is in this file; the README's configuration tables are checked against what these
//! functions read (the `readme` tests below).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use auth::{ServiceAuth, TokenSettings, TokenVerifier};
use graphql_guard::Limits;
use secrecy::SecretString;
use settings::Env;
use storage::{Database, DatabaseUrl};
use web::config::{GraphqlConfig, HttpConfig};
use web::http::TrustedProxies;
use web::telemetry::Logging;

/// The laptop's ports, where a service looks for the others unless told otherwise.
const USERS_URL: &str = "http://localhost:8001";
const PRODUCTS_URL: &str = "http://localhost:8002";
const CART_URL: &str = "http://localhost:8003";

/// How a service process checks callers and calls the others.
pub struct Auth {
    pub tokens: TokenSettings,
    /// Where the keys that verify access tokens come from (every service but users).
    pub keys: Keys,
    /// The secret of service credentials; `None`: a random one, so that only this process's
    /// own credentials are accepted.
    pub service_secret: Option<SecretString>,
}

/// Where a service gets the keys that verify access tokens.
pub enum Keys {
    /// `JWT_PUBLIC_KEY`: an SPKI PEM key.
    Pem(String),
    /// The users service's JWKS: `JWKS_URL`, by default `$USERS_URL/.well-known/jwks.json`.
    Jwks(String),
}

impl Auth {
    /// What a service other than users gets from its process, under the credential `service`.
    pub fn shared(
        &self,
        service: &str,
        client: &reqwest::Client,
    ) -> anyhow::Result<subgraph::Shared> {
        let verifier = match &self.keys {
            Keys::Pem(pem) => TokenVerifier::with_pem(pem, &self.tokens)?,
            Keys::Jwks(url) => {
                TokenVerifier::with_jwks_url(url.clone(), client.clone(), &self.tokens)
            }
        };
        Ok(subgraph::Shared {
            verifier: Arc::new(verifier),
            credential: self.credential(service)?,
            client: client.clone(),
        })
    }

    pub fn credential(&self, service: &str) -> anyhow::Result<Arc<ServiceAuth>> {
        credential(self.service_secret.as_ref(), service)
    }
}

/// `service`'s credential for calls to the others, under the shared `secret`.
fn credential(secret: Option<&SecretString>, service: &str) -> anyhow::Result<Arc<ServiceAuth>> {
    ServiceAuth::shared_or_own(service, secret).map(Arc::new)
}

/// The users service's own credential: `SERVICE_SECRET` (users verifies tokens with its own key).
pub fn users_credential(env: &Env) -> anyhow::Result<Arc<ServiceAuth>> {
    credential(env.secret("SERVICE_SECRET")?.as_ref(), users::SERVICE)
}

/// `LOG_FORMAT` (`json`, else text) and `RUST_LOG` (an `EnvFilter` directive).
pub fn logging(env: &Env) -> Logging {
    Logging {
        json: env
            .var("LOG_FORMAT")
            .is_some_and(|f| f.eq_ignore_ascii_case("json")),
        filter: env.var("RUST_LOG"),
    }
}

/// `JWT_ISSUER`, `JWT_AUDIENCE`, `ACCESS_TOKEN_TTL_SECS`.
pub fn tokens(env: &Env) -> anyhow::Result<TokenSettings> {
    let d = TokenSettings::default();
    Ok(TokenSettings {
        issuer: env.var("JWT_ISSUER").unwrap_or(d.issuer),
        audience: env.var("JWT_AUDIENCE").unwrap_or(d.audience),
        ttl: env.seconds_or("ACCESS_TOKEN_TTL_SECS", d.ttl)?,
    })
}

/// The tokens, `JWT_PUBLIC_KEY` or `JWKS_URL` (default: at `USERS_URL`), `SERVICE_SECRET`.
pub fn auth(env: &Env) -> anyhow::Result<Auth> {
    let keys = match env.var("JWT_PUBLIC_KEY") {
        Some(pem) => Keys::Pem(pem),
        None => Keys::Jwks(env.var("JWKS_URL").unwrap_or_else(|| {
            let users = url(env, "USERS_URL", USERS_URL);
            format!("{}/.well-known/jwks.json", users.trim_end_matches('/'))
        })),
    };
    Ok(Auth {
        tokens: tokens(env)?,
        keys,
        service_secret: env.secret("SERVICE_SECRET")?,
    })
}

/// `HOST` and `PORT` (default `default_port`), then [`http_on`].
pub fn http(env: &Env, default_port: u16) -> anyhow::Result<HttpConfig> {
    let host: IpAddr = env.parse_or("HOST", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?;
    let port: u16 = env.parse_or("PORT", default_port)?;
    http_on(env, SocketAddr::new(host, port), TrustedProxies::default())
}

/// How a service on `addr` serves: `REQUEST_TIMEOUT_SECS`, `BODY_LIMIT_BYTES`,
/// `HEADER_TIMEOUT_SECS`, `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS`, `TRUSTED_PROXIES`
/// (default `proxies`) and the GraphQL settings.
pub fn http_on(env: &Env, addr: SocketAddr, proxies: TrustedProxies) -> anyhow::Result<HttpConfig> {
    let d = HttpConfig::with_port(addr.port());
    let max_connections: usize = env.parse_or("MAX_CONNECTIONS", d.max_connections)?;
    let per_address: usize =
        env.parse_or("MAX_CONNECTIONS_PER_ADDRESS", d.max_connections_per_address)?;
    anyhow::ensure!(
        max_connections > 0 && per_address > 0,
        "MAX_CONNECTIONS and MAX_CONNECTIONS_PER_ADDRESS must be at least 1"
    );
    Ok(HttpConfig {
        addr,
        request_timeout: env.seconds_or("REQUEST_TIMEOUT_SECS", d.request_timeout)?,
        body_limit: env.parse_or("BODY_LIMIT_BYTES", d.body_limit)?,
        header_timeout: env.seconds_or("HEADER_TIMEOUT_SECS", d.header_timeout)?,
        max_connections,
        max_connections_per_address: per_address,
        trusted_proxies: trusted_proxies(env, proxies)?,
        graphql: GraphqlConfig {
            limits: limits(env)?,
            assets: assets(env)?,
        },
    })
}

/// `TRUSTED_PROXIES`: comma-separated CIDRs; `default` when unset.
fn trusted_proxies(env: &Env, default: TrustedProxies) -> anyhow::Result<TrustedProxies> {
    match env.var("TRUSTED_PROXIES") {
        Some(list) => TrustedProxies::parse(&list),
        None => Ok(default),
    }
}

/// The GraphQL guard's limits: the defaults, each overridable by its `GRAPHQL_MAX_*` variable.
pub fn limits(env: &Env) -> anyhow::Result<Limits> {
    let d = Limits::default();
    let limits = Limits {
        max_tokens: env.parse_or("GRAPHQL_MAX_TOKENS", d.max_tokens)?,
        max_nesting: env.parse_or("GRAPHQL_MAX_NESTING", d.max_nesting)?,
        max_depth: env.parse_or("GRAPHQL_MAX_DEPTH", d.max_depth)?,
        max_selections: env.parse_or("GRAPHQL_MAX_SELECTIONS", d.max_selections)?,
        max_aliases: env.parse_or("GRAPHQL_MAX_ALIASES", d.max_aliases)?,
        max_root_fields: env.parse_or("GRAPHQL_MAX_ROOT_FIELDS", d.max_root_fields)?,
        max_directives: env.parse_or("GRAPHQL_MAX_DIRECTIVES", d.max_directives)?,
        max_expensive: env.parse_or("GRAPHQL_MAX_EXPENSIVE_MUTATIONS", d.max_expensive)?,
        max_validation: env.parse_or("GRAPHQL_MAX_VALIDATION_WORK", d.max_validation)?,
        max_representations: env.parse("GRAPHQL_MAX_REPRESENTATIONS")?,
    };
    // A parser stack sized for the default nesting is what makes the guard safe; far higher
    // values would give the crash back.
    anyhow::ensure!(
        (1..=256).contains(&limits.max_nesting),
        "GRAPHQL_MAX_NESTING must be between 1 and 256"
    );
    Ok(limits)
}

/// `GRAPHIQL_ASSETS_DIR` (a `node_modules` folder, for machines without internet) or
/// `GRAPHIQL_CDN` (default `https://unpkg.com`).
pub fn assets(env: &Env) -> anyhow::Result<web::Assets> {
    if let Some(dir) = env.var("GRAPHIQL_ASSETS_DIR") {
        return web::Assets::local(PathBuf::from(dir));
    }
    Ok(match env.var("GRAPHIQL_CDN") {
        Some(base) => web::Assets::cdn(&base),
        None => web::Assets::default(),
    })
}

/// `DATABASE_URL` (or `DATABASE_URL_FILE`; default `sqlite://data/<default_file>`),
/// `DATABASE_MAX_CONNECTIONS`, `DATABASE_STARTUP_TIMEOUT_SECS`.
pub fn database(env: &Env, default_file: &str) -> anyhow::Result<Database> {
    database_at(env, database_url(env, default_file)?)
}

/// The same for cart and orders, whose SQL backend is SQLite (one file, no pool to size):
/// `DATABASE_URL` and `DATABASE_STARTUP_TIMEOUT_SECS`.
pub fn document_database(env: &Env, default_file: &str) -> anyhow::Result<Database> {
    Ok(Database {
        startup_timeout: startup_timeout(env)?,
        ..Database::new(database_url(env, default_file)?)
    })
}

fn database_url(env: &Env, default_file: &str) -> anyhow::Result<DatabaseUrl> {
    let url = env
        .var_or_file("DATABASE_URL")?
        .unwrap_or_else(|| format!("sqlite://data/{default_file}"));
    DatabaseUrl::parse(&url).context("DATABASE_URL")
}

fn startup_timeout(env: &Env) -> anyhow::Result<std::time::Duration> {
    env.seconds_or(
        "DATABASE_STARTUP_TIMEOUT_SECS",
        Database::DEFAULT_STARTUP_TIMEOUT,
    )
}

/// The database at `url`, with `DATABASE_MAX_CONNECTIONS` and `DATABASE_STARTUP_TIMEOUT_SECS`.
pub fn database_at(env: &Env, url: DatabaseUrl) -> anyhow::Result<Database> {
    let max_connections: u32 = env.parse_or(
        "DATABASE_MAX_CONNECTIONS",
        Database::DEFAULT_MAX_CONNECTIONS,
    )?;
    anyhow::ensure!(
        max_connections > 0,
        "DATABASE_MAX_CONNECTIONS must be at least 1"
    );
    Ok(Database {
        url,
        max_connections,
        startup_timeout: startup_timeout(env)?,
    })
}

/// `ADMIN_EMAIL` and `ADMIN_PASSWORD`: both or neither.
pub fn admin(env: &Env) -> anyhow::Result<Option<users::AdminAccount>> {
    match (env.var("ADMIN_EMAIL"), env.secret("ADMIN_PASSWORD")?) {
        (Some(email), Some(password)) => Ok(Some(users::AdminAccount { email, password })),
        (None, None) => Ok(None),
        _ => anyhow::bail!("set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither"),
    }
}

/// The login throttle: `LOGIN_MAX_FAILURES`, `LOGIN_MAX_FAILURES_PER_ADDRESS`,
/// `LOGIN_BACKOFF_AFTER`, `LOGIN_MAX_BACKOFF_SECS`, `LOGIN_FAILURE_WINDOW_SECS`,
/// `REGISTER_MAX_PER_ADDRESS`, `REGISTER_WINDOW_SECS`.
pub fn login_limits(env: &Env) -> anyhow::Result<users::throttle::LoginLimits> {
    let d = users::throttle::LoginLimits::default();
    let limits = users::throttle::LoginLimits {
        max_failures: env.parse_or("LOGIN_MAX_FAILURES", d.max_failures)?,
        max_failures_per_address: env
            .parse_or("LOGIN_MAX_FAILURES_PER_ADDRESS", d.max_failures_per_address)?,
        backoff_after: env.parse_or("LOGIN_BACKOFF_AFTER", d.backoff_after)?,
        max_backoff: env.seconds_or("LOGIN_MAX_BACKOFF_SECS", d.max_backoff)?,
        window: env.seconds_or("LOGIN_FAILURE_WINDOW_SECS", d.window)?,
        max_registrations: env.parse_or("REGISTER_MAX_PER_ADDRESS", d.max_registrations)?,
        registration_window: env.seconds_or("REGISTER_WINDOW_SECS", d.registration_window)?,
    };
    anyhow::ensure!(
        limits.max_failures > 0
            && limits.max_failures_per_address > 0
            && limits.max_registrations > 0,
        "LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_ADDRESS and REGISTER_MAX_PER_ADDRESS must be at least 1"
    );
    Ok(limits)
}

/// `PASSWORD_HASHING_THREADS`, else one per core this process may use (`available_parallelism`
/// honours a container's CPU quota).
pub fn hashing_threads(env: &Env) -> anyhow::Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads: usize = env.parse_or("PASSWORD_HASHING_THREADS", cores)?;
    anyhow::ensure!(
        (1..=256).contains(&threads),
        "PASSWORD_HASHING_THREADS must be between 1 and 256"
    );
    Ok(threads)
}

/// `ecommerce serve users`.
pub fn users(env: &Env) -> anyhow::Result<users::Settings> {
    Ok(users::Settings {
        http: http(env, users::DEFAULT_PORT)?,
        database: database(env, "users.db")?,
        tokens: tokens(env)?,
        signing_key: env.secret("JWT_PRIVATE_KEY")?,
        admin: admin(env)?,
        login_limits: login_limits(env)?,
        hashing_threads: hashing_threads(env)?,
    })
}

/// `RESERVATION_HOLD_SECS` (default 120, at most 900), `RESERVATION_SWEEP_SECS` (5).
pub fn reservations(env: &Env) -> anyhow::Result<products::ReservationSettings> {
    let d = products::ReservationSettings::default();
    Ok(products::ReservationSettings {
        default_hold: env.seconds_within(
            "RESERVATION_HOLD_SECS",
            d.default_hold,
            products::domain::MAX_HOLD,
        )?,
        sweep_every: env.seconds_or("RESERVATION_SWEEP_SECS", d.sweep_every)?,
    })
}

/// `ecommerce serve products`.
pub fn products(env: &Env) -> anyhow::Result<products::Settings> {
    Ok(products::Settings {
        http: http(env, products::DEFAULT_PORT)?,
        database: database(env, "products.db")?,
        reservations: reservations(env)?,
    })
}

/// Where another service is: `variable`, else `default` (the laptop's port).
fn url(env: &Env, variable: &str, default: &str) -> String {
    env.var(variable).unwrap_or_else(|| default.to_owned())
}

/// `ecommerce serve cart`: with `USERS_URL` and `PRODUCTS_URL`.
pub fn cart(env: &Env) -> anyhow::Result<cart::Settings> {
    Ok(cart::Settings {
        http: http(env, cart::DEFAULT_PORT)?,
        database: document_database(env, "cart.db")?,
        peers: cart::PeerUrls {
            users: url(env, "USERS_URL", USERS_URL),
            products: url(env, "PRODUCTS_URL", PRODUCTS_URL),
        },
    })
}

/// `CHECKOUT_HOLD_SECS` (default 120, at most 900), `RECONCILE_EVERY_SECS` (5).
pub fn checkout(env: &Env) -> anyhow::Result<orders::CheckoutSettings> {
    let d = orders::CheckoutSettings::default();
    Ok(orders::CheckoutSettings {
        hold: env.seconds_within("CHECKOUT_HOLD_SECS", d.hold, contracts::products::MAX_HOLD)?,
        reconcile_every: env.seconds_or("RECONCILE_EVERY_SECS", d.reconcile_every)?,
    })
}

/// `ecommerce serve orders`: with `USERS_URL`, `PRODUCTS_URL` and `CART_URL`.
pub fn orders(env: &Env) -> anyhow::Result<orders::Settings> {
    Ok(orders::Settings {
        http: http(env, orders::DEFAULT_PORT)?,
        database: document_database(env, "orders.db")?,
        checkout: checkout(env)?,
        peers: orders::PeerUrls {
            users: url(env, "USERS_URL", USERS_URL),
            products: url(env, "PRODUCTS_URL", PRODUCTS_URL),
            cart: url(env, "CART_URL", CART_URL),
        },
    })
}

/// `ecommerce serve router`: our plugins' settings. The engine reads its own variables (`PORT`,
/// `HOST`, the subgraph URLs, `SUBGRAPH_TIMEOUT`, `LOG_LEVEL`...) through its configuration file.
pub fn router(env: &Env) -> anyhow::Result<router::Settings> {
    let max_json_nesting = env.parse_or(
        "GRAPHQL_MAX_JSON_NESTING",
        router::guard::DEFAULT_MAX_JSON_NESTING,
    )?;
    // A request is `{"variables": {"input": {...}}}`: three levels before any value.
    anyhow::ensure!(
        (3..=256).contains(&max_json_nesting),
        "GRAPHQL_MAX_JSON_NESTING must be between 3 and 256"
    );
    Ok(router::Settings {
        limits: limits(env)?,
        max_json_nesting,
        trusted_proxies: trusted_proxies(env, TrustedProxies::default())?,
        assets: assets(env)?,
        config_file: env.var("ROUTER_CONFIG_FILE_PATH").map(PathBuf::from),
    })
}

/// What `ecommerce up` runs with: the four services on SQLite files under `data_dir`, on
/// loopback unless `HOST` says otherwise, trusting loopback's `X-Forwarded-For` (the router runs
/// beside them) unless `TRUSTED_PROXIES` says otherwise. Where each service finds the others is
/// filled in once their ports are bound.
pub struct Up {
    pub host: IpAddr,
    pub router_port: u16,
    /// `ADMIN_EMAIL` and `ADMIN_PASSWORD` when both are set; else `up` makes a development admin.
    pub admin: Option<users::AdminAccount>,
    pub users: users::Settings,
    pub products: products::Settings,
    pub cart: cart::Settings,
    pub orders: orders::Settings,
}

/// `HOST`, `USERS_PORT`, `PRODUCTS_PORT`, `CART_PORT`, `ORDERS_PORT`, `ROUTER_PORT`, and what
/// every service reads but its address, database URL and peers.
pub fn up(env: &Env, data_dir: &std::path::Path) -> anyhow::Result<Up> {
    let host: IpAddr = env.parse_or("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let loopback = TrustedProxies::parse("127.0.0.1,::1")?;
    let http = |variable: &str, port: u16| -> anyhow::Result<HttpConfig> {
        let port: u16 = env.parse_or(variable, port)?;
        http_on(env, SocketAddr::new(host, port), loopback.clone())
    };
    let sqlite_url =
        |file: &str| DatabaseUrl::Sqlite(format!("sqlite://{}", data_dir.join(file).display()));
    let sqlite = |file: &str| database_at(env, sqlite_url(file));
    let document_sqlite = |file: &str| -> anyhow::Result<Database> {
        Ok(Database {
            startup_timeout: startup_timeout(env)?,
            ..Database::new(sqlite_url(file))
        })
    };
    let unbound = String::new;
    Ok(Up {
        host,
        router_port: env.parse_or("ROUTER_PORT", router::DEFAULT_PORT)?,
        admin: match (env.var("ADMIN_EMAIL"), env.secret("ADMIN_PASSWORD")?) {
            (Some(email), Some(password)) => Some(users::AdminAccount { email, password }),
            _ => None,
        },
        users: users::Settings {
            http: http("USERS_PORT", users::DEFAULT_PORT)?,
            database: sqlite("users.db")?,
            tokens: tokens(env)?,
            signing_key: None,
            admin: None,
            login_limits: login_limits(env)?,
            hashing_threads: hashing_threads(env)?,
        },
        products: products::Settings {
            http: http("PRODUCTS_PORT", products::DEFAULT_PORT)?,
            database: sqlite("products.db")?,
            reservations: reservations(env)?,
        },
        cart: cart::Settings {
            http: http("CART_PORT", cart::DEFAULT_PORT)?,
            database: document_sqlite("cart.db")?,
            peers: cart::PeerUrls {
                users: unbound(),
                products: unbound(),
            },
        },
        orders: orders::Settings {
            http: http("ORDERS_PORT", orders::DEFAULT_PORT)?,
            database: document_sqlite("orders.db")?,
            checkout: checkout(env)?,
            peers: orders::PeerUrls {
                users: unbound(),
                products: unbound(),
                cart: unbound(),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Every variable the given readers take, with its default.
    fn read_by(readers: &[&dyn Fn(&Env)]) -> BTreeMap<String, Option<String>> {
        let env = Env::default();
        for read in readers {
            read(&env);
        }
        env.read()
    }

    /// The variables named in the first column of the markdown table under `heading`.
    fn table_rows(readme: &str, heading: &str) -> Vec<(Vec<String>, String)> {
        let section = readme
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("README.md has no {heading}"));
        section
            .lines()
            .skip_while(|l| !l.starts_with("| variable"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let cells: Vec<&str> = row.split('|').collect();
                let names = cells[1]
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect();
                (names, cells[2].to_owned())
            })
            .collect()
    }

    /// Whether `name` is listed: by name, or by a `PREFIX_*` row.
    fn listed(name: &str, rows: &[(Vec<String>, String)]) -> bool {
        rows.iter().flat_map(|(names, _)| names).any(|listed| {
            listed == name
                || listed
                    .strip_suffix('*')
                    .is_some_and(|prefix| name.starts_with(prefix))
        })
    }

    const README: &str = include_str!("../README.md");

    #[test]
    fn readme_lists_every_variable_a_service_reads_and_no_other() {
        let data = std::path::Path::new("data");
        let read = read_by(&[
            &|env| drop(users(env)),
            &|env| drop(products(env)),
            &|env| drop(cart(env)),
            &|env| drop(orders(env)),
            &|env| drop(auth(env)),
            &|env| drop(logging(env)),
            &|env| drop(up(env, data)),
        ]);
        // And what the command line takes from the environment (`up --data-dir`: DATA_DIR).
        let mut read = read;
        let cli = <crate::Cli as clap::CommandFactory>::command();
        for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
            for arg in command.get_arguments() {
                if let Some(name) = arg.get_env() {
                    read.insert(name.to_string_lossy().into_owned(), None);
                }
            }
        }
        let rows = table_rows(README, "## Configuration");
        // `<NAME>_FILE` is how every secret may be given (the README says so once).
        let file_of_another = |name: &str| {
            name.strip_suffix("_FILE")
                .is_some_and(|base| read.contains_key(base))
        };
        let missing: Vec<_> = read
            .keys()
            .filter(|name| !file_of_another(name) && !listed(name, &rows))
            .collect();
        assert!(
            missing.is_empty(),
            "README's Configuration table lacks {missing:?}"
        );
        let stale: Vec<_> = rows
            .iter()
            .flat_map(|(names, _)| names)
            .filter(|name| !name.ends_with('*') && !read.contains_key(name.as_str()))
            .collect();
        assert!(
            stale.is_empty(),
            "README's Configuration table lists variables nothing reads: {stale:?}"
        );
        // `PREFIX_*` rows point at a section that lists each variable with its default.
        for (name, default) in &read {
            if file_of_another(name) || rows.iter().any(|(names, _)| names.contains(name)) {
                continue;
            }
            let row = format!("| `{name}` |");
            let line = README
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("README.md has no row of its own for {name}"));
            if let Some(default) = default {
                assert!(
                    line.contains(&format!("`{default}`")),
                    "README.md gives {name} another default than {default}: {line}"
                );
            }
        }
    }

    /// A row that gives one plain default per variable gives the ones the code has.
    #[test]
    fn readme_defaults_are_the_code_defaults() {
        let read = read_by(&[
            &|env| drop(users(env)),
            &|env| drop(products(env)),
            &|env| drop(cart(env)),
            &|env| drop(orders(env)),
            &|env| drop(auth(env)),
        ]);
        let mut checked = BTreeSet::new();
        for (names, defaults) in table_rows(README, "## Configuration") {
            let defaults: Vec<&str> = defaults.split('`').skip(1).step_by(2).collect();
            let plain = !defaults.is_empty() && !names.iter().any(|n| n.ends_with('*'));
            if !plain || defaults.len() != names.len() {
                continue;
            }
            for (name, documented) in names.iter().zip(defaults) {
                if let Some(Some(default)) = read.get(name) {
                    assert_eq!(documented, default, "README.md's default for {name}");
                    checked.insert(name.clone());
                }
            }
        }
        assert!(checked.len() >= 10, "checked too few defaults: {checked:?}");
    }

    #[test]
    fn readme_lists_every_variable_the_router_plugins_read() {
        let read = read_by(&[&|env| drop(router(env))]);
        let rows = table_rows(README, "## The router");
        let missing: Vec<_> = read.keys().filter(|name| !listed(name, &rows)).collect();
        assert!(
            missing.is_empty(),
            "README's router table lacks {missing:?}"
        );
    }

    #[test]
    fn bad_values_stop_start_up_naming_the_variable() {
        for (name, value, message) in [
            ("PORT", "http", "PORT=\"http\" is invalid"),
            (
                "GRAPHQL_MAX_NESTING",
                "1000",
                "GRAPHQL_MAX_NESTING must be between 1 and 256",
            ),
            (
                "MAX_CONNECTIONS",
                "0",
                "MAX_CONNECTIONS and MAX_CONNECTIONS_PER_ADDRESS must be at least 1",
            ),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            (
                "CHECKOUT_HOLD_SECS",
                "901",
                "CHECKOUT_HOLD_SECS must be at most 900 seconds",
            ),
            ("TRUSTED_PROXIES", "not a network", "TRUSTED_PROXIES"),
        ] {
            let env = Env::from_pairs([(name, value)]);
            let err = format!("{:#}", orders(&env).err().expect(name));
            assert!(err.contains(message), "{name}={value}: {err}");
        }
        let half_admin = Env::from_pairs([("ADMIN_EMAIL", "a@example.com")]);
        assert!(users(&half_admin).is_err());
    }
}
