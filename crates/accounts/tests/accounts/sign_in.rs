//! Signing in: a guesser is stopped by address, for the account it guesses and over all
//! accounts, also when the guesses arrive all at once; the owner signing in from elsewhere is
//! not locked out; an account guessed at from many addresses answers slowly; registrations are
//! limited per address.

use jinguo_accounts::testing::{PASSWORD, UserBuilder};
use jinguo_accounts::{AccountError, AccountSettings, Accounts, HashCost, Limits, SessionKind};
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use std::time::{Duration, Instant};

use crate::accounts;

async fn a_guesser_is_stopped_and_the_owner_still_signs_in(db: TestDb) {
    let (a, clock) = accounts(&db);
    let user = UserBuilder::consumer()
        .login("13800000000")
        .create(&a)
        .await;
    let guess = |address: &'static str, password: &'static str| {
        let a = a.clone();
        async move {
            a.sign_in("13800000000", password, address, SessionKind::Web)
                .await
        }
    };
    for _ in 0..5 {
        assert!(matches!(
            guess("10.0.0.9", "wrong-password").await,
            Err(AccountError::WrongCredentials)
        ));
    }
    // The guessing address is refused now, even with the right password, until the window passes.
    match guess("10.0.0.9", PASSWORD).await {
        Err(AccountError::Throttled { retry_after_secs }) => {
            assert!(retry_after_secs > 0 && retry_after_secs <= 900)
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    // The owner, elsewhere, signs in at once.
    let (signed_in, _) = guess("10.0.0.10", PASSWORD).await.unwrap();
    assert_eq!(signed_in.id, user.id);
    // And the guesser is still refused after the owner's sign-in.
    assert!(matches!(
        guess("10.0.0.9", "another-guess").await,
        Err(AccountError::Throttled { .. })
    ));
    clock.advance(15 * 60_000 + 1);
    assert_eq!(guess("10.0.0.9", PASSWORD).await.unwrap().0.id, user.id);

    // One address trying many accounts is stopped too (limits as the settings give them).
    let settings = AccountSettings {
        password_hash: HashCost::Fast,
        login_limit_per_address: 3,
        ..AccountSettings::default()
    };
    let strict = Accounts::from_settings(db.db.clone(), clock.clone(), &settings);
    for i in 0..3 {
        let _ = strict
            .sign_in(
                &format!("1370000000{i}"),
                "whatever-pw",
                "10.9.9.9",
                SessionKind::Web,
            )
            .await;
    }
    assert!(matches!(
        strict
            .sign_in("13800000000", PASSWORD, "10.9.9.9", SessionKind::Web)
            .await,
        Err(AccountError::Throttled { .. })
    ));
    assert!(
        strict
            .sign_in("13800000000", PASSWORD, "10.9.9.8", SessionKind::Web)
            .await
            .is_ok()
    );
}

async fn guesses_sent_at_once_cannot_pass_the_limit(db: TestDb) {
    let (a, _clock) = accounts(&db);
    UserBuilder::consumer()
        .login("13900000000")
        .create(&a)
        .await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                a.sign_in(
                    "13900000000",
                    &format!("guess-{i:04}"),
                    "10.1.1.1",
                    SessionKind::Web,
                )
                .await
            })
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
    assert!(
        checked <= 5,
        "{checked} passwords were checked; the limit is 5"
    );
}

async fn an_account_guessed_from_many_addresses_slows_down(db: TestDb) {
    let clock = jinguo_common::Clock::manual(crate::NOW);
    let limits = Limits {
        slowdown_after: 3,
        ..Limits::default()
    };
    let a = Accounts::new(db.db.clone(), clock, HashCost::Fast, limits);
    let user = UserBuilder::consumer()
        .login("13700000001")
        .create(&a)
        .await;
    for i in 0..3 {
        let answer = a
            .sign_in(
                "13700000001",
                "wrong-password",
                &format!("10.2.0.{i}"),
                SessionKind::Web,
            )
            .await;
        assert!(matches!(answer, Err(AccountError::WrongCredentials)));
    }
    // Each address is far from its own limit, but the account has had three failures: the
    // owner waits a second, and gets in.
    let started = Instant::now();
    let (signed_in, _) = a
        .sign_in("13700000001", PASSWORD, "10.3.0.1", SessionKind::Web)
        .await
        .unwrap();
    assert_eq!(signed_in.id, user.id);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(limits.delay_ms(2), 0);
    assert_eq!(limits.delay_ms(3), 1000);
    assert_eq!(limits.delay_ms(5), 4000);
    assert_eq!(limits.delay_ms(40), 16_000, "at most 16 s");
}

async fn registrations_are_limited_per_address(db: TestDb) {
    let (a, clock) = accounts(&db);
    UserBuilder::consumer()
        .login("taken@example.cn")
        .create(&a)
        .await;
    // Probing whether logins exist counts like registering.
    for _ in 0..9 {
        assert!(matches!(
            a.register_from("10.4.0.1", "taken@example.cn", PASSWORD)
                .await,
            Err(AccountError::Taken)
        ));
    }
    a.register_from("10.4.0.1", "new1@example.cn", PASSWORD)
        .await
        .unwrap();
    match a
        .register_from("10.4.0.1", "new2@example.cn", PASSWORD)
        .await
    {
        Err(AccountError::Throttled { retry_after_secs }) => assert!(retry_after_secs > 0),
        other => panic!("expected throttling, got {other:?}"),
    }
    // Another address is not held up, and the window passes.
    a.register_from("10.4.0.2", "new2@example.cn", PASSWORD)
        .await
        .unwrap();
    clock.advance(15 * 60_000 + 1);
    a.register_from("10.4.0.1", "new3@example.cn", PASSWORD)
        .await
        .unwrap();
}

db_test!(
    a_guesser_is_stopped_and_the_owner_still_signs_in,
    guesses_sent_at_once_cannot_pass_the_limit,
    an_account_guessed_from_many_addresses_slows_down,
    registrations_are_limited_per_address
);
