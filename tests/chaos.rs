//! The chaos run: the four services as separate processes, customers checking out in a loop
//! while orders and then products are killed with SIGKILL and restarted. Afterwards, for every
//! product, stock on hand + held + sold equals its initial stock, sold equals what the orders
//! not cancelled hold, and every such order's reservation is confirmed: nothing lost, nothing
//! counted twice. Bounded to about half a minute.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Secrets, Service, client, free_port};
use tokio::sync::Mutex;
use uuid::Uuid;

const INITIAL_STOCK: i64 = 40;
const RUN: Duration = Duration::from_secs(18);

struct Platform {
    secrets: Secrets,
    data: tempfile::TempDir,
    ports: BTreeMap<&'static str, u16>,
    services: BTreeMap<&'static str, Service>,
}

impl Platform {
    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[name])
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("USERS_URL".into(), self.url("users")),
            ("PRODUCTS_URL".into(), self.url("products")),
            ("CART_URL".into(), self.url("cart")),
            ("ADMIN_EMAIL".into(), "admin@example.com".into()),
            ("ADMIN_PASSWORD".into(), "Admin123!".into()),
            // Short holds and sweeps, so the run settles within seconds of the last crash.
            ("RESERVATION_HOLD_SECS".into(), "3".into()),
            ("RESERVATION_SWEEP_SECS".into(), "1".into()),
            ("CHECKOUT_HOLD_SECS".into(), "3".into()),
            ("RECONCILE_EVERY_SECS".into(), "1".into()),
            ("REGISTER_MAX_PER_ADDRESS".into(), "100".into()),
        ]
    }

    fn start(&mut self, name: &'static str) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let service = Service::start_in(
            name,
            &self.secrets,
            &env,
            self.data.path(),
            self.ports[name],
        );
        self.services.insert(name, service);
    }

    fn kill(&mut self, name: &str) {
        if let Some(service) = self.services.get_mut(name) {
            service.kill();
        }
    }
}

async fn post(
    url: &str,
    token: &str,
    body: &Value,
    key: Option<&str>,
) -> Result<(u16, Value), String> {
    let mut request = client().post(url).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn get(url: &str, token: &str) -> Value {
    client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

async fn login(platform: &Platform, email: &str, password: &str) -> String {
    let (status, body) = post(
        &format!("{}/api/users/login", platform.url("users")),
        "",
        &json!({"email": email, "password": password}),
        None,
    )
    .await
    .expect("login answers");
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().unwrap().to_owned()
}

#[derive(Default)]
struct Tally {
    attempted: AtomicU32,
    placed: AtomicU32,
    refused: AtomicU32,
    gave_up: AtomicU32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_survive_services_killed_mid_flight() {
    let mut platform = Platform {
        secrets: Secrets::new(),
        data: tempfile::tempdir().unwrap(),
        ports: ["users", "products", "cart", "orders"]
            .into_iter()
            .map(|name| (name, free_port()))
            .collect(),
        services: BTreeMap::new(),
    };
    for name in ["users", "products", "cart", "orders"] {
        platform.start(name);
    }
    let admin = login(&platform, "admin@example.com", "Admin123!").await;
    let mut products = Vec::new();
    for name in ["Anvil", "Bucket", "Candle"] {
        let (status, body) = post(
            &format!("{}/api/products", platform.url("products")),
            &admin,
            &json!({"name": name, "price": 9.99, "stock": INITIAL_STOCK}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        products.push(Uuid::parse_str(body["id"].as_str().unwrap()).unwrap());
    }
    let mut customers = Vec::new();
    for i in 0..4 {
        let email = format!("chaos{i}@example.com");
        let (status, body) = post(
            &format!("{}/api/users/register", platform.url("users")),
            "",
            &json!({"email": email, "password": "Chaos1234!", "name": "Chaos"}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        let id = Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();
        customers.push((id, login(&platform, &email, "Chaos1234!").await));
    }

    let tally = Arc::new(Tally::default());
    let running = Arc::new(AtomicBool::new(true));
    let (cart_url, orders_url) = (platform.url("cart"), platform.url("orders"));
    let shoppers: Vec<_> = customers
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, (user, token))| {
            let (tally, running, products) = (tally.clone(), running.clone(), products.clone());
            let (cart_url, orders_url) = (cart_url.clone(), orders_url.clone());
            tokio::spawn(async move {
                let mut round = 0;
                while running.load(Ordering::Relaxed) {
                    round += 1;
                    let product = products[(n + round) % products.len()];
                    let added = post(
                        &format!("{cart_url}/api/cart"),
                        &token,
                        &json!({"userId": user, "productId": product, "quantity": 1 + round % 2}),
                        None,
                    )
                    .await;
                    if !matches!(added, Ok((200, _))) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    // One checkout, retried with its key until it gets an answer that is final.
                    tally.attempted.fetch_add(1, Ordering::Relaxed);
                    let key = format!("chaos-{n}-{round}");
                    let body = json!({
                        "userId": user,
                        "shippingAddress": {"street": "1 Chaos Way", "city": "Berlin", "postalCode": "10115", "country": "Germany"},
                        "paymentMethod": "paypal",
                    });
                    let mut outcome = None;
                    for _ in 0..40 {
                        match post(&format!("{orders_url}/api/orders"), &token, &body, Some(&key)).await {
                            Ok((200 | 201, _)) => outcome = Some(&tally.placed),
                            Ok((409, _)) => outcome = Some(&tally.refused),
                            Ok((422, reply)) if reply["error"]["message"].as_str().is_some_and(|m| m.contains("empty")) => {
                                outcome = Some(&tally.refused)
                            }
                            _ => {}
                        }
                        if outcome.is_some() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    outcome.unwrap_or(&tally.gave_up).fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let platform = Arc::new(Mutex::new(platform));
    let started = Instant::now();
    for (at, victim) in [
        (Duration::from_secs(4), "orders"),
        (Duration::from_secs(10), "products"),
    ] {
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        let mut platform = platform.lock().await;
        platform.kill(victim);
        tokio::time::sleep(Duration::from_millis(800)).await;
        platform.start(victim);
    }
    tokio::time::sleep(RUN.saturating_sub(started.elapsed())).await;
    running.store(false, Ordering::Relaxed);
    for shopper in shoppers {
        shopper.await.unwrap();
    }
    // A quiet moment: holds expire, the sweeper and the reconciler catch up.
    tokio::time::sleep(Duration::from_secs(6)).await;

    let platform = platform.lock().await;
    let service = auth::ServiceAuth::new(
        "chaos",
        &secrecy::SecretString::from(platform.secrets.service_secret.clone()),
    )
    .unwrap()
    .mint()
    .unwrap();
    let mut sold_by_orders: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut orders_kept = 0;
    for (user, _) in &customers {
        let orders = get(
            &format!(
                "{}/api/orders/user/{user}?limit=100",
                platform.url("orders")
            ),
            &admin,
        )
        .await;
        for order in orders.as_array().unwrap() {
            if order["status"] == "cancelled" {
                continue;
            }
            orders_kept += 1;
            let reservation = get(
                &format!(
                    "{}/internal/reservations/{}",
                    platform.url("products"),
                    order["id"].as_str().unwrap()
                ),
                &service,
            )
            .await;
            assert_eq!(
                reservation["status"], "confirmed",
                "an order without its stock: {order}"
            );
            for line in order["items"].as_array().unwrap() {
                let product = Uuid::parse_str(line["productId"].as_str().unwrap()).unwrap();
                *sold_by_orders.entry(product).or_default() += line["quantity"].as_i64().unwrap();
            }
        }
    }
    let mut lost = 0;
    for product in &products {
        let ledger = get(
            &format!(
                "{}/internal/products/{product}/stock",
                platform.url("products")
            ),
            &service,
        )
        .await;
        let (on_hand, held, sold) = (
            ledger["onHand"].as_i64().unwrap(),
            ledger["held"].as_i64().unwrap(),
            ledger["sold"].as_i64().unwrap(),
        );
        let by_orders = sold_by_orders.get(product).copied().unwrap_or(0);
        println!(
            "product {product}: on hand {on_hand}, held {held}, sold {sold} (orders hold {by_orders})"
        );
        lost += (INITIAL_STOCK - (on_hand + held + sold)).abs() + (sold - by_orders).abs() + held;
    }
    let t = |n: &AtomicU32| n.load(Ordering::Relaxed);
    println!(
        "chaos: checkouts attempted {}, placed {}, refused {}, unanswered {}, orders kept {orders_kept}, stock lost {lost}",
        t(&tally.attempted),
        t(&tally.placed),
        t(&tally.refused),
        t(&tally.gave_up)
    );
    assert_eq!(lost, 0, "stock was lost or counted twice");
    assert!(t(&tally.placed) > 0, "the run placed nothing");
    assert_eq!(t(&tally.gave_up), 0, "a checkout never got a final answer");
}
