//! The storefront's tests, one binary: pages and the API driven through the router on both
//! databases (buying, the shopper's pages, money, Stripe), and end to end against the real
//! `jinguo` binary.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod buying;
mod e2e;
mod hostile;
mod input;
mod killed;
mod money_pages;
mod pages;
mod stripe;
mod structure;
mod support;
mod twice;
