//! Orders: what a buyer commits to and how it reaches them.
//!
//! This crate will own carts (guest and signed-in), checkout with delivery addresses and the
//! per-region delivery restrictions staff set, stock reservations (a conditional decrement in the
//! same transaction as the order rows, released when an unpaid order expires or is cancelled),
//! orders split into one part per producer, the order state machine with its timestamped
//! history, shipments and tracking, returns and refund requests, and the partner units of the
//! Shandong–Chongqing pairing: organizations, tier prices, quotes, approvals, recipient lists and
//! yearly purchase pledges. It knows nothing of HTTP; the storefront calls it.
//!
//! Nothing is built here yet: see the checkout issue.
