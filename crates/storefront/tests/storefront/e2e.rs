//! End to end: the real `jinguo` binary started the way the README says, on a fresh data
//! directory (SQLite) and on a fresh PostgreSQL database, answering over HTTP.

use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_jinguo");

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `jinguo serve` on a free port and waits for the line that says where it listens.
pub(crate) fn start(data_dir: &std::path::Path, database_url: Option<&str>, demo: bool) -> Server {
    start_under(Command::new(BIN), data_dir, database_url, demo)
}

/// Starts `jinguo serve` as [`start`] does, as the program `command` runs (`jinguo` itself, or
/// a tool that runs it, with `jinguo`'s path its last argument).
pub(crate) fn start_under(
    mut command: Command,
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    demo: bool,
) -> Server {
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("JINGUO_DATABASE_URL")
        .env("JINGUO_LOG", "warn")
        // A dead server's claimed outbox rows are taken over after 2 s instead of 3 minutes.
        .env("JINGUO_OUTBOX_LEASE_MS", "2000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if demo {
        command.arg("--demo");
    }
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command.spawn().expect("start jinguo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("jinguo: serving on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("jinguo serve said where it listens");
    Server { child, base }
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn product_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in html.match_indices("href=\"/products/") {
        let start = at + 6;
        let end = start + html[start..].find('"').unwrap_or(0);
        let link = html[start..end].to_owned();
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

async fn check_demo_shop(base: &str) {
    let home = get(base).await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    let products = product_links(&html);
    assert!(
        products.len() >= 10,
        "the home page lists products: {products:?}"
    );
    assert!(
        html.contains("腊肉") || html.contains("蜂蜜"),
        "Chinese titles"
    );

    let search: serde_json::Value = get(&format!(
        "{base}/api/v1/products?q=%E8%85%8A%E8%82%89&per_page=60"
    ))
    .await
    .json()
    .await
    .unwrap();
    let items = search["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["category"] == "larou"), "{search}");

    let product: serde_json::Value = get(&format!("{base}/api/v1/products/chengkou-larou-500g"))
        .await
        .json()
        .await
        .unwrap();
    let picture = product["images"][0]["card"].as_str().expect("a picture");
    let reply = get(&format!("{base}{picture}")).await;
    assert_eq!(reply.headers()["content-type"], "image/jpeg");
    let code = product["provenance"][0]["code"].as_str().unwrap();
    let trace = get(&format!("{base}/trace/{code}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(trace.contains(product["producer"]["name"].as_str().unwrap()));
}

async fn the_binary_serves_the_demo_shop_and_restarts(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let started = Instant::now();
    let server = start(dir.path(), Some(&url), true);
    eprintln!(
        "demo shop up in {:?} on {}",
        started.elapsed(),
        db.backend().name()
    );
    check_demo_shop(&server.base).await;
    drop(server);

    // Started again on the same data: the same shop, no second seeding, search still right.
    let server = start(dir.path(), Some(&url), true);
    check_demo_shop(&server.base).await;
    let all: serde_json::Value = get(&format!("{}/api/v1/products?stock=all", server.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 66, "seeded once");
}
db_test!(the_binary_serves_the_demo_shop_and_restarts);

#[tokio::test]
async fn a_database_that_cannot_be_opened_stops_serve_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--database-url",
            "postgres://shop:hunter2@127.0.0.1:1/jinguo",
        ])
        .env("JINGUO_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("postgres://shop:***@127.0.0.1:1/jinguo"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password never shows");
}

#[tokio::test]
async fn seeding_twice_adds_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let seed = || {
        let output = Command::new(BIN)
            .args(["seed", "--demo", "--data-dir"])
            .arg(dir.path())
            .env_remove("JINGUO_DATABASE_URL")
            .env("JINGUO_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = seed();
    assert!(first.contains("66 products"), "{first}");
    let second = seed();
    assert!(
        second.contains("added 0 producers, 0 products, 0 batches, 0 pictures"),
        "{second}"
    );
}

async fn killing_serve_in_the_middle_of_edits_leaves_the_index_equal_to_the_database(db: TestDb) {
    use jinguo_catalog::search::embedded::EmbeddedSearch;
    use jinguo_catalog::{Catalog, SkuId};
    use jinguo_common::money::Fen;

    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    // A catalog without pictures (drawing them is not what this is about).
    let seeded = Command::new(BIN)
        .args(["seed", "--scale", "60", "--data-dir"])
        .arg(dir.path())
        .args(["--database-url", &url])
        .env("JINGUO_LOG", "warn")
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    let mut server = start(dir.path(), Some(&url), false);

    // Another process edits prices while the server's worker sends the changes to its index.
    let elsewhere = tempfile::tempdir().unwrap();
    let (unused, _) = EmbeddedSearch::open(elsewhere.path()).unwrap();
    let writer = Catalog::new(
        db.db.clone(),
        jinguo_common::Clock::system(),
        std::sync::Arc::new(unused),
    );
    let skus: Vec<i64> = sqlx::query_scalar("select id from skus order by id")
        .fetch_all(db.pool())
        .await
        .unwrap();
    for i in 0..400 {
        let sku = SkuId(skus[i % skus.len()]);
        writer.set_price(sku, Fen(1_000 + i as i64)).await.unwrap();
        if i == 200 {
            // The server dies mid-batch: no shutdown, no last commit.
            server.child.kill().unwrap();
            server.child.wait().unwrap();
        }
    }
    drop(server);

    // Started again, it sends what is left, including rows the dead process had claimed.
    let server = start(dir.path(), Some(&url), false);
    let deadline = Instant::now() + Duration::from_secs(180);
    while jinguo_catalog::outbox::pending(&db).await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox drained");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);

    let output = Command::new(BIN)
        .args(["reindex", "--check", "--data-dir"])
        .arg(dir.path())
        .args(["--database-url", &url])
        .env("JINGUO_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("matches the database"), "{stdout}");
}
db_test!(killing_serve_in_the_middle_of_edits_leaves_the_index_equal_to_the_database);

async fn accounts_are_made_from_the_command_line(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let jinguo = |args: &[&str], password: Option<&str>| {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--database-url", &url])
            .env("JINGUO_LOG", "warn");
        command.env_remove("JINGUO_USER_PASSWORD");
        if let Some(password) = password {
            command.env("JINGUO_USER_PASSWORD", password);
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = jinguo(&["seed", "--scale", "20"], None);
    assert!(ok, "{out}");
    assert!(out.contains("added 1 producers, 20 products"), "{out}");
    let slug: String = sqlx::query_scalar("select slug from producers order by id limit 1")
        .fetch_one(db.pool())
        .await
        .unwrap();

    let (ok, out) = jinguo(
        &[
            "user",
            "create",
            "--role",
            "staff",
            "--login",
            "staff@example.cn",
            "--password",
            "correct horse battery",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("created staff account staff@example.cn"),
        "{out}"
    );
    let (ok, out) = jinguo(
        &[
            "user",
            "create",
            "--role",
            "producer",
            "--producer",
            &slug,
            "--login",
            "138 0013 8000",
        ],
        Some("correct horse battery"),
    );
    assert!(ok, "the password may come from the environment: {out}");
    let (role, producer): (String, Option<i64>) =
        sqlx::query_as("select role, producer_id from users where login = '13800138000'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let expected: i64 = sqlx::query_scalar("select id from producers where slug = $1")
        .bind(&slug)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        (role.as_str(), producer),
        ("producer", Some(expected)),
        "bound to the producer named"
    );

    for (args, says) in [
        (
            vec!["--role", "producer", "--login", "a@example.cn"],
            "--producer",
        ),
        (
            vec!["--role", "boss", "--login", "b@example.cn"],
            "consumer, producer or staff",
        ),
        (
            vec![
                "--role",
                "producer",
                "--producer",
                "no-such-producer",
                "--login",
                "c@example.cn",
            ],
            "no-such-producer",
        ),
        (
            vec!["--role", "consumer", "--login", "staff@example.cn"],
            "already exists",
        ),
        (
            vec!["--role", "consumer", "--login", "not a login"],
            "not a login",
        ),
    ] {
        let mut all = vec!["user", "create"];
        all.extend(args);
        let (ok, out) = jinguo(&all, Some("correct horse battery"));
        assert!(!ok, "{all:?} must fail");
        assert!(out.contains(says), "{all:?}: {out}");
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(users, 2, "failed attempts wrote nothing");
}
db_test!(accounts_are_made_from_the_command_line);

/// A shop where `producers` producers each have one completed sale and bank details: the
/// order of those sales, and what each of its parts' producers is owed.
pub(crate) async fn producers_owed(
    shop: &jinguo_shop::testing::TestShop,
    producers: usize,
) -> (jinguo_order::orders::Order, Vec<jinguo_common::money::Fen>) {
    use jinguo_order::state::{Action, Actor};
    use jinguo_settlement::payout::PayoutDetails;

    let buyer = shop.buyer().await;
    let mut lines = Vec::new();
    for _ in 0..producers {
        let product = shop.product().stock(10).create(&shop.catalog).await;
        lines.push((product.skus[0].id, 1));
    }
    let o = shop
        .orders
        .order(shop.order(&buyer, &lines).await.placed.order_id)
        .await
        .unwrap();
    shop.pay(o.id).await;
    for p in &o.parts {
        shop.orders
            .act(
                o.id,
                Action::Ship {
                    part: p.id,
                    carrier: "邮政".into(),
                    tracking_no: "98012345".into(),
                },
                Actor::Producer(p.producer_id),
            )
            .await
            .unwrap();
        shop.orders
            .act(o.id, Action::Deliver { part: p.id }, Actor::Buyer(buyer.id))
            .await
            .unwrap();
    }
    shop.advance(shop.orders.settings().windows().return_ms + 1);
    let mut owed = Vec::new();
    for p in &o.parts {
        shop.orders
            .act(o.id, Action::Complete { part: p.id }, Actor::System)
            .await
            .unwrap();
        let details = PayoutDetails::Bank {
            account_name: format!("生产者{}", p.producer_id),
            account_no: "6217000012345678".into(),
            bank_name: "农行城口支行".into(),
        };
        shop.settlement
            .set_payout_details(p.producer_id, details)
            .await
            .unwrap();
        owed.push(shop.settlement.payable(p.producer_id).await.unwrap());
    }
    (o, owed)
}

async fn settle_run_twice_at_once_pays_each_producer_once(db: TestDb) {
    use jinguo_common::money::Fen;
    use jinguo_settlement::payout::PayoutStatus;

    // A shop where two producers have completed sales and bank details, built in-process (the
    // same wiring as `jinguo serve`), then left to the `jinguo` commands.
    let shop = jinguo_shop::testing::TestShop::new(db).await;
    let (dir, url) = (&shop.data_dir, shop.db.url());
    let (_, owed) = producers_owed(&shop, 2).await;

    let jinguo = |args: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--database-url", &url])
            .env("JINGUO_LOG", "warn");
        command
    };
    let runs: Vec<_> = (0..2)
        .map(|_| {
            jinguo(&["settle", "--minimum-fen", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = runs
        .into_iter()
        .map(|r| {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let mut payouts = shop.settlement.payouts(None, None).await.unwrap();
    payouts.sort_by_key(|p| p.id);
    assert_eq!(
        payouts.len(),
        2,
        "one payout per producer, not two: {outputs:?}"
    );
    assert_eq!(
        payouts.iter().map(|p| p.amount).sum::<Fen>(),
        owed.iter().copied().sum::<Fen>()
    );
    assert!(
        outputs.iter().any(|o| o.contains("nobody is owed")),
        "the second run found nothing left: {outputs:?}"
    );

    // The bank file, then the bank's answer: a bad line applies nothing; the good file pays.
    let batch = payouts[0].batch_id.to_string();
    let file = dir.path().join("batch.csv");
    let out = jinguo(&[
        "payouts",
        "file",
        "--batch",
        &batch,
        "--out",
        file.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.starts_with("户名,账号,开户行,金额(元),用途"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let ids: Vec<i64> = payouts.iter().map(|p| p.id.0).collect();
    let answer = dir.path().join("answer.csv");
    std::fs::write(
        &answer,
        format!("payout,reference\n{},B-1\n{}\n", ids[0], ids[1]),
    )
    .unwrap();
    let out = jinguo(&["payouts", "confirm", answer.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 3"), "{err}");
    let sent = shop
        .settlement
        .payouts(None, None)
        .await
        .unwrap()
        .iter()
        .filter(|p| p.status == PayoutStatus::Sent)
        .count();
    assert_eq!(sent, 0, "nothing of the file was applied");
    std::fs::write(
        &answer,
        format!("payout,reference\n{},B-1\n{},B-2\n", ids[0], ids[1]),
    )
    .unwrap();
    let out = jinguo(&["payouts", "confirm", answer.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = jinguo(&["ledger", "check"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("the ledger balances"),
        "{said}"
    );

    // A correction is the exact reverse, posted once; the ledger still balances.
    let first: i64 = sqlx::query_scalar("select min(id) from ledger_transactions")
        .fetch_one(shop.db.pool())
        .await
        .unwrap();
    let first = first.to_string();
    let out = jinguo(&["ledger", "reverse", &first, "--memo", "entered in error"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reversed by transaction"),
        "{out:?}"
    );
    let out = jinguo(&["ledger", "reverse", &first, "--memo", "again"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already reversed"),
        "{out:?}"
    );
    let out = jinguo(&["ledger", "reverse", "999999", "--memo", "x"])
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no ledger transaction 999999")
    );
    let out = jinguo(&["ledger", "check"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
db_test!(settle_run_twice_at_once_pays_each_producer_once);
