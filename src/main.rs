//! The launcher: `up` runs every service in one process on embedded storage; `serve <service>`
//! runs one service configured from the environment (what containers run).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use futures::FutureExt;
use kit::auth::{ServiceAuth, SigningKey, TokenSettings, TokenVerifier};
use kit::config::{DatabaseUrl, HttpConfig};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(version, about = "Federated e-commerce platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every service in one process on SQLite files, with demo data (the default).
    Up {
        /// Where the SQLite files and the signing key live.
        #[arg(long, env = "DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// One service, configured from environment variables.
    Serve { service: Service },
    /// Prints a new Ed25519 key pair for JWT_PRIVATE_KEY / JWT_PUBLIC_KEY.
    Keygen,
    /// Exits 0 when the URL answers 2xx within 3 seconds: the container health check (the
    /// runtime image has no shell or curl).
    Healthcheck { url: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum Service {
    Users,
    Products,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command.unwrap_or(Command::Up {
        data_dir: PathBuf::from("data"),
    });
    match command {
        Command::Up { data_dir } => {
            kit::telemetry::init();
            up(&data_dir).await
        }
        Command::Serve { service } => {
            kit::telemetry::init();
            match service {
                Service::Users => serve_users().await,
                Service::Products => serve_products().await,
            }
        }
        Command::Keygen => {
            let key = SigningKey::generate();
            println!(
                "# JWT_PRIVATE_KEY (users only; keep secret)\n{}",
                key.to_pem().expose_secret()
            );
            println!(
                "# JWT_PUBLIC_KEY (every service)\n{}",
                key.public().to_pem()
            );
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck(&url).await,
    }
}

async fn healthcheck(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?;
    client.get(url).send().await?.error_for_status()?;
    Ok(())
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serves `app` with `config` until SIGTERM/SIGINT, logging the address actually bound (which
/// tells a caller that asked for port 0 where to connect).
async fn serve(service: &str, app: axum::Router, config: &HttpConfig) -> anyhow::Result<()> {
    let listener = bind(config.addr).await?;
    tracing::info!(service, addr = %listener.local_addr()?, "listening");
    kit::http::serve(listener, app, kit::http::shutdown_signal(), config.into()).await?;
    Ok(())
}

async fn serve_users() -> anyhow::Result<()> {
    let config = users::Config::from_env()?;
    let service_auth = Arc::new(ServiceAuth::from_env(users::SERVICE)?);
    let state = users::AppState::from_config(&config, service_auth).await?;
    serve(
        users::SERVICE,
        users::app(state, &config.http),
        &config.http,
    )
    .await
}

async fn serve_products() -> anyhow::Result<()> {
    let config = products::Config::from_env()?;
    let settings = TokenSettings::from_env()?;
    let verifier = Arc::new(TokenVerifier::from_env(&settings, kit::http::client()?)?);
    let service_auth = Arc::new(ServiceAuth::from_env(products::SERVICE)?);
    let state = products::AppState::from_config(&config, verifier, service_auth).await?;
    products::catalog::spawn_expiry_sweeper(state.catalog.clone(), config.reservations.sweep_every);
    serve(
        products::SERVICE,
        products::app(state, &config.http),
        &config.http,
    )
    .await
}

/// Development admin for `up` when ADMIN_EMAIL / ADMIN_PASSWORD are not set. Never used by
/// `serve` (containers), which bootstraps an admin only from the environment.
const DEV_ADMIN_EMAIL: &str = "admin@example.com";
const DEV_ADMIN_PASSWORD: &str = "Admin123!";

async fn up(data_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = load_or_create_key(&data_dir.join("jwt-ed25519.pem"))?;
    let public = key.public().clone();
    let settings = TokenSettings::from_env()?;
    let sqlite =
        |file: &str| DatabaseUrl::Sqlite(format!("sqlite://{}", data_dir.join(file).display()));
    let host = kit::config::parse_or("HOST", std::net::IpAddr::from([127, 0, 0, 1]))?;
    let http = |port: u16| HttpConfig::with_port(port).overridden_from_env(host);

    let admin = match (
        kit::config::var("ADMIN_EMAIL"),
        kit::config::secret("ADMIN_PASSWORD"),
    ) {
        (Some(email), Some(password)) => users::AdminAccount { email, password },
        _ => {
            tracing::warn!(
                email = DEV_ADMIN_EMAIL,
                "using the development admin account; set ADMIN_EMAIL and ADMIN_PASSWORD to choose your own"
            );
            users::AdminAccount {
                email: DEV_ADMIN_EMAIL.to_owned(),
                password: SecretString::from(DEV_ADMIN_PASSWORD),
            }
        }
    };
    let users_config = users::Config {
        http: http(kit::config::parse_or("USERS_PORT", users::DEFAULT_PORT)?)?,
        database: sqlite("users.db"),
        tokens: settings.clone(),
        signing_key: Some(key.to_pem()),
        admin: Some(admin),
        login_limits: users::throttle::LoginLimits::from_env()?,
        hashing_threads: users::accounts::hashing_threads_from_env()?,
    };
    let products_config = products::Config {
        http: http(kit::config::parse_or(
            "PRODUCTS_PORT",
            products::DEFAULT_PORT,
        )?)?,
        database: sqlite("products.db"),
        reservations: products::ReservationSettings::from_env()?,
    };

    // One process: the services share the verifying key and a service secret made for this run.
    let verifier = Arc::new(TokenVerifier::with_keys(&[public], &settings)?);
    let service_secret = ServiceAuth::generate_secret();
    let users_state = users::AppState::from_config(
        &users_config,
        Arc::new(ServiceAuth::new(users::SERVICE, &service_secret)?),
    )
    .await?;
    let products_store = products::store::open(&products_config.database).await?;
    products::demo::seed(products_store.as_ref()).await?;
    let products_state = products::AppState::new(
        products_store,
        verifier.clone(),
        Arc::new(ServiceAuth::new(products::SERVICE, &service_secret)?),
        products_config.reservations,
    );
    products::catalog::spawn_expiry_sweeper(
        products_state.catalog.clone(),
        products_config.reservations.sweep_every,
    );

    let shutdown = kit::http::shutdown_signal().shared();
    let users_listener = bind(users_config.http.addr).await?;
    let products_listener = bind(products_config.http.addr).await?;
    tracing::info!(
        users = %users_listener.local_addr()?,
        products = %products_listener.local_addr()?,
        data = %data_dir.display(),
        "platform up"
    );
    tokio::try_join!(
        kit::http::serve(
            users_listener,
            users::app(users_state, &users_config.http),
            shutdown.clone(),
            (&users_config.http).into(),
        ),
        kit::http::serve(
            products_listener,
            products::app(products_state, &products_config.http),
            shutdown,
            (&products_config.http).into(),
        ),
    )?;
    Ok(())
}

/// The signing key under the data folder, so tokens survive a restart; created (mode 0600) on
/// first start.
fn load_or_create_key(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        let pem =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return SigningKey::from_pem(&SecretString::from(pem))
            .with_context(|| format!("{} is not a valid key", path.display()));
    }
    let key = SigningKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut file| file.write_all(key.to_pem().expose_secret().as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}
