//! The launcher: `up` runs every service in one process on embedded storage, and the federation
//! router beside it as a child process; `serve <service>` runs one service configured from the
//! environment (what containers run).

// The router engine's service stack is a deeply nested type (see router/src/lib.rs).
#![recursion_limit = "256"]

mod demo;
mod router_process;
mod settings;

use router::hive_router::{RouterGlobalAllocator, configure_global_allocator};

// The router engine is built and measured with mimalloc; the services share the allocator (one
// binary). BENCHMARKS.md has the platform's memory with it.
configure_global_allocator!();

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use auth::{ServiceAuth, SigningKey, TokenVerifier};
use clap::{Parser, Subcommand, ValueEnum};
use futures::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use subgraph::{Service as Started, Subgraph};
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
    // The one read of the environment by our code (besides clap's `DATA_DIR`): every setting
    // comes from this snapshot (settings.rs). The router's engine reads its own.
    let env = ::settings::Env::from_process();
    // The router runs its own runtime, and its engine reads its configuration from the
    // environment before any thread exists (it installs the TLS back end itself).
    if let Command::Serve {
        service: Service::Router,
    } = command
    {
        return router::run(settings::router(&env)?);
    }
    // Two TLS back ends are linked (the engine's and the database drivers'); TLS clients built
    // without naming one use this.
    router::hive_router::init_rustls_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(command, env))
}

async fn run(command: Command, env: ::settings::Env) -> anyhow::Result<()> {
    match command {
        Command::Up { data_dir } => {
            web::telemetry::init(&settings::logging(&env));
            up(&env, &data_dir).await
        }
        Command::Serve { service } => {
            web::telemetry::init(&settings::logging(&env));
            let client = web::http::client;
            match service {
                Service::Users => {
                    let settings = settings::users(&env)?;
                    let credential = settings::users_credential(&env)?;
                    serve(users::start(&settings, credential).await?).await
                }
                Service::Products => {
                    let shared = settings::auth(&env)?.shared(products::SERVICE, &client()?)?;
                    serve(products::start(&settings::products(&env)?, &shared, None).await?).await
                }
                Service::Cart => {
                    let shared = settings::auth(&env)?.shared(cart::SERVICE, &client()?)?;
                    serve(cart::start(&settings::cart(&env)?, &shared).await?).await
                }
                Service::Orders => {
                    let shared = settings::auth(&env)?.shared(orders::SERVICE, &client()?)?;
                    serve(orders::start(&settings::orders(&env)?, &shared).await?).await
                }
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

/// Serves a started service until SIGTERM/SIGINT, logging the address actually bound (which
/// tells a caller that asked for port 0 where to connect).
async fn serve<S: Subgraph>(service: Started<S>) -> anyhow::Result<()> {
    let listener = bind(service.http.addr).await?;
    tracing::info!(service = S::NAME, addr = %listener.local_addr()?, "listening");
    service
        .serve(listener, web::http::shutdown_signal())
        .await?;
    Ok(())
}

/// Development admin for `up` when ADMIN_EMAIL / ADMIN_PASSWORD are not set. Never used by
/// `serve` (containers), which bootstraps an admin only from the environment.
const DEV_ADMIN_EMAIL: &str = "admin@example.com";
const DEV_ADMIN_PASSWORD: &str = "Admin123!";

/// The four services in one process, each on its own port and talking to the others over HTTP
/// as they do when deployed; SQLite files under `data_dir`; demo data on first start.
async fn up(env: &::settings::Env, data_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut s = settings::up(env, data_dir)?;
    let key = load_or_create_key(&data_dir.join("jwt-ed25519.pem"))?;
    s.users.signing_key = Some(key.to_pem());
    s.users.admin = Some(s.admin.take().unwrap_or_else(|| {
        tracing::warn!(
            email = DEV_ADMIN_EMAIL,
            "using the development admin account; set ADMIN_EMAIL and ADMIN_PASSWORD to choose your own"
        );
        users::AdminAccount {
            email: DEV_ADMIN_EMAIL.to_owned(),
            password: SecretString::from(DEV_ADMIN_PASSWORD),
        }
    }));

    // Bound first, so that the services (and the router) call each other where they really
    // listen, also when a port is 0.
    let listeners = [
        bind(s.users.http.addr).await?,
        bind(s.products.http.addr).await?,
        bind(s.cart.http.addr).await?,
        bind(s.orders.http.addr).await?,
    ];
    let [users_at, products_at, cart_at, orders_at] = [
        listeners[0].local_addr()?,
        listeners[1].local_addr()?,
        listeners[2].local_addr()?,
        listeners[3].local_addr()?,
    ];
    let url_of = |addr: SocketAddr| format!("http://127.0.0.1:{}", addr.port());
    s.cart.peers = cart::PeerUrls {
        users: url_of(users_at),
        products: url_of(products_at),
    };
    s.orders.peers = orders::PeerUrls {
        users: url_of(users_at),
        products: url_of(products_at),
        cart: url_of(cart_at),
    };

    // One process: the services share the verifying key and a service secret made for this run.
    let verifier = Arc::new(TokenVerifier::with_keys(
        &[key.public().clone()],
        &s.users.tokens,
    )?);
    let secret = ServiceAuth::generate_secret();
    let client = web::http::client()?;
    let shared = |service: &str| -> anyhow::Result<subgraph::Shared> {
        Ok(subgraph::Shared {
            verifier: verifier.clone(),
            credential: Arc::new(ServiceAuth::new(service, &secret)?),
            client: client.clone(),
        })
    };

    let users = users::start(&s.users, shared(users::SERVICE)?.credential).await?;
    let products = products::start(
        &s.products,
        &shared(products::SERVICE)?,
        Some(|store| Box::pin(products::demo::seed(store))),
    )
    .await?;
    let cart = cart::start(&s.cart, &shared(cart::SERVICE)?).await?;
    let orders = orders::start(&s.orders, &shared(orders::SERVICE)?).await?;

    let shutdown = web::http::shutdown_signal().shared();
    tracing::info!(
        users = %users_at,
        products = %products_at,
        cart = %cart_at,
        orders = %orders_at,
        data = %data_dir.display(),
        "platform up"
    );
    let seeding = (
        users.state.domain.clone(),
        products.state.domain.clone(),
        cart.state.domain.clone(),
        orders.state.domain.clone(),
    );
    let demo = demo::seed(&seeding.0, &seeding.1, &seeding.2, &seeding.3);
    let graphql_url = |addr: SocketAddr| format!("{}/graphql", url_of(addr));
    let router = router_process::RouterProcess {
        host: s.host,
        port: s.router_port,
        subgraphs: vec![
            ("USERS_URL", graphql_url(users_at)),
            ("PRODUCTS_URL", graphql_url(products_at)),
            ("CART_URL", graphql_url(cart_at)),
            ("ORDERS_URL", graphql_url(orders_at)),
        ],
    };
    let [
        users_listener,
        products_listener,
        cart_listener,
        orders_listener,
    ] = listeners;
    let served = async {
        tokio::try_join!(
            router.supervise(shutdown.clone()),
            users.serve(users_listener, shutdown.clone()),
            products.serve(products_listener, shutdown.clone()),
            cart.serve(cart_listener, shutdown.clone()),
            orders.serve(orders_listener, shutdown),
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
