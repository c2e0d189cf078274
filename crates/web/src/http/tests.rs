use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use tokio::net::TcpListener;

use super::*;
use crate::config::HttpConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = HttpConfig::with_port(0);
    let server = tokio::spawn(serve(
        listener,
        finish(app, &config),
        async {
            stopped.await.ok();
        },
        (&config).into(),
    ));

    let in_flight = tokio::spawn(client().unwrap().get(format!("http://{addr}/slow")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    server.await.unwrap().expect("the server stops cleanly");
    assert!(
        client()
            .unwrap()
            .get(format!("http://{addr}/slow"))
            .send()
            .await
            .is_err(),
        "new connections are refused"
    );
}

/// A server on port 0 running `finish(hello())`, with these connection limits; it stops
/// when the test ends.
async fn spawn_server(header_timeout: Duration, max_connections: usize) -> SocketAddr {
    let limits = ConnectionLimits {
        header_timeout,
        max_connections,
        max_per_address: max_connections,
        trusted: TrustedProxies::default(),
    };
    let app = hello();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = finish(app, &HttpConfig::with_port(0));
    tokio::spawn(serve(listener, app, std::future::pending(), limits));
    addr
}

fn hello() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow"
            }),
        )
}

/// Opens a raw connection and sends half a request's headers.
async fn half_open(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// Whether the server closed `stream` within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    let addr = spawn_server(Duration::from_millis(300), 100).await;
    let mut slow = half_open(addr).await;
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = spawn_server(Duration::from_millis(300), 100).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn at_the_bound_a_new_connection_evicts_the_longest_idle_one() {
    let addr = spawn_server(Duration::from_secs(60), 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_open(addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let response = client()
        .unwrap()
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .expect("served despite the flood");
    assert_eq!(response.text().await.unwrap(), "hello");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        closed_within(&mut held[0], Duration::from_secs(2)).await,
        "the oldest idle connection made room"
    );
}

#[tokio::test]
async fn one_address_makes_room_among_its_own_connections() {
    let serve_with = |trusted: &str| {
        let trusted = TrustedProxies::parse(trusted).unwrap();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let limits = ConnectionLimits {
                header_timeout: Duration::from_secs(60),
                max_connections: 100,
                max_per_address: 3,
                trusted,
            };
            let app = finish(hello(), &HttpConfig::with_port(0));
            tokio::spawn(serve(listener, app, std::future::pending(), limits));
            addr
        }
    };
    let addr = serve_with("").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(half_open(addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = client()
        .unwrap()
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .expect("served: it took the place of its own oldest connection");
    assert_eq!(response.status(), 200);
    assert!(closed_within(&mut held[0], Duration::from_secs(2)).await);
    assert!(!closed_within(&mut held[2], Duration::from_millis(300)).await);

    // A trusted proxy (the router) carries many clients: it may hold any number.
    let addr = serve_with("127.0.0.1").await;
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(half_open(addr).await);
    }
    for stream in &mut held {
        assert!(!closed_within(stream, Duration::from_millis(100)).await);
    }
}

#[tokio::test]
async fn a_connection_running_a_recent_request_is_never_evicted() {
    let addr = spawn_server(Duration::from_secs(60), 1).await;
    let busy = tokio::spawn(client().unwrap().get(format!("http://{addr}/slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = client()
        .unwrap()
        .get(format!("http://{addr}/hello"))
        .send()
        .await;
    assert!(shed.is_err(), "no room: the new connection is closed");
    let done = busy.await.unwrap().expect("the running request completes");
    assert_eq!(done.text().await.unwrap(), "slow");
}

#[tokio::test]
async fn a_client_trickling_its_body_loses_its_connection_to_a_newcomer() {
    use tokio::io::AsyncWriteExt;
    let app = Router::new().route(
        "/echo",
        axum::routing::post(|body: String| async move { body }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(60),
        max_connections: 2,
        max_per_address: 2,
        trusted: TrustedProxies::default(),
    };
    tokio::spawn(serve(
        listener,
        finish(app, &HttpConfig::with_port(0)),
        std::future::pending(),
        limits,
    ));
    let mut trickling = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nabc")
            .await
            .unwrap();
        trickling.push(stream);
    }
    tokio::time::sleep(SLOW_REQUEST + Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let response = client()
        .unwrap()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .expect("served: a trickling connection made room");
    assert_eq!(response.status(), 404);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn http2_is_not_spoken_and_huge_headers_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = spawn_server(Duration::from_secs(60), 100).await;
    let mut h2 = tokio::net::TcpStream::connect(addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), h2.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains(" 200 "),
        "no HTTP/2 stream was served"
    );

    let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
    let header = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEADER_BYTES * 2)
    );
    let _ = big.write_all(header.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), big.read_to_end(&mut answer)).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn only_well_formed_request_ids_are_kept() {
    let app = finish(hello(), &HttpConfig::with_port(0));
    let id_of = |sent: &str| {
        let request = axum::http::Request::get("/hello")
            .header(REQUEST_ID, sent)
            .body(axum::body::Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
            response.headers()[REQUEST_ID].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(id_of("router-7f3a.9:1").await, "router-7f3a.9:1");
    let replaced = id_of(&"x".repeat(300)).await;
    assert!(
        replaced.len() == 36 && replaced != "x".repeat(300),
        "{replaced}"
    );
    assert_ne!(id_of("bad id with spaces").await, "bad id with spaces");
}

#[tokio::test]
async fn not_found_and_wrong_methods_carry_the_security_headers_too() {
    let app = finish(hello(), &HttpConfig::with_port(0));
    for (method, path, status) in [("GET", "/nope", 404), ("PUT", "/hello", 405)] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(response.headers()[&name], value, "{method} {path}: {name}");
        }
    }
}

#[test]
fn the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
    let mut headers = HeaderMap::new();
    headers.append("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
    let peer: IpAddr = "10.0.0.5".parse().unwrap();
    // Nobody trusted: a client cannot choose its own address.
    assert_eq!(TrustedProxies::default().client(peer, &headers), peer);
    // The proxies at 10/8 forwarded it: the first untrusted hop from the right.
    let proxies = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
    assert_eq!(
        proxies.client(peer, &headers),
        "203.0.113.9".parse::<IpAddr>().unwrap()
    );
    // A spoofed entry left of an untrusted hop is ignored.
    let mut spoofed = HeaderMap::new();
    spoofed.append("x-forwarded-for", "1.2.3.4, 198.51.100.1".parse().unwrap());
    assert_eq!(
        proxies.client(peer, &spoofed),
        "198.51.100.1".parse::<IpAddr>().unwrap()
    );
    assert!(TrustedProxies::parse("not-an-ip").is_err());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let request = axum::http::Request::get("/hello")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(finish(hello(), &HttpConfig::with_port(0)), request)
        .await
        .unwrap();
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(response.headers()[&name], value, "{name}");
    }
}

#[tokio::test]
async fn slow_requests_time_out_in_the_shared_shape() {
    let app = Router::new().route(
        "/stuck",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "never"
        }),
    );
    let config = HttpConfig {
        request_timeout: Duration::from_millis(50),
        ..HttpConfig::with_port(0)
    };
    let request = axum::http::Request::get("/stuck")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(finish(app, &config), request)
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    );
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("\"TIMEOUT\""));
}

#[tokio::test]
async fn panics_answer_a_generic_500_in_the_shared_shape() {
    async fn boom() -> &'static str {
        panic!("secret internal detail")
    }
    let app = Router::new().route("/boom", get(boom));
    let request = axum::http::Request::get("/boom")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(finish(app, &HttpConfig::with_port(0)), request)
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    );
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\"INTERNAL\"") && !text.contains("secret"),
        "{text}"
    );
}
