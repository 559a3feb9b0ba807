//! Checkout benchmark: orders per second through the API (add to cart, then check out) with 32
//! clients, on one hot SKU and on SKUs spread over the demo catalog, printed beside the rate of
//! the bare conditional stock `UPDATE` (the floor every checkout pays) measured in the same run.
//! Runs on PostgreSQL when `JINGUO_BENCH_POSTGRES_URL` (or `JINGUO_TEST_POSTGRES_URL`) names a
//! server, and on SQLite always.
//!
//!     cargo bench -p jinguo-storefront --bench checkout
//!     BENCH_SECS=20 BENCH_CLIENTS=32 cargo bench -p jinguo-storefront --bench checkout

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_accounts::{Role, SessionKind};
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_common::testing::TestDb;
use jinguo_common::{Clock, Db};
use jinguo_storefront::{AppState, Settings};
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs = env_or("BENCH_SECS", 10);
    let clients = env_or("BENCH_CLIENTS", 32) as usize;
    println!("checkout benchmark: {clients} clients, {secs} s per figure");
    let pg = std::env::var("JINGUO_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("JINGUO_TEST_POSTGRES_URL"));
    match pg {
        Ok(url) => run("PostgreSQL", TestDb::postgres_on(&url).await, clients, secs).await,
        Err(_) => println!(
            "PostgreSQL: skipped (set JINGUO_BENCH_POSTGRES_URL or JINGUO_TEST_POSTGRES_URL)"
        ),
    }
    run("SQLite", TestDb::sqlite().await, clients, secs).await;
}

async fn run(label: &str, db: TestDb, clients: usize, secs: u64) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.database.url = Some(SecretString::from(db.url()));
    settings.data_dir = data_dir.path().to_owned();
    settings.accounts.password_hash = jinguo_accounts::HashCost::Fast;
    settings.database.max_connections = 32;
    let state = AppState::open(settings, Clock::system()).await.unwrap();
    demo::seed(&state.catalog, SeedOptions { pictures: false }, &|_, _| {})
        .await
        .unwrap();
    let skus: Vec<i64> = sqlx::query_scalar("select id from skus order by id")
        .fetch_all(state.catalog.db().pool())
        .await
        .unwrap();
    for sku in &skus {
        state
            .catalog
            .set_stock(jinguo_catalog::SkuId(*sku), 1_000_000)
            .await
            .unwrap();
    }
    let hot = skus[0];

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jinguo_storefront::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let mut tokens = Vec::new();
    for i in 0..clients {
        let login = format!("bench{i}@example.cn");
        state
            .accounts
            .register(&login, "bench password 1", Role::Consumer, None)
            .await
            .unwrap();
        let (_, token) = state
            .accounts
            .sign_in(&login, "bench password 1", "bench", SessionKind::Api)
            .await
            .unwrap();
        tokens.push(token.as_str().to_owned());
    }

    println!("\n{label}");
    println!("  {:<34} {:>10} {:>14}", "", "per second", "× bare UPDATE");
    let bare_hot = bare_update(state.catalog.db(), &[hot], clients, secs).await;
    let bare_spread = bare_update(state.catalog.db(), &skus, clients, secs).await;
    let hot_rate = checkouts(&base, &tokens, &[hot], secs).await;
    let spread_rate = checkouts(&base, &tokens, &skus, secs).await;
    let row = |name: &str, rate: f64, baseline: f64| {
        println!("  {name:<34} {rate:>10.0} {:>14.3}", rate / baseline);
    };
    row("bare conditional UPDATE, one SKU", bare_hot, bare_hot);
    row("checkout via API, one hot SKU", hot_rate, bare_hot);
    row("bare conditional UPDATE, spread", bare_spread, bare_spread);
    row(
        &format!("checkout via API, {} SKUs", skus.len()),
        spread_rate,
        bare_spread,
    );
    let _ = stop.send(());
    let _ = server.await;
}

/// The stock decrement alone, as checkout does it: `update … set stock = stock - 1 where id = ?
/// and stock >= 1`, each in its own transaction.
async fn bare_update(db: &Db, skus: &[i64], clients: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (db, done, skus) = (db.clone(), done.clone(), skus.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            while Instant::now() < until {
                let sku = skus[rng.random_range(0..skus.len())];
                let mut tx = db.begin_write().await.unwrap();
                let n =
                    sqlx::query("update skus set stock = stock - $1 where id = $2 and stock >= $1")
                        .bind(1_i64)
                        .bind(sku)
                        .execute(&mut *tx)
                        .await
                        .unwrap()
                        .rows_affected();
                tx.commit().await.unwrap();
                assert_eq!(n, 1);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

/// Orders placed per second: each client puts one unit of a SKU in its cart and checks out.
async fn checkouts(base: &str, tokens: &[String], skus: &[i64], secs: u64) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(tokens.len())
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().enumerate() {
        let (client, base, done, failed, skus) = (
            client.clone(),
            base.to_owned(),
            done.clone(),
            failed.clone(),
            skus.to_vec(),
        );
        let auth = format!("Bearer {token}");
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + c as u64);
            let address = serde_json::json!({"address": {"recipient": "压测", "phone": "13800138000", "region_code": "370102", "detail": "泉城路 1 号"}});
            while Instant::now() < until {
                let sku = skus[rng.random_range(0..skus.len())];
                let put = client
                    .post(format!("{base}/api/v1/cart/items"))
                    .header("authorization", &auth)
                    .json(&serde_json::json!({"sku_id": sku, "quantity": 1}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(put.status(), 200, "{}", put.text().await.unwrap_or_default());
                let placed = client
                    .post(format!("{base}/api/v1/checkout"))
                    .header("authorization", &auth)
                    .json(&address)
                    .send()
                    .await
                    .unwrap();
                if placed.status() == 201 {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        println!("  ({failed} checkouts failed)");
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}
