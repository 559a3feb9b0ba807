//! Search on the embedded index over the demo catalog (on both databases, which feed it): Chinese
//! words inside longer titles, several words, a typo, filters and sorts, and changes arriving
//! through the outbox.

// A test that unwraps fails with the cause, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jinguo_catalog::product::ProductStatus;
use jinguo_catalog::search::ProductSearch;
use jinguo_catalog::{Browse, ListingQuery, Sort, StockFilter};
use jinguo_common::db_test;
use jinguo_common::money::Fen;
use support::{Fixture, demo};

fn q(text: &str) -> ListingQuery {
    ListingQuery {
        q: Some(text.into()),
        page: 1,
        per_page: 60,
        ..Default::default()
    }
}

async fn search(f: &Fixture, query: ListingQuery) -> std::sync::Arc<Browse> {
    f.catalog.browse(&query).await.unwrap()
}

fn titles(b: &Browse) -> Vec<String> {
    b.page.items.iter().map(|p| p.title.clone()).collect()
}

db_test!(async fn finds_chinese_words_inside_titles(db) {
    let f = demo(db).await;
    let larou = search(&f, q("腊肉")).await;
    let all_larou = f
        .catalog
        .browse(&ListingQuery { category: Some("larou".into()), page: 1, per_page: 60, ..Default::default() })
        .await
        .unwrap();
    assert!(larou.page.total >= 4, "{:?}", titles(&larou));
    assert!(
        larou.page.items.iter().all(|p| p.category_slug == "larou"),
        "only 腊肉: {:?}",
        titles(&larou)
    );
    assert_eq!(larou.page.total, all_larou.page.total, "every in-stock 腊肉 is found");
    assert!(titles(&larou).iter().any(|t| !t.starts_with("腊肉") && t.contains("腊肉")));
    // The match is marked in the title.
    let first = &larou.page.items[0];
    assert!(larou.highlights[&first.id].contains("<mark>腊肉</mark>"), "{:?}", larou.highlights);

    let xilan = search(&f, q("西兰卡普")).await;
    assert!(xilan.page.total >= 4, "{:?}", titles(&xilan));
    assert!(xilan.page.items.iter().all(|p| p.category_slug == "brocade"), "{:?}", titles(&xilan));

    // One character finds the words that hold it.
    let tea = search(&f, q("茶")).await;
    assert!(tea.page.items.iter().filter(|p| p.category_slug == "tea").count() >= 4, "{:?}", titles(&tea));
});

db_test!(async fn several_words_narrow_the_results(db) {
    let f = demo(db).await;
    for text in ["城口 蜂蜜", "城口蜂蜜"] {
        let found = search(&f, q(text)).await;
        assert!(found.page.total >= 1, "{text}");
        for p in &found.page.items {
            assert_eq!(p.producer.district_code, "500229", "{text}: {}", p.title);
            assert_eq!(p.category_slug, "honey", "{text}: {}", p.title);
        }
    }
    let nothing = search(&f, q("城口 西兰卡普")).await;
    assert_eq!(nothing.page.total, 0, "{:?}", titles(&nothing));
});

db_test!(async fn tolerates_a_typo_in_latin_script(db) {
    let f = demo(db).await;
    let exact = search(&f, q("honey")).await;
    let typo = search(&f, q("honny")).await;
    assert!(exact.page.total >= 4);
    assert!(typo.page.total >= 4, "{:?}", titles(&typo));
    assert!(typo.page.items.iter().any(|p| p.category_slug == "honey"));
});

db_test!(async fn filters_and_sorts_apply_to_search(db) {
    let f = demo(db).await;
    let cheap_first = search(&f, ListingQuery { sort: Some(Sort::PriceAsc), ..q("蜂蜜") }).await;
    let prices: Vec<i64> = cheap_first.page.items.iter().map(|p| p.price.0).collect();
    assert!(prices.len() >= 3 && prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");

    let bounded = ListingQuery { max_price: Some(Fen(6_000)), ..q("蜂蜜") };
    let bounded = search(&f, bounded).await;
    assert!(bounded.page.items.iter().all(|p| p.price.0 <= 6_000));
    assert!(bounded.page.total < cheap_first.page.total);

    let shizhu = ListingQuery { district: Some("500240".into()), ..q("蜂蜜") };
    let shizhu = search(&f, shizhu).await;
    assert!(shizhu.page.total >= 1);
    assert!(shizhu.page.items.iter().all(|p| p.producer.district_code == "500240"));

    // Facet counts add up to the total and agree with filtering by each value.
    let all = search(&f, q("蜂蜜")).await;
    let facets = all.facets.clone().unwrap();
    assert_eq!(facets.district.values().sum::<u64>(), all.page.total);
    for (district, count) in &facets.district {
        let narrowed = search(&f, ListingQuery { district: Some(district.clone()), ..q("蜂蜜") }).await;
        assert_eq!(narrowed.page.total, *count, "district {district}");
    }
    let certified = search(&f, ListingQuery { certified: true, ..q("蜂蜜") }).await;
    assert_eq!(facets.certified.get("true").copied().unwrap_or(0), certified.page.total);
});

db_test!(async fn changes_reach_the_index_through_the_outbox(db) {
    let f = demo(db).await;
    let detail = f.catalog.product("chengkou-zhongfeng-honey-500g").await.unwrap();
    let sku = detail.skus[0].id;

    // A price change moves it to the top of the cheapest-first honey list.
    f.catalog.set_price(sku, Fen(100)).await.unwrap();
    assert!(f.catalog.sync_search().await.unwrap() >= 1);
    let cheap_first = search(&f, ListingQuery { sort: Some(Sort::PriceAsc), ..q("蜂蜜") }).await;
    assert_eq!(cheap_first.page.items[0].slug, "chengkou-zhongfeng-honey-500g");
    assert_eq!(cheap_first.page.items[0].price, Fen(100));

    // Sold out: gone from default results, back when sold-out items are asked for.
    for s in &detail.skus {
        f.catalog.set_stock(s.id, 0).await.unwrap();
    }
    f.catalog.sync_search().await.unwrap();
    let default = search(&f, q("蜂蜜")).await;
    assert!(default.page.items.iter().all(|p| p.slug != "chengkou-zhongfeng-honey-500g"));
    let with_sold_out = search(&f, ListingQuery { stock: StockFilter::All, ..q("蜂蜜") }).await;
    assert!(with_sold_out.page.items.iter().any(|p| p.slug == "chengkou-zhongfeng-honey-500g"));

    // Unpublished: gone altogether.
    f.catalog.set_status(detail.product.id, ProductStatus::Unpublished).await.unwrap();
    f.catalog.sync_search().await.unwrap();
    let gone = search(&f, ListingQuery { stock: StockFilter::All, ..q("蜂蜜") }).await;
    assert!(gone.page.items.iter().all(|p| p.slug != "chengkou-zhongfeng-honey-500g"));
    assert_eq!(jinguo_catalog::outbox::pending(&f.db).await.unwrap(), 0);
});

db_test!(async fn reindex_and_reopen_keep_the_index_whole(db) {
    let f = demo(db).await;
    let before = f.search.count().await.unwrap();
    assert!(before >= 60);
    let rebuilt = f.catalog.reindex(jinguo_catalog::search::no_progress()).await.unwrap();
    assert_eq!(rebuilt, before);
    assert_eq!(f.search.count().await.unwrap(), before);
    assert!(!f.catalog.ensure_search_index(false).await.unwrap(), "in step: no rebuild");

    // A second process could not write the same index; reopening after this one closes works.
    drop(f.catalog);
    drop(f.search);
    let (reopened, created) =
        jinguo_catalog::search::embedded::EmbeddedSearch::open(f.index_dir.path()).unwrap();
    assert!(!created);
    assert_eq!(reopened.count().await.unwrap(), before);
});
