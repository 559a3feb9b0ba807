//! Search benchmark: a generated catalog of 10,000 and 100,000 products, indexed and queried on
//! the embedded index and, when `JINGUO_BENCH_MEILI_URL` (or `JINGUO_TEST_MEILI_URL`) names a
//! server, on Meilisearch. Prints indexing throughput (documents/s) and query latency (p50, p99)
//! over a fixed mix of queries, and each as a ratio to a match-everything query measured in the
//! same run.
//!
//!     cargo bench -p jinguo-catalog --bench search
//!     BENCH_SIZES=10000 cargo bench -p jinguo-catalog --bench search

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_catalog::ProducerKind;
use jinguo_catalog::listing::{ListingQuery, Sort, StockFilter};
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_catalog::search::meili::MeiliSearch;
use jinguo_catalog::search::{ProductDocument, ProductSearch, no_progress};
use jinguo_common::money::Fen;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DISTRICTS: &[(&str, &str)] = &[
    ("500229", "城口县 城口"),
    ("500238", "巫溪县 巫溪"),
    ("500237", "巫山县 巫山"),
    ("500236", "奉节县 奉节"),
    ("500242", "酉阳土家族苗族自治县 酉阳"),
    ("500241", "秀山土家族苗族自治县 秀山"),
    ("500243", "彭水苗族土家族自治县 彭水"),
    ("500240", "石柱土家族自治县 石柱"),
    ("500156", "武隆区 武隆"),
    ("500154", "开州区 开州"),
];
const CATEGORIES: &[(&str, &str, &[&str], &str)] = &[
    (
        "larou",
        "腊肉",
        &["老腊肉", "五花腊肉", "腊排骨", "腊香肠"],
        "smoked pork",
    ),
    (
        "honey",
        "蜂蜜",
        &["中蜂蜂蜜", "百花蜜", "土蜂蜜", "巢蜜"],
        "honey",
    ),
    ("tea", "茶叶", &["毛尖", "绿茶", "红茶", "老鹰茶"], "tea"),
    ("plum", "脆李", &["脆李", "李子干", "脆红李"], "plum"),
    ("orange", "脐橙", &["脐橙", "春橙", "血橙"], "navel orange"),
    (
        "noodles",
        "红薯粉",
        &["红薯粉", "苕粉", "粉条"],
        "sweet potato noodles",
    ),
    (
        "brocade",
        "土家织锦",
        &["西兰卡普", "织锦挂毯", "织锦桌旗"],
        "brocade",
    ),
    (
        "bamboo",
        "竹编",
        &["竹编果篮", "竹编背篓", "竹编灯罩"],
        "bamboo basket",
    ),
    (
        "embroidery",
        "刺绣",
        &["蜀绣团扇", "苗绣香包", "手工鞋垫"],
        "embroidery",
    ),
    (
        "mountain-goods",
        "山货",
        &["香菇", "木耳", "核桃", "笋干"],
        "mushrooms",
    ),
];
const WORDS: &[&str] = &[
    "手工",
    "农家",
    "高山",
    "散养",
    "礼盒",
    "精选",
    "柏枝熏制",
    "古法",
    "有机",
    "巧姐",
];
const KINDS: [ProducerKind; 4] = [
    ProducerKind::Workshop,
    ProducerKind::Base,
    ProducerKind::Cooperative,
    ProducerKind::Household,
];

fn catalog(n: usize) -> Vec<ProductDocument> {
    let mut rng = StdRng::seed_from_u64(2026);
    (0..n)
        .map(|i| {
            let (code, district) = DISTRICTS[rng.random_range(0..DISTRICTS.len())];
            let (slug, cat_name, items, en) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
            let item = items[rng.random_range(0..items.len())];
            let word = WORDS[rng.random_range(0..WORDS.len())];
            let short = district.split(' ').nth(1).unwrap_or(district);
            let grams = [250, 500, 1000, 2500][rng.random_range(0..4)];
            ProductDocument {
                id: i as i64 + 1,
                slug: format!("p-{i}"),
                title: format!("{short}{item} {word} {grams}克"),
                title_en: format!("{en} from {short}, {grams} g"),
                tags: vec![word.to_owned(), cat_name.to_owned()],
                producer_name: format!("{short}巾帼扶贫车间{}", i % 97),
                producer_name_en: format!("Women's workshop {}", i % 97),
                district: district.to_owned(),
                district_code: code.to_owned(),
                category: slug.to_owned(),
                category_name: cat_name.to_owned(),
                producer_kind: KINDS[i % 4].as_str().to_owned(),
                description: format!("{short}妇女{word}制作的{item}，产自重庆{district}。"),
                certified_until: if rng.random_bool(0.8) { 20271231 } else { 0 },
                in_stock: rng.random_bool(0.9),
                price_fen: rng.random_range(1_000..100_000),
                created_at: 1_790_000_000_000 + i as i64 * 1000,
                sales: rng.random_range(0..500),
                featured: rng.random_bool(0.05),
            }
        })
        .collect()
}

fn query(q: Option<&str>) -> ListingQuery {
    ListingQuery {
        q: q.map(str::to_owned),
        page: 1,
        per_page: 24,
        ..Default::default()
    }
}

/// The fixed mix: single words, two words, a typo, filters, sorts, deep pages.
fn mix() -> Vec<(&'static str, ListingQuery)> {
    vec![
        ("腊肉", query(Some("腊肉"))),
        ("西兰卡普", query(Some("西兰卡普"))),
        ("城口 蜂蜜", query(Some("城口 蜂蜜"))),
        ("秀山毛尖", query(Some("秀山毛尖"))),
        ("茶", query(Some("茶"))),
        ("honny (typo)", query(Some("honny"))),
        (
            "蜂蜜 ≤ ¥80, cheapest",
            ListingQuery {
                max_price: Some(Fen(8_000)),
                sort: Some(Sort::PriceAsc),
                ..query(Some("蜂蜜"))
            },
        ),
        (
            "脐橙 in 奉节, certified",
            ListingQuery {
                district: Some("500236".into()),
                certified: true,
                ..query(Some("脐橙"))
            },
        ),
        (
            "竹编 households",
            ListingQuery {
                producer_kind: Some(ProducerKind::Household),
                ..query(Some("竹编"))
            },
        ),
        (
            "手工 page 5",
            ListingQuery {
                page: 5,
                ..query(Some("手工"))
            },
        ),
        (
            "no text, tea, newest",
            ListingQuery {
                category: Some("tea".into()),
                sort: Some(Sort::Newest),
                ..query(None)
            },
        ),
        (
            "no text, everything incl. sold out",
            ListingQuery {
                stock: StockFilter::All,
                ..query(None)
            },
        ),
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(
    search: &dyn ProductSearch,
    rounds: usize,
) -> (Duration, Duration, Duration, Duration) {
    let baseline_query = query(None);
    let mut all = Vec::new();
    let mut baseline = Vec::new();
    let today = 20261129;
    for (_, q) in mix() {
        search.search(&q, today).await.unwrap(); // warm
    }
    for _ in 0..rounds {
        for (_, q) in mix() {
            let t = Instant::now();
            search.search(&q, today).await.unwrap();
            all.push(t.elapsed());
        }
        let t = Instant::now();
        search.search(&baseline_query, today).await.unwrap();
        baseline.push(t.elapsed());
    }
    all.sort();
    baseline.sort();
    (
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&baseline, 0.5),
        percentile(&baseline, 0.99),
    )
}

async fn run(name: &str, search: Arc<dyn ProductSearch>, docs: &[ProductDocument], rounds: usize) {
    let t = Instant::now();
    search.rebuild(docs.to_vec(), no_progress()).await.unwrap();
    let took = t.elapsed();
    assert_eq!(search.count().await.unwrap(), docs.len() as u64);
    let rate = docs.len() as f64 / took.as_secs_f64();
    let (p50, p99, b50, b99) = measure(search.as_ref(), rounds).await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name:<12} {:>8} docs  index {:>8.0} docs/s ({:>6.1} s)  query p50 {:>7.2} ms ({:>4.1}× match-all)  p99 {:>7.2} ms ({:>4.1}×)",
        docs.len(),
        rate,
        took.as_secs_f64(),
        ms(p50),
        p50.as_secs_f64() / b50.as_secs_f64(),
        ms(p99),
        p99.as_secs_f64() / b99.as_secs_f64(),
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let meili_url = std::env::var("JINGUO_BENCH_MEILI_URL")
        .or_else(|_| std::env::var("JINGUO_TEST_MEILI_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    println!(
        "search benchmark: {} queries per round ({}), {} cores",
        mix().len(),
        mix()
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" · "),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for n in sizes {
        let docs = catalog(n);
        let rounds = if n > 50_000 { 30 } else { 100 };
        let dir = tempfile::tempdir().unwrap();
        let (embedded, _) = EmbeddedSearch::open(dir.path()).unwrap();
        run("embedded", Arc::new(embedded), &docs, rounds).await;
        match &meili_url {
            Some(url) => {
                let uid = format!("jinguo_bench_{}", std::process::id());
                let key = std::env::var("JINGUO_TEST_MEILI_KEY").ok();
                let meili = Arc::new(MeiliSearch::new(url, key.as_deref(), &uid).unwrap());
                meili.apply_settings().await.unwrap();
                run("meilisearch", meili.clone(), &docs, rounds).await;
                meili.drop_index().await.unwrap();
            }
            None => {
                println!("  meilisearch  skipped: set JINGUO_BENCH_MEILI_URL to a running server")
            }
        }
    }
}
