//! Checkout across services that share no transaction: idempotency, no oversell, compensation,
//! and crashes at every step leaving nothing stranded.

use std::sync::Arc;
use std::time::Duration;

use orders::checkout::Checkout;
use orders::checkout::failpoints::Step;
use orders::domain::{OrderStatus, StockState};
use testing::Backend;
use uuid::Uuid;

use crate::helpers::{Generic404, Options, TestApp, body};

on_each_backend!([sqlite, mongodb] {
    the_same_key_places_one_order,
    thirty_customers_never_oversell_ten,
    cancelling_twice_at_once_restocks_once,
    parallel_checkouts_of_one_cart_place_one_order,
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
            "{} {}",
            response.status,
            body(&response)
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
    let healthy = Checkout::new(app.db.store.clone(), app.peers(), Duration::from_secs(60));
    let caller = auth::Caller {
        user_id: user,
        role: auth::Role::Customer,
    };
    let request = checkout_request(user, Some("retry-me"));
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
    let (app, user, p) =
        TestApp::interrupted(None, "halfway@example.com", ("Fan", 3_000, 5), 2).await;
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
    let (app, user, p) = TestApp::interrupted(
        Some(Duration::from_secs(1)),
        "slow@example.com",
        ("Heater", 8_000, 5),
        2,
    )
    .await;
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
        (OrderStatus::Cancelled, StockState::Expired)
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

/// Attacker finding 1: six checkouts of one cart at once, without a key or each with its own,
/// placed three orders and took the stock three times. One user checks out one cart at a time:
/// one order, the others refused (409) or finding the cart empty (422).
async fn parallel_checkouts_of_one_cart_place_one_order(backend: Backend) {
    let app = Arc::new(TestApp::new(backend).await);
    let (user, token) = app.customer("eager@example.com").await;
    let p = app.product("Kettle", 3_500, 100).await;
    for keys in [[None; 8], std::array::from_fn(|i| Some(i))] {
        app.fill_cart(user, p.id, 3).await;
        let before = app.ledger(p.id).await.on_hand;
        let tasks: Vec<_> = keys
            .into_iter()
            .map(|key| {
                let (app, token) = (app.clone(), token.clone());
                let key = key.map(|i| format!("own-key-{before}-{i}"));
                tokio::spawn(async move { app.place(&token, user, key.as_deref()).await })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            let response = task.await.unwrap();
            if response.status != 201 {
                let code = body(&response)["error"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    (response.status.as_u16(), code.as_str()) == (409, "CONFLICT")
                        || (response.status.as_u16(), code.as_str()) == (422, "VALIDATION_FAILED"),
                    "{} {code}",
                    response.status
                );
            }
            statuses.push(response.status);
        }
        assert_eq!(
            statuses.iter().filter(|&&s| s == 201).count(),
            1,
            "one order: {statuses:?}"
        );
        assert_eq!(app.ledger(p.id).await.on_hand, before - 3, "taken once");
        assert!(app.cart_store.get(user).await.unwrap().items.is_empty());
    }
    let (orders, total) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert!(orders.iter().all(|o| o.status == OrderStatus::Pending));
    app.assert_stock_accounted(p.id, 100).await;
}

/// Attacker finding 4: what was added to the cart during a checkout stayed, but so did what the
/// order bought, to be bought again. Now the order's quantities are taken out, the rest stays.
#[tokio::test]
async fn a_cart_changed_during_checkout_keeps_only_what_was_not_ordered() {
    let (app, user, lamp) =
        TestApp::interrupted(None, "busy@example.com", ("Lamp", 2_000, 10), 2).await;
    let rug = app.product("Rug", 9_000, 10).await;
    // While that order waits to be finished, the customer adds more.
    app.fill_cart(user, rug.id, 1).await;
    app.fill_cart(user, lamp.id, 1).await;
    assert_eq!(app.checkout.reconcile(Duration::ZERO).await.unwrap(), 1);
    let cart = app.cart_store.get(user).await.unwrap();
    assert_eq!(
        (cart.quantity_of(lamp.id), cart.quantity_of(rug.id)),
        (1, 1),
        "the two lamps ordered are out, the lamp and rug added since stay"
    );
    // Settling again (a retry after a crash) takes nothing more.
    let (orders, _) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    let order = app.checkout.settle(orders[0].clone()).await.unwrap();
    assert!(order.cart_done);
    let cart_store = &app.cart_store;
    cart_store
        .take_ordered(user, order.id, order.cart_version, &[(lamp.id, 2)])
        .await
        .unwrap();
    assert_eq!(
        cart_store.get(user).await.unwrap().quantity_of(lamp.id),
        1,
        "once per order"
    );
    app.assert_stock_accounted(lamp.id, 10).await;
}

/// Attacker finding 1, second half: a checkout whose earlier order has not yet taken its items
/// out of the cart finishes that first, so the same items are not bought twice.
#[tokio::test]
async fn a_checkout_first_finishes_the_previous_orders_cart() {
    let (app, user, p) =
        TestApp::interrupted(None, "again-and-again@example.com", ("Mug", 1_200, 10), 2).await;
    // The next checkout (a healthy process, same store and services) finds the first order
    // unfinished, finishes it, and then finds the cart empty.
    let healthy = Checkout::new(app.db.store.clone(), app.peers(), Duration::from_secs(60));
    let caller = auth::Caller {
        user_id: user,
        role: auth::Role::Customer,
    };
    let err = healthy
        .place(&caller, checkout_request(user, None))
        .await
        .err()
        .expect("nothing left to buy");
    assert!(matches!(err, orders::error::Error::EmptyCart), "{err}");
    let ledger = app.ledger(p.id).await;
    assert_eq!(
        (ledger.on_hand, ledger.held, ledger.sold),
        (8, 0, 2),
        "bought once"
    );
    app.assert_stock_accounted(p.id, 10).await;
}

/// Attacker finding 2: an order whose stock hold expired while products was out of reach was
/// paid, shipped and delivered with no stock behind it. Now it cannot move past pending until
/// its stock is confirmed; asking finds out, and cancels it.
#[tokio::test]
async fn an_order_without_confirmed_stock_cannot_be_paid_or_shipped() {
    let (app, user, p) = TestApp::interrupted(
        Some(Duration::from_secs(1)),
        "unpaid@example.com",
        ("Stove", 30_000, 4),
        3,
    )
    .await;
    let (orders, _) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    let id = orders[0].id.to_string();
    assert_eq!(orders[0].stock, StockState::Held);
    // The hold expires before anything confirms it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.catalog
        .release_expired(chrono::Utc::now())
        .await
        .unwrap();
    let admin = app.auth.admin_token();
    for status in ["paid", "shipped", "delivered"] {
        let refused = app.set_status(&admin, &id, status).await;
        assert_eq!(refused.status, 409, "{status}: {}", body(&refused));
    }
    let order = app.db.store.get(orders[0].id).await.unwrap().unwrap();
    assert_eq!(
        (order.status, order.stock),
        (OrderStatus::Cancelled, StockState::Expired)
    );
    assert_eq!(app.ledger(p.id).await.on_hand, 4);
    app.assert_stock_accounted(p.id, 4).await;
}

/// A confirmed order moves on as the table says, once its stock was confirmed on the way.
#[tokio::test]
async fn an_order_confirmed_late_can_then_be_paid() {
    let (app, user, p) =
        TestApp::interrupted(None, "late@example.com", ("Chair", 5_000, 4), 1).await;
    let (orders, _) = app
        .db
        .store
        .for_user(user, Default::default())
        .await
        .unwrap();
    let paid = app
        .set_status(&app.auth.admin_token(), &orders[0].id.to_string(), "paid")
        .await;
    assert_eq!(paid.status, 200, "{}", body(&paid));
    let order = app.db.store.get(orders[0].id).await.unwrap().unwrap();
    assert_eq!(
        (order.status, order.stock),
        (OrderStatus::Paid, StockState::Confirmed)
    );
    app.assert_stock_accounted(p.id, 4).await;
}

fn checkout_request(user: Uuid, key: Option<&str>) -> orders::domain::CheckoutRequest {
    orders::domain::CheckoutRequest {
        user_id: user,
        shipping_address: orders::domain::ShippingAddress::parse(
            "123 Main St",
            "Toronto",
            "M5H 2N2",
            "Canada",
        )
        .unwrap(),
        payment_method: orders::domain::PaymentMethod::CreditCard,
        idempotency_key: key.map(|k| orders::domain::IdempotencyKey::parse(k).unwrap()),
    }
}

/// Attacker finding (second round): a retry with the key of a checkout that was still
/// unconfirmed answered 200 `pending` (and was cancelled moments later), and one whose checkout
/// had failed answered 200 `cancelled`. A retry answers as its checkout would now.
#[tokio::test]
async fn a_retry_answers_as_its_checkout_did() {
    for products_down in [true, false] {
        let mut app = TestApp::with(
            Backend::Sqlite,
            Options {
                hold: Some(Duration::from_secs(1)),
                die_at: Some(Step::Stored),
                ..Options::default()
            },
        )
        .await;
        let (user, token) = app.customer("retrying@example.com").await;
        let p = app.product("Drum", 7_000, 5).await;
        app.fill_cart(user, p.id, 1).await;
        app.place(&token, user, Some("once"))
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
        if products_down {
            // Not confirmed, and products cannot say how it ends: not an answer yet.
            app.platform.products.stop().await;
            app.place(&token, user, Some("once"))
                .await
                .assert_error(503, "SERVICE_UNAVAILABLE");
        } else {
            // The hold expires first: the checkout failed, and its retry says so.
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            app.catalog
                .release_expired(chrono::Utc::now())
                .await
                .unwrap();
            app.place(&token, user, Some("once"))
                .await
                .assert_error(409, "CONFLICT");
            let (orders, _) = app
                .db
                .store
                .for_user(user, Default::default())
                .await
                .unwrap();
            assert_eq!(
                (orders[0].status, orders[0].stock),
                (OrderStatus::Cancelled, StockState::Expired)
            );
            app.assert_stock_accounted(p.id, 5).await;
        }
    }
}

/// Every generic 404 a products stand-in answers in the tests below.
const GENERIC_404S: [Generic404; 3] = [
    Generic404::RouteNotFound,
    Generic404::OldFallback,
    Generic404::Proxy,
];

/// An app whose orders calls products through a stand-in, a customer, and `quantity` of a product
/// (5 in stock) in their cart.
async fn behind_a_stand_in(
    email: &str,
    product: &str,
    price_minor: i64,
    quantity: i64,
) -> (TestApp, Uuid, String, products::domain::Product) {
    let app = TestApp::with(
        Backend::Sqlite,
        Options {
            products_stand_in: true,
            ..Options::default()
        },
    )
    .await;
    let (user, token) = app.customer(email).await;
    let p = app.product(product, price_minor, 5).await;
    app.fill_cart(user, p.id, quantity).await;
    (app, user, token, p)
}

/// The 404 trap: a confirm that meets a 404 for a route products does not serve (an older
/// version mid-rollout, a proxy, a wrong base path) is no answer. The order stays pending with
/// its stock held, and the reconciler confirms it once products answers again.
#[tokio::test]
async fn a_generic_404_on_confirm_leaves_the_order_pending_until_products_is_back() {
    for answer in GENERIC_404S {
        let (app, user, token, p) =
            behind_a_stand_in("rollout@example.com", "Kettle", 2_500, 2).await;
        let stand_in = app.stand_in.as_ref().unwrap();

        stand_in.answer_404(Some(answer));
        app.place(&token, user, None)
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
        let (orders, _) = app
            .db
            .store
            .for_user(user, Default::default())
            .await
            .unwrap();
        assert_eq!(
            (orders.len(), orders[0].status, orders[0].stock),
            (1, OrderStatus::Pending, StockState::Held),
            "{answer:?}: the order is neither cancelled nor confirmed"
        );
        let ledger = app.ledger(p.id).await;
        assert_eq!(
            (ledger.on_hand, ledger.held, ledger.sold),
            (3, 2, 0),
            "{answer:?}"
        );
        app.assert_stock_accounted(p.id, 5).await;
        // Still broken: the reconciler changes nothing.
        app.checkout.reconcile(Duration::ZERO).await.unwrap();
        let order = app.db.store.get(orders[0].id).await.unwrap().unwrap();
        assert_eq!(
            (order.status, order.stock),
            (OrderStatus::Pending, StockState::Held)
        );

        stand_in.answer_404(None);
        app.checkout.reconcile(Duration::ZERO).await.unwrap();
        let order = app.db.store.get(orders[0].id).await.unwrap().unwrap();
        assert_eq!(
            (order.status, order.stock, order.cart_done),
            (OrderStatus::Pending, StockState::Confirmed, true),
            "{answer:?}"
        );
        let ledger = app.ledger(p.id).await;
        assert_eq!(
            (ledger.on_hand, ledger.held, ledger.sold),
            (3, 0, 2),
            "{answer:?}"
        );
        app.assert_stock_accounted(p.id, 5).await;
    }
}

/// The same trap on the way back: a cancelled order whose release meets a generic 404 still owes
/// the release (products still holds its stock); the reconciler returns the stock once products
/// answers, and only then is the stock recorded as back.
#[tokio::test]
async fn a_generic_404_on_release_keeps_the_release_owed_until_products_is_back() {
    for answer in GENERIC_404S {
        let (app, user, token, p) =
            behind_a_stand_in("changed-mind@example.com", "Toaster", 4_000, 3).await;
        let stand_in = app.stand_in.as_ref().unwrap();
        let placed = app.place(&token, user, None).await;
        assert_eq!(
            placed.status,
            201,
            "{}",
            String::from_utf8_lossy(&placed.body)
        );
        let id = body(&placed)["id"].as_str().unwrap().to_owned();

        stand_in.answer_404(Some(answer));
        let cancelled = app.set_status(&token, &id, "cancelled").await;
        assert_eq!(
            cancelled.status,
            200,
            "{}",
            String::from_utf8_lossy(&cancelled.body)
        );
        assert_eq!(body(&cancelled)["status"], "cancelled");
        let order = app
            .db
            .store
            .get(id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !order.stock.is_back(),
            "{answer:?}: recorded as released while products still holds it: {order:?}"
        );
        let ledger = app.ledger(p.id).await;
        assert_eq!(
            (ledger.on_hand, ledger.sold),
            (2, 3),
            "{answer:?}: not yet back"
        );
        app.checkout.reconcile(Duration::ZERO).await.unwrap();
        assert_eq!(app.ledger(p.id).await.on_hand, 2, "{answer:?}: still owed");

        stand_in.answer_404(None);
        app.checkout.reconcile(Duration::ZERO).await.unwrap();
        let order = app
            .db
            .store
            .get(id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (order.status, order.stock),
            (OrderStatus::Cancelled, StockState::Released),
            "{answer:?}"
        );
        let ledger = app.ledger(p.id).await;
        assert_eq!(
            (ledger.on_hand, ledger.held, ledger.sold),
            (5, 0, 0),
            "{answer:?}"
        );
        app.assert_stock_accounted(p.id, 5).await;
        assert_eq!(
            app.checkout.reconcile(Duration::ZERO).await.unwrap(),
            0,
            "nothing owed"
        );
    }
}

/// What a checkout with an Idempotency-Key costs the orders database, call by call (each one
/// round trip; SQL reads of whole orders add one for their lines): the claim, one lookup by key,
/// the user's unfinished orders, the insert, then each settling write, which returns the row it
/// changed. Before the saga was reshaped it was ten: a lookup by key before the claim as well as
/// after it, and a read after each of the two settling writes.
#[tokio::test]
async fn a_keyed_checkout_makes_seven_store_calls() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (user, token) = app.customer("counted@example.com").await;
    let p = app.product("Lamp", 4_500, 3).await;
    app.fill_cart(user, p.id, 1).await;
    app.store_calls.lock().unwrap().clear();
    let placed = app.place(&token, user, Some("count-me")).await;
    assert_eq!(
        placed.status,
        201,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let calls = app.store_calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            "claim_checkout",
            "by_key",
            "unsettled",
            "insert",
            "record_stock",
            "record_cart_done",
            "release_checkout"
        ]
    );
    assert_eq!(body(&placed)["status"], "pending");
    let stored = app
        .db
        .store
        .get(body(&placed)["id"].as_str().unwrap().parse().unwrap());
    let stored = stored.await.unwrap().unwrap();
    assert_eq!(
        (stored.stock, stored.cart_done),
        (StockState::Confirmed, true)
    );
    app.assert_stock_accounted(p.id, 3).await;
}
