//! The search conformance suite: one behaviour, whichever backend answers. Each test runs on the
//! embedded index (over SQLite, and over PostgreSQL when configured) and on Meilisearch when
//! `JINGUO_TEST_MEILI_URL` names a server; otherwise that case is listed as ignored with the
//! variable to set.

use jinguo_catalog::demo::demo_catalog;
use jinguo_catalog::listing::MAX_PER_PAGE;
use jinguo_catalog::product::ProductStatus;
use jinguo_catalog::search::ProductSearch;
use jinguo_catalog::search::SearchHits;
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_catalog::{Browse, ListingQuery, ProducerKind, ProductId, Sort, StockFilter};
use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::support::{Fixture, conformance, demo};

const TODAY: i64 = 20261129;

fn q(text: &str) -> ListingQuery {
    ListingQuery {
        q: Some(text.into()),
        page: 1,
        per_page: MAX_PER_PAGE,
        ..Default::default()
    }
}

fn everything() -> ListingQuery {
    ListingQuery {
        page: 1,
        per_page: MAX_PER_PAGE,
        ..Default::default()
    }
}

async fn search(f: &Fixture, query: ListingQuery) -> Arc<Browse> {
    f.catalog.browse(&query).await.unwrap()
}

/// Asks the backend directly (also without search text, which pages answer from the tables).
async fn backend(f: &Fixture, query: &ListingQuery) -> SearchHits {
    f.search.search(query, TODAY).await.unwrap()
}

/// Every product the tables list for a query without search text, over all pages.
async fn all_from_tables(f: &Fixture, query: &ListingQuery) -> Vec<jinguo_catalog::ProductSummary> {
    let mut out = Vec::new();
    for page in 1.. {
        let browse = f
            .catalog
            .browse(&ListingQuery {
                page,
                ..query.clone()
            })
            .await
            .unwrap();
        out.extend(browse.page.items.iter().cloned());
        if page >= browse.page.pages() {
            return out;
        }
    }
    out
}

/// Every id the backend returns for a query, over all pages, in order.
async fn all_from_backend(f: &Fixture, query: &ListingQuery) -> Vec<ProductId> {
    let mut out = Vec::new();
    for page in 1.. {
        let hits = backend(
            f,
            &ListingQuery {
                page,
                ..query.clone()
            },
        )
        .await;
        let done = hits.ids.is_empty() || (out.len() + hits.ids.len()) as u64 >= hits.total;
        out.extend(hits.ids);
        if done {
            return out;
        }
    }
    out
}

fn titles(b: &Browse) -> Vec<String> {
    b.page.items.iter().map(|p| p.title.clone()).collect()
}

async fn finds_chinese_words_inside_titles(f: Fixture) {
    let larou = search(&f, q("腊肉")).await;
    let shelf = f
        .catalog
        .browse(&ListingQuery {
            category: Some("larou".into()),
            ..everything()
        })
        .await
        .unwrap();
    assert!(larou.page.total >= 4, "{:?}", titles(&larou));
    assert!(
        larou.page.items.iter().all(|p| p.category_slug == "larou"),
        "only 腊肉: {:?}",
        titles(&larou)
    );
    assert_eq!(
        larou.page.total, shelf.page.total,
        "every in-stock 腊肉 is found"
    );
    assert!(
        titles(&larou)
            .iter()
            .any(|t| !t.starts_with("腊肉") && t.contains("腊肉"))
    );
    let first = &larou.page.items[0];
    assert!(
        larou.highlights[&first.id].contains("<mark>"),
        "{:?}",
        larou.highlights
    );

    let xilan = search(&f, q("西兰卡普")).await;
    assert!(xilan.page.total >= 4, "{:?}", titles(&xilan));
    assert!(
        xilan
            .page
            .items
            .iter()
            .all(|p| p.category_slug == "brocade"),
        "{:?}",
        titles(&xilan)
    );

    let tea = search(&f, q("茶")).await;
    assert!(
        tea.page
            .items
            .iter()
            .filter(|p| p.category_slug == "tea")
            .count()
            >= 4,
        "{:?}",
        titles(&tea)
    );
}

async fn several_words_narrow_the_results(f: Fixture) {
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
}

async fn tolerates_a_typo_in_latin_script(f: Fixture) {
    let exact = search(&f, q("honey")).await;
    let typo = search(&f, q("honny")).await;
    assert!(exact.page.total >= 4);
    assert!(
        typo.page
            .items
            .iter()
            .filter(|p| p.category_slug == "honey")
            .count()
            >= 4,
        "{:?}",
        titles(&typo)
    );
}

async fn every_filter_agrees_with_the_tables(f: Fixture) {
    let filters = [
        ListingQuery {
            category: Some("tea".into()),
            ..everything()
        },
        ListingQuery {
            district: Some("500242".into()),
            ..everything()
        },
        ListingQuery {
            producer_kind: Some(ProducerKind::Household),
            ..everything()
        },
        ListingQuery {
            certified: true,
            ..everything()
        },
        ListingQuery {
            min_price: Some(Fen(10_000)),
            ..everything()
        },
        ListingQuery {
            max_price: Some(Fen(5_000)),
            ..everything()
        },
        ListingQuery {
            stock: StockFilter::All,
            ..everything()
        },
        ListingQuery {
            category: Some("honey".into()),
            max_price: Some(Fen(8_000)),
            ..everything()
        },
    ];
    for query in filters {
        let tables: HashSet<ProductId> = all_from_tables(&f, &query)
            .await
            .iter()
            .map(|p| p.id)
            .collect();
        let found: HashSet<ProductId> = all_from_backend(&f, &query).await.into_iter().collect();
        assert!(!tables.is_empty(), "{query:?} matches something");
        assert_eq!(found, tables, "{query:?}");
        assert_eq!(
            backend(&f, &query).await.total as usize,
            tables.len(),
            "{query:?}"
        );
    }
}

async fn every_sort_orders_as_asked(f: Fixture) {
    let all = all_from_tables(
        &f,
        &ListingQuery {
            stock: StockFilter::All,
            ..everything()
        },
    )
    .await;
    let by_id: HashMap<ProductId, _> = all.iter().map(|p| (p.id, p.clone())).collect();
    let order = |hits: &SearchHits| {
        hits.ids
            .iter()
            .map(|id| by_id[id].clone())
            .collect::<Vec<_>>()
    };

    let cheap = order(
        &backend(
            &f,
            &ListingQuery {
                sort: Some(Sort::PriceAsc),
                stock: StockFilter::All,
                ..everything()
            },
        )
        .await,
    );
    assert!(cheap.windows(2).all(|w| w[0].price <= w[1].price));
    let dear = order(
        &backend(
            &f,
            &ListingQuery {
                sort: Some(Sort::PriceDesc),
                stock: StockFilter::All,
                ..everything()
            },
        )
        .await,
    );
    assert!(dear.windows(2).all(|w| w[0].price >= w[1].price));
    let newest = order(
        &backend(
            &f,
            &ListingQuery {
                sort: Some(Sort::Newest),
                stock: StockFilter::All,
                ..everything()
            },
        )
        .await,
    );
    assert!(
        newest
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    let sales = order(
        &backend(
            &f,
            &ListingQuery {
                sort: Some(Sort::Sales),
                stock: StockFilter::All,
                ..everything()
            },
        )
        .await,
    );
    assert!(sales.windows(2).all(|w| w[0].sales >= w[1].sales));
    let cheap_honey = order(
        &backend(
            &f,
            &ListingQuery {
                sort: Some(Sort::PriceAsc),
                ..q("蜂蜜")
            },
        )
        .await,
    );
    assert!(cheap_honey.len() >= 4 && cheap_honey.windows(2).all(|w| w[0].price <= w[1].price));
    // The shop's own order puts featured products first (the ones the demo catalog features).
    let ids: HashMap<&str, ProductId> = all.iter().map(|p| (p.slug.as_str(), p.id)).collect();
    let featured: HashSet<ProductId> = demo_catalog()
        .unwrap()
        .products
        .iter()
        .filter(|p| p.product.featured)
        .map(|p| ids[p.product.slug.as_str()])
        .collect();
    assert!(!featured.is_empty());
    let recommended = backend(
        &f,
        &ListingQuery {
            sort: Some(Sort::Recommended),
            stock: StockFilter::All,
            ..everything()
        },
    )
    .await;
    let flags: Vec<bool> = recommended
        .ids
        .iter()
        .map(|id| featured.contains(id))
        .collect();
    assert!(
        flags.windows(2).all(|w| w[0] || !w[1]),
        "featured first: {flags:?}"
    );
    let relevance = backend(
        &f,
        &ListingQuery {
            sort: Some(Sort::Relevance),
            ..q("腊肉")
        },
    )
    .await;
    assert!(!relevance.ids.is_empty());
}

async fn facet_counts_match_filtering(f: Fixture) {
    let all = search(&f, q("蜂蜜")).await;
    let facets = all.facets.clone().unwrap();
    assert_eq!(facets.district.values().sum::<u64>(), all.page.total);
    assert_eq!(facets.category.values().sum::<u64>(), all.page.total);
    for (district, count) in &facets.district {
        let narrowed = search(
            &f,
            ListingQuery {
                district: Some(district.clone()),
                ..q("蜂蜜")
            },
        )
        .await;
        assert_eq!(narrowed.page.total, *count, "district {district}");
    }
    for (kind, count) in &facets.producer_kind {
        let kind: ProducerKind = kind.parse().unwrap();
        let narrowed = search(
            &f,
            ListingQuery {
                producer_kind: Some(kind),
                ..q("蜂蜜")
            },
        )
        .await;
        assert_eq!(narrowed.page.total, *count, "kind {kind}");
    }
    let certified = search(
        &f,
        ListingQuery {
            certified: true,
            ..q("蜂蜜")
        },
    )
    .await;
    assert_eq!(
        facets.certified.get("true").copied().unwrap_or(0),
        certified.page.total
    );
    assert_eq!(facets.certified.values().sum::<u64>(), all.page.total);
}

async fn pages_cover_the_results_exactly(f: Fixture) {
    let query = ListingQuery {
        stock: StockFilter::All,
        ..everything()
    };
    let total = backend(&f, &query).await.total;
    assert!(total >= 60);
    let mut seen = HashSet::new();
    for page in 1..=total.div_ceil(7) as u32 {
        let hits = backend(
            &f,
            &ListingQuery {
                page,
                per_page: 7,
                ..query.clone()
            },
        )
        .await;
        assert_eq!(hits.total, total, "the total is the same on every page");
        for id in hits.ids {
            assert!(seen.insert(id), "{id} on two pages");
        }
    }
    assert_eq!(seen.len() as u64, total);
}

async fn changes_reach_the_index_through_the_outbox(f: Fixture) {
    let detail = f
        .catalog
        .product("chengkou-zhongfeng-honey-500g")
        .await
        .unwrap();

    f.catalog
        .set_price(detail.skus[0].id, Fen(100))
        .await
        .unwrap();
    assert!(f.catalog.sync_search().await.unwrap() >= 1);
    let cheap_first = search(
        &f,
        ListingQuery {
            sort: Some(Sort::PriceAsc),
            ..q("蜂蜜")
        },
    )
    .await;
    assert_eq!(
        cheap_first.page.items[0].slug,
        "chengkou-zhongfeng-honey-500g"
    );
    assert_eq!(cheap_first.page.items[0].price, Fen(100));

    for s in &detail.skus {
        f.catalog.set_stock(s.id, 0).await.unwrap();
    }
    f.catalog.sync_search().await.unwrap();
    let default = search(&f, q("蜂蜜")).await;
    assert!(
        default
            .page
            .items
            .iter()
            .all(|p| p.slug != "chengkou-zhongfeng-honey-500g")
    );
    let with_sold_out = search(
        &f,
        ListingQuery {
            stock: StockFilter::All,
            ..q("蜂蜜")
        },
    )
    .await;
    assert!(
        with_sold_out
            .page
            .items
            .iter()
            .any(|p| p.slug == "chengkou-zhongfeng-honey-500g")
    );

    f.catalog
        .set_status(detail.product.id, ProductStatus::Unpublished)
        .await
        .unwrap();
    f.catalog.sync_search().await.unwrap();
    let gone = search(
        &f,
        ListingQuery {
            stock: StockFilter::All,
            ..q("蜂蜜")
        },
    )
    .await;
    assert!(
        gone.page
            .items
            .iter()
            .all(|p| p.slug != "chengkou-zhongfeng-honey-500g")
    );
    assert_eq!(jinguo_catalog::outbox::pending(&f.db).await.unwrap(), 0);
    assert!(f.catalog.check_search_index().await.unwrap().in_step());
}

async fn a_rebuild_equals_the_database(f: Fixture) {
    let before = f.search.count().await.unwrap();
    assert!(before >= 60);
    let rebuilt = f
        .catalog
        .reindex(jinguo_catalog::search::no_progress())
        .await
        .unwrap();
    assert_eq!(rebuilt, before);
    assert_eq!(f.search.count().await.unwrap(), before);
    let check = f.catalog.check_search_index().await.unwrap();
    assert!(check.in_step(), "{check:?}");
    assert!(
        !f.catalog.ensure_search_index(false).await.unwrap(),
        "in step: no rebuild"
    );
    // Searching still works on the rebuilt index.
    assert!(search(&f, q("腊肉")).await.page.total >= 4);
}

async fn the_embedded_index_reopens_whole(db: TestDb) {
    let f = demo(db).await;
    let before = f.search.count().await.unwrap();
    drop(f.catalog);
    drop(f.search);
    let (reopened, created) = EmbeddedSearch::open(f.index_dir.path()).unwrap();
    assert!(!created);
    assert_eq!(reopened.count().await.unwrap(), before);
}

conformance!(
    finds_chinese_words_inside_titles,
    several_words_narrow_the_results,
    tolerates_a_typo_in_latin_script,
    every_filter_agrees_with_the_tables,
    every_sort_orders_as_asked,
    facet_counts_match_filtering,
    pages_cover_the_results_exactly,
    changes_reach_the_index_through_the_outbox,
    a_rebuild_equals_the_database,
);

db_test!(the_embedded_index_reopens_whole);
