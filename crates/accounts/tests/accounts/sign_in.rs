//! Signing in: guessing is throttled per account and per address, also when the guesses arrive
//! all at once.

use jinguo_accounts::testing::{PASSWORD, UserBuilder};
use jinguo_accounts::{AccountError, AccountSettings, Accounts, HashCost, SessionKind};
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use std::time::Duration;

use crate::accounts;

async fn guessing_is_throttled_per_account_and_per_address(db: TestDb) {
    let (a, clock) = accounts(&db);
    let user = UserBuilder::consumer()
        .login("13800000000")
        .create(&a)
        .await;
    for _ in 0..5 {
        assert!(matches!(
            a.sign_in(
                "13800000000",
                "wrong-password",
                "10.0.0.9",
                SessionKind::Web
            )
            .await,
            Err(AccountError::WrongCredentials)
        ));
    }
    // Even the right password is refused now, from any address, until the window passes.
    match a
        .sign_in("13800000000", PASSWORD, "10.0.0.10", SessionKind::Web)
        .await
    {
        Err(AccountError::Throttled { retry_after_secs }) => {
            assert!(retry_after_secs > 0 && retry_after_secs <= 900)
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    clock.advance(15 * 60_000 + 1);
    let (signed_in, _) = a
        .sign_in("13800000000", PASSWORD, "10.0.0.10", SessionKind::Web)
        .await
        .unwrap();
    assert_eq!(signed_in.id, user.id);

    // One address trying many accounts is stopped too (limits as the settings give them).
    let settings = AccountSettings {
        password_hash: HashCost::Fast,
        login_limit_per_account: 100,
        login_limit_per_address: 3,
        login_window: Duration::from_secs(60),
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

db_test!(
    guessing_is_throttled_per_account_and_per_address,
    guesses_sent_at_once_cannot_pass_the_limit
);
