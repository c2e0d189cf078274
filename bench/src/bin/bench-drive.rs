//! Load driver for work made of several dependent requests, timed as one unit (`scripts/bench.sh`):
//! the one query through the router, and the same data fetched by calling the subgraphs
//! directly, the critical path no router can beat. Both run on the same client (pooled
//! keep-alive connections), so the comparison is of what the servers do. Prints one JSON line.
//!
//!   bench-drive one-query     <connections> <seconds>
//!   bench-drive critical-path <connections> <seconds>
//!
//! Environment: TOKEN (the customer's access token), ROUTER (one-query), USERS, CART, ORDERS and
//! PRODUCTS (critical-path): base URLs. A unit is an error unless every request in it answers
//! 200 with data and no GraphQL errors.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

const ONE_QUERY: &str = "{ me { id name email cart { items { quantity product { id name price stock } } subtotal } \
    orders(first: 10) { totalCount nodes { id status total items { quantity product { name } } } } } }";

// The fetches the router's plan makes for ONE_QUERY, sent straight to the subgraphs: the user;
// then their cart and their orders at once; then the products both name.
const ME: &str = "{ me { id name email } }";
const CART: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { \
    cart { items { quantity product { id } } subtotal } } } }";
const ORDERS: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { \
    orders(first: 10) { totalCount nodes { id status total items { quantity product { id } } } } } } }";
const PRODUCTS: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price stock } } }";

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn graphql(&self, base: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{base}/graphql"))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = response.status();
        let mut body: Value = response
            .json()
            .await
            .with_context(|| format!("{base}: {status}"))?;
        ensure!(
            status == 200 && body.get("errors").is_none() && body["data"].is_object(),
            "{base}: {status} {body}"
        );
        Ok(body["data"].take())
    }
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

async fn one_query(client: Client, router: String) -> anyhow::Result<()> {
    let data = client.graphql(&router, ONE_QUERY, json!({})).await?;
    ensure!(
        data["me"]["cart"].is_object() && data["me"]["orders"].is_object(),
        "incomplete: {data}"
    );
    Ok(())
}

struct Subgraphs {
    users: String,
    cart: String,
    orders: String,
    products: String,
}

async fn critical_path(client: Client, at: &Subgraphs) -> anyhow::Result<()> {
    let me = client.graphql(&at.users, ME, json!({})).await?;
    let user = json!({ "r": [{ "__typename": "User", "id": me["me"]["id"] }] });
    let (cart, orders) = tokio::try_join!(
        client.graphql(&at.cart, CART, user.clone()),
        client.graphql(&at.orders, ORDERS, user),
    )?;
    ensure!(
        cart["_entities"][0]["cart"].is_object() && orders["_entities"][0]["orders"].is_object(),
        "incomplete: {cart} {orders}"
    );
    let items = |list: &Value| list.as_array().cloned().unwrap_or_default();
    let mut ids = BTreeSet::new();
    for item in items(&cart["_entities"][0]["cart"]["items"]) {
        ids.insert(
            item["product"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for order in items(&orders["_entities"][0]["orders"]["nodes"]) {
        for item in items(&order["items"]) {
            ids.insert(
                item["product"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    let representations: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "__typename": "Product", "id": id }))
        .collect();
    let found = client
        .graphql(&at.products, PRODUCTS, json!({ "r": representations }))
        .await?;
    ensure!(
        found["_entities"]
            .as_array()
            .is_some_and(|all| all.iter().all(Value::is_object)),
        "a product is missing: {found}"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, connections, seconds] = args.as_slice() else {
        bail!("usage: bench-drive <one-query|critical-path> <connections> <seconds>");
    };
    let connections: usize = connections.parse().context("connections")?;
    let duration = Duration::from_secs_f64(seconds.parse().context("seconds")?);
    let client = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(connections * 2)
            .timeout(Duration::from_secs(10))
            .build()?,
        token: env("TOKEN")?,
    };
    let target = match mode.as_str() {
        "one-query" => Target::Router(env("ROUTER")?),
        "critical-path" => Target::Subgraphs(std::sync::Arc::new(Subgraphs {
            users: env("USERS")?,
            cart: env("CART")?,
            orders: env("ORDERS")?,
            products: env("PRODUCTS")?,
        })),
        other => bail!("unknown mode '{other}': one-query or critical-path"),
    };
    let started = Instant::now();
    let deadline = started + duration;
    let workers = (0..connections).map(|_| {
        let client = client.clone();
        let target = target.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            while Instant::now() < deadline {
                let begun = Instant::now();
                let outcome = match &target {
                    Target::Router(router) => one_query(client.clone(), router.clone()).await,
                    Target::Subgraphs(at) => critical_path(client.clone(), at).await,
                };
                match outcome {
                    Ok(()) => latencies.push(begun.elapsed().as_secs_f64() * 1000.0),
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            (latencies, errors, first_error)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for worker in futures::future::join_all(workers).await {
        let (mine, failed, error) = worker?;
        latencies.extend(mine);
        errors += failed;
        first_error = first_error.or(error);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        let at = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(at).copied().unwrap_or(f64::NAN)
    };
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let mut result = json!({
        "mode": mode,
        "connections": connections,
        "seconds": round(elapsed),
        "completed": latencies.len(),
        "per_second": round(latencies.len() as f64 / elapsed),
        "p50_ms": round(percentile(0.5)),
        "p99_ms": round(percentile(0.99)),
        "errors": errors,
    });
    if let Some(error) = first_error {
        result["first_error"] = json!(error);
    }
    println!("{result}");
    Ok(())
}

#[derive(Clone)]
enum Target {
    Router(String),
    Subgraphs(std::sync::Arc<Subgraphs>),
}
