//! Orders: what a buyer commits to and how it reaches them.
//!
//! Owns carts (a guest's, kept by session, merged into the account on sign-in), the address book,
//! delivery restrictions per region, each producer's shipping rule, and orders: placed in one
//! transaction that takes the stock (a conditional decrement per SKU, so no unit is sold twice),
//! split into one part per producer, moved through an explicit state machine ([`state`]) whose
//! every change is recorded with who, when, from, to and why, released when unpaid in time,
//! paid by bank transfer (the first [`payment::PaymentProvider`]), shipped, delivered, returned.
//! Knows nothing of HTTP.

pub mod address;
pub mod books;
pub mod cart;
mod checkout;
mod error;
pub mod jobs;
pub mod notify;
pub mod orders;
pub mod payment;
pub mod region;
pub mod service;
pub mod shipping;
pub mod state;

pub use error::OrderError;
pub use service::{Checkout, FlaggedTransfer, OrderSettings, Orders, ProducerSku, TransferOutcome};
