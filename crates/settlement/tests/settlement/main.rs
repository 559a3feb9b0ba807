//! Settlement's tests, one binary: the books of orders on both databases (escrow, release less
//! the fee, refunds before and after release, payouts and the bank file, a ledger that cannot be
//! edited), the property that the books always add up whatever happens to orders, and the
//! Stripe gateway against localstripe.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ledger_props;
mod settlement;
mod stripe_gateway;
mod support;
