//! Helpers for integration tests, by job: a database per test (`db`), apps served over real HTTP
//! (`served`), requests through an app in-process (`http`), tokens and credentials (`auth`),
//! hostile bodies (`hostile`), and the committed SDL snapshots (`sdl`).

mod auth;
mod db;
mod hostile;
mod http;
mod sdl;
mod served;

pub use auth::TestAuth;
pub use db::{Backend, TestDb, postgres_pool, sqlite_pool};
pub use hostile::{assert_garbage_never_breaks, assert_rejects_bad_bodies};
pub use http::{TestResponse, assert_health_and_fallbacks, graphql, raw_request, request, send};
pub use sdl::assert_committed_sdl;
pub use served::Served;

/// A variable of the test run (`TEST_DATABASE_URL`, ...), empty as unset. Test helpers read the
/// environment themselves: the services' settings come from the launcher.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
