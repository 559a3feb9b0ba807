//! The pages a shopper sees, on both databases: the home page, browsing and search, a product
//! with its provenance, the trace page a package's QR code opens, languages, and the pages that
//! help when something is wrong.

use http::{StatusCode, header};
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;

use crate::support::{self, demo_shop, encode, links};

async fn home_lists_products_by_chinese_title(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let home = shop.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.header(header::CONTENT_LANGUAGE), "zh-CN");
    let html = home.text();
    assert!(html.contains("<html lang=\"zh-CN\""), "lang attribute");
    let products = links(&html, "/products/");
    assert!(products.len() >= 10, "{} product links", products.len());
    assert!(html.contains("城口老腊肉"), "a Chinese title is shown");
    for district in ["城口", "巫山", "酉阳"] {
        assert!(html.contains(district), "{district} among the districts");
    }
}
db_test!(home_lists_products_by_chinese_title);

async fn english_is_one_link_away(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let switch = shop
        .get("/lang?to=en&next=%2Fproducts%3Fcategory%3Dhoney")
        .await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.header(header::LOCATION), "/products?category=honey");
    let cookie = switch.header(header::SET_COOKIE);
    assert!(
        cookie.starts_with("lang=en;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let page = shop
        .get_with("/products?category=honey", &[("cookie", "lang=en")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<html lang=\"en\""));
    assert!(
        html.contains("Chengkou Chinese honeybee honey"),
        "English titles"
    );

    // Never a redirect off the site.
    let evil = shop.get("/lang?to=en&next=%2F%2Fevil.example%2F").await;
    assert_eq!(evil.header(header::LOCATION), "/");
}
db_test!(english_is_one_link_away);

async fn search_for_larou_finds_only_larou(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let page = shop.get(&format!("/search?q={}", encode("腊肉"))).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("<mark>腊肉</mark>"), "matches are marked");
    let api = shop
        .get(&format!(
            "/api/v1/products?q={}&per_page=60",
            encode("腊肉")
        ))
        .await
        .json();
    let items = api["items"].as_array().unwrap();
    assert!(items.len() >= 4);
    for item in items {
        assert_eq!(item["category"], "larou", "{}", item["title"]);
        assert!(
            links(&html, "/products/")
                .contains(&format!("/products/{}", item["slug"].as_str().unwrap()))
        );
    }
    assert!(
        api["facets"]["district"]
            .as_object()
            .unwrap()
            .contains_key("500229")
    );
}
db_test!(search_for_larou_finds_only_larou);

async fn filters_are_links_that_narrow_the_listing(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let html = shop.get("/products").await.text();
    let category_link = links(&html, "/products?category=")
        .into_iter()
        .find(|l| l.ends_with("=tea"))
        .expect("a link to the tea shelf");
    let tea = shop.get(&category_link).await;
    assert_eq!(tea.status, StatusCode::OK);
    let api = shop
        .get("/api/v1/products?category=tea&per_page=60")
        .await
        .json();
    let slugs: Vec<String> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["slug"].as_str().unwrap().to_owned())
        .collect();
    let shown = links(&tea.text(), "/products/");
    for slug in &slugs {
        assert!(
            shown.contains(&format!("/products/{slug}")),
            "{slug} on the tea shelf"
        );
    }
    let cheap = shop
        .get("/products?category=tea&max_price=100&sort=price_asc")
        .await;
    assert_eq!(cheap.status, StatusCode::OK);
    let cheap_api = shop
        .get("/api/v1/products?category=tea&max_price_fen=10000&sort=price_asc")
        .await
        .json();
    let prices: Vec<i64> = cheap_api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["price_fen"].as_i64().unwrap())
        .collect();
    assert!(
        !prices.is_empty()
            && prices.iter().all(|p| *p <= 10000)
            && prices.windows(2).all(|w| w[0] <= w[1]),
        "{prices:?}"
    );
}
db_test!(filters_are_links_that_narrow_the_listing);

async fn product_page_and_trace_page_name_the_same_producer(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let page = shop.get("/products/chengkou-larou-500g").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let detail = shop
        .get("/api/v1/products/chengkou-larou-500g")
        .await
        .json();
    let producer = detail["producer"]["name"].as_str().unwrap().to_owned();
    assert!(html.contains(&producer));
    let trace_links = links(&html, "/trace/");
    assert!(
        !trace_links.is_empty(),
        "the provenance panel links each batch's trace page"
    );
    for link in trace_links {
        let trace = shop.get(&link).await;
        assert_eq!(trace.status, StatusCode::OK, "{link}");
        assert!(trace.text().contains(&producer), "{link} names {producer}");
    }
    let provenance = detail["provenance"].as_array().unwrap();
    assert!(!provenance.is_empty());
    for p in provenance {
        assert_eq!(p["producer"]["name"], producer.as_str());
        let code = p["code"].as_str().unwrap();
        let traced = shop
            .get(&format!("/api/v1/trace/{}", code.to_lowercase()))
            .await
            .json();
        assert_eq!(traced["producer"]["slug"], detail["producer"]["slug"]);
        assert_eq!(traced["batch"]["batch_date"], p["batch_date"]);
    }
    // A code typed into the form goes to its page.
    let code = provenance[0]["code"].as_str().unwrap();
    let typed = shop
        .get(&format!("/trace?code={}", code.to_lowercase()))
        .await;
    assert_eq!(typed.status, StatusCode::SEE_OTHER);
    assert_eq!(typed.header(header::LOCATION), format!("/trace/{code}"));
}
db_test!(product_page_and_trace_page_name_the_same_producer);

async fn unknown_things_get_a_helpful_404(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let page = shop.get("/products/chengkou-larou-5kg").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let html = page.text();
    assert!(html.contains("/search?q="), "offers a search");
    assert!(html.contains("href=\"/products\""), "offers the whole shop");
    for path in ["/trace/ZZZZZZZZ", "/producers/nobody", "/no/such/page"] {
        assert_eq!(shop.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let api = shop.get("/api/v1/products/chengkou-larou-5kg").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.json()["error"]["code"], "not_found");
    assert!(!api.json()["error"]["message"].as_str().unwrap().is_empty());
}
db_test!(unknown_things_get_a_helpful_404);

async fn bad_filters_are_refused_with_a_reason(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let long = "腊".repeat(700);
    let cases = [
        ("min_price=-5", "min_price_fen=-5", "negative_price"),
        ("sort=cheapest", "sort=cheapest", "unknown_sort"),
        ("page=0", "page=0", "bad_page"),
        ("category=caviar", "category=caviar", "unknown_category"),
        ("district=123", "district=123", "unknown_district"),
    ];
    for (page_query, api_query, code) in cases {
        let page = shop.get(&format!("/products?{page_query}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page_query}");
        assert!(
            page.text().contains("<form"),
            "the error page keeps a search form"
        );
        let api = shop.get(&format!("/api/v1/products?{api_query}")).await;
        assert_eq!(api.status, StatusCode::BAD_REQUEST, "{api_query}");
        assert_eq!(api.json()["error"]["code"], code);
    }
    let page = shop.get(&format!("/search?q={}", encode(&long))).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let api = shop
        .get(&format!("/api/v1/products?q={}", encode(&long)))
        .await;
    assert_eq!(api.json()["error"]["code"], "too_long_query");
    let english = shop
        .get_with(
            "/api/v1/products?sort=cheapest",
            &[("accept-language", "en-US,en;q=0.9")],
        )
        .await
        .json();
    assert!(
        english["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cheapest"),
        "{english}"
    );
}
db_test!(bad_filters_are_refused_with_a_reason);

async fn pictures_are_served_in_the_size_the_page_needs(db: TestDb) {
    let shop = demo_shop(db, true).await;
    let html = shop.get("/products/chengkou-larou-500g").await.text();
    let images = links(&html, "/images/");
    let srcs: Vec<&str> = html
        .match_indices("/images/")
        .map(|(i, _)| &html[i..i + 40])
        .collect();
    assert!(!srcs.is_empty(), "the product page shows pictures");
    let card = srcs
        .iter()
        .find(|s| s.contains("/card.jpg"))
        .expect("a card-sized picture");
    let card = &card[..card.find("card.jpg").unwrap() + "card.jpg".len()];
    let reply = shop.get(card).await;
    assert_eq!(reply.status, StatusCode::OK, "{card}");
    assert_eq!(reply.header(header::CONTENT_TYPE), "image/jpeg");
    assert!(reply.header(header::CACHE_CONTROL).contains("immutable"));
    let picture = image::load_from_memory(&reply.body).unwrap();
    assert_eq!((picture.width(), picture.height()), (480, 360));
    let _ = images;
    assert!(html.contains("alt=\""), "pictures have alt text");
    assert_eq!(
        shop.get("/images/1/huge.jpg").await.status,
        StatusCode::NOT_FOUND
    );
}
db_test!(pictures_are_served_in_the_size_the_page_needs);

async fn api_answers_as_documented(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let list = shop.get("/api/v1/products?district=500237").await.json();
    assert!(list["total"].as_u64().unwrap() >= 1);
    let item = &list["items"][0];
    for field in ["id", "slug", "title", "price_fen", "stock"] {
        assert!(!item[field].is_null(), "items have {field}");
    }
    assert_eq!(item["producer"]["district"]["code"], "500237");
    assert_eq!(item["producer"]["district"]["name"], "巫山县");

    let producer = shop
        .get(&format!(
            "/api/v1/producers/{}",
            item["producer"]["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(producer.status, StatusCode::OK);
    let producer = producer.json();
    assert!(
        producer["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["slug"] == item["slug"])
    );
    assert!(
        ["valid", "expired", "none"]
            .contains(&producer["certification"]["status"].as_str().unwrap())
    );

    let doc = shop.get("/api/v1/openapi.json").await.json();
    for path in [
        "/api/v1/products",
        "/api/v1/products/{slug}",
        "/api/v1/producers/{slug}",
        "/api/v1/trace/{code}",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI documents {path}");
    }
    // The error codes are a documented list, the same whatever the language.
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the OpenAPI document lists the error codes")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid",
        "not_found",
        "out_of_stock",
        "forbidden",
        "bad_login",
    ] {
        assert!(codes.contains(&code), "{code} is documented: {codes:?}");
    }
    for lang in ["zh-CN", "en"] {
        let missing = shop
            .get_with(
                "/api/v1/products/no-such-product",
                &[("accept-language", lang)],
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let body = missing.json();
        let error = &body["error"];
        assert_eq!(error["code"], "not_found", "{lang}");
        let message = error["message"].as_str().unwrap();
        let chinese = message
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        assert_eq!(chinese, lang == "zh-CN", "{lang}: {message}");
    }
    let health = shop.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let css = shop.get("/static/site.css").await;
    assert_eq!(css.header(header::CONTENT_TYPE), "text/css; charset=utf-8");
}
db_test!(api_answers_as_documented);

async fn a_change_shows_on_the_next_page_view(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let before = shop.get("/products/chengkou-larou-500g").await.text();
    assert!(
        before.contains("68.00–132.00"),
        "the price range of its two SKUs"
    );
    // The page is now cached; a price change through the catalog must not wait for it to expire.
    let detail = shop.catalog.product("chengkou-larou-500g").await.unwrap();
    shop.catalog
        .set_price(detail.skus[0].id, jinguo_common::money::Fen(5_900))
        .await
        .unwrap();
    let after = shop.get("/products/chengkou-larou-500g").await.text();
    assert!(
        after.contains("59.00–132.00"),
        "the new price shows at once"
    );
    assert!(!after.contains("68.00–132.00"));
}
db_test!(a_change_shows_on_the_next_page_view);

async fn orders_leave_cached_pages_alone_and_catalog_writes_drop_them(db: TestDb) {
    let shop = demo_shop(db, false).await;
    let slug = "chengkou-larou-500g";
    let page = format!("/products/{slug}");
    let title = shop
        .catalog
        .product(slug)
        .await
        .unwrap()
        .product
        .title
        .clone();
    assert!(shop.get(&page).await.text().contains(&title));
    // A change written behind the catalog's back shows only when the cached page goes.
    let renamed = format!("{title}（新）");
    sqlx::query("update products set title = $1 where slug = $2")
        .bind(&renamed)
        .bind(slug)
        .execute(shop.db.pool())
        .await
        .unwrap();
    // Orders take and give back stock of another product: the page stays cached.
    let other: i64 = sqlx::query_scalar(
        "select s.id from skus s join products p on p.id = s.product_id
         where p.slug <> $1 and s.stock > 0 order by s.id limit 1",
    )
    .bind(slug)
    .fetch_one(shop.db.pool())
    .await
    .unwrap();
    let sku = jinguo_catalog::SkuId(other);
    let buyer = shop.buyer().await;
    let placed = shop.order(&buyer, &[(sku, 1)]).await.placed;
    shop.orders
        .act(
            placed.order_id,
            jinguo_order::state::Action::Cancel {
                reason: "买错了".into(),
            },
            jinguo_order::state::Actor::Buyer(buyer.id),
        )
        .await
        .unwrap();
    let cached = shop.get(&page).await.text();
    assert!(
        cached.contains(&title) && !cached.contains(&renamed),
        "an order elsewhere left the page cached"
    );
    // A catalog write drops it at once.
    shop.catalog
        .set_price(sku, jinguo_common::money::Fen(4_900))
        .await
        .unwrap();
    assert!(shop.get(&page).await.text().contains(&renamed));
}
db_test!(orders_leave_cached_pages_alone_and_catalog_writes_drop_them);

async fn a_search_worker_in_backoff_stays_there_while_writes_arrive(db: TestDb) {
    // A Meilisearch server nobody answers at.
    let shop = support::demo_shop_with(db, false, |s| {
        s.catalog.meili_url = Some("http://127.0.0.1:1".parse().unwrap())
    })
    .await;
    let catalog = shop.catalog.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(async move {
        catalog
            .run_search_worker(async move {
                let _ = stopped.await;
            })
            .await
    });
    let detail = shop.catalog.product("chengkou-larou-500g").await.unwrap();
    // 60 price changes over about 1.5 s, each waking the worker.
    for i in 0..60 {
        shop.catalog
            .set_price(detail.skus[0].id, jinguo_common::money::Fen(5_000 + i))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let _ = stop.send(());
    worker.await.unwrap();
    // Pauses of 0.5 s, 1 s, 2 s …: a handful of tries, not one per write.
    let failures = shop.catalog.search_worker_failures();
    assert!((1..=5).contains(&failures), "{failures} failed passes");
}
db_test!(a_search_worker_in_backoff_stays_there_while_writes_arrive);

async fn search_that_is_down_leaves_the_rest_of_the_shop_working(db: TestDb) {
    // A Meilisearch server nobody answers at.
    let shop = support::demo_shop_with(db, false, |s| {
        s.catalog.meili_url = Some("http://127.0.0.1:1".parse().unwrap())
    })
    .await;
    let page = shop.get(&format!("/search?q={}", encode("腊肉"))).await;
    assert_eq!(page.status, StatusCode::OK, "the search page still answers");
    let html = page.text();
    assert!(
        html.contains("role=\"status\"") || html.contains("notice"),
        "with a notice"
    );
    assert!(
        html.contains("搜索暂时不可用"),
        "saying search is unavailable"
    );
    let api = shop
        .get(&format!("/api/v1/products?q={}", encode("腊肉")))
        .await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.json()["error"]["code"], "search_unavailable");
    // Browsing, product pages and the API without search text read the tables.
    assert_eq!(
        shop.get("/products?category=larou").await.status,
        StatusCode::OK
    );
    assert_eq!(
        shop.get("/products/chengkou-larou-500g").await.status,
        StatusCode::OK
    );
    assert_eq!(
        shop.get("/api/v1/products?category=larou").await.status,
        StatusCode::OK
    );
    assert!(
        jinguo_catalog::outbox::pending(&shop.db).await.unwrap() > 0,
        "changes wait in the outbox"
    );
}
db_test!(search_that_is_down_leaves_the_rest_of_the_shop_working);
