//! Checkout across services that share no transaction: idempotency, no oversell, compensation,
//! and crashes at every step leaving nothing stranded.

use std::sync::Arc;
use std::time::Duration;

use kit::testing::Backend;
use orders::checkout::Step;
use orders::domain::{OrderStatus, StockState};

use crate::helpers::{Options, TestApp, body};

on_each_backend!([sqlite, mongodb] {
    the_same_key_places_one_order,
    thirty_customers_never_oversell_ten,
    cancelling_twice_at_once_restocks_once,
});

async fn the_same_key_places_one_order(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let (user, token) = app.customer("again@example.com").await;
    let p = app.product("Lamp", 2_000, 50).await;
    app.fill_cart(user, p.id, 3).await;
    let first = app.place(&token, user, Some("key-1")).await;
    assert_eq!(first.status, 201);
    let again = app.place(&token, user, Some("key-1")).await;
    assert_eq!(again.status, 200, "a replay");
    assert_eq!(again.headers["idempotency-replayed"], "true");
    assert_eq!(body(&again)["id"], body(&first)["id"]);
    // The same key for another request is refused.
    app.place_to(&token, user, Some("key-1"), "Montreal")
        .await
        .assert_error(422, "VALIDATION_FAILED");
    // Ten at once with a new key: one order, one decrement.
    app.fill_cart(user, p.id, 2).await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.place(&token, user, Some("key-2")).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        assert!(
            response.status == 201 || response.status == 200,
            "{}",
            response.status
        );
        created += usize::from(response.status == 201);
        ids.insert(body(&response)["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1), "one order");
    let ledger = app.ledger(p.id).await;
    assert_eq!((ledger.on_hand, ledger.held, ledger.sold), (45, 0, 5));
    app.assert_stock_accounted(p.id, 50).await;
}

async fn thirty_customers_never_oversell_ten(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let p = app.product("Limited Edition", 15_000, 10).await;
    let mut buyers = Vec::new();
    for i in 0..30 {
        let (user, token) = app.customer(&format!("fan{i}@example.com")).await;
        app.fill_cart(user, p.id, 1).await;
        buyers.push((user, token));
    }
    let tasks: Vec<_> = buyers
        .into_iter()
        .map(|(user, token)| {
            let app = app.clone();
            tokio::spawn(async move { app.place(&token, user, None).await })
        })
        .collect();
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status.as_u16() {
            201 => placed += 1,
            409 => {
                assert_eq!(response.error_code(), "INSUFFICIENT_STOCK");
                refused += 1;
            }
            other => panic!("{other}: {}", String::from_utf8_lossy(&response.body)),
        }
    }
    assert_eq!((placed, refused), (10, 20));
    let ledger = app.ledger(p.id).await;
    assert_eq!((ledger.on_hand, ledger.held, ledger.sold), (0, 0, 10));
    app.assert_stock_accounted(p.id, 10).await;
}

async fn cancelling_twice_at_once_restocks_once(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let (user, token) = app.customer("undecided@example.com").await;
    let p = app.product("Bike", 40_000, 4).await;
    app.fill_cart(user, p.id, 2).await;
    let id = body(&app.place(&token, user, None).await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.ledger(p.id).await.on_hand, 2);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (app, token, id) = (app.clone(), token.clone(), id.clone());
            tokio::spawn(async move { app.set_status(&token, &id, "cancelled").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let ledger = app.ledger(p.id).await;
    assert_eq!(
        (ledger.on_hand, ledger.held, ledger.sold),
        (4, 0, 0),
        "restocked once"
    );
    app.assert_stock_accounted(p.id, 4).await;
}

#[tokio::test]
async fn a_failed_order_insert_gives_the_stock_back() {
    let app = TestApp::with(
        Backend::Sqlite,
        Options {
            failing_inserts: true,
            ..Options::default()
        },
    )
    .await;
    let (user, token) = app.customer("unlucky@example.com").await;
    let p = app.product("Clock", 4_500, 6).await;
    app.fill_cart(user, p.id, 4).await;
    app.place(&token, user, Some("k"))
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
    let ledger = app.ledger(p.id).await;
    assert_eq!(
        (ledger.on_hand, ledger.held, ledger.sold),
        (6, 0, 0),
        "stock back"
    );
    assert_eq!(
        app.db
            .store
            .for_user(user, Default::default())
            .await
            .unwrap()
            .1,
        0,
        "no order"
    );
    assert_eq!(
        app.cart_store.get(user).await.unwrap().quantity_of(p.id),
        4,
        "cart kept"
    );
}

#[tokio::test]
async fn a_checkout_killed_after_reserving_strands_nothing_and_can_be_retried() {
    let app = TestApp::with(
        Backend::Sqlite,
        Options {
            hold: Some(Duration::from_secs(1)),
            die_at: Some(Step::Reserved),
            ..Options::default()
        },
    )
    .await;
    let (user, token) = app.customer("crashed@example.com").await;
    let p = app.product("Radio", 6_000, 8).await;
    app.fill_cart(user, p.id, 3).await;
    app.place(&token, user, Some("retry-me"))
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
    let ledger = app.ledger(p.id).await;
    assert_eq!(
        (ledger.on_hand, ledger.held, ledger.sold),
        (5, 3, 0),
        "held, nobody owns it"
    );
    // Products returns it by itself once the hold expires.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        app.catalog
            .release_expired(chrono::Utc::now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.ledger(p.id).await.on_hand, 8);
    // The same key again, on a service that does not die: placed once.
    let healthy = orders::checkout::Checkout::new(
        app.db.store.clone(),
        orders::checkout::Peers {
            users: app.users_client(),
            products: app.products_client(),
            cart: kit::peers::cart::CartClient(kit::peers::Peer::new(
                "cart",
                &app.cart.url(),
                kit::http::client().unwrap(),
                app.auth.service.clone(),
            )),
        },
        Duration::from_secs(60),
    );
    let caller = kit::auth::Caller {
        user_id: user,
        role: kit::auth::Role::Customer,
    };
    let request = orders::domain::CheckoutRequest {
        user_id: user,
        shipping_address: orders::domain::ShippingAddress::parse(
            "123 Main St",
            "Toronto",
            "M5H 2N2",
            "Canada",
        )
        .unwrap(),
        payment_method: orders::domain::PaymentMethod::CreditCard,
        idempotency_key: Some(orders::domain::IdempotencyKey::parse("retry-me").unwrap()),
    };
    let placed = healthy.place(&caller, request.clone()).await.unwrap();
    assert!(placed.created);
    let again = healthy.place(&caller, request).await.unwrap();
    assert!(!again.created, "once");
    assert_eq!(again.order.id, placed.order.id);
    let ledger = app.ledger(p.id).await;
    assert_eq!((ledger.on_hand, ledger.held, ledger.sold), (5, 0, 3));
    app.assert_stock_accounted(p.id, 8).await;
}

#[tokio::test]
async fn a_checkout_killed_after_storing_is_finished_by_the_reconciler() {
    let app = TestApp::with(
        Backend::Sqlite,
        Options {
            die_at: Some(Step::Stored),
            ..Options::default()
        },
    )
    .await;
    let (user, token) = app.customer("halfway@example.com").await;
    let p = app.product("Fan", 3_000, 5).await;
    app.fill_cart(user, p.id, 2).await;
    app.place(&token, user, Some("halfway"))
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
    let (orders, _) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    assert_eq!(orders[0].stock, StockState::Held);
    assert_eq!(app.checkout.reconcile(Duration::ZERO).await.unwrap(), 1);
    let order = app.db.store.get(orders[0].id).await.unwrap().unwrap();
    assert_eq!(
        (order.status, order.stock, order.cart_done),
        (OrderStatus::Pending, StockState::Confirmed, true)
    );
    assert!(
        app.cart_store.get(user).await.unwrap().items.is_empty(),
        "cart emptied"
    );
    assert_eq!(
        app.checkout.reconcile(Duration::ZERO).await.unwrap(),
        0,
        "nothing owed"
    );
    app.assert_stock_accounted(p.id, 5).await;
}

#[tokio::test]
async fn an_order_whose_hold_expired_is_cancelled_and_its_stock_stays_on_the_shelf() {
    let app = TestApp::with(
        Backend::Sqlite,
        Options {
            hold: Some(Duration::from_secs(1)),
            die_at: Some(Step::Stored),
            ..Options::default()
        },
    )
    .await;
    let (user, token) = app.customer("slow@example.com").await;
    let p = app.product("Heater", 8_000, 5).await;
    app.fill_cart(user, p.id, 2).await;
    app.place(&token, user, None)
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.catalog
        .release_expired(chrono::Utc::now())
        .await
        .unwrap();
    app.checkout.reconcile(Duration::ZERO).await.unwrap();
    let (orders, _) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    assert_eq!(
        (orders[0].status, orders[0].stock),
        (OrderStatus::Cancelled, StockState::Released)
    );
    assert_eq!(app.ledger(p.id).await.on_hand, 5);
    assert_eq!(
        app.cart_store.get(user).await.unwrap().quantity_of(p.id),
        2,
        "the cart kept it"
    );
    app.assert_stock_accounted(p.id, 5).await;
}

#[tokio::test]
async fn a_stopped_products_service_is_a_503_and_nothing_is_written() {
    let mut app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("waiting@example.com").await;
    let p = app.product("Tent", 12_000, 3).await;
    app.fill_cart(user, p.id, 1).await;
    app.platform.products.stop().await;
    let response = app.place(&token, user, Some("later")).await;
    response.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(
        response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("products service is unavailable")
    );
    assert_eq!(
        app.db
            .store
            .for_user(user, Default::default())
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(app.cart_store.get(user).await.unwrap().quantity_of(p.id), 1);
    app.cart.stop().await;
    app.place(&token, user, None)
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
}
