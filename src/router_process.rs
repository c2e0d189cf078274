//! The router under `ecommerce up`: `ecommerce serve router` as a child process (the engine runs
//! its own runtime, logger and signal handling), pointed at the services' addresses, restarted if
//! it dies, stopped with the platform, and never outliving it.

use std::net::IpAddr;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context;
use futures::future::{Future, FutureExt};
use tokio::process::{Child, Command};

pub struct RouterProcess {
    pub host: IpAddr,
    pub port: u16,
    /// `USERS_URL`... and each subgraph's GraphQL URL.
    pub subgraphs: Vec<(&'static str, String)>,
}

/// How long the router may take to finish in-flight requests once asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Waits between restarts: doubling from the first to the last while it keeps dying early.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A run at least this long resets the wait.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

impl RouterProcess {
    fn spawn(&self) -> anyhow::Result<Child> {
        let exe = std::env::current_exe().context("finding the ecommerce binary")?;
        let mut command = Command::new(exe);
        command
            .args(["serve", "router"])
            .env("HOST", self.host.to_string())
            .env("PORT", self.port.to_string())
            .envs(self.subgraphs.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe and touches only the child about to exec.
        #[cfg(target_os = "linux")]
        unsafe {
            command.pre_exec(|| {
                // Killed with the platform, even when the platform is killed outright.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn().context("starting the router")
    }

    /// Runs the router until `shutdown` completes, restarting it whenever it exits on its own.
    pub async fn supervise(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), std::io::Error> {
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut wait = RESTART_FIRST;
        loop {
            let mut child = match self.spawn() {
                Ok(child) => child,
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "the router cannot start");
                    return Err(std::io::Error::other(err.to_string()));
                }
            };
            tracing::info!(
                addr = %std::net::SocketAddr::new(self.host, self.port),
                pid = child.id(),
                "router started"
            );
            let started = std::time::Instant::now();
            tokio::select! {
                status = child.wait() => {
                    if started.elapsed() >= HEALTHY_RUN {
                        wait = RESTART_FIRST;
                    }
                    tracing::error!(status = %describe(status), restart_in = ?wait, "the router exited");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut shutdown => return Ok(()),
                    }
                    wait = (wait * 2).min(RESTART_MAX);
                }
                () = &mut shutdown => {
                    stop(&mut child).await;
                    return Ok(());
                }
            }
        }
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(err) => err.to_string(),
    }
}

/// SIGTERM, then SIGKILL if it has not finished within [`STOP_GRACE`].
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: signals our own child, whose pid we hold (not yet reaped).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!("the router did not stop in time; killing it");
        let _ = child.kill().await;
    }
}
