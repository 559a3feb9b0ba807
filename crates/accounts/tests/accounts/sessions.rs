//! Sessions: signing out ends one, changing the password ends all but the one that changed it,
//! and every session expires.

use jinguo_accounts::testing::{PASSWORD, UserBuilder};
use jinguo_accounts::{AccountError, SessionKind};
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;

use crate::accounts;

async fn signing_out_and_changing_the_password_end_sessions(db: TestDb) {
    let (a, clock) = accounts(&db);
    let user = UserBuilder::consumer()
        .login("13600000000")
        .create(&a)
        .await;
    let (_, phone) = a
        .sign_in("13600000000", PASSWORD, "1", SessionKind::Web)
        .await
        .unwrap();
    let (_, laptop) = a
        .sign_in("13600000000", PASSWORD, "1", SessionKind::Web)
        .await
        .unwrap();
    a.sign_out(&phone).await.unwrap();
    assert!(a.session(&phone).await.unwrap().is_none());

    let (_, tablet) = a
        .sign_in("13600000000", PASSWORD, "1", SessionKind::Web)
        .await
        .unwrap();
    assert!(matches!(
        a.change_password(
            user.id,
            "not-the-password",
            "second-password",
            Some(&laptop)
        )
        .await,
        Err(AccountError::WrongCredentials)
    ));
    a.change_password(user.id, PASSWORD, "second-password", Some(&laptop))
        .await
        .unwrap();
    assert!(
        a.session(&laptop).await.unwrap().is_some(),
        "the session that changed it stays"
    );
    assert!(a.session(&tablet).await.unwrap().is_none(), "others end");
    assert!(
        a.sign_in("13600000000", "second-password", "1", SessionKind::Web)
            .await
            .is_ok()
    );

    // Sessions expire.
    let (guest, _) = a.guest_session().await.unwrap();
    clock.advance(31 * 24 * 3_600_000);
    assert!(a.session(&guest).await.unwrap().is_none());
}

db_test!(signing_out_and_changing_the_password_end_sessions);
