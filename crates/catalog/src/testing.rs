//! Builders for tests: a producer, a product with its SKUs, a batch, each made through the
//! catalog's own writes with what a test does not care about filled in, so that a test creates
//! only what it needs.
//!
//! ```ignore
//! let product = ProductBuilder::new().price(Fen(4_900)).stock(3).create(&catalog).await;
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_common::money::Fen;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Catalog;
use crate::batch::{self, Batch, NewBatch};
use crate::category::{self, NewCategory};
use crate::producer::{self, NewProducer, Producer, ProducerId, ProducerKind};
use crate::product::{self, NewProduct, NewSku, ProductDetail, ProductStatus};

/// A number no other builder in this process has used, for unique slugs.
fn next() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A producer: a verified workshop in 城口县 with a certificate valid until 2030 unless told.
pub struct ProducerBuilder {
    new: NewProducer,
}

impl Default for ProducerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerBuilder {
    pub fn new() -> Self {
        let n = next();
        ProducerBuilder {
            new: NewProducer {
                slug: format!("producer-{n}"),
                kind: ProducerKind::Workshop,
                name: format!("测试车间{n}"),
                name_en: format!("Test workshop {n}"),
                district_code: "500229".into(),
                township: String::new(),
                village: String::new(),
                story: String::new(),
                story_en: String::new(),
                verified: true,
                certification_no: Some(format!("渝扶认〔2026〕{n:04}")),
                certified_until: Some("2030-12-31".into()),
                women_employed: 12,
                founded_year: Some(2018),
            },
        }
    }

    pub fn name(mut self, name: &str) -> Self {
        self.new.name = name.to_owned();
        self
    }

    pub fn slug(mut self, slug: &str) -> Self {
        self.new.slug = slug.to_owned();
        self
    }

    pub fn kind(mut self, kind: ProducerKind) -> Self {
        self.new.kind = kind;
        self
    }

    /// A six-digit district code.
    pub fn district(mut self, code: &str) -> Self {
        self.new.district_code = code.to_owned();
        self
    }

    pub fn unverified(mut self) -> Self {
        self.new.verified = false;
        self
    }

    /// No certificate at all.
    pub fn uncertified(mut self) -> Self {
        self.new.certification_no = None;
        self.new.certified_until = None;
        self
    }

    /// A certificate valid until `until` (`YYYY-MM-DD`).
    pub fn certified_until(mut self, until: &str) -> Self {
        self.new.certified_until = Some(until.to_owned());
        self
    }

    pub async fn create(self, catalog: &Catalog) -> Producer {
        let mut tx = catalog.db().begin_write().await.unwrap();
        let now = catalog.clock().now_ms();
        let (id, _) = producer::insert_if_missing(&mut tx, &self.new, None, now)
            .await
            .unwrap();
        let producer = producer::by_id(&mut tx, id).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        catalog.notify_changed();
        producer
    }
}

/// A product: one SKU at ¥49.00 with 10 in stock, weighing 500 g, published, of a new producer
/// unless one is given.
pub struct ProductBuilder {
    producer: Option<ProducerId>,
    new: NewProduct,
    status: ProductStatus,
    skus_set: bool,
}

impl Default for ProductBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProductBuilder {
    pub fn new() -> Self {
        let n = next();
        ProductBuilder {
            producer: None,
            new: NewProduct {
                slug: format!("product-{n}"),
                producer: String::new(),
                category: "test".into(),
                title: format!("测试商品{n}"),
                title_en: format!("Test product {n}"),
                description: String::new(),
                description_en: String::new(),
                unit: "件".into(),
                origin: String::new(),
                shelf_life_days: None,
                tags: Vec::new(),
                featured: false,
                handicraft: false,
                skus: vec![NewSku {
                    name: "默认".into(),
                    price_fen: 4_900,
                    stock: 10,
                    weight_g: 500,
                }],
            },
            status: ProductStatus::Published,
            skus_set: false,
        }
    }

    pub fn producer(mut self, producer: &Producer) -> Self {
        self.producer = Some(producer.id);
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.new.title = title.to_owned();
        self
    }

    pub fn slug(mut self, slug: &str) -> Self {
        self.new.slug = slug.to_owned();
        self
    }

    /// A category slug (made if missing).
    pub fn category(mut self, slug: &str) -> Self {
        self.new.category = slug.to_owned();
        self
    }

    pub fn status(mut self, status: ProductStatus) -> Self {
        self.status = status;
        self
    }

    /// The price of the (first) SKU.
    pub fn price(mut self, price: Fen) -> Self {
        self.new.skus[0].price_fen = price.0;
        self
    }

    /// The stock of the (first) SKU.
    pub fn stock(mut self, stock: i64) -> Self {
        self.new.skus[0].stock = stock;
        self
    }

    /// The weight of the (first) SKU, in grams.
    pub fn weight(mut self, grams: i64) -> Self {
        self.new.skus[0].weight_g = grams;
        self
    }

    /// Another SKU (the first call replaces the default one).
    pub fn sku(mut self, name: &str, price: Fen, stock: i64) -> Self {
        let sku = NewSku {
            name: name.to_owned(),
            price_fen: price.0,
            stock,
            weight_g: 500,
        };
        if self.skus_set {
            self.new.skus.push(sku);
        } else {
            self.new.skus = vec![sku];
            self.skus_set = true;
        }
        self
    }

    pub async fn create(self, catalog: &Catalog) -> ProductDetail {
        let producer = match self.producer {
            Some(id) => id,
            None => ProducerBuilder::new().create(catalog).await.id,
        };
        let now = catalog.clock().now_ms();
        let mut tx = catalog.db().begin_write().await.unwrap();
        let category = category::insert_if_missing(
            &mut tx,
            &NewCategory {
                slug: self.new.category.clone(),
                name: format!("分类{}", self.new.category),
                name_en: self.new.category.clone(),
                position: 0,
            },
        )
        .await
        .unwrap();
        let (id, _) =
            product::insert_if_missing(&mut tx, &self.new, producer, category, self.status, now)
                .await
                .unwrap();
        let product = product::by_id(&mut tx, id).await.unwrap().unwrap();
        let detail = product::detail(&mut tx, product).await.unwrap();
        tx.commit().await.unwrap();
        catalog.notify_changed();
        detail
    }
}

/// A batch of a product, made on 2026-10-01, with a code derived from the product and batch.
pub async fn batch(catalog: &Catalog, product: &ProductDetail, batch_no: &str) -> Batch {
    batch_made_on(catalog, product, batch_no, "2026-10-01").await
}

/// A batch of a product made on `produced_on` (`YYYY-MM-DD`, not after the catalog's today),
/// with a code derived from the product and batch.
pub async fn batch_made_on(
    catalog: &Catalog,
    product: &ProductDetail,
    batch_no: &str,
    produced_on: &str,
) -> Batch {
    let new = NewBatch {
        batch_no: batch_no.to_owned(),
        produced_on: produced_on.to_owned(),
        site: String::new(),
        quantity: None,
        note: String::new(),
    };
    let code = batch::derived_code(&product.product.slug, batch_no);
    let today = catalog.clock().today_in_china();
    let now = catalog.clock().now_ms();
    let mut tx = catalog.db().begin_write().await.unwrap();
    batch::insert_if_missing(&mut tx, product.product.id, &new, &code, today, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    catalog.notify_changed();
    catalog
        .trace(&code)
        .await
        .map(|t| t.batch)
        .expect("the batch just made")
}
