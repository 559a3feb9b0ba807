//! The catalog: who makes what, and where it comes from.
//!
//! Owns the tables for producers (workshops, bases, cooperatives, households) with their
//! verification and certificates, categories, products with their SKUs (price in fen, stock),
//! images in the sizes pages need, batches with their public provenance codes, and product
//! search: a [`search::ProductSearch`] backend kept in step with the tables through an outbox
//! written in the same transaction as each change. Knows nothing of HTTP.

pub mod batch;
mod catalog;
pub mod category;
pub mod demo;
mod error;
pub mod image;
pub mod listing;
pub mod outbox;
pub mod producer;
pub mod product;
pub mod search;
pub mod settings;
pub mod stock;
#[cfg(feature = "testing")]
pub mod testing;

pub use batch::{Batch, BatchId, Trace};
pub use catalog::{Catalog, DEFAULT_CACHE_TTL, IndexCheck, Stats};
pub use category::{Category, CategoryId};
pub use error::CatalogError;
pub use listing::{Browse, ListingQuery, Page, Sort, StockFilter};
pub use producer::{Certification, Producer, ProducerId, ProducerKind, ProducerName};
pub use product::{
    ProducerRef, ProducerSku, Product, ProductDetail, ProductId, ProductStatus, ProductSummary,
    Sku, SkuId,
};
pub use settings::CatalogSettings;
pub use stock::Offer;
