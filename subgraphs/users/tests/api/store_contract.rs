//! The contract every `UserStore` backend passes.

use auth::Role;
use storage::StoreError;
use users::domain::{Email, Name};
use users::store::NewUser;
use uuid::Uuid;

use testing::Backend;

use crate::helpers::TestStore;

on_each_backend!([sqlite, postgres] {
    insert_then_read_back_by_id_and_email,
    duplicate_emails_are_a_conflict,
    get_many_returns_only_existing_users,
    non_ascii_emails_are_found_whatever_their_case,
    login_addresses_are_remembered_then_forgotten,
    unknown_users_are_absent,
});

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        email: Email::parse(email).unwrap(),
        name: Name::parse("Ada").unwrap(),
        role: Role::Customer,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        created_at: chrono::Utc::now(),
    }
}

async fn insert_then_read_back_by_id_and_email(backend: Backend) {
    let db = TestStore::new(backend).await;
    let new = new_user("ada@example.com");
    let user = db.store.insert(&new).await.unwrap();
    assert_eq!(
        (user.id, user.email.as_str(), user.role),
        (new.id, "ada@example.com", Role::Customer)
    );
    assert_eq!(db.store.get(new.id).await.unwrap().unwrap(), user);
    let credentials = db
        .store
        .credentials(&Email::parse("ADA@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.user, user);
    assert_eq!(credentials.password_hash, new.password_hash);
}

async fn duplicate_emails_are_a_conflict(backend: Backend) {
    let db = TestStore::new(backend).await;
    db.store.insert(&new_user("ada@example.com")).await.unwrap();
    let twin = new_user("ada@example.com");
    assert!(matches!(
        db.store.insert(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        db.store.get(twin.id).await.unwrap().is_none(),
        "the twin was not stored"
    );
}

async fn get_many_returns_only_existing_users(backend: Backend) {
    let db = TestStore::new(backend).await;
    let a = db.store.insert(&new_user("a@example.com")).await.unwrap();
    let b = db.store.insert(&new_user("b@example.com")).await.unwrap();
    let mut ids: Vec<Uuid> = db
        .store
        .get_many(&[a.id, Uuid::new_v4(), b.id])
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    ids.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(db.store.get_many(&[]).await.unwrap().is_empty());
}

async fn non_ascii_emails_are_found_whatever_their_case(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = db
        .store
        .insert(&new_user("Élodie.Ünal@Exämple.com"))
        .await
        .unwrap();
    let found = db
        .store
        .credentials(&Email::parse("ÉLODIE.ÜNAL@EXÄMPLE.COM").unwrap())
        .await
        .unwrap()
        .expect("found by another case");
    assert_eq!(found.user.id, user.id);
    assert!(matches!(
        db.store.insert(&new_user("élodie.ünal@exämple.com")).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn unknown_users_are_absent(backend: Backend) {
    let db = TestStore::new(backend).await;
    assert!(db.store.get(Uuid::new_v4()).await.unwrap().is_none());
    assert!(
        db.store
            .credentials(&Email::parse("ghost@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    db.store.ping().await.unwrap();
}

async fn login_addresses_are_remembered_then_forgotten(backend: Backend) {
    let db = TestStore::new(backend).await;
    let user = db
        .store
        .insert(&new_user("known@example.com"))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let month_ago = now - chrono::Duration::days(30);
    assert!(
        !db.store
            .known_address(user.id, "192.0.2.1", month_ago)
            .await
            .unwrap()
    );
    db.store
        .remember_address(
            user.id,
            "192.0.2.1",
            now - chrono::Duration::days(40),
            month_ago,
        )
        .await
        .unwrap();
    assert!(
        !db.store
            .known_address(user.id, "192.0.2.1", month_ago)
            .await
            .unwrap(),
        "seen too long ago"
    );
    db.store
        .remember_address(user.id, "192.0.2.1", now, month_ago)
        .await
        .unwrap();
    db.store
        .remember_address(user.id, "2001:db8::", now, month_ago)
        .await
        .unwrap();
    assert!(
        db.store
            .known_address(user.id, "192.0.2.1", month_ago)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .known_address(user.id, "2001:db8::", month_ago)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .known_address(user.id, "192.0.2.2", month_ago)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .known_address(Uuid::nil(), "192.0.2.1", month_ago)
            .await
            .unwrap()
    );
}
