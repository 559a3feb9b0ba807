//! The catalog's integration tests, one binary: its tables on both databases (`store`), the
//! search outbox under failure and concurrency (`outbox`), and the search conformance suite that
//! every backend passes (`search`).

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod outbox;
mod search;
mod store;
mod support;
