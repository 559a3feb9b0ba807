//! The demo catalog: producers, products and batches from Chongqing's districts and counties
//! (fictional people, real places; see the header of `demo/catalog.toml`), with pictures drawn at
//! seed time. Seeding is idempotent: what already exists (by slug) is left as it is.

use serde::Deserialize;
use sha2::Digest;
use std::collections::HashSet;

use crate::batch::{self, NewBatch};
use crate::category::{self, NewCategory};
use crate::image::{self, Processed};
use crate::producer::{self, NewProducer};
use crate::product::{self, NewProduct, ProductStatus};
use crate::{Catalog, CatalogError};

mod scale;

pub use scale::{MAX_PRODUCTS, PER_PRODUCER, producers_for, seed_scale};

const CATALOG: &str = include_str!("../../demo/catalog.toml");

#[derive(Debug, Deserialize)]
pub struct DemoCatalog {
    pub categories: Vec<NewCategory>,
    pub producers: Vec<NewProducer>,
    pub products: Vec<DemoProduct>,
}

#[derive(Debug, Deserialize)]
pub struct DemoProduct {
    #[serde(flatten)]
    pub product: NewProduct,
    #[serde(default)]
    pub batches: Vec<NewBatch>,
}

/// The compiled-in demo catalog.
pub fn demo_catalog() -> Result<DemoCatalog, CatalogError> {
    toml::from_str(CATALOG).map_err(|e| CatalogError::Demo(e.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// Draw and store pictures (tests that don't look at them skip the work).
    pub pictures: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { pictures: true }
    }
}

/// What a seed run added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub producers: usize,
    pub products: usize,
    pub batches: usize,
    pub pictures: usize,
}

/// A step of seeding, for a progress bar: `done` of `total` pictures drawn.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Adds whatever of the demo catalog is missing, in one transaction.
pub async fn seed(
    catalog: &Catalog,
    options: SeedOptions,
    progress: Progress<'_>,
) -> Result<SeedReport, CatalogError> {
    let demo = demo_catalog()?;
    let db = catalog.db();
    let now = catalog.clock().now_ms();
    let today = catalog.clock().today_in_china();

    // Which producers and products are missing decides which pictures to draw.
    let (existing_producers, existing_products) = {
        let mut conn = db.pool().acquire().await?;
        let producers: Vec<String> = sqlx::query_scalar("select slug from producers")
            .fetch_all(&mut *conn)
            .await?;
        let products: Vec<String> = sqlx::query_scalar("select slug from products")
            .fetch_all(&mut *conn)
            .await?;
        (
            producers.into_iter().collect::<HashSet<_>>(),
            products.into_iter().collect::<HashSet<_>>(),
        )
    };
    let mut jobs: Vec<(String, Option<String>)> = Vec::new();
    if options.pictures {
        for p in demo
            .producers
            .iter()
            .filter(|p| !existing_producers.contains(&p.slug))
        {
            jobs.push((p.slug.clone(), None));
        }
        for p in demo
            .products
            .iter()
            .filter(|p| !existing_products.contains(&p.product.slug))
        {
            jobs.push((p.product.slug.clone(), Some(p.product.category.clone())));
        }
    }
    let pictures = draw_all(jobs, progress).await?;
    let picture_of = |slug: &str| pictures.iter().find(|(s, _)| s == slug).map(|(_, p)| p);

    let mut report = SeedReport::default();
    let mut tx = db.begin_write().await?;
    for c in &demo.categories {
        category::insert_if_missing(&mut tx, c).await?;
    }
    let categories = category::all(&mut tx).await?;
    for p in &demo.producers {
        let image_id = match picture_of(&p.slug) {
            Some(picture) => Some(image::store(&mut tx, picture, now).await?),
            None => None,
        };
        let (_, added) = producer::insert_if_missing(&mut tx, p, image_id, now).await?;
        report.producers += usize::from(added);
        report.pictures += usize::from(added && image_id.is_some());
    }
    for (i, demo_product) in demo.products.iter().enumerate() {
        let new = &demo_product.product;
        let producer = producer::by_slug(&mut tx, &new.producer)
            .await?
            .ok_or_else(|| CatalogError::Demo(format!("no producer {}", new.producer)))?;
        let category = categories
            .iter()
            .find(|c| c.slug == new.category)
            .ok_or_else(|| CatalogError::Demo(format!("no category {}", new.category)))?;
        // Spread creation times so "newest" has an order to show.
        let created = now - (demo.products.len() - i) as i64 * 3_600_000;
        let (id, added) = product::insert_if_missing(
            &mut tx,
            new,
            producer.id,
            category.id,
            ProductStatus::Published,
            created,
        )
        .await?;
        if !added {
            continue;
        }
        report.products += 1;
        if let Some(picture) = picture_of(&new.slug) {
            let image_id = image::store(&mut tx, picture, now).await?;
            product::add_image(&mut tx, id, image_id, 0, now).await?;
            report.pictures += 1;
        }
        for b in &demo_product.batches {
            let code = batch::derived_code(&new.slug, &b.batch_no);
            batch::insert_if_missing(&mut tx, id, b, &code, today, now).await?;
            report.batches += 1;
        }
    }
    tx.commit().await?;
    catalog.notify_changed();
    Ok(report)
}

/// Draws and encodes the pictures on the blocking pool, a few at a time.
async fn draw_all(
    jobs: Vec<(String, Option<String>)>,
    progress: Progress<'_>,
) -> Result<Vec<(String, Processed)>, CatalogError> {
    let total = jobs.len();
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut done = Vec::with_capacity(total);
    for chunk in jobs.chunks(parallel) {
        let handles: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|(slug, category)| {
                tokio::task::spawn_blocking(move || {
                    let picture = match &category {
                        Some(category) => jinguo_pictures::draw::product_picture(category, &slug),
                        None => jinguo_pictures::draw::producer_picture(&slug),
                    };
                    let sha = image::hex(&sha2::Sha256::digest(format!("demo picture {slug}")));
                    image::process_picture(&picture, sha).map(|p| (slug, p))
                })
            })
            .collect();
        for handle in handles {
            let drawn = handle
                .await
                .map_err(|e| CatalogError::Demo(format!("drawing a picture: {e}")))??;
            done.push(drawn);
            progress(done.len(), total);
        }
    }
    Ok(done)
}
