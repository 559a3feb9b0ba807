//! The common crate's integration tests, one binary: the database layer on both backends.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
mod typed;
