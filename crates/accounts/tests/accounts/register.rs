//! Registration: logins are normalised and unique, passwords are stored as argon2id hashes, and
//! only producer staff name a producer.

use jinguo_accounts::{AccountError, ProducerId, Role, SessionKind};
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;

use crate::accounts;

async fn register_then_sign_in_by_phone_or_email(db: TestDb) {
    let (a, _clock) = accounts(&db);
    let user = a
        .register("+86 138 0023 4567", "巴渝巧姐2026", Role::Consumer, None)
        .await
        .unwrap();
    assert_eq!(user.login, "13800234567");
    assert!(matches!(
        a.register("13800234567", "another-password", Role::Consumer, None)
            .await,
        Err(AccountError::Taken)
    ));
    let (signed_in, token) = a
        .sign_in(
            "138-0023-4567",
            "巴渝巧姐2026",
            "10.0.0.1",
            SessionKind::Web,
        )
        .await
        .unwrap();
    assert_eq!(signed_in.id, user.id);
    let session = a.session(&token).await.unwrap().unwrap();
    assert_eq!(session.user.unwrap().id, user.id);

    let email = a
        .register("Li.Hua@Example.cn", "a-long-password", Role::Staff, None)
        .await
        .unwrap();
    assert_eq!(email.login, "li.hua@example.cn");
    assert!(
        a.sign_in(
            "li.hua@example.cn",
            "a-long-password",
            "10.0.0.1",
            SessionKind::Api
        )
        .await
        .is_ok()
    );

    // The stored hash is argon2id, never the password (no domain function shows the hash).
    let stored: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("巴渝巧姐2026"));
}

async fn producer_staff_need_a_producer(db: TestDb) {
    let (a, _clock) = accounts(&db);
    assert!(matches!(
        a.register("13900000001", "password-123", Role::Producer, None)
            .await,
        Err(AccountError::ProducerMismatch)
    ));
    assert!(matches!(
        a.register(
            "13900000002",
            "password-123",
            Role::Consumer,
            Some(ProducerId(1))
        )
        .await,
        Err(AccountError::ProducerMismatch)
    ));
    assert!(matches!(
        a.register("not a login", "password-123", Role::Consumer, None)
            .await,
        Err(AccountError::BadLogin(_))
    ));
    assert!(matches!(
        a.register("13900000003", "short", Role::Consumer, None)
            .await,
        Err(AccountError::BadPassword { .. })
    ));
}

db_test!(
    register_then_sign_in_by_phone_or_email,
    producer_staff_need_a_producer
);
