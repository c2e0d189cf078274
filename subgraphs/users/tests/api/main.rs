//! The users service's integration tests, one binary. Tests named `sqlite::…` and
//! `postgres::…` run the same body against each backend.

/// Runs each named `async fn(Backend)` once per backend, as `sqlite::name` and `postgres::name`.
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            )+
        }
    };
}

mod auth;
mod graphql;
mod helpers;
mod rest;
mod store_contract;
