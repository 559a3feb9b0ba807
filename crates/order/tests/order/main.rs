//! The order crate's integration tests, one binary: the state machine as a pure function, and
//! carts, checkout, orders, what each person is offered and staff refunds on both databases,
//! each over a shop of its own ([`jinguo_shop::testing::TestShop`]) holding only what the test
//! is about.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkout;
mod orders;
mod policy;
mod refunds;
mod state_machine;
