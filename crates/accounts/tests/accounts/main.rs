//! Accounts on both databases: registration, sign-in and throttling, sessions, password changes.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod register;
mod sessions;
mod sign_in;

use jinguo_accounts::{Accounts, HashCost, Limits};
use jinguo_common::Clock;
use jinguo_common::testing::TestDb;

/// Noon on 2026-11-29 in Chongqing (04:00 UTC).
pub const NOW: i64 = 1_795_924_800_000;

/// Accounts over the test's database, with fast hashes and the default limits, on a manual clock.
pub fn accounts(db: &TestDb) -> (Accounts, Clock) {
    let clock = Clock::manual(NOW);
    let accounts = Accounts::new(
        db.db.clone(),
        clock.clone(),
        HashCost::Fast,
        Limits::default(),
    );
    (accounts, clock)
}
