//! The contract every `OrderStore` backend passes.

use std::time::Duration;

use chrono::Utc;
use orders::domain::{
    Lease, Order, OrderLine, OrderStatus, PaymentMethod, ShippingAddress, StockState,
};
use storage::StoreError;
use testing::Backend;
use uuid::Uuid;
use web::pagination::Page;

use crate::helpers::TestStore;

on_each_backend!([sqlite, mongodb] {
    insert_then_read_back,
    one_key_per_user_is_one_order,
    a_users_orders_come_newest_first_in_pages,
    status_and_stock_change_only_from_what_they_were,
    unsettled_orders_are_found_until_settled,
    orders_are_read_many_at_once_and_unsettled_per_user,
    one_checkout_claim_per_user_until_released_or_expired,
});

fn order(user: Uuid, key: Option<&str>) -> Order {
    let now = storage::mongo::millis(Utc::now());
    Order {
        id: Uuid::now_v7(),
        user_id: user,
        status: OrderStatus::Pending,
        lines: vec![
            OrderLine {
                product_id: Uuid::new_v4(),
                name: "Laptop".into(),
                quantity: 2,
                unit_price_minor: 99_999,
                currency: "USD".into(),
            },
            OrderLine {
                product_id: Uuid::new_v4(),
                name: "Mouse".into(),
                quantity: 1,
                unit_price_minor: 2_499,
                currency: "USD".into(),
            },
        ],
        total_minor: 202_497,
        currency: "USD".into(),
        shipping_address: ShippingAddress::parse("1 Main St", "Zürich", "8001", "Schweiz").unwrap(),
        payment_method: PaymentMethod::DebitCard,
        idempotency_key: key.map(str::to_owned),
        fingerprint: "abc".into(),
        stock: StockState::Held,
        cart_version: 3,
        cart_done: false,
        created_at: now,
        updated_at: now,
    }
}

async fn insert_then_read_back(backend: Backend) {
    let db = TestStore::new(backend).await;
    let stored = order(Uuid::new_v4(), Some("k"));
    db.store.insert(&stored).await.unwrap();
    assert_eq!(db.store.get(stored.id).await.unwrap().unwrap(), stored);
    assert_eq!(
        db.store.by_key(stored.user_id, "k").await.unwrap().unwrap(),
        stored
    );
    assert!(
        db.store
            .by_key(stored.user_id, "other")
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.store.get(Uuid::new_v4()).await.unwrap().is_none());
    db.store.ping().await.unwrap();
}

async fn one_key_per_user_is_one_order(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = Uuid::new_v4();
    db.store.insert(&order(user, Some("k"))).await.unwrap();
    assert!(matches!(
        db.store.insert(&order(user, Some("k"))).await,
        Err(StoreError::Conflict(_))
    ));
    // Another user's key, and orders without keys, never collide.
    db.store
        .insert(&order(Uuid::new_v4(), Some("k")))
        .await
        .unwrap();
    db.store.insert(&order(user, None)).await.unwrap();
    db.store.insert(&order(user, None)).await.unwrap();
    assert_eq!(db.store.for_user(user, Page::default()).await.unwrap().1, 3);
}

async fn a_users_orders_come_newest_first_in_pages(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = Uuid::new_v4();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let o = order(user, None);
        ids.push(o.id);
        db.store.insert(&o).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    db.store.insert(&order(Uuid::new_v4(), None)).await.unwrap();
    let (page, total) = db
        .store
        .for_user(user, Page::new(Some(2), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[3], ids[2]]
    );
}

async fn status_and_stock_change_only_from_what_they_were(backend: Backend) {
    let db = TestStore::new(backend).await;
    let o = order(Uuid::new_v4(), None);
    db.store.insert(&o).await.unwrap();
    assert!(
        db.store
            .transition(o.id, OrderStatus::Paid, OrderStatus::Shipped)
            .await
            .unwrap()
            .is_none()
    );
    let paid = db
        .store
        .transition(o.id, OrderStatus::Pending, OrderStatus::Paid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    assert!(
        db.store
            .record_stock(&o, &[StockState::Confirmed], StockState::Released)
            .await
            .unwrap()
            .is_none()
    );
    // A write answers the row it changed, as a read would.
    let confirmed = db
        .store
        .record_stock(&o, &[StockState::Held], StockState::Confirmed)
        .await
        .unwrap()
        .expect("held until now");
    assert_eq!(
        (confirmed.status, confirmed.stock),
        (OrderStatus::Paid, StockState::Confirmed)
    );
    assert!(confirmed.updated_at >= paid.updated_at);
    assert_eq!(confirmed, db.store.get(o.id).await.unwrap().unwrap());
    assert!(
        db.store
            .record_stock(&o, &[StockState::Held], StockState::Confirmed)
            .await
            .unwrap()
            .is_none(),
        "once"
    );
    let done = db.store.record_cart_done(&o).await.unwrap().unwrap();
    assert!(done.cart_done);
    assert_eq!(done, db.store.get(o.id).await.unwrap().unwrap());
    let cancelled = db
        .store
        .transition(o.id, OrderStatus::Paid, OrderStatus::Cancelled)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.stock, cancelled.cart_done),
        (OrderStatus::Cancelled, StockState::Confirmed, true)
    );
    assert!(
        db.store
            .record_stock(
                &o,
                &[StockState::Held, StockState::Confirmed],
                StockState::Released
            )
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        db.store.get(o.id).await.unwrap().unwrap().stock,
        StockState::Released
    );
}

async fn unsettled_orders_are_found_until_settled(backend: Backend) {
    let db = TestStore::new(backend).await;
    let fresh = order(Uuid::new_v4(), None);
    db.store.insert(&fresh).await.unwrap();
    let later = Utc::now() + chrono::Duration::seconds(1);
    assert!(
        db.store
            .unsettled(Utc::now() - chrono::Duration::seconds(60), None, 10)
            .await
            .unwrap()
            .is_empty(),
        "too recent"
    );
    assert_eq!(
        db.store
            .unsettled(later, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect::<Vec<_>>(),
        [fresh.id]
    );
    db.store
        .record_stock(&fresh, &[StockState::Held], StockState::Confirmed)
        .await
        .unwrap();
    assert_eq!(
        db.store.unsettled(later, None, 10).await.unwrap().len(),
        1,
        "the cart is still owed"
    );
    db.store.record_cart_done(&fresh).await.unwrap();
    assert!(
        db.store
            .unsettled(later, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A cancelled order owes its stock back until released.
    db.store
        .transition(fresh.id, OrderStatus::Pending, OrderStatus::Cancelled)
        .await
        .unwrap();
    assert_eq!(db.store.unsettled(later, None, 10).await.unwrap().len(), 1);
    db.store
        .record_stock(&fresh, &[StockState::Confirmed], StockState::Released)
        .await
        .unwrap();
    assert!(
        db.store
            .unsettled(later, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn orders_are_read_many_at_once_and_unsettled_per_user(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (a, b) = (order(alice, None), order(bob, None));
    db.store.insert(&a).await.unwrap();
    db.store.insert(&b).await.unwrap();
    let mut found: Vec<Uuid> = db
        .store
        .get_many(&[a.id, b.id, Uuid::new_v4()])
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    found.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(found, expected, "unknown ids are left out");
    assert!(db.store.get_many(&[]).await.unwrap().is_empty());
    let later = Utc::now() + chrono::Duration::seconds(1);
    let of_alice = db.store.unsettled(later, Some(alice), 10).await.unwrap();
    assert_eq!(of_alice.iter().map(|o| o.id).collect::<Vec<_>>(), [a.id]);
    assert_eq!(db.store.unsettled(later, None, 10).await.unwrap().len(), 2);
}

async fn one_checkout_claim_per_user_until_released_or_expired(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = Uuid::new_v4();
    let now = storage::mongo::millis(Utc::now());
    let lease = |key: Option<&str>, secs: i64| Lease {
        order_id: Uuid::now_v7(),
        key: key.map(str::to_owned),
        expires_at: now + chrono::Duration::seconds(secs),
    };
    let first = lease(Some("k1"), 30);
    assert_eq!(
        db.store.claim_checkout(user, &first, now).await.unwrap(),
        None
    );
    let second = lease(None, 30);
    assert_eq!(
        db.store.claim_checkout(user, &second, now).await.unwrap(),
        Some(first.clone()),
        "held: the holder is reported"
    );
    assert_eq!(
        db.store
            .claim_checkout(Uuid::new_v4(), &second, now)
            .await
            .unwrap(),
        None,
        "another user's checkout is their own"
    );
    // Releasing someone else's claim does nothing; the holder's own ends it.
    db.store
        .release_checkout(user, second.order_id)
        .await
        .unwrap();
    assert!(
        db.store
            .claim_checkout(user, &second, now)
            .await
            .unwrap()
            .is_some()
    );
    db.store
        .release_checkout(user, first.order_id)
        .await
        .unwrap();
    assert_eq!(
        db.store.claim_checkout(user, &second, now).await.unwrap(),
        None
    );
    // A claim whose process died expires, and the next checkout takes it over.
    let third = Lease {
        expires_at: now + chrono::Duration::seconds(90),
        ..lease(Some("k3"), 0)
    };
    let after_expiry = now + chrono::Duration::seconds(31);
    assert_eq!(
        db.store
            .claim_checkout(user, &third, after_expiry)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.store
            .claim_checkout(user, &second, after_expiry)
            .await
            .unwrap(),
        Some(third),
    );
    // Of many claims at once, one wins.
    let other = Uuid::new_v4();
    let db = std::sync::Arc::new(db);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (db, lease) = (db.clone(), lease(None, 30));
            tokio::spawn(async move { db.store.claim_checkout(other, &lease, now).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap().is_none());
    }
    assert_eq!(won, 1);
}
