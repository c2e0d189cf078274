//! The launcher: `up` runs every service in one process on embedded storage, and the federation
//! router beside it as a child process; `serve <service>` runs one service configured from the
//! environment (what containers run).

// The router engine's service stack is a deeply nested type (see router/src/lib.rs).
#![recursion_limit = "256"]

mod demo;
mod router_process;

use router::hive_router::{RouterGlobalAllocator, configure_global_allocator};

// The router engine is built and measured with mimalloc; the services share the allocator (one
// binary). BENCHMARKS.md has the platform's memory with it.
configure_global_allocator!();

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use futures::FutureExt;
use auth::{ServiceAuth, SigningKey, TokenSettings, TokenVerifier};
use storage::DatabaseUrl;
use web::config::HttpConfig;
use peers::Peer;
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
    /// Every service in one process on SQLite files, with demo data, and the router on port
    /// 4000 (the default).
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
    Cart,
    Orders,
    /// The federation router (Hive Router with our plugins), configured by
    /// `router/router.config.yaml` and the environment.
    Router,
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command.unwrap_or(Command::Up {
        data_dir: PathBuf::from("data"),
    });
    // The router runs its own runtime, and reads its configuration from the environment before
    // any thread exists (it installs the TLS back end itself).
    if let Command::Serve {
        service: Service::Router,
    } = command
    {
        return router::run();
    }
    // Two TLS back ends are linked (the engine's and the database drivers'); TLS clients built
    // without naming one use this.
    router::hive_router::init_rustls_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up { data_dir } => {
            web::telemetry::init();
            up(&data_dir).await
        }
        Command::Serve { service } => {
            web::telemetry::init();
            match service {
                Service::Users => serve_users().await,
                Service::Products => serve_products().await,
                Service::Cart => serve_cart().await,
                Service::Orders => serve_orders().await,
                Service::Router => unreachable!("served before the runtime starts"),
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
    web::http::serve(listener, app, web::http::shutdown_signal(), config.into()).await?;
    Ok(())
}

/// What every service but users needs to check callers: the token verifier (a configured key,
/// or the users service's JWKS) and its service credential.
fn verifier_and_credential(
    service: &str,
) -> anyhow::Result<(Arc<TokenVerifier>, Arc<ServiceAuth>)> {
    let settings = TokenSettings::from_env()?;
    let verifier = Arc::new(TokenVerifier::from_env(&settings, web::http::client()?)?);
    Ok((verifier, Arc::new(ServiceAuth::from_env(service)?)))
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
    let (verifier, service_auth) = verifier_and_credential(products::SERVICE)?;
    let state = products::AppState::from_config(&config, verifier, service_auth).await?;
    products::catalog::spawn_expiry_sweeper(state.catalog.clone(), config.reservations.sweep_every);
    let app = products::app(state, &config.http);
    serve(products::SERVICE, app, &config.http).await
}

async fn serve_cart() -> anyhow::Result<()> {
    let config = cart::Config::from_env()?;
    let (verifier, service_auth) = verifier_and_credential(cart::SERVICE)?;
    let peers = cart::Peers::from_env(web::http::client()?, service_auth.clone());
    let state = cart::AppState::from_config(&config, peers, verifier, service_auth).await?;
    serve(cart::SERVICE, cart::app(state, &config.http), &config.http).await
}

async fn serve_orders() -> anyhow::Result<()> {
    let config = orders::Config::from_env()?;
    let (verifier, service_auth) = verifier_and_credential(orders::SERVICE)?;
    let peers = orders::checkout::Peers::from_env(web::http::client()?, service_auth.clone());
    let state = orders::AppState::from_config(&config, peers, verifier, service_auth).await?;
    orders::checkout::spawn_reconciler(state.checkout.clone(), config.settings.reconcile_every);
    serve(
        orders::SERVICE,
        orders::app(state, &config.http),
        &config.http,
    )
    .await
}

/// Development admin for `up` when ADMIN_EMAIL / ADMIN_PASSWORD are not set. Never used by
/// `serve` (containers), which bootstraps an admin only from the environment.
const DEV_ADMIN_EMAIL: &str = "admin@example.com";
const DEV_ADMIN_PASSWORD: &str = "Admin123!";

/// The four services in one process, each on its own port and talking to the others over HTTP
/// as they do when deployed; SQLite files under `data_dir`; demo data on first start.
async fn up(data_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = load_or_create_key(&data_dir.join("jwt-ed25519.pem"))?;
    let public = key.public().clone();
    let settings = TokenSettings::from_env()?;
    let sqlite =
        |file: &str| DatabaseUrl::Sqlite(format!("sqlite://{}", data_dir.join(file).display()));
    let host = settings::parse_or("HOST", std::net::IpAddr::from([127, 0, 0, 1]))?;
    // The router runs on this machine and tells the services who its clients are
    // (X-Forwarded-For); unless TRUSTED_PROXIES says otherwise, loopback is believed.
    let loopback = web::http::TrustedProxies::parse("127.0.0.1,::1")?;
    let http = |variable: &str, port: u16| -> anyhow::Result<HttpConfig> {
        HttpConfig {
            trusted_proxies: loopback.clone(),
            ..HttpConfig::with_port(settings::parse_or(variable, port)?)
        }
        .overridden_from_env(host)
    };
    let admin = match (
        settings::var("ADMIN_EMAIL"),
        settings::secret("ADMIN_PASSWORD")?,
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
    let users_http = http("USERS_PORT", users::DEFAULT_PORT)?;
    let products_http = http("PRODUCTS_PORT", products::DEFAULT_PORT)?;
    let cart_http = http("CART_PORT", cart::DEFAULT_PORT)?;
    let orders_http = http("ORDERS_PORT", orders::DEFAULT_PORT)?;

    // Bound first, so that the services (and the router) call each other where they really
    // listen, also when a port is 0.
    let listeners = [
        bind(users_http.addr).await?,
        bind(products_http.addr).await?,
        bind(cart_http.addr).await?,
        bind(orders_http.addr).await?,
    ];
    let [users_at, products_at, cart_at, orders_at] = [
        listeners[0].local_addr()?,
        listeners[1].local_addr()?,
        listeners[2].local_addr()?,
        listeners[3].local_addr()?,
    ];

    // One process: the services share the verifying key and a service secret made for this run.
    let verifier = Arc::new(TokenVerifier::with_keys(&[public], &settings)?);
    let secret = ServiceAuth::generate_secret();
    let credential = |service: &str| ServiceAuth::new(service, &secret).map(Arc::new);
    let client = web::http::client()?;
    let url_of = |addr: SocketAddr| format!("http://127.0.0.1:{}", addr.port());
    let peer = |service: &'static str, addr: SocketAddr, auth: &Arc<ServiceAuth>| {
        Peer::new(service, &url_of(addr), client.clone(), auth.clone())
    };

    let users_config = users::Config {
        http: users_http.clone(),
        database: sqlite("users.db"),
        tokens: settings.clone(),
        signing_key: Some(key.to_pem()),
        admin: Some(admin),
        login_limits: users::throttle::LoginLimits::from_env()?,
        hashing_threads: users::accounts::hashing_threads_from_env()?,
    };
    let users_state =
        users::AppState::from_config(&users_config, credential(users::SERVICE)?).await?;

    let reservations = products::ReservationSettings::from_env()?;
    let products_store = products::store::open(&sqlite("products.db")).await?;
    products::demo::seed(products_store.as_ref()).await?;
    let products_state = products::AppState::new(
        products_store,
        verifier.clone(),
        credential(products::SERVICE)?,
        reservations,
    );
    products::catalog::spawn_expiry_sweeper(
        products_state.catalog.clone(),
        reservations.sweep_every,
    );

    let cart_auth = credential(cart::SERVICE)?;
    let cart_state = cart::AppState::new(
        cart::store::open(&sqlite("cart.db")).await?,
        cart::Peers {
            users: peers::users::UsersClient(peer("users", users_at, &cart_auth)),
            products: peers::products::ProductsClient(peer(
                "products",
                products_at,
                &cart_auth,
            )),
        },
        verifier.clone(),
        cart_auth,
    );

    let orders_auth = credential(orders::SERVICE)?;
    let orders_settings = orders::Settings::from_env()?;
    let checkout = orders::checkout::Checkout::new(
        orders::store::open(&sqlite("orders.db")).await?,
        orders::checkout::Peers {
            users: peers::users::UsersClient(peer("users", users_at, &orders_auth)),
            products: peers::products::ProductsClient(peer(
                "products",
                products_at,
                &orders_auth,
            )),
            cart: peers::cart::CartClient(peer("cart", cart_at, &orders_auth)),
        },
        orders_settings.hold,
    )
    .with_lease(orders::checkout::lease_for(orders_http.request_timeout));
    let orders_state = orders::AppState::new(checkout, verifier.clone(), orders_auth);
    orders::checkout::spawn_reconciler(
        orders_state.checkout.clone(),
        orders_settings.reconcile_every,
    );

    let shutdown = web::http::shutdown_signal().shared();
    tracing::info!(
        users = %users_at,
        products = %products_at,
        cart = %cart_at,
        orders = %orders_at,
        data = %data_dir.display(),
        "platform up"
    );
    let [
        users_listener,
        products_listener,
        cart_listener,
        orders_listener,
    ] = listeners;
    let catalog = products_state.catalog.clone();
    let demo = demo::seed(&users_state, &catalog, &cart_state, &orders_state);
    let graphql_url = |addr: SocketAddr| format!("{}/graphql", url_of(addr));
    let router = router_process::RouterProcess {
        host,
        port: settings::parse_or("ROUTER_PORT", router::DEFAULT_PORT)?,
        subgraphs: vec![
            ("USERS_URL", graphql_url(users_at)),
            ("PRODUCTS_URL", graphql_url(products_at)),
            ("CART_URL", graphql_url(cart_at)),
            ("ORDERS_URL", graphql_url(orders_at)),
        ],
    };
    let served = async {
        tokio::try_join!(
            router.supervise(shutdown.clone()),
            web::http::serve(
                users_listener,
                users::app(users_state.clone(), &users_http),
                shutdown.clone(),
                (&users_http).into()
            ),
            web::http::serve(
                products_listener,
                products::app(products_state, &products_http),
                shutdown.clone(),
                (&products_http).into()
            ),
            web::http::serve(
                cart_listener,
                cart::app(cart_state.clone(), &cart_http),
                shutdown.clone(),
                (&cart_http).into()
            ),
            web::http::serve(
                orders_listener,
                orders::app(orders_state.clone(), &orders_http),
                shutdown,
                (&orders_http).into()
            ),
        )
    };
    // The demo data goes in through the running services, as a customer's would.
    let (served, seeded) = tokio::join!(served, demo);
    if let Err(err) = seeded {
        tracing::warn!(error = %format!("{err:#}"), "demo data not added");
    }
    served?;
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
