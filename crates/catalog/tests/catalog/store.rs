//! The catalog's tables on both databases: the demo seed, listings with their filters and sorts,
//! product and producer pages, provenance codes, stock, and writes that refuse bad input whole.

use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::product::{self, NewProduct, NewSku, ProductStatus};
use jinguo_catalog::stock::{self, Taken};
use jinguo_catalog::testing::{self, ProducerBuilder, ProductBuilder};
use jinguo_catalog::{CatalogError, ListingQuery, ProductDetail, ProductId, Sort, StockFilter};
use jinguo_common::db_test;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use std::collections::HashSet;

use crate::support::{self, catalog};

fn all() -> ListingQuery {
    ListingQuery {
        page: 1,
        per_page: 60,
        stock: StockFilter::All,
        ..Default::default()
    }
}

fn in_stock_only() -> ListingQuery {
    ListingQuery {
        stock: StockFilter::InStock,
        ..all()
    }
}

/// The lowest price of a product's SKUs, which listings show.
fn lowest_price(p: &ProductDetail) -> Fen {
    p.skus.iter().map(|s| s.price).min().unwrap()
}

fn ids_where(made: &[ProductDetail], keep: impl Fn(&ProductDetail) -> bool) -> HashSet<ProductId> {
    made.iter()
        .filter(|p| keep(p))
        .map(|p| p.product.id)
        .collect()
}

async fn demo_seed_fills_the_shop_and_runs_once(db: TestDb) {
    let f = catalog(db).await;
    let first = demo::seed(&f.catalog, SeedOptions { pictures: false }, &|_, _| {})
        .await
        .unwrap();
    assert!(first.producers >= 12, "{first:?}");
    assert!(first.products >= 60, "{first:?}");
    assert!(
        first.batches >= first.products,
        "every product has a batch: {first:?}"
    );

    let districts = f.catalog.districts().await.unwrap();
    assert!(districts.len() >= 8, "{} districts", districts.len());
    assert!(districts.iter().all(|(d, _)| d.province_code == "50"));
    assert!(f.catalog.categories().await.unwrap().len() >= 8);

    let again = demo::seed(&f.catalog, SeedOptions { pictures: false }, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again, Default::default(), "a second seed adds nothing");
    let page = f.catalog.browse(&all()).await.unwrap().page.clone();
    assert_eq!(page.total as usize, first.products);
}

async fn the_scale_seed_makes_a_varied_catalog_and_runs_once(db: TestDb) {
    const PRODUCTS: usize = 1_050;
    let f = catalog(db).await;
    let steps = std::sync::Mutex::new(Vec::new());
    let report = demo::seed_scale(&f.catalog, PRODUCTS, &|done, total| {
        steps.lock().unwrap().push((done, total));
    })
    .await
    .unwrap();
    assert_eq!(report.products, PRODUCTS);
    assert_eq!(report.producers, demo::producers_for(PRODUCTS));
    assert_eq!(report.producers, 53, "about twenty products each");
    let steps = steps.into_inner().unwrap();
    assert_eq!(steps.first(), Some(&(500, PRODUCTS)), "progress as it goes");
    assert_eq!(steps.last(), Some(&(PRODUCTS, PRODUCTS)));

    // Spread like a real catalog: many districts, producers with few and with many products,
    // titles and prices that are not all the demo's, some sold out.
    let districts = f.catalog.districts().await.unwrap();
    assert!(districts.len() >= 20, "{} districts", districts.len());
    let per_producer: Vec<i64> =
        sqlx::query_scalar("select count(*) from products group by producer_id order by count(*)")
            .fetch_all(f.db.pool())
            .await
            .unwrap();
    let (fewest, most) = (per_producer[0], per_producer[per_producer.len() - 1]);
    assert!(fewest < 20 && most > 20, "from {fewest} to {most} products");
    let titles: i64 = sqlx::query_scalar("select count(distinct title) from products")
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert!(titles > 500, "{titles} titles");
    let in_stock = f.catalog.browse(&in_stock_only()).await.unwrap().page.total;
    assert!((in_stock as usize) < PRODUCTS, "some are sold out");

    let again = demo::seed_scale(&f.catalog, PRODUCTS, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again, Default::default(), "a second run adds nothing");
    let page = f.catalog.browse(&all()).await.unwrap().page.clone();
    assert_eq!(page.total as usize, PRODUCTS);
    assert!(demo::seed_scale(&f.catalog, 0, &|_, _| {}).await.is_err());
}
db_test!(the_scale_seed_makes_a_varied_catalog_and_runs_once);

async fn listing_filters_and_sorts(db: TestDb) {
    let f = catalog(db).await;
    let c = &f.catalog;
    let chengkou = ProducerBuilder::new().district("500229").create(c).await;
    let youyang = ProducerBuilder::new().district("500242").create(c).await;

    // (producer, category, price, stock), made an hour apart so that "newest" has an order.
    let specs = [
        (&chengkou, "larou", 6_800, 5),
        (&chengkou, "larou", 12_800, 3),
        (&youyang, "larou", 5_000, 0),
        (&youyang, "larou", 9_900, 8),
        (&chengkou, "honey", 4_900, 10),
        (&chengkou, "honey", 10_000, 2),
        (&youyang, "honey", 3_600, 0),
        (&youyang, "tea", 2_800, 20),
        (&chengkou, "tea", 15_000, 1),
        (&youyang, "tea", 10_001, 4),
        (&chengkou, "tea", 4_999, 6),
    ];
    let mut made = Vec::new();
    for (producer, category, price, stock) in specs {
        f.clock.advance(3_600_000);
        let product = ProductBuilder::new()
            .producer(producer)
            .category(category)
            .price(Fen(price))
            .stock(stock)
            .create(c)
            .await;
        made.push(product);
    }
    // Listings show a product's lowest price and the stock of all its SKUs together.
    f.clock.advance(3_600_000);
    let two_skus = ProductBuilder::new()
        .producer(&youyang)
        .category("honey")
        .sku("250克", Fen(3_900), 2)
        .sku("1千克", Fen(11_800), 0)
        .create(c)
        .await;
    made.push(two_skus.clone());
    // A draft is in no listing.
    ProductBuilder::new()
        .producer(&chengkou)
        .category("larou")
        .price(Fen(7_000))
        .status(ProductStatus::Draft)
        .create(c)
        .await;

    let larou = c
        .browse(&ListingQuery {
            category: Some("larou".into()),
            ..all()
        })
        .await
        .unwrap()
        .page
        .clone();
    assert_eq!(larou.total, 4);
    assert!(larou.items.iter().all(|p| p.category_slug == "larou"));
    let found: HashSet<ProductId> = larou.items.iter().map(|p| p.id).collect();
    assert_eq!(found, ids_where(&made, |p| p.category.slug == "larou"));

    let in_chengkou = c
        .browse(&ListingQuery {
            district: Some("500229".into()),
            ..all()
        })
        .await
        .unwrap()
        .page
        .clone();
    assert_eq!(in_chengkou.total, 6);
    assert!(
        in_chengkou
            .items
            .iter()
            .all(|p| p.producer.district_code == "500229")
    );
    let found: HashSet<ProductId> = in_chengkou.items.iter().map(|p| p.id).collect();
    assert_eq!(found, ids_where(&made, |p| p.producer.id == chengkou.id));

    let band = ListingQuery {
        min_price: Some(Fen(5_000)),
        max_price: Some(Fen(10_000)),
        ..all()
    };
    let band = c.browse(&band).await.unwrap().page.clone();
    assert_eq!(band.total, 4, "both ends of the band count");
    assert!(
        band.items
            .iter()
            .all(|p| (5_000..=10_000).contains(&p.price.0))
    );
    let found: HashSet<ProductId> = band.items.iter().map(|p| p.id).collect();
    let expected = ids_where(&made, |p| {
        (Fen(5_000)..=Fen(10_000)).contains(&lowest_price(p))
    });
    assert_eq!(found, expected);

    let listed = c
        .browse(&all())
        .await
        .unwrap()
        .page
        .items
        .iter()
        .find(|p| p.id == two_skus.product.id)
        .cloned()
        .unwrap();
    assert_eq!((listed.price, listed.price_max), (Fen(3_900), Fen(11_800)));
    assert_eq!(listed.stock, 2);

    let cheapest_first = c
        .browse(&ListingQuery {
            sort: Some(Sort::PriceAsc),
            ..all()
        })
        .await
        .unwrap()
        .page
        .clone();
    let prices: Vec<i64> = cheapest_first.items.iter().map(|p| p.price.0).collect();
    assert_eq!(
        prices,
        [
            2_800, 3_600, 3_900, 4_900, 4_999, 5_000, 6_800, 9_900, 10_000, 10_001, 12_800, 15_000
        ]
    );
    let dearest_first = c
        .browse(&ListingQuery {
            sort: Some(Sort::PriceDesc),
            ..all()
        })
        .await
        .unwrap()
        .page
        .clone();
    let dearest: Vec<i64> = dearest_first.items.iter().map(|p| p.price.0).collect();
    assert!(dearest.windows(2).all(|w| w[0] >= w[1]), "{dearest:?}");
    assert_eq!(dearest, prices.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(dearest[0], *prices.iter().max().unwrap());
    let newest = c
        .browse(&ListingQuery {
            sort: Some(Sort::Newest),
            ..all()
        })
        .await
        .unwrap()
        .page
        .clone();
    assert!(
        newest
            .items
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    let newest: Vec<ProductId> = newest.items.iter().map(|p| p.id).collect();
    let made_last_first: Vec<ProductId> = made.iter().rev().map(|p| p.product.id).collect();
    assert_eq!(newest, made_last_first);

    // Sold-out products are left out unless asked for.
    let everything = c.browse(&all()).await.unwrap().page.clone();
    let in_stock = c.browse(&in_stock_only()).await.unwrap().page.clone();
    assert_eq!(everything.total, 12);
    let sold_out: HashSet<ProductId> = everything
        .items
        .iter()
        .filter(|p| p.stock == 0)
        .map(|p| p.id)
        .collect();
    assert_eq!(
        sold_out,
        ids_where(&made, |p| p.skus.iter().all(|s| s.stock == 0))
    );
    assert_eq!(sold_out.len(), 2, "the two sold-out products made");
    assert!(in_stock.items.iter().all(|p| p.stock > 0));
    let found: HashSet<ProductId> = in_stock.items.iter().map(|p| p.id).collect();
    assert_eq!(
        found,
        ids_where(&made, |p| p.skus.iter().any(|s| s.stock > 0))
    );
    assert_eq!(everything.total - in_stock.total, 2);

    // Pages cover the listing without overlap.
    let mut seen = HashSet::new();
    let pages = everything.total.div_ceil(5) as u32;
    assert_eq!(pages, 3);
    for page in 1..=pages {
        let q = ListingQuery {
            per_page: 5,
            page,
            ..all()
        };
        let items = c.browse(&q).await.unwrap().page.items.clone();
        assert_eq!(items.len(), if page < pages { 5 } else { 2 });
        for item in items {
            assert!(seen.insert(item.id), "{} shown twice", item.slug);
        }
    }
    assert_eq!(seen.len() as u64, everything.total);
    assert_eq!(seen, ids_where(&made, |_| true));
}

async fn product_page_and_trace_name_the_same_producer(db: TestDb) {
    let f = catalog(db).await;
    let producer = ProducerBuilder::new()
        .district("500229")
        .create(&f.catalog)
        .await;
    let made = ProductBuilder::new()
        .producer(&producer)
        .slug("chengkou-larou-500g")
        .sku("500克", Fen(6_800), 5)
        .sku("1千克", Fen(12_800), 2)
        .create(&f.catalog)
        .await;
    let older = testing::batch_made_on(&f.catalog, &made, "2026-09", "2026-09-15").await;
    let newer = testing::batch_made_on(&f.catalog, &made, "2026-11", "2026-11-20").await;
    // Neither another producer's products nor this producer's unpublished ones are its page's.
    ProductBuilder::new().create(&f.catalog).await;
    ProductBuilder::new()
        .producer(&producer)
        .status(ProductStatus::Unpublished)
        .create(&f.catalog)
        .await;

    let detail = f.catalog.product("chengkou-larou-500g").await.unwrap();
    assert_eq!(detail.producer.district_code, "500229");
    assert_eq!(detail.producer.id, producer.id);
    assert_eq!(detail.skus, made.skus);
    let skus: Vec<(&str, Fen, i64)> = detail
        .skus
        .iter()
        .map(|s| (s.name.as_str(), s.price, s.stock))
        .collect();
    assert_eq!(skus, [("500克", Fen(6_800), 5), ("1千克", Fen(12_800), 2)]);
    assert_eq!(detail.batches, [newer.clone(), older], "newest first");
    let newest = &detail.batches[0];
    assert!(
        detail
            .batches
            .iter()
            .all(|b| b.produced_on <= newest.produced_on)
    );

    let trace = f.catalog.trace(&newest.code.to_lowercase()).await.unwrap();
    assert_eq!(trace.product.slug, "chengkou-larou-500g");
    assert_eq!(trace.producer.slug, detail.producer.slug);
    assert_eq!(trace.batch.produced_on, newest.produced_on);
    assert_eq!(trace.batch, newer);

    assert!(matches!(
        f.catalog.trace("ZZZZZZZZ").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        f.catalog.product("no-such-thing").await,
        Err(CatalogError::NotFound { .. })
    ));

    let found = f.catalog.producer(&detail.producer.slug).await.unwrap();
    let (producer_page, products) = (&found.0, &found.1);
    assert_eq!(producer_page.id, detail.producer.id);
    assert!(products.iter().any(|p| p.slug == "chengkou-larou-500g"));
    let slugs: Vec<&str> = products.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["chengkou-larou-500g"]);
}

async fn unpublished_products_vanish_from_pages(db: TestDb) {
    let f = catalog(db).await;
    let larou = ProductBuilder::new()
        .slug("chengkou-larou-500g")
        .create(&f.catalog)
        .await;
    let batch = testing::batch(&f.catalog, &larou, "2026-11").await;
    let other = ProductBuilder::new().create(&f.catalog).await;
    assert_eq!(
        f.catalog
            .product("chengkou-larou-500g")
            .await
            .unwrap()
            .batches,
        std::slice::from_ref(&batch)
    );

    f.catalog
        .set_status(larou.product.id, ProductStatus::Unpublished)
        .await
        .unwrap();
    assert!(matches!(
        f.catalog.product("chengkou-larou-500g").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        f.catalog.trace(&batch.code).await,
        Err(CatalogError::NotFound { .. })
    ));
    let listing = f.catalog.browse(&all()).await.unwrap().page.clone();
    assert!(
        listing
            .items
            .iter()
            .all(|p| p.slug != "chengkou-larou-500g")
    );
    let listed: Vec<ProductId> = listing.items.iter().map(|p| p.id).collect();
    assert_eq!(listed, [other.product.id]);
    let page = f.catalog.producer(&larou.producer.slug).await.unwrap();
    assert!(page.1.is_empty(), "{:?}", page.1);
}

async fn bad_writes_change_nothing(db: TestDb) {
    let f = catalog(db).await;
    let made = ProductBuilder::new()
        .category("larou")
        .sku("500克", Fen(6_800), 5)
        .create(&f.catalog)
        .await;
    let sku = made.skus[0].clone();

    let err = f.catalog.set_stock(sku.id, -1).await.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Invalid(Invalid {
                field: Field::Stock,
                ..
            })
        ),
        "{err}"
    );
    let err = f.catalog.set_price(sku.id, Fen(0)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Invalid(Invalid {
                field: Field::Price,
                ..
            })
        ),
        "{err}"
    );
    let after = f.catalog.product(&made.product.slug).await.unwrap();
    assert_eq!(after.skus[0], sku);
    assert_eq!(after.skus, made.skus);

    // The database itself refuses negative stock, whatever the caller.
    let raw = sqlx::query("update skus set stock = -1 where id = $1")
        .bind(sku.id)
        .execute(f.db.pool())
        .await;
    assert!(
        raw.is_err(),
        "stock below zero must be refused by the schema"
    );

    // A product with a broken SKU is refused whole: no product row, no SKU rows.
    let new = NewProduct {
        slug: "half-written".into(),
        producer: made.producer.slug.clone(),
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
            NewSku {
                name: "500克".into(),
                price_fen: 6800,
                stock: 5,
                weight_g: 500,
            },
            NewSku {
                name: "500克".into(),
                price_fen: 6900,
                stock: 5,
                weight_g: 500,
            },
        ],
    };
    let mut tx = f.db.begin_write().await.unwrap();
    let result = product::insert_if_missing(
        &mut tx,
        &new,
        made.producer.id,
        made.category.id,
        ProductStatus::Published,
        support::NOW,
    )
    .await;
    assert!(
        matches!(
            &result,
            Err(CatalogError::Invalid(Invalid {
                field: Field::Skus,
                problem: Problem::Duplicate { value },
            })) if value == "500克"
        ),
        "{result:?}"
    );
    drop(tx);
    let mut conn = f.db.pool().acquire().await.unwrap();
    let leftover = product::by_slug(&mut conn, "half-written").await.unwrap();
    assert!(leftover.is_none(), "{leftover:?}");
    drop(conn);
    let skus: Vec<_> = f
        .catalog
        .producer_skus(made.producer.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(skus, [sku.id], "only the first product's SKU");

    let mut too_many_tags = new.clone();
    too_many_tags.skus.truncate(1);
    too_many_tags.tags = (0..11).map(|i| format!("标签{i}")).collect();
    assert!(matches!(
        too_many_tags.validate(),
        Err(CatalogError::Invalid(Invalid {
            field: Field::Tags,
            problem: Problem::TooMany { max: 10 },
        }))
    ));
}

async fn a_producer_sets_the_stock_of_its_own_skus_only(db: TestDb) {
    let f = catalog(db).await;
    let ours = ProducerBuilder::new()
        .name("城口巧姐")
        .create(&f.catalog)
        .await;
    let theirs = ProducerBuilder::new()
        .name("酉阳土家")
        .create(&f.catalog)
        .await;
    let larou = ProductBuilder::new()
        .producer(&ours)
        .title("B 老腊肉")
        .sku("500克", Fen(6_800), 5)
        .sku("1千克", Fen(12_800), 2)
        .create(&f.catalog)
        .await;
    let honey = ProductBuilder::new()
        .producer(&ours)
        .title("A 中蜂蜜")
        .stock(4)
        .create(&f.catalog)
        .await;
    let brocade = ProductBuilder::new()
        .producer(&theirs)
        .stock(1)
        .create(&f.catalog)
        .await;

    // Its stock page: every SKU of its products, by product title (A before B on either
    // database's collation), and nobody else's.
    let listed: Vec<_> = f
        .catalog
        .producer_skus(ours.id)
        .await
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.id,
                s.product_title.clone(),
                s.name.clone(),
                s.price,
                s.stock,
            )
        })
        .collect();
    let expected: Vec<_> = honey
        .skus
        .iter()
        .map(|s| (s, &honey))
        .chain(larou.skus.iter().map(|s| (s, &larou)))
        .map(|(s, p)| {
            (
                s.id,
                p.product.title.clone(),
                s.name.clone(),
                s.price,
                s.stock,
            )
        })
        .collect();
    assert_eq!(listed, expected);

    // Another producer's SKU looks the same as no SKU, and is left as it was.
    let result = f.catalog.set_stock_of(theirs.id, larou.skus[0].id, 0).await;
    assert!(
        matches!(result, Err(CatalogError::NotFound { what: "SKU", .. })),
        "{result:?}"
    );
    let result = f.catalog.set_stock_of(ours.id, brocade.skus[0].id, 9).await;
    assert!(
        matches!(result, Err(CatalogError::NotFound { what: "SKU", .. })),
        "{result:?}"
    );
    let result = f.catalog.set_stock_of(ours.id, larou.skus[0].id, -1).await;
    assert!(
        matches!(
            result,
            Err(CatalogError::Invalid(Invalid {
                field: Field::Stock,
                ..
            }))
        ),
        "{result:?}"
    );
    let unchanged = f.catalog.product(&larou.product.slug).await.unwrap();
    assert_eq!(unchanged.skus, larou.skus);
    let unchanged = f.catalog.product(&brocade.product.slug).await.unwrap();
    assert_eq!(unchanged.skus, brocade.skus);

    f.catalog
        .set_stock_of(ours.id, larou.skus[0].id, 0)
        .await
        .unwrap();
    let stocks: Vec<i64> = f
        .catalog
        .product(&larou.product.slug)
        .await
        .unwrap()
        .skus
        .iter()
        .map(|s| s.stock)
        .collect();
    assert_eq!(stocks, [0, 2]);

    let names = f
        .catalog
        .producer_names(&[ours.id, theirs.id])
        .await
        .unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(names[&ours.id].name, "城口巧姐");
    assert_eq!(names[&ours.id].slug, ours.slug);
    assert_eq!(names[&theirs.id].name, "酉阳土家");
}

async fn stock_is_taken_only_while_it_lasts(db: TestDb) {
    let f = catalog(db).await;
    let product = ProductBuilder::new()
        .price(Fen(4_900))
        .stock(3)
        .create(&f.catalog)
        .await;
    let sku = product.skus[0].id;

    // Ten buyers at once for three units: three get one each, and stock never goes below zero.
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let db = f.db.db.clone();
            tokio::spawn(async move {
                let mut conn = db.pool().acquire().await.unwrap();
                stock::take(&mut conn, sku, 1).await.unwrap()
            })
        })
        .collect();
    let mut left = Vec::new();
    for t in tries {
        if let Some(taken) = t.await.unwrap() {
            assert_eq!(taken.product, product.product.id);
            assert_eq!(taken.price, Fen(4_900));
            left.push(taken.left);
        }
    }
    left.sort();
    assert_eq!(left, [0, 1, 2]);
    let mut conn = f.db.pool().acquire().await.unwrap();
    assert_eq!(stock::available(&mut conn, sku).await.unwrap(), 0);

    // Giving back to a sold-out SKU says its product is in stock again; later returns don't.
    assert_eq!(
        stock::give_back(&mut conn, sku, 2).await.unwrap(),
        Some(product.product.id)
    );
    assert_eq!(stock::give_back(&mut conn, sku, 1).await.unwrap(), None);
    assert_eq!(stock::available(&mut conn, sku).await.unwrap(), 3);

    // Asking for more than is left takes nothing.
    assert_eq!(stock::take(&mut conn, sku, 4).await.unwrap(), None);
    assert_eq!(stock::available(&mut conn, sku).await.unwrap(), 3);
    assert_eq!(
        stock::take(&mut conn, sku, 3).await.unwrap(),
        Some(Taken {
            product: product.product.id,
            price: Fen(4_900),
            left: 0,
        })
    );
    let offers = stock::offers(&mut conn, &[sku]).await.unwrap();
    assert_eq!(offers[&sku].stock, 0);
    assert!(offers[&sku].for_sale());
}

db_test!(
    demo_seed_fills_the_shop_and_runs_once,
    listing_filters_and_sorts,
    product_page_and_trace_name_the_same_producer,
    unpublished_products_vanish_from_pages,
    bad_writes_change_nothing,
    a_producer_sets_the_stock_of_its_own_skus_only,
    stock_is_taken_only_while_it_lasts,
);
