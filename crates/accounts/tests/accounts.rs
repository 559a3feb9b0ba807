//! Accounts on both databases: registration, sign-in and throttling, sessions, password changes.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_accounts::{AccountError, Accounts, HashCost, Limits, Role, SessionKind};
use jinguo_common::{Clock, db_test};

fn accounts(db: &jinguo_common::testing::TestDb, clock: &Clock) -> Accounts {
    Accounts::new(
        db.db.clone(),
        clock.clone(),
        HashCost::Fast,
        Limits::default(),
    )
}

db_test!(async fn register_then_sign_in_by_phone_or_email(db) {
    let clock = Clock::manual(1_795_924_800_000);
    let a = accounts(&db, &clock);
    let user = a.register("+86 138 0023 4567", "巴渝巧姐2026", Role::Consumer, None).await.unwrap();
    assert_eq!(user.login, "13800234567");
    assert!(matches!(
        a.register("13800234567", "another-password", Role::Consumer, None).await,
        Err(AccountError::Taken)
    ));
    let (signed_in, token) = a.sign_in("138-0023-4567", "巴渝巧姐2026", "10.0.0.1", SessionKind::Web).await.unwrap();
    assert_eq!(signed_in.id, user.id);
    let session = a.session(&token).await.unwrap().unwrap();
    assert_eq!(session.user.unwrap().id, user.id);

    let email = a.register("Li.Hua@Example.cn", "a-long-password", Role::Staff, None).await.unwrap();
    assert_eq!(email.login, "li.hua@example.cn");
    assert!(a.sign_in("li.hua@example.cn", "a-long-password", "10.0.0.1", SessionKind::Api).await.is_ok());

    // The stored hash is argon2id, never the password.
    let stored: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id.0)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("巴渝巧姐2026"));
});

db_test!(async fn producer_staff_need_a_producer(db) {
    let clock = Clock::manual(1_795_924_800_000);
    let a = accounts(&db, &clock);
    assert!(matches!(
        a.register("13900000001", "password-123", Role::Producer, None).await,
        Err(AccountError::ProducerMismatch)
    ));
    assert!(matches!(
        a.register("13900000002", "password-123", Role::Consumer, Some(1)).await,
        Err(AccountError::ProducerMismatch)
    ));
    assert!(matches!(a.register("not a login", "password-123", Role::Consumer, None).await, Err(AccountError::BadLogin(_))));
    assert!(matches!(a.register("13900000003", "short", Role::Consumer, None).await, Err(AccountError::BadPassword { .. })));
});

db_test!(async fn guessing_is_throttled_per_account_and_per_address(db) {
    let clock = Clock::manual(1_795_924_800_000);
    let a = accounts(&db, &clock);
    a.register("13800000000", "right-password", Role::Consumer, None).await.unwrap();
    for _ in 0..5 {
        assert!(matches!(
            a.sign_in("13800000000", "wrong-password", "10.0.0.9", SessionKind::Web).await,
            Err(AccountError::WrongCredentials)
        ));
    }
    // Even the right password is refused now, from any address, until the window passes.
    match a.sign_in("13800000000", "right-password", "10.0.0.10", SessionKind::Web).await {
        Err(AccountError::Throttled { retry_after_secs }) => assert!(retry_after_secs > 0 && retry_after_secs <= 900),
        other => panic!("expected throttling, got {other:?}"),
    }
    clock.advance(15 * 60_000 + 1);
    assert!(a.sign_in("13800000000", "right-password", "10.0.0.10", SessionKind::Web).await.is_ok());

    // One address trying many accounts is stopped too.
    let strict = Accounts::new(db.db.clone(), clock.clone(), HashCost::Fast, Limits { per_login: 100, per_address: 3, window_ms: 60_000 });
    for i in 0..3 {
        let _ = strict.sign_in(&format!("1370000000{i}"), "whatever-pw", "10.9.9.9", SessionKind::Web).await;
    }
    assert!(matches!(
        strict.sign_in("13800000000", "right-password", "10.9.9.9", SessionKind::Web).await,
        Err(AccountError::Throttled { .. })
    ));
    assert!(strict.sign_in("13800000000", "right-password", "10.9.9.8", SessionKind::Web).await.is_ok());
});

db_test!(async fn signing_out_and_changing_the_password_end_sessions(db) {
    let clock = Clock::manual(1_795_924_800_000);
    let a = accounts(&db, &clock);
    let user = a.register("13600000000", "first-password", Role::Consumer, None).await.unwrap();
    let (_, phone) = a.sign_in("13600000000", "first-password", "1", SessionKind::Web).await.unwrap();
    let (_, laptop) = a.sign_in("13600000000", "first-password", "1", SessionKind::Web).await.unwrap();
    a.sign_out(&phone).await.unwrap();
    assert!(a.session(&phone).await.unwrap().is_none());

    let (_, tablet) = a.sign_in("13600000000", "first-password", "1", SessionKind::Web).await.unwrap();
    assert!(matches!(
        a.change_password(user.id, "not-the-password", "second-password", Some(&laptop)).await,
        Err(AccountError::WrongCredentials)
    ));
    a.change_password(user.id, "first-password", "second-password", Some(&laptop)).await.unwrap();
    assert!(a.session(&laptop).await.unwrap().is_some(), "the session that changed it stays");
    assert!(a.session(&tablet).await.unwrap().is_none(), "others end");
    assert!(a.sign_in("13600000000", "second-password", "1", SessionKind::Web).await.is_ok());

    // Sessions expire.
    let (guest, _) = a.guest_session().await.unwrap();
    clock.advance(31 * 24 * 3_600_000);
    assert!(a.session(&guest).await.unwrap().is_none());
});

db_test!(async fn guesses_sent_at_once_cannot_pass_the_limit(db) {
    let clock = Clock::manual(1_795_924_800_000);
    let a = accounts(&db, &clock);
    a.register("13900000000", "right-password", Role::Consumer, None).await.unwrap();
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move { a.sign_in("13900000000", &format!("guess-{i:04}"), "10.1.1.1", SessionKind::Web).await })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        match g.await.unwrap() {
            Err(AccountError::WrongCredentials) => checked += 1,
            Err(AccountError::Throttled { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(checked <= 5, "{checked} passwords were checked; the limit is 5");
});
