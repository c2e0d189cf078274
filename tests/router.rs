//! The federation router end to end, over real HTTP: `ecommerce up` (the four services and the
//! router as its child process), or a router of its own pointed at services that are stopped,
//! hung, or behind a recording proxy. What a client sees through the router is compared with
//! what the services' REST routes say.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graphql_guard::samples;
use serde_json::{Value, json};
use support::{Up, client, free_port, start_router};

const ONE_QUERY: &str = "{ me { id name email cart { items { quantity product { id name price stock } } subtotal } \
     orders(first: 10) { totalCount nodes { id status total items { quantity product { name } } } } } }";

/// A customer of the platform: their token and id.
struct Customer {
    token: String,
    id: String,
}

async fn rest(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the service answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The body of a GET.
async fn get(url: String, token: Option<&str>) -> Value {
    rest(reqwest::Method::GET, url, token, None).await.1
}

async fn login(up: &Up, email: &str, password: &str) -> String {
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.users, "/api/users/login"),
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login: {body}");
    body["accessToken"].as_str().expect("a token").to_owned()
}

async fn customer(up: &Up, email: &str) -> Customer {
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.users, "/api/users/register"),
        None,
        Some(json!({"email": email, "password": "Secret123!", "name": email})),
    )
    .await;
    assert_eq!(status, 201, "register: {body}");
    let token = login(up, email, "Secret123!").await;
    let me = get(up.url(up.users, "/api/users/me"), Some(&token)).await;
    Customer {
        token,
        id: me["id"].as_str().expect("an id").to_owned(),
    }
}

/// A product the admin creates; its id.
async fn product(up: &Up, name: &str, price: f64, stock: i64) -> String {
    let admin = login(up, "admin@example.com", "Admin123!").await;
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.products, "/api/products"),
        Some(&admin),
        Some(json!({"name": name, "description": "router test", "price": price, "stock": stock, "category": "Test"})),
    )
    .await;
    assert_eq!(status, 201, "create product: {body}");
    body["id"].as_str().expect("an id").to_owned()
}

async fn add_to_cart(up: &Up, customer: &Customer, product: &str, quantity: i64) {
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.cart, "/api/cart"),
        Some(&customer.token),
        Some(json!({"userId": customer.id, "productId": product, "quantity": quantity})),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "add to cart: {status} {body}"
    );
}

async fn place_order_rest(up: &Up, customer: &Customer) -> Value {
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.orders, "/api/orders"),
        Some(&customer.token),
        Some(json!({
            "userId": customer.id,
            "shippingAddress": {"street": "1 Main St", "city": "Toronto", "postalCode": "M5H 2N2", "country": "Canada"},
            "paymentMethod": "credit_card"
        })),
    )
    .await;
    assert_eq!(status, 201, "place order: {body}");
    body
}

/// Sends a GraphQL request to the router; the status and body.
async fn graphql(
    addr: SocketAddr,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = client()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the router answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An amount as a comparable string: REST gives numbers (999.99), GraphQL decimal strings.
fn money(value: &Value) -> String {
    let number = match value {
        Value::String(s) => s.parse::<f64>().expect("a decimal"),
        other => other.as_f64().expect("a number"),
    };
    format!("{number:.2}")
}

/// The platform with a customer who has two lines in their cart and one order placed.
async fn shopping_customer(up: &Up, email: &str) -> (Customer, String, String) {
    let customer = customer(up, email).await;
    let laptop = product(up, &format!("Laptop {email}"), 999.99, 10).await;
    let mouse = product(up, &format!("Mouse {email}"), 25.5, 10).await;
    add_to_cart(up, &customer, &laptop, 2).await;
    place_order_rest(up, &customer).await;
    add_to_cart(up, &customer, &laptop, 1).await;
    add_to_cart(up, &customer, &mouse, 3).await;
    (customer, laptop, mouse)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_query_returns_what_the_rest_routes_return() {
    let up = Up::start(&[]);
    let (customer, _, _) = shopping_customer(&up, "one-query@example.com").await;

    let (status, body) = graphql(up.router, Some(&customer.token), ONE_QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let me = &body["data"]["me"];

    let profile = get(
        up.url(up.users, &format!("/api/users/{}", customer.id)),
        Some(&customer.token),
    )
    .await;
    assert_eq!(me["id"], profile["id"]);
    assert_eq!(me["name"], profile["name"]);
    assert_eq!(me["email"], profile["email"]);

    let cart = get(
        up.url(up.cart, &format!("/api/cart/{}", customer.id)),
        Some(&customer.token),
    )
    .await;
    assert_eq!(money(&me["cart"]["subtotal"]), money(&cart["subtotal"]));
    let graphql_lines: BTreeSet<(String, i64, String, String)> = me["cart"]["items"]
        .as_array()
        .expect("cart items")
        .iter()
        .map(|line| {
            (
                line["product"]["id"].as_str().unwrap().to_owned(),
                line["quantity"].as_i64().unwrap(),
                line["product"]["name"].as_str().unwrap().to_owned(),
                money(&line["product"]["price"]),
            )
        })
        .collect();
    let rest_lines: BTreeSet<(String, i64, String, String)> = cart["items"]
        .as_array()
        .expect("cart items")
        .iter()
        .map(|line| {
            (
                line["productId"].as_str().unwrap().to_owned(),
                line["quantity"].as_i64().unwrap(),
                line["name"].as_str().unwrap().to_owned(),
                money(&line["price"]),
            )
        })
        .collect();
    assert_eq!(graphql_lines.len(), 2, "{body}");
    assert_eq!(graphql_lines, rest_lines);
    // Stock comes from products: 10 at the start, 2 sold by the order.
    for line in me["cart"]["items"].as_array().unwrap() {
        let id = line["product"]["id"].as_str().unwrap();
        let product = get(up.url(up.products, &format!("/api/products/{id}")), None).await;
        assert_eq!(line["product"]["stock"], product["stock"]);
    }

    let orders = get(
        up.url(up.orders, &format!("/api/orders/user/{}", customer.id)),
        Some(&customer.token),
    )
    .await;
    let orders = orders.as_array().expect("a list of orders");
    assert_eq!(orders.len(), 1);
    assert_eq!(me["orders"]["totalCount"], 1);
    let node = &me["orders"]["nodes"][0];
    assert_eq!(node["id"], orders[0]["id"]);
    assert_eq!(
        node["status"].as_str().unwrap().to_lowercase(),
        orders[0]["status"].as_str().unwrap()
    );
    assert_eq!(money(&node["total"]), money(&orders[0]["total"]));
    assert_eq!(money(&node["total"]), "1999.98");
    assert_eq!(
        node["items"][0]["quantity"],
        orders[0]["items"][0]["quantity"]
    );
    assert_eq!(
        node["items"][0]["product"]["name"],
        orders[0]["items"][0]["name"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_through_the_router_change_what_rest_shows() {
    let up = Up::start(&[]);
    let customer = customer(&up, "mutations@example.com").await;
    let laptop = product(&up, "Router Laptop", 1200.0, 5).await;

    let (status, body) = graphql(
        up.router,
        Some(&customer.token),
        "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { itemCount subtotal } }",
        json!({"p": laptop}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["addToCart"]["itemCount"], 2, "{body}");
    let cart = get(
        up.url(up.cart, &format!("/api/cart/{}", customer.id)),
        Some(&customer.token),
    )
    .await;
    assert_eq!(cart["items"][0]["productId"], laptop.as_str());
    assert_eq!(cart["items"][0]["quantity"], 2);

    let (status, body) = graphql(
        up.router,
        Some(&customer.token),
        "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status total items { quantity product { name stock } } } }",
        json!({"input": {
            "shippingAddress": {"street": "1 Main St", "city": "Toronto", "postalCode": "M5H 2N2", "country": "Canada"},
            "paymentMethod": "credit_card"
        }}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let order = &body["data"]["placeOrder"];
    assert_eq!(money(&order["total"]), "2400.00");
    assert_eq!(order["items"][0]["product"]["name"], "Router Laptop");
    assert_eq!(order["items"][0]["product"]["stock"], 3, "{body}");

    let (status, stored) = rest(
        reqwest::Method::GET,
        up.url(
            up.orders,
            &format!("/api/orders/{}", order["id"].as_str().unwrap()),
        ),
        Some(&customer.token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(money(&stored["total"]), "2400.00");
    assert_eq!(stored["items"][0]["quantity"], 2);
    let cart = get(
        up.url(up.cart, &format!("/api/cart/{}", customer.id)),
        Some(&customer.token),
    )
    .await;
    assert_eq!(cart["itemCount"], 0, "checkout empties the cart: {cart}");
    let product = get(
        up.url(up.products, &format!("/api/products/{laptop}")),
        None,
    )
    .await;
    assert_eq!(product["stock"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cannot_read_another_users_cart_or_orders_through_the_router() {
    let up = Up::start(&[]);
    let (victim, _, _) = shopping_customer(&up, "victim@example.com").await;
    let attacker = customer(&up, "attacker@example.com").await;
    let orders = get(
        up.url(up.orders, &format!("/api/orders/user/{}", victim.id)),
        Some(&victim.token),
    )
    .await;
    let order_id = orders[0]["id"].as_str().unwrap().to_owned();

    for (field, query, id) in [
        (
            "user",
            "query($id: ID!) { user(id: $id) { id email cart { subtotal } orders { totalCount } } }",
            &victim.id,
        ),
        (
            "cart",
            "query($id: ID!) { cart(userId: $id) { subtotal items { quantity } } }",
            &victim.id,
        ),
        (
            "order",
            "query($id: ID!) { order(id: $id) { id total } }",
            &order_id,
        ),
    ] {
        let (_, body) = graphql(up.router, Some(&attacker.token), query, json!({"id": id})).await;
        assert_eq!(body["data"][field], Value::Null, "{field}: {body}");
    }

    // Their own data through the same query is theirs, not the victim's.
    let (_, body) = graphql(up.router, Some(&attacker.token), ONE_QUERY, json!({})).await;
    assert_eq!(body["data"]["me"]["id"], attacker.id.as_str(), "{body}");
    assert_eq!(body["data"]["me"]["orders"]["totalCount"], 0, "{body}");
    assert_eq!(body["data"]["me"]["cart"]["items"], json!([]), "{body}");

    // A subgraph's own error message reaches the client (they are written for clients).
    let body = login_through(&client(), up.router, "victim@example.com", "wrong-password").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"], "invalid email or password",
        "{body}"
    );

    // No token: `me` needs one.
    let (_, body) = graphql(up.router, None, ONE_QUERY, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    // A forged token is refused by the subgraphs the router forwards it to.
    let forged = format!("{}x", victim.token);
    let (_, body) = graphql(up.router, Some(&forged), ONE_QUERY, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_queries_from_two_users_at_once_each_get_only_their_own_data() {
    let up = Up::start(&[]);
    let (alice, _, _) = shopping_customer(&up, "alice@example.com").await;
    let (bob, _, _) = shopping_customer(&up, "bob@example.com").await;
    const EACH: usize = 200;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..EACH * 2 {
        let (token, id) = if i % 2 == 0 {
            (alice.token.clone(), alice.id.clone())
        } else {
            (bob.token.clone(), bob.id.clone())
        };
        let router = up.router;
        tasks.spawn(async move {
            let (status, body) = graphql(router, Some(&token), ONE_QUERY, json!({})).await;
            (id, status, body)
        });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        let (id, status, body) = result.expect("task");
        assert_eq!(status, 200, "{body}");
        let me = &body["data"]["me"];
        assert_eq!(me["id"], id.as_str(), "another caller's data: {body}");
        let email = if id == alice.id {
            "alice@example.com"
        } else {
            "bob@example.com"
        };
        assert_eq!(me["email"], email);
        let names: Vec<&str> = me["cart"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|line| line["product"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{body}");
        assert!(
            names.iter().all(|name| name.ends_with(email)),
            "another caller's cart: {names:?}"
        );
        answered += 1;
    }
    assert_eq!(answered, EACH * 2);
}

/// Accepts connections and never answers: a subgraph that hangs.
async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_or_hung_subgraph_gives_partial_data_and_an_error_naming_the_path() {
    let up = Up::start(&[]);
    let (customer, _, _) = shopping_customer(&up, "partial@example.com").await;
    let graphql_url = |addr: SocketAddr| format!("http://{addr}/graphql");
    let users = graphql_url(up.users);
    let products = graphql_url(up.products);
    let cart = graphql_url(up.cart);

    // orders stopped: nothing listens on its port.
    let stopped = graphql_url(SocketAddr::from(([127, 0, 0, 1], free_port())));
    // or hung: it accepts and never answers.
    let (hole, _hole) = black_hole().await;
    let hung = graphql_url(hole);

    for (what, orders_url) in [("stopped", stopped), ("hung", hung)] {
        let router = start_router(
            free_port(),
            &[
                ("USERS_URL", users.as_str()),
                ("PRODUCTS_URL", products.as_str()),
                ("CART_URL", cart.as_str()),
                ("ORDERS_URL", orders_url.as_str()),
                ("SUBGRAPH_TIMEOUT", "2s"),
            ],
        );
        let started = Instant::now();
        let (status, body) =
            graphql(router.addr, Some(&customer.token), ONE_QUERY, json!({})).await;
        let took = started.elapsed();
        assert_eq!(status, 200, "{what}: {body}");
        let me = &body["data"]["me"];
        assert_eq!(
            me["id"],
            customer.id.as_str(),
            "{what}: the rest of the data is there: {body}"
        );
        assert_eq!(
            me["cart"]["items"].as_array().map(Vec::len),
            Some(2),
            "{what}: {body}"
        );
        assert_eq!(me["orders"], Value::Null, "{what}: {body}");
        let errors = body["errors"].as_array().expect("errors");
        // The engine names the failed fetch by subgraph and the path of the entity it was for
        // (`me`), whose `orders` field is null.
        assert!(
            errors.iter().any(|e| e["extensions"]["service"] == "orders"
                && (e["path"] == json!(["me", "orders"])
                    || e["extensions"]["affectedPath"] == "me")),
            "{what}: an error names orders and me: {body}"
        );
        // Without the subgraph timeout the hung subgraph holds the answer until the client's own
        // 30 s timeout: 15 s is a margin only a stall exceeds.
        assert!(
            took < Duration::from_secs(15),
            "{what}: answered after the 2 s subgraph timeout, not the client's, took {took:?}"
        );
        // Internals do not leak: no addresses in the messages.
        let text = body.to_string();
        assert!(
            !text.contains("127.0.0.1"),
            "{what}: leaks an address: {text}"
        );
    }
}

/// What reached a subgraph: the headers of each request a recording proxy in front of the real
/// users service saw (it forwards everything to the service and its answer back).
type Seen = Arc<Mutex<Vec<reqwest::header::HeaderMap>>>;

async fn recording_proxy(target: String) -> (SocketAddr, Seen) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            let target = target.clone();
            async move {
                let mut forwarded = reqwest::header::HeaderMap::new();
                for (name, value) in &headers {
                    if let (Ok(name), Ok(value)) = (
                        reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                        reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
                    ) {
                        forwarded.append(name, value);
                    }
                }
                recorded.lock().unwrap().push(forwarded.clone());
                forwarded.remove(reqwest::header::HOST);
                forwarded.remove(reqwest::header::CONTENT_LENGTH);
                let response = client()
                    .post(target)
                    .headers(forwarded)
                    .body(body.to_vec())
                    .send()
                    .await
                    .expect("users answers");
                let status = response.status().as_u16();
                let bytes = response.bytes().await.unwrap_or_default();
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    bytes.to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_allowed_headers_reach_the_subgraphs() {
    let up = Up::start(&[]);
    let customer = customer(&up, "headers@example.com").await;
    let (proxy, seen) = recording_proxy(format!("http://{}/graphql", up.users)).await;
    let graphql_url = |addr: SocketAddr| format!("http://{addr}/graphql");
    let router = start_router(
        free_port(),
        &[
            ("USERS_URL", graphql_url(proxy).as_str()),
            ("PRODUCTS_URL", graphql_url(up.products).as_str()),
            ("CART_URL", graphql_url(up.cart).as_str()),
            ("ORDERS_URL", graphql_url(up.orders).as_str()),
        ],
    );
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let response = client()
        .post(router.url("/graphql"))
        .bearer_auth(&customer.token)
        .header("x-request-id", "router-test-request-1")
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=value")
        .header("cookie", "session=do-not-forward")
        .header("x-api-key", "do-not-forward")
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"query": "{ me { id email } }"}))
        .send()
        .await
        .expect("the router answers");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], customer.id.as_str(), "{body}");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one fetch from users");
    let headers = &seen[0];
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        value("authorization"),
        Some(format!("Bearer {}", customer.token))
    );
    assert_eq!(
        value("x-request-id").as_deref(),
        Some("router-test-request-1")
    );
    assert!(
        value("traceparent").is_some_and(|t| t.contains("0af7651916cd43dd8448eb211c80319c")),
        "the trace continues: {headers:?}"
    );
    assert_eq!(value("tracestate").as_deref(), Some("vendor=value"));
    // The client's address as the router saw it, not what the client claimed.
    assert_eq!(value("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    for name in ["cookie", "x-api-key"] {
        assert!(
            value(name).is_none(),
            "{name} reached the subgraph: {headers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_and_the_router_keeps_serving() {
    let up = Up::start(&[]);
    let customer = customer(&up, "hostile@example.com").await;
    // "At once" is relative to a normal request through the router, timed in this run.
    let mut normal = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = graphql(
            up.router,
            Some(&customer.token),
            "{ __typename }",
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        normal = normal.min(started.elapsed());
    }
    let quick = support::stall_bound(normal);
    let over_deep = format!(
        "{{ products {{ nodes {{ {} id {} }} }} }}",
        "... on Product { ".repeat(40),
        "}".repeat(40)
    );
    let aliases: String = (0..40).map(|i| format!("a{i}: __typename ")).collect();
    let over_aliased = format!("{{ {aliases} }}");
    let nested_value = samples::nested_value(10_000);
    let fragment_bomb = samples::fragment_bomb(30);
    let nested_variables = format!(
        "{{\"query\":\"query($v: String) {{ __typename }}\",\"variables\":{{\"v\":{}1{}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let two_logins = "mutation { a: login(email: \"a@example.com\", password: \"x\") { accessToken } \
                      b: login(email: \"b@example.com\", password: \"x\") { accessToken } }";

    for (what, document) in [
        ("over-deep", over_deep.as_str()),
        ("over-aliased", over_aliased.as_str()),
        ("nested value", nested_value.as_str()),
        ("fragment bomb", fragment_bomb.as_str()),
        ("two password hashes", two_logins),
    ] {
        let started = Instant::now();
        let (status, body) = graphql(up.router, Some(&customer.token), document, json!({})).await;
        assert!((400..500).contains(&status), "{what}: {status} {body}");
        assert!(body["errors"][0]["message"].is_string(), "{what}: {body}");
        assert!(body["data"].is_null(), "{what}: nothing ran: {body}");
        assert!(
            started.elapsed() < quick,
            "{what}: refused at once ({normal:?} for a normal request)"
        );
    }
    let response = client()
        .post(up.router_url("/graphql"))
        .header("content-type", "application/json")
        .body(nested_variables)
        .send()
        .await
        .expect("the router answers");
    assert_too_complex(response, "nested variables").await;

    // The same by GET, URL-encoded in the query string (an attacker's finding: two such
    // requests left both engine workers spinning for good).
    let deep_get = format!(
        "/graphql?query=query(%24f%3A%5B%5BInt%5D%5D)%7B__typename%7D&variables=%7B%22f%22%3A{}{}%7D",
        "%5B".repeat(10_000),
        "%5D".repeat(10_000)
    );
    for _ in 0..3 {
        let started = Instant::now();
        let response = client()
            .get(up.router_url(&deep_get))
            .header("x-graphql-csrf", "1")
            .send()
            .await
            .expect("the router answers");
        assert_too_complex(response, "nested GET variables").await;
        assert!(
            started.elapsed() < quick,
            "refused at once ({normal:?} for a normal request)"
        );
    }

    // A huge body is refused by size: a 4xx, or, when the router answers before the client has
    // written the whole body and closes (the engine does not read refused bodies to the end), a
    // connection reset under the client's write. Either way nothing of it runs.
    let huge = format!("{{ {} }}", "__typename ".repeat(200_000));
    let sent = client()
        .post(up.router_url("/graphql"))
        .json(&json!({ "query": huge }))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "huge body: {status}");
        }
        Err(error) => assert!(
            error.is_request() && !error.is_timeout(),
            "huge body: {error:?}"
        ),
    }

    // Still serving.
    let (status, body) = graphql(up.router, Some(&customer.token), ONE_QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["id"], customer.id.as_str(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_health_and_metrics() {
    let up = Up::start(&[]);
    // A browser asking for /graphql gets the pinned playground.
    let response = client()
        .get(up.router_url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let page = response.text().await.unwrap();
    assert!(page.contains("integrity=\"sha384-"), "{page}");
    assert!(policy.contains("script-src"), "{policy}");
    if std::env::var("GRAPHIQL_ASSETS_DIR").is_ok() {
        // Served by the router itself: works with no internet.
        assert!(page.contains("src=\"/graphql/assets/graphiql/graphiql.min.js\""));
        let asset = client()
            .get(up.router_url("/graphql/assets/graphiql/graphiql.min.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200);
        assert!(asset.bytes().await.unwrap().len() > 100_000);
    }
    for path in [
        "/graphql/assets/graphiql/..%2F..%2F..%2Fetc%2Fpasswd",
        "/graphql/assets/graphiql/package.json",
    ] {
        let response = client().get(up.router_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // A GET without the CSRF header never executes, even a query.
    let response = client()
        .get(up.router_url("/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());

    // The playground's introspection passes the guard and the engine's limits.
    let (status, body) = graphql(up.router, None, samples::INTROSPECTION, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    assert!(
        body["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 20),
        "{body}"
    );

    for path in ["/health", "/readiness"] {
        let response = client().get(up.router_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let (status, _) = graphql(
        up.router,
        None,
        "{ products(first: 2) { nodes { id name } } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let metrics = client()
        .get(up.router_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fetch_latency = metrics.lines().find(|line| {
        line.starts_with("http_client_request_duration_seconds_bucket")
            && line.contains("subgraph_name=\"products\"")
    });
    assert!(
        fetch_latency.is_some(),
        "a per-subgraph fetch latency histogram:\n{metrics}"
    );
}

/// A client whose requests come from `source` (another loopback address), as another machine's.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().ok())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn login_through(
    client: &reqwest::Client,
    router: SocketAddr,
    email: &str,
    password: &str,
) -> Value {
    client
        .post(format!("http://{router}/graphql"))
        .json(&json!({
            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            "variables": {"e": email, "p": password}
        }))
        .send()
        .await
        .expect("the router answers")
        .json()
        .await
        .expect("JSON")
}

/// Every subgraph request comes from the router's address; the subgraphs' per-address limits
/// must still count the router's clients, or one attacker's failed logins would lock out every
/// other client of the router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_limits_count_the_routers_clients_not_the_router() {
    let up = Up::start(&[("LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]);
    // Registered, never logged in: no address is known for this account yet.
    let (status, body) = rest(
        reqwest::Method::POST,
        up.url(up.users, "/api/users/register"),
        None,
        Some(json!({"email": "owner@example.com", "password": "Secret123!", "name": "Owner"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let attacker = client_from("127.0.0.2");
    let mut codes = Vec::new();
    for i in 0..5 {
        let body = login_through(
            &attacker,
            up.router,
            &format!("guess{i}@example.com"),
            "wrong-password",
        )
        .await;
        codes.push(
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert_eq!(
        codes.last().map(String::as_str),
        Some("RATE_LIMITED"),
        "the attacker's address is throttled: {codes:?}"
    );

    let owner = client_from("127.0.0.3");
    let body = login_through(&owner, up.router, "owner@example.com", "Secret123!").await;
    assert!(
        body["data"]["login"]["accessToken"].is_string(),
        "another client of the router logs in: {body}"
    );
}

/// A refusal by the router's guard: a 4xx with the `QUERY_TOO_COMPLEX` code.
async fn assert_too_complex(response: reqwest::Response, what: &str) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!((400..500).contains(&status), "{what}: {status} {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{what}: {body}"
    );
}
