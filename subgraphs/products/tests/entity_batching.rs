//! `_entities` for N products is one SQL query. Counted at the driver: sqlx reports every statement
//! it executes as a `tracing` event (target `sqlx::query`), and a layer in this test binary (its
//! own process, so nothing else is counted) records them.

use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::TestApp;
use testing::Backend;

static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct StatementRecorder;

struct SqlText(String);

impl Visit for SqlText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.0.push_str(value);
            self.0.push(' ');
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementRecorder {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let mut sql = SqlText(String::new());
            event.record(&mut sql);
            STATEMENTS.lock().unwrap().push(sql.0.to_lowercase());
        }
    }
}

fn record_statements() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        tracing_subscriber::registry()
            .with(StatementRecorder)
            .init()
    });
}

fn product_selects() -> usize {
    STATEMENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|sql| sql.contains("select") && sql.contains("from products"))
        .count()
}

async fn hundred_entities_one_query(backend: Backend) {
    let app = TestApp::new(backend).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            app.db
                .product(&format!("Product {i:03}"), 100 + i, 1)
                .await
                .id,
        );
    }
    ids.reverse();
    let reps: Vec<Value> = ids
        .iter()
        .map(|id| json!({"__typename": "Product", "id": id}))
        .collect();
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price } } }";

    STATEMENTS.lock().unwrap().clear();
    let body = testing::graphql(&app.router, None, query, json!({"r": reps})).await;
    let selects = product_selects();

    let entities = body["data"]["_entities"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let returned: Vec<String> = entities
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(returned, expected, "entities come back in input order");
    assert_eq!(selects, 1, "{backend:?}: {:#?}", STATEMENTS.lock().unwrap());
}

/// One test, both backends in turn, so the recorded statements belong to one run at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_for_a_hundred_products_run_one_sql_query_on_each_backend() {
    record_statements();
    hundred_entities_one_query(Backend::Sqlite).await;
    hundred_entities_one_query(Backend::Postgres).await;
}
