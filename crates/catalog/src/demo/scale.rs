//! A catalog at scale, for benchmarks and for trying the shop as a large one: `products`
//! generated products from about one producer per twenty, made from the demo catalog's
//! producers and products (its categories, units, descriptions and price ranges) with varied
//! titles, districts across Chongqing, prices, stock and ages. Like the demo seed it is
//! idempotent: generated rows have fixed slugs, so a second run adds only what is missing
//! (a larger `products` adds the rest). No pictures are drawn; pages show their placeholder.

use std::collections::HashMap;

use jinguo_common::region::regions;

use super::{Progress, SeedReport, demo_catalog};
use crate::category;
use crate::producer::{self, NewProducer};
use crate::product::{self, NewProduct, ProductStatus};
use crate::{Catalog, CatalogError};

/// The most products one run makes.
pub const MAX_PRODUCTS: usize = 1_000_000;
/// Products per producer, on average (some have a few, some many).
pub const PER_PRODUCER: usize = 20;
/// Products written per transaction: each commit is a step of the progress shown.
const CHUNK: usize = 500;

/// Words that vary a demo title (`高山` + `秀山土鸡蛋`).
const WORDS: [&str; 16] = [
    "",
    "高山",
    "生态",
    "农家",
    "手工",
    "古法",
    "精选",
    "山地",
    "传统",
    "特级",
    "新采",
    "家常",
    "老树",
    "林下",
    "散养",
    "礼盒装",
];

/// A well-mixed number for `i`, so that the generated catalog has no visible pattern.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How many producers a scale of `products` has.
pub fn producers_for(products: usize) -> usize {
    products.div_ceil(PER_PRODUCER)
}

/// Adds the generated catalog of `products` products (what is missing of it), `CHUNK` at a
/// time, saying after each how many of `products` are done.
pub async fn seed_scale(
    catalog: &Catalog,
    products: usize,
    progress: Progress<'_>,
) -> Result<SeedReport, CatalogError> {
    if products == 0 || products > MAX_PRODUCTS {
        return Err(CatalogError::Demo(format!(
            "a scale of {products} products: give 1 to {MAX_PRODUCTS}"
        )));
    }
    let demo = demo_catalog()?;
    let db = catalog.db();
    let now = catalog.clock().now_ms();
    let mut districts: Vec<&str> = regions()
        .districts_of_province("50")
        .map(|d| d.code.as_str())
        .collect();
    districts.sort_unstable();
    let mut report = SeedReport::default();

    // Producers first, in one transaction: each a demo producer moved to another district.
    let producers = producers_for(products);
    let mut tx = db.begin_write().await?;
    for c in &demo.categories {
        category::insert_if_missing(&mut tx, c).await?;
    }
    let categories: HashMap<String, category::CategoryId> = category::all(&mut tx)
        .await?
        .into_iter()
        .map(|c| (c.slug, c.id))
        .collect();
    let mut producer_ids = Vec::with_capacity(producers);
    for p in 0..producers {
        let template = &demo.producers[p % demo.producers.len()];
        let h = mix(p as u64);
        let district = districts[(h % districts.len() as u64) as usize];
        let new = NewProducer {
            slug: format!("scale-producer-{p}"),
            name: format!("{}{}号", template.name, p + 1),
            name_en: if template.name_en.is_empty() {
                String::new()
            } else {
                format!("{} No. {}", template.name_en, p + 1)
            },
            district_code: district.to_owned(),
            // A township is named only where it belongs to the district.
            township: if district == template.district_code {
                template.township.clone()
            } else {
                String::new()
            },
            village: String::new(),
            women_employed: (h % 60) as i64,
            ..template.clone()
        };
        let (id, added) = producer::insert_if_missing(&mut tx, &new, None, now).await?;
        report.producers += usize::from(added);
        producer_ids.push(id);
    }
    tx.commit().await?;

    // Then the products, a chunk per transaction.
    let year_ms = 365 * 24 * 3_600_000_i64;
    let mut done = 0;
    while done < products {
        let end = (done + CHUNK).min(products);
        let mut tx = db.begin_write().await?;
        for i in done..end {
            let template = &demo.products[i % demo.products.len()].product;
            let h = mix(1 << 40 | i as u64);
            let word = WORDS[(i / demo.products.len()) % WORDS.len()];
            // Prices from 70 % to 130 % of the demo's, stock from none to a few hundred.
            let factor = 70 + (h % 61) as i64;
            let skus = template
                .skus
                .iter()
                .enumerate()
                .map(|(k, sku)| product::NewSku {
                    price_fen: (sku.price_fen * factor / 100).max(1),
                    stock: ((h >> (8 * k)) % 300) as i64,
                    ..sku.clone()
                })
                .collect();
            let new = NewProduct {
                slug: format!("{}-{i}", template.slug),
                producer: format!("scale-producer-{}", h % producers as u64),
                title: format!("{word}{}", template.title),
                featured: template.featured && i < demo.products.len() * 4,
                skus,
                ..template.clone()
            };
            let category = *categories
                .get(&new.category)
                .ok_or_else(|| CatalogError::Demo(format!("no category {}", new.category)))?;
            let producer = producer_ids[(h % producers as u64) as usize];
            // Listed over the past year.
            let created = now - (h >> 20) as i64 % year_ms;
            let (_, added) = product::insert_if_missing(
                &mut tx,
                &new,
                producer,
                category,
                ProductStatus::Published,
                created,
            )
            .await?;
            report.products += usize::from(added);
        }
        tx.commit().await?;
        done = end;
        progress(done, products);
    }
    catalog.notify_changed();
    Ok(report)
}
