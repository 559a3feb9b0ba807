//! Orders: what a buyer commits to and how it reaches them.
//!
//! Owns carts (a guest's, kept by session, merged into the account on sign-in), the address book,
//! delivery restrictions per region, each producer's shipping rule, and orders: placed in one
//! transaction that takes the stock (the catalog's conditional decrement per SKU, in the same
//! transaction, so no unit is sold twice), split into one part per producer, moved through an
//! explicit state machine ([`state`]) whose every change is recorded with who, when, from, to
//! and why, released when unpaid in time, paid by bank transfer (the first
//! [`payment::PaymentProvider`]), shipped, delivered, returned. [`policy`] says who may see an
//! order and what each may do, from the state machine. The money of each change goes to the
//! [`books::Books`] in the same transaction. Knows nothing of HTTP.

pub mod address;
pub mod books;
pub mod cart;
mod checkout;
mod error;
pub mod ids;
pub mod jobs;
pub mod notify;
pub mod orders;
pub mod payment;
pub mod policy;
pub mod region;
pub mod service;
pub mod settings;
pub mod shipping;
pub mod state;
pub mod transfer;

pub use checkout::Placed;
pub use error::{NoticeProblem, OrderError};
pub use ids::{AddressId, OrderId, PartId};
pub use service::{Acted, AddressChoice, Checkout, CheckoutRequest, OrderView, Orders};
pub use settings::{BankSettings, OrderSettings};
pub use transfer::{FlagReason, Transfer, TransferOutcome};
