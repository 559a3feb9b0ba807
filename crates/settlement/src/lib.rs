//! Settlement: where every fen goes after a buyer pays.
//!
//! This crate will own payments (Stripe PaymentIntents and bank transfer for partner units) and
//! their webhook events, applied at most once; the double-entry ledger whose every transaction
//! balances; escrow held until a part is delivered and its return window closes; refunds,
//! promoter commissions, payouts to producers and their statements; reconciliation against the
//! payment provider; and the impact figures, each a query over orders, ledger and payouts.
//! It knows nothing of HTTP; the storefront calls it.
//!
//! Nothing is built here yet: see the settlement issue.
