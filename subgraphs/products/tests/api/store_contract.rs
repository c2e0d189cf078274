//! The contract every `ProductStore` backend passes.

use products::domain::{ProductQuery, ReservationRequest, ReservationStatus, Sort, StockDelta};
use products::store::{ReserveOutcome, StockChange};
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestStore;

const HOLD: std::time::Duration = std::time::Duration::from_secs(60);

on_each_backend!([sqlite, postgres] {
    insert_then_get_returns_what_was_stored,
    unknown_ids_are_absent,
    get_many_returns_only_existing_products,
    list_filters_counts_and_pages,
    search_treats_wildcards_literally,
    search_filter_and_sort_fold_case_beyond_ascii,
    sorts_are_total_and_pages_never_overlap,
    stock_adjustments_are_conditional,
    reservation_takes_everything_or_nothing,
    reservation_is_idempotent_by_order_id,
    reservation_refuses_unknown_products,
    release_restocks_exactly_once,
    confirmed_stock_is_sold_until_released,
    expired_holds_return_to_stock_and_cannot_be_confirmed,
    confirm_and_expiry_racing_never_count_stock_twice,
});

async fn insert_then_get_returns_what_was_stored(backend: Backend) {
    let db = TestStore::new(backend).await;
    let created = db.product("Laptop", 99_999, 50).await;
    let fetched = db.store.get(created.id).await.unwrap().unwrap();
    assert_eq!(fetched, created);
    assert_eq!(
        (fetched.name.as_str(), fetched.price_minor, fetched.stock),
        ("Laptop", 99_999, 50)
    );
    assert!(fetched.active);
}

async fn unknown_ids_are_absent(backend: Backend) {
    let db = TestStore::new(backend).await;
    assert!(db.store.get(Uuid::new_v4()).await.unwrap().is_none());
    assert!(
        db.store
            .reservation(Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.store.release(Uuid::new_v4()).await.unwrap().is_none());
}

async fn get_many_returns_only_existing_products(backend: Backend) {
    let db = TestStore::new(backend).await;
    let a = db.product("A", 100, 1).await;
    let b = db.product("B", 200, 2).await;
    let mut found: Vec<Uuid> = db
        .store
        .get_many(&[b.id, Uuid::new_v4(), a.id])
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    found.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(found, expected);
    assert!(db.store.get_many(&[]).await.unwrap().is_empty());
}

async fn list_filters_counts_and_pages(backend: Backend) {
    let db = TestStore::new(backend).await;
    for i in 0..5 {
        db.product_in(&format!("Phone {i}"), 100 + i, 1, "Electronics")
            .await;
    }
    db.product_in("Coffee", 500, 1, "Grocery").await;
    let page = web::pagination::Page::new(Some(2), Some(1)).unwrap();
    let query = ProductQuery::new(page, Some("electronics"), None, Sort::PriceAsc).unwrap();
    let listing = db.store.list(&query).await.unwrap();
    assert_eq!(listing.total, 5);
    let names: Vec<&str> = listing.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Phone 1", "Phone 2"]);
    let all = db.store.list(&ProductQuery::default()).await.unwrap();
    assert_eq!(all.total, 6);
}

async fn search_treats_wildcards_literally(backend: Backend) {
    let db = TestStore::new(backend).await;
    db.product("100% Cotton Shirt", 1_000, 1).await;
    db.product("Wool_Sweater", 2_000, 1).await;
    db.product("Plain Shirt", 1_500, 1).await;
    let search = |term: &str| {
        ProductQuery::new(Default::default(), None, Some(term), Sort::NameAsc).unwrap()
    };
    let names = |listing: products::store::Listing| {
        listing
            .items
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(db.store.list(&search("%")).await.unwrap()),
        ["100% Cotton Shirt"]
    );
    assert_eq!(
        names(db.store.list(&search("_")).await.unwrap()),
        ["Wool_Sweater"]
    );
    assert_eq!(
        names(db.store.list(&search("SHIRT")).await.unwrap()),
        ["100% Cotton Shirt", "Plain Shirt"]
    );
}

/// One case-folding rule on every backend: SQLite's own lower() folds ASCII only, so without it
/// "éclair" found "Éclair Pan" on PostgreSQL and not on SQLite.
async fn search_filter_and_sort_fold_case_beyond_ascii(backend: Backend) {
    let db = TestStore::new(backend).await;
    db.product_in("Éclair Pan", 1_000, 1, "Pâtisserie").await;
    db.product_in("Zebra Cake", 1_000, 1, "PÂTISSERIE").await;
    db.product_in("ábaco", 1_000, 1, "Toys").await;
    db.product_in("Öl", 1_000, 1, "Grocery").await;
    let names = |query: ProductQuery| {
        let store = db.store.clone();
        async move {
            store
                .list(&query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        }
    };
    for term in ["éclair", "ÉCLAIR", "E\u{301}clair", "eclair"] {
        let query = ProductQuery::new(Default::default(), None, Some(term), Sort::NameAsc).unwrap();
        assert_eq!(names(query).await, ["Éclair Pan"], "{term}");
    }
    let pastry =
        ProductQuery::new(Default::default(), Some("pâtisserie"), None, Sort::NameAsc).unwrap();
    assert_eq!(names(pastry).await, ["Éclair Pan", "Zebra Cake"]);
    // Sorted by the folded name: "ábaco" with the a's, "Öl" with the o's, on both backends.
    let all = ProductQuery::new(Default::default(), None, None, Sort::NameAsc).unwrap();
    assert_eq!(
        names(all).await,
        ["ábaco", "Éclair Pan", "Öl", "Zebra Cake"]
    );
    let all = ProductQuery::new(Default::default(), None, None, Sort::NameDesc).unwrap();
    assert_eq!(
        names(all).await,
        ["Zebra Cake", "Öl", "Éclair Pan", "ábaco"]
    );
}

async fn sorts_are_total_and_pages_never_overlap(backend: Backend) {
    let db = TestStore::new(backend).await;
    for _ in 0..7 {
        db.product("Same Name", 100, 1).await;
    }
    let mut seen = Vec::new();
    for offset in (0..7).step_by(3) {
        let page = web::pagination::Page::new(Some(3), Some(offset)).unwrap();
        let query = ProductQuery::new(page, None, None, Sort::NameAsc).unwrap();
        seen.extend(
            db.store
                .list(&query)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|p| p.id),
        );
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7));
}

async fn stock_adjustments_are_conditional(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Lamp", 3_499, 5).await;
    let delta = |d| StockDelta::parse(d).unwrap();
    match db.store.adjust_stock(p.id, delta(-3)).await.unwrap() {
        StockChange::Updated(updated) => assert_eq!(updated.stock, 2),
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(
        db.store.adjust_stock(p.id, delta(-3)).await.unwrap(),
        StockChange::Insufficient { available: 2 }
    );
    assert_eq!(
        db.stock_of(p.id).await,
        2,
        "a refused decrement writes nothing"
    );
    assert_eq!(
        db.store
            .adjust_stock(Uuid::new_v4(), delta(1))
            .await
            .unwrap(),
        StockChange::NotFound
    );
    let near_max = db.product("Bulk", 1, products::domain::MAX_STOCK - 1).await;
    assert_eq!(
        db.store.adjust_stock(near_max.id, delta(2)).await.unwrap(),
        StockChange::TooMuch {
            available: products::domain::MAX_STOCK - 1
        }
    );
}

async fn reservation_takes_everything_or_nothing(backend: Backend) {
    let db = TestStore::new(backend).await;
    let plenty = db.product("Plenty", 1_000, 10).await;
    let scarce = db.product("Scarce", 2_500, 1).await;
    let order = Uuid::new_v4();
    let request =
        ReservationRequest::parse(order, [(plenty.id, 3), (scarce.id, 2)], None, HOLD).unwrap();
    let outcome = db.store.reserve(&request).await.unwrap();
    assert_eq!(
        outcome,
        ReserveOutcome::Insufficient {
            product_id: scarce.id,
            requested: 2,
            available: 1
        }
    );
    assert_eq!(
        db.stock_of(plenty.id).await,
        10,
        "the first line's stock was given back"
    );
    assert_eq!(db.stock_of(scarce.id).await, 1);
    assert!(
        db.store.reservation(order).await.unwrap().is_none(),
        "no reservation row was left behind"
    );

    let request =
        ReservationRequest::parse(order, [(plenty.id, 3), (scarce.id, 1)], None, HOLD).unwrap();
    let ReserveOutcome::Reserved(reservation) = db.store.reserve(&request).await.unwrap() else {
        panic!("expected a reservation")
    };
    assert_eq!(reservation.status, ReservationStatus::Held);
    assert_eq!(
        (db.stock_of(plenty.id).await, db.stock_of(scarce.id).await),
        (7, 0)
    );
    let stored = db.store.reservation(order).await.unwrap().unwrap();
    let mut prices: Vec<(Uuid, i32, i64)> = stored
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity, l.unit_price_minor))
        .collect();
    prices.sort();
    let mut expected = vec![(plenty.id, 3, 1_000), (scarce.id, 1, 2_500)];
    expected.sort();
    assert_eq!(
        prices, expected,
        "lines are priced from the catalogue at reservation time"
    );
}

async fn reservation_is_idempotent_by_order_id(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Mouse", 2_499, 10).await;
    let order = Uuid::new_v4();
    let request = ReservationRequest::parse(order, [(p.id, 4)], None, HOLD).unwrap();
    assert!(matches!(
        db.store.reserve(&request).await.unwrap(),
        ReserveOutcome::Reserved(_)
    ));
    assert!(matches!(
        db.store.reserve(&request).await.unwrap(),
        ReserveOutcome::Replayed(_)
    ));
    assert_eq!(db.stock_of(p.id).await, 6, "a replay takes no more stock");
    let other = ReservationRequest::parse(order, [(p.id, 5)], None, HOLD).unwrap();
    assert_eq!(
        db.store.reserve(&other).await.unwrap(),
        ReserveOutcome::Mismatch
    );
    assert_eq!(db.stock_of(p.id).await, 6);
}

async fn reservation_refuses_unknown_products(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Real", 100, 5).await;
    let ghost = Uuid::new_v4();
    let request =
        ReservationRequest::parse(Uuid::new_v4(), [(p.id, 1), (ghost, 1)], None, HOLD).unwrap();
    assert_eq!(
        db.store.reserve(&request).await.unwrap(),
        ReserveOutcome::Unavailable { product_id: ghost }
    );
    assert_eq!(db.stock_of(p.id).await, 5);
}

async fn release_restocks_exactly_once(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Shoes", 12_000, 5).await;
    let order = Uuid::new_v4();
    db.store
        .reserve(&ReservationRequest::parse(order, [(p.id, 2)], None, HOLD).unwrap())
        .await
        .unwrap();
    assert_eq!(db.stock_of(p.id).await, 3);
    let released = db.store.release(order).await.unwrap().unwrap();
    assert_eq!(released.status, ReservationStatus::Released);
    assert_eq!(db.stock_of(p.id).await, 5);
    db.store.release(order).await.unwrap().unwrap();
    assert_eq!(
        db.stock_of(p.id).await,
        5,
        "a second release restocks nothing"
    );
    // A released order id holds nothing: reserving it again, with the same lines or others, is
    // never reported as held, and takes no stock.
    for lines in [[(p.id, 2)], [(p.id, 1)]] {
        let again = ReservationRequest::parse(order, lines, None, HOLD).unwrap();
        assert_eq!(
            db.store.reserve(&again).await.unwrap(),
            ReserveOutcome::Released
        );
    }
    assert_eq!(db.stock_of(p.id).await, 5);
}

/// on hand + held + sold, which must equal the initial stock plus adjustments at every quiet
/// moment.
async fn accounted(db: &TestStore, id: Uuid) -> (i64, i64, i64) {
    let ledger = db.store.ledger(id).await.unwrap().unwrap();
    (ledger.on_hand, ledger.held, ledger.sold)
}

async fn confirmed_stock_is_sold_until_released(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Lamp", 2_000, 10).await;
    let order = Uuid::new_v4();
    let request = ReservationRequest::parse(order, [(p.id, 3)], None, HOLD).unwrap();
    db.store.reserve(&request).await.unwrap();
    assert_eq!(accounted(&db, p.id).await, (7, 3, 0));
    let confirmed = db.store.confirm(order).await.unwrap().unwrap();
    assert_eq!(confirmed.status, ReservationStatus::Confirmed);
    assert_eq!(accounted(&db, p.id).await, (7, 0, 3));
    // Confirming again changes nothing; a confirmed reservation never expires.
    db.store.confirm(order).await.unwrap();
    let much_later = chrono::Utc::now() + chrono::Duration::hours(2);
    assert!(
        !db.store
            .release_if_expired(order, much_later)
            .await
            .unwrap()
    );
    assert!(db.store.expired(much_later, 10).await.unwrap().is_empty());
    assert_eq!(accounted(&db, p.id).await, (7, 0, 3));
    // Cancelling the order releases it: back on the shelf, once.
    for _ in 0..2 {
        let released = db.store.release(order).await.unwrap().unwrap();
        assert_eq!(released.status, ReservationStatus::Released);
    }
    assert_eq!(accounted(&db, p.id).await, (10, 0, 0));
    assert!(db.store.ledger(Uuid::new_v4()).await.unwrap().is_none());
}

async fn expired_holds_return_to_stock_and_cannot_be_confirmed(backend: Backend) {
    let db = TestStore::new(backend).await;
    let p = db.product("Kettle", 3_000, 5).await;
    let order = Uuid::new_v4();
    let short = std::time::Duration::from_secs(1);
    let request = ReservationRequest::parse(order, [(p.id, 2)], Some(1), HOLD).unwrap();
    assert_eq!(request.hold, short);
    db.store.reserve(&request).await.unwrap();
    let now = chrono::Utc::now();
    assert!(
        db.store.expired(now, 10).await.unwrap().is_empty(),
        "not yet"
    );
    assert!(!db.store.release_if_expired(order, now).await.unwrap());
    let later = now + chrono::Duration::seconds(2);
    assert_eq!(db.store.expired(later, 10).await.unwrap(), [order]);
    assert!(db.store.release_if_expired(order, later).await.unwrap());
    assert!(
        !db.store.release_if_expired(order, later).await.unwrap(),
        "once"
    );
    assert_eq!(accounted(&db, p.id).await, (5, 0, 0));
    let late = db.store.confirm(order).await.unwrap().unwrap();
    assert_eq!(
        late.status,
        ReservationStatus::Released,
        "too late to confirm"
    );
    assert_eq!(accounted(&db, p.id).await, (5, 0, 0));
}

async fn confirm_and_expiry_racing_never_count_stock_twice(backend: Backend) {
    let db = std::sync::Arc::new(TestStore::new(backend).await);
    let p = db.product("Contested", 1_000, 100).await;
    let mut orders = Vec::new();
    for _ in 0..20 {
        let order = Uuid::new_v4();
        let request = ReservationRequest::parse(order, [(p.id, 1)], Some(1), HOLD).unwrap();
        db.store.reserve(&request).await.unwrap();
        orders.push(order);
    }
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    let mut racers = Vec::new();
    for &order in &orders {
        let (a, b) = (db.clone(), db.clone());
        racers.push(tokio::spawn(async move {
            a.store.confirm(order).await.unwrap()
        }));
        racers.push(tokio::spawn(async move {
            b.store.release_if_expired(order, later).await.unwrap();
            None
        }));
    }
    for racer in racers {
        racer.await.unwrap();
    }
    let (mut sold, mut released) = (0, 0);
    for order in orders {
        match db.store.reservation(order).await.unwrap().unwrap().status {
            ReservationStatus::Confirmed => sold += 1,
            ReservationStatus::Released => released += 1,
            ReservationStatus::Held => panic!("neither won"),
        }
    }
    assert_eq!(sold + released, 20);
    assert_eq!(accounted(&db, p.id).await, (100 - sold, 0, sold));
}
