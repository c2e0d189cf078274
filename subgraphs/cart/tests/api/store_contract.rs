//! The contract every `CartStore` backend passes.

use std::sync::Arc;

use cart::domain::{MAX_LINES, MAX_QUANTITY, Quantity};
use cart::store::AddOutcome;
use testing::Backend;
use uuid::Uuid;

use crate::helpers::TestStore;

on_each_backend!([sqlite, mongodb] {
    an_unknown_users_cart_is_empty,
    adding_merges_lines_and_bumps_the_version,
    lines_and_carts_are_bounded,
    lines_change_and_go,
    clearing_empties_and_an_order_is_taken_out_once,
    concurrent_adds_lose_nothing,
});

fn q(n: i64) -> Quantity {
    Quantity::parse(n).unwrap()
}

async fn an_unknown_users_cart_is_empty(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = Uuid::new_v4();
    let cart = db.store.get(user).await.unwrap();
    assert_eq!((cart.user_id, cart.items.len(), cart.version), (user, 0, 0));
    db.store.ping().await.unwrap();
}

async fn adding_merges_lines_and_bumps_the_version(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (user, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let AddOutcome::Added(cart) = db.store.add(user, a, q(2)).await.unwrap() else {
        panic!("added")
    };
    assert_eq!(cart.quantity_of(a), 2);
    let first_version = cart.version;
    db.store.add(user, b, q(1)).await.unwrap();
    let AddOutcome::Added(cart) = db.store.add(user, a, q(3)).await.unwrap() else {
        panic!("added")
    };
    assert_eq!((cart.quantity_of(a), cart.quantity_of(b)), (5, 1));
    assert_eq!(cart.items.len(), 2, "the same product stays one line");
    assert_eq!(
        cart.items[0].product_id, a,
        "lines keep the order they were added in"
    );
    assert!(cart.version > first_version);
    assert_eq!(
        db.store.get(user).await.unwrap(),
        cart,
        "what is stored is what was returned"
    );
    // Other users' carts are theirs.
    assert!(db.store.get(Uuid::new_v4()).await.unwrap().items.is_empty());
}

async fn lines_and_carts_are_bounded(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (user, a) = (Uuid::new_v4(), Uuid::new_v4());
    db.store.add(user, a, q(90)).await.unwrap();
    assert_eq!(
        db.store.add(user, a, q(10)).await.unwrap(),
        AddOutcome::LineFull { current: 90 }
    );
    assert!(matches!(
        db.store
            .add(user, a, q(i64::from(MAX_QUANTITY) - 90))
            .await
            .unwrap(),
        AddOutcome::Added(_)
    ));
    for _ in 1..MAX_LINES {
        db.store.add(user, Uuid::new_v4(), q(1)).await.unwrap();
    }
    assert_eq!(
        db.store.add(user, Uuid::new_v4(), q(1)).await.unwrap(),
        AddOutcome::CartFull
    );
    let cart = db.store.get(user).await.unwrap();
    assert_eq!(cart.items.len(), MAX_LINES);
    assert_eq!(cart.quantity_of(a), MAX_QUANTITY, "refusals wrote nothing");
}

async fn lines_change_and_go(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (user, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assert!(
        db.store
            .set_quantity(user, a, q(3))
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.store.remove(user, a).await.unwrap().is_none());
    db.store.add(user, a, q(1)).await.unwrap();
    db.store.add(user, b, q(1)).await.unwrap();
    let cart = db.store.set_quantity(user, a, q(7)).await.unwrap().unwrap();
    assert_eq!(cart.quantity_of(a), 7);
    let cart = db.store.remove(user, a).await.unwrap().unwrap();
    assert_eq!((cart.quantity_of(a), cart.quantity_of(b)), (0, 1));
    assert!(
        db.store
            .set_quantity(user, a, q(1))
            .await
            .unwrap()
            .is_none()
    );
}

async fn clearing_empties_and_an_order_is_taken_out_once(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = Uuid::new_v4();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    db.store.clear(user).await.unwrap();
    assert!(
        db.store.get(user).await.unwrap().items.is_empty(),
        "no cart is an empty one"
    );
    db.store
        .take_ordered(user, Uuid::new_v4(), 0, &[(a, 1)])
        .await
        .unwrap();
    // Unchanged since the order read it: emptied.
    db.store.add(user, a, q(2)).await.unwrap();
    let read = db.store.get(user).await.unwrap();
    let first = Uuid::new_v4();
    db.store
        .take_ordered(user, first, read.version, &[(a, 2)])
        .await
        .unwrap();
    let taken = db.store.get(user).await.unwrap();
    assert!(taken.items.is_empty());
    assert!(taken.version > read.version);
    // Changed since: only what the order bought goes.
    db.store.add(user, a, q(3)).await.unwrap();
    let read = db.store.get(user).await.unwrap();
    db.store.add(user, b, q(1)).await.unwrap();
    db.store.add(user, a, q(1)).await.unwrap();
    let second = Uuid::new_v4();
    db.store
        .take_ordered(user, second, read.version, &[(a, 3)])
        .await
        .unwrap();
    let cart = db.store.get(user).await.unwrap();
    assert_eq!((cart.quantity_of(a), cart.quantity_of(b)), (1, 1));
    // Once per order: a retried settlement takes nothing more.
    db.store
        .take_ordered(user, second, read.version, &[(a, 3)])
        .await
        .unwrap();
    let again = db.store.get(user).await.unwrap();
    assert_eq!((again.quantity_of(a), again.quantity_of(b)), (1, 1));
    assert_eq!(again.version, cart.version, "nothing written");
    // Nor does a request for an earlier order that arrives late (a retry stuck in the network),
    // after a later order was taken out: it would take what was added since.
    let before_late = first;
    db.store
        .take_ordered(user, before_late, 1, &[(a, 2)])
        .await
        .unwrap();
    assert_eq!(
        db.store.get(user).await.unwrap(),
        again,
        "the late repeat changed nothing"
    );
    db.store.clear(user).await.unwrap();
    assert!(db.store.get(user).await.unwrap().items.is_empty());
}

async fn concurrent_adds_lose_nothing(backend: Backend) {
    let db = Arc::new(TestStore::new(backend).await);
    let user = Uuid::new_v4();
    let hot = Uuid::new_v4();
    let others: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        let product = if i % 2 == 0 { hot } else { others[i / 2] };
        tasks.push(tokio::spawn(async move {
            db.store.add(user, product, q(1)).await
        }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap().unwrap(), AddOutcome::Added(_)));
    }
    let cart = db.store.get(user).await.unwrap();
    assert_eq!(cart.quantity_of(hot), 10);
    assert_eq!(cart.items.len(), 11);
    assert_eq!(cart.items.iter().map(|i| i.quantity).sum::<i32>(), 20);
}
