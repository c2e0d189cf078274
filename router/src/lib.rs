//! The federation router: a custom build of Hive Router (the engine: query planning, fetching,
//! response merging, null propagation, limits, metrics) with the platform's configuration and two
//! plugins of ours:
//!
//! - [`guard::GuardPlugin`]: the subgraphs' document guard in front of the engine's parser, and a
//!   bound on how deeply the request's JSON nests;
//! - [`playground::PlaygroundPlugin`]: GraphiQL on `GET /graphql` with pinned assets that also
//!   work offline;
//! - [`client::ClientAddressPlugin`]: the client's address to the subgraphs, so that their
//!   per-address limits count clients, not the router.
//!
//! `ecommerce serve router` runs it ([`run`]); `ecommerce up` starts that as a child process
//! next to the four services.

// The engine's ntex service stack is a deeply nested type; its layout is computed where it is
// instantiated (here, in an optimised build).
#![recursion_limit = "256"]

pub mod client;
pub mod guard;
pub mod playground;

use std::path::PathBuf;

use anyhow::Context;
pub use hive_router;
use hive_router::PluginRegistry;
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::plugin_trait::RouterPlugin;

/// The committed configuration (`router/router.config.yaml`), used when `ROUTER_CONFIG_FILE_PATH`
/// is not set.
pub const CONFIG: &str = include_str!("../router.config.yaml");
/// The committed supergraph (`schema/supergraph.graphql`), which [`CONFIG`] names.
pub const SUPERGRAPH: &str = include_str!("../../schema/supergraph.graphql");

/// Where the router listens unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 4000;

/// What our plugins run with (the launcher reads it from the environment, as the services'
/// settings; the engine reads its own configuration itself).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The guard's limits (`GRAPHQL_MAX_*`).
    pub limits: graphql_guard::Limits,
    /// How deeply a request's JSON may nest (`GRAPHQL_MAX_JSON_NESTING`).
    pub max_json_nesting: usize,
    /// Proxies in front of the router whose `X-Forwarded-For` is believed.
    pub trusted_proxies: web::http::TrustedProxies,
    /// The playground's scripts.
    pub assets: web::Assets,
    /// The engine's configuration file (`ROUTER_CONFIG_FILE_PATH`); `None`: the built-in one.
    pub config_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: graphql_guard::Limits::default(),
            max_json_nesting: guard::DEFAULT_MAX_JSON_NESTING,
            trusted_proxies: web::http::TrustedProxies::default(),
            assets: web::Assets::default(),
            config_file: None,
        }
    }
}

/// The settings [`run`] was given, for the plugins, which the engine initialises itself.
static SETTINGS: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();

/// What our plugins accept in `router.config.yaml`: nothing (`plugin_name: {}`). Their settings
/// are [`Settings`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

/// Initialises one of our plugins from the settings [`run`] was given; a bad setting stops the
/// router at start.
fn init<P>(
    payload: OnPluginInitPayload<P>,
    make: impl FnOnce(&Settings) -> anyhow::Result<P>,
) -> OnPluginInitResult<P>
where
    P: RouterPlugin<Config = NoOptions>,
{
    let NoOptions {} = payload.config()?;
    let settings = SETTINGS
        .get()
        .ok_or("the router's settings were not given (start it with router::run)")?;
    let plugin = make(settings).map_err(|err| format!("{err:#}"))?;
    payload.initialize_plugin(plugin)
}

/// The plugins our build registers; the configuration enables them.
pub fn plugins() -> PluginRegistry {
    PluginRegistry::new()
        .register::<guard::GuardPlugin>()
        .register::<client::ClientAddressPlugin>()
        .register::<playground::PlaygroundPlugin>()
}

/// Runs the router until SIGTERM or SIGINT. Call it from `main` before any other thread or
/// runtime exists: the engine runs its own (ntex on tokio) and reads its configuration from the
/// environment.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    // Without a configuration file of its own, the copy built into the binary, written where
    // only this user can read it and removed on exit.
    let _embedded = match &settings.config_file {
        Some(_) => None,
        None => {
            let dir = materialize().context("writing the router's built-in configuration")?;
            let path = dir.path().join("router").join("router.config.yaml");
            // SAFETY: called from `main` before any thread is started (see above), so nothing
            // reads the environment concurrently.
            unsafe { std::env::set_var("ROUTER_CONFIG_FILE_PATH", &path) };
            Some(dir)
        }
    };
    SETTINGS
        .set(settings)
        .map_err(|_| anyhow::anyhow!("the router runs once per process"))?;
    hive_router::init_rustls_crypto_provider();
    hive_router::ntex::rt::System::build()
        .name("router")
        .build(hive_router::ntex::rt::DefaultRuntime)
        .block_on(hive_router::router_entrypoint(plugins()))
        .map_err(|err| anyhow::anyhow!("the router stopped: {err}"))
}

/// Writes [`CONFIG`] and [`SUPERGRAPH`] in the layout the configuration expects
/// (`router/router.config.yaml` next to `schema/supergraph.graphql`) into a private temporary
/// folder.
fn materialize() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("ecommerce-router-")
        .tempdir()?;
    for (file, contents) in [
        (PathBuf::from("router/router.config.yaml"), CONFIG),
        (PathBuf::from("schema/supergraph.graphql"), SUPERGRAPH),
    ] {
        let path = dir.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)?;
    }
    Ok(dir)
}
