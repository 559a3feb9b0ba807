//! The catalog's tables on both databases: the demo seed, listings with their filters and sorts,
//! product and producer pages, provenance codes, and writes that refuse bad input whole.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::product::{self, NewProduct, NewSku, ProductStatus};
use jinguo_catalog::{CatalogError, ListingQuery, Sort, StockFilter};
use jinguo_common::db_test;
use jinguo_common::money::Fen;
use std::collections::HashSet;
use support::{catalog, demo};

fn all() -> ListingQuery {
    ListingQuery {
        page: 1,
        per_page: 60,
        stock: StockFilter::All,
        ..Default::default()
    }
}

db_test!(async fn demo_seed_fills_the_shop_and_runs_once(db) {
    let f = catalog(db).await;
    let first = demo::seed(&f.catalog, SeedOptions { pictures: false }, &|_, _| {}).await.unwrap();
    assert!(first.producers >= 12, "{first:?}");
    assert!(first.products >= 60, "{first:?}");
    assert!(first.batches >= first.products, "every product has a batch: {first:?}");

    let districts = f.catalog.districts().await.unwrap();
    assert!(districts.len() >= 8, "{} districts", districts.len());
    assert!(districts.iter().all(|(d, _)| d.province_code == "50"));
    assert!(f.catalog.categories().await.unwrap().len() >= 8);

    let again = demo::seed(&f.catalog, SeedOptions { pictures: false }, &|_, _| {}).await.unwrap();
    assert_eq!(again, Default::default(), "a second seed adds nothing");
    let page = f.catalog.browse(&all()).await.unwrap().page.clone();
    assert_eq!(page.total as usize, first.products);
});

db_test!(async fn listing_filters_and_sorts(db) {
    let f = demo(db).await;
    let c = &f.catalog;

    let larou = c.browse(&ListingQuery { category: Some("larou".into()), ..all() }).await.unwrap().page.clone();
    assert!(larou.total >= 4);
    assert!(larou.items.iter().all(|p| p.category_slug == "larou"));

    let chengkou = c.browse(&ListingQuery { district: Some("500229".into()), ..all() }).await.unwrap().page.clone();
    assert!(chengkou.total > 0);
    assert!(chengkou.items.iter().all(|p| p.producer.district_code == "500229"));

    let band = ListingQuery { min_price: Some(Fen(5_000)), max_price: Some(Fen(10_000)), ..all() };
    let band = c.browse(&band).await.unwrap().page.clone();
    assert!(band.total > 0);
    assert!(band.items.iter().all(|p| (5_000..=10_000).contains(&p.price.0)));

    let cheapest_first = c.browse(&ListingQuery { sort: Some(Sort::PriceAsc), ..all() }).await.unwrap().page.clone();
    let prices: Vec<i64> = cheapest_first.items.iter().map(|p| p.price.0).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let dearest_first = c.browse(&ListingQuery { sort: Some(Sort::PriceDesc), ..all() }).await.unwrap().page.clone();
    let dearest: Vec<i64> = dearest_first.items.iter().map(|p| p.price.0).collect();
    assert!(dearest.windows(2).all(|w| w[0] >= w[1]), "{dearest:?}");
    assert!(dearest[0] >= *prices.iter().max().unwrap());
    let newest = c.browse(&ListingQuery { sort: Some(Sort::Newest), ..all() }).await.unwrap().page.clone();
    assert!(newest.items.windows(2).all(|w| w[0].created_at >= w[1].created_at));

    // Sold-out products are left out unless asked for.
    let everything = c.browse(&all()).await.unwrap().page.clone();
    let in_stock = c.browse(&ListingQuery { stock: StockFilter::InStock, ..all() }).await.unwrap().page.clone();
    assert!(everything.items.iter().any(|p| p.stock == 0), "the demo has sold-out products");
    assert!(in_stock.items.iter().all(|p| p.stock > 0));
    let sold_out = c.browse(&ListingQuery { per_page: 60, ..all() }).await.unwrap().page.total
        - in_stock.total;
    assert!((1..10).contains(&sold_out), "{sold_out} sold out");

    // Pages cover the listing without overlap.
    let mut seen = HashSet::new();
    let pages = everything.total.div_ceil(10) as u32;
    for page in 1..=pages {
        let q = ListingQuery { per_page: 10, page, ..all() };
        for item in c.browse(&q).await.unwrap().page.items.clone() {
            assert!(seen.insert(item.id), "{} shown twice", item.slug);
        }
    }
    assert_eq!(seen.len() as u64, everything.total);
});

db_test!(async fn product_page_and_trace_name_the_same_producer(db) {
    let f = demo(db).await;
    let detail = f.catalog.product("chengkou-larou-500g").await.unwrap();
    assert_eq!(detail.producer.district_code, "500229");
    assert!(!detail.skus.is_empty());
    assert!(!detail.batches.is_empty());
    let newest = &detail.batches[0];
    assert!(detail.batches.iter().all(|b| b.produced_on <= newest.produced_on));

    let trace = f.catalog.trace(&newest.code.to_lowercase()).await.unwrap();
    assert_eq!(trace.product.slug, "chengkou-larou-500g");
    assert_eq!(trace.producer.slug, detail.producer.slug);
    assert_eq!(trace.batch.produced_on, newest.produced_on);

    assert!(matches!(f.catalog.trace("ZZZZZZZZ").await, Err(CatalogError::NotFound { .. })));
    assert!(matches!(f.catalog.product("no-such-thing").await, Err(CatalogError::NotFound { .. })));

    let found = f.catalog.producer(&detail.producer.slug).await.unwrap();
    let (producer, products) = (&found.0, &found.1);
    assert_eq!(producer.id, detail.producer.id);
    assert!(products.iter().any(|p| p.slug == "chengkou-larou-500g"));
});

db_test!(async fn unpublished_products_vanish_from_pages(db) {
    let f = demo(db).await;
    let detail = f.catalog.product("chengkou-larou-500g").await.unwrap();
    f.catalog.set_status(detail.product.id, ProductStatus::Unpublished).await.unwrap();
    assert!(matches!(f.catalog.product("chengkou-larou-500g").await, Err(CatalogError::NotFound { .. })));
    assert!(f.catalog.trace(&detail.batches[0].code).await.is_err());
    let listing = f.catalog.browse(&all()).await.unwrap().page.clone();
    assert!(listing.items.iter().all(|p| p.slug != "chengkou-larou-500g"));
});

db_test!(async fn bad_writes_change_nothing(db) {
    let f = demo(db).await;
    let detail = f.catalog.product("chengkou-larou-500g").await.unwrap();
    let sku = detail.skus[0].clone();

    let err = f.catalog.set_stock(sku.id, -1).await.unwrap_err();
    assert!(matches!(err, CatalogError::Invalid { field: "stock", .. }), "{err}");
    let err = f.catalog.set_price(sku.id, Fen(0)).await.unwrap_err();
    assert!(matches!(err, CatalogError::Invalid { field: "price_fen", .. }), "{err}");
    let after = f.catalog.product("chengkou-larou-500g").await.unwrap();
    assert_eq!(after.skus[0], sku);

    // The database itself refuses negative stock, whatever the caller.
    let raw = sqlx::query("update skus set stock = -1 where id = $1")
        .bind(sku.id.0)
        .execute(f.db.pool())
        .await;
    assert!(raw.is_err(), "stock below zero must be refused by the schema");

    // A product with a broken SKU is refused whole: no product row, no SKU rows.
    let new = NewProduct {
        slug: "half-written".into(),
        producer: detail.producer.slug.clone(),
        category: "larou".into(),
        title: "半截商品".into(),
        title_en: String::new(),
        description: String::new(),
        description_en: String::new(),
        unit: "袋".into(),
        origin: String::new(),
        shelf_life_days: None,
        tags: vec![],
        featured: false,
        handicraft: false,
        skus: vec![
            NewSku { name: "500克".into(), price_fen: 6800, stock: 5, weight_g: 500 },
            NewSku { name: "500克".into(), price_fen: 6900, stock: 5, weight_g: 500 },
        ],
    };
    let mut tx = f.db.pool().begin().await.unwrap();
    let result = product::insert_if_missing(
        &mut tx, &new, detail.producer.id, detail.category.id, ProductStatus::Published, support::NOW,
    )
    .await;
    assert!(matches!(result, Err(CatalogError::Invalid { field: "skus", .. })), "{result:?}");
    drop(tx);
    let leftovers: i64 = sqlx::query_scalar("select count(*) from products where slug = 'half-written'")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert_eq!(leftovers, 0);

    let mut too_many_tags = new.clone();
    too_many_tags.skus.truncate(1);
    too_many_tags.tags = (0..11).map(|i| format!("标签{i}")).collect();
    assert!(matches!(too_many_tags.validate(), Err(CatalogError::Invalid { field: "tags", .. })));
});
