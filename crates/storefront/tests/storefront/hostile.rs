//! The shop as a retrying client, a careless user and an attacker try it: requests sent twice
//! book once (`Idempotency-Key`, single-use form tokens), invisible characters are refused in
//! every text a person types, every error under `/api` has the documented JSON shape, and the
//! transport holds (HSTS, the `Origin` check by scheme, host and port).

use axum::body::Body;
use http::{Request, StatusCode, header};
use jinguo_accounts::Role;
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{
    self, Browser, PASSWORD, Reply, Shop, count, shop, shop_with, token_for, two_producers,
};

fn address() -> Value {
    json!({"recipient": "李华", "phone": "138 0013 8000", "region_code": "370102", "detail": "历下区泉城路 1 号"})
}

/// The API with extra headers, through `state`'s router (another process's, when it is
/// another state over the same database).
pub async fn call(
    state: &jinguo_storefront::AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = jinguo_storefront::router(state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    Reply::of(response).await
}

async fn fill_cart(shop: &Shop, token: &str, sku: jinguo_catalog::SkuId, quantity: i64) {
    let bearer = format!("Bearer {token}");
    let added = call(
        &shop.state,
        "POST",
        "/api/v1/cart/items",
        &[("authorization", &bearer)],
        Some(json!({"sku_id": sku.0, "quantity": quantity})),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
}

async fn a_retried_checkout_or_refund_books_once(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    let buyer = token_for(&shop, "retry@example.cn", Role::Consumer, None).await;
    let bearer = format!("Bearer {buyer}");
    fill_cart(&shop, &buyer, sku, 2).await;
    let key = [
        ("authorization", bearer.as_str()),
        ("idempotency-key", "checkout-7f3a"),
    ];
    let body = json!({"address": address()});

    // Sent twice at once (a client retrying while the first is still running)…
    let (first, second) = tokio::join!(
        call(
            &shop.state,
            "POST",
            "/api/v1/checkout",
            &key,
            Some(body.clone())
        ),
        call(
            &shop.state,
            "POST",
            "/api/v1/checkout",
            &key,
            Some(body.clone())
        ),
    );
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(
        first.json(),
        second.json(),
        "the same order, not an empty cart"
    );
    assert_eq!(count(&shop, "orders").await, 1);
    assert_eq!(
        support::stock_of(&shop, sku).await,
        8,
        "two units taken, once"
    );
    let replayed = [&first, &second]
        .iter()
        .filter(|r| r.header(http::HeaderName::from_static("idempotent-replayed")) == "true")
        .count();
    assert_eq!(replayed, 1, "one ran, one was the kept answer");

    // …and again later, through another process's router over the same database.
    let other =
        jinguo_storefront::AppState::new(shop.state.settings.clone(), shop.state.shop.clone())
            .unwrap();
    let later = call(&other, "POST", "/api/v1/checkout", &key, Some(body.clone())).await;
    assert_eq!(later.status, StatusCode::CREATED);
    assert_eq!(later.json(), first.json());
    assert_eq!(count(&shop, "orders").await, 1);

    // The same key with another request is refused; another account's same key is its own.
    let changed = json!({"address": {"recipient": "王芳", "phone": "13900139000", "region_code": "370102", "detail": "泉城路 8 号"}});
    let reused = call(&shop.state, "POST", "/api/v1/checkout", &key, Some(changed)).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json()["error"]["code"], "idempotency_key_reused");
    let bad_key = call(
        &shop.state,
        "POST",
        "/api/v1/checkout",
        &[("authorization", bearer.as_str()), ("idempotency-key", "")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_key.json()["error"]["code"], "bad_idempotency_key");

    // A staff refund sent twice with one key is one refund.
    let order = first.json();
    let (id, part) = (
        order["id"].as_i64().unwrap(),
        order["parts"][0]["id"].as_i64().unwrap(),
    );
    shop.pay(jinguo_order::OrderId(id)).await;
    let staff = token_for(&shop, "fed@example.cn", Role::Staff, None).await;
    let staff_bearer = format!("Bearer {staff}");
    let refund_key = [
        ("authorization", staff_bearer.as_str()),
        ("idempotency-key", "refund-1"),
    ];
    let refund = json!({"part_id": part, "amount_fen": 100, "reason": "破损"});
    let uri = format!("/api/v1/staff/orders/{id}/refunds");
    let (a, b) = tokio::join!(
        call(&shop.state, "POST", &uri, &refund_key, Some(refund.clone())),
        call(&shop.state, "POST", &uri, &refund_key, Some(refund.clone())),
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json(), b.json());
    assert_eq!(count(&shop, "refunds").await, 1);
    // Without a key each request is its own (the API says so).
    call(
        &shop.state,
        "POST",
        &uri,
        &[("authorization", staff_bearer.as_str())],
        Some(refund),
    )
    .await;
    assert_eq!(count(&shop, "refunds").await, 2);
}
db_test!(a_retried_checkout_or_refund_books_once);

/// The single-use token of the form on `html` that posts to `action`.
fn once_token(html: &str, action: &str) -> String {
    let form = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}"));
    let rest = &html[form..];
    let at = rest
        .find("name=\"once\" value=\"")
        .expect("the form has a token")
        + 19;
    rest[at..at + rest[at..].find('"').unwrap()].to_owned()
}

async fn a_double_clicked_checkout_lands_on_the_one_order(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    shop.accounts
        .register("13900139001", PASSWORD, Role::Consumer, None)
        .await
        .unwrap();
    let mut browser = Browser::new(&shop);
    browser.sign_in("13900139001").await;
    let sku_text = sku.0.to_string();
    browser
        .post("/cart/items", &[("sku_id", &sku_text), ("quantity", "1")])
        .await;
    let page = browser.get("/checkout").await.text();
    let once = once_token(&page, "/checkout");
    assert_eq!(once.len(), 24, "a fresh token, not the placeholder: {once}");
    assert_ne!(
        once,
        once_token(&browser.get("/checkout").await.text(), "/checkout"),
        "each page view gets its own"
    );
    let fields = [
        ("once", once.as_str()),
        ("address_id", ""),
        ("recipient", "王芳"),
        ("phone", "13900139000"),
        ("region_code", "370102"),
        ("detail", "泉城路 8 号"),
    ];
    let mut second = Browser {
        shop: &shop,
        cookies: browser.cookies.clone(),
    };
    let (a, b) = tokio::join!(
        browser.post("/checkout", &fields),
        second.post("/checkout", &fields)
    );
    for reply in [&a, &b] {
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        assert!(
            reply.location().starts_with("/orders/"),
            "{}",
            reply.location()
        );
    }
    assert_eq!(a.location(), b.location(), "both land on the same order");
    assert_eq!(count(&shop, "orders").await, 1);
    // A third, later (the back button, a reload), lands there too.
    let again = browser.post("/checkout", &fields).await;
    assert_eq!(again.location(), a.location());
    assert_eq!(count(&shop, "orders").await, 1);
    assert_eq!(support::stock_of(&shop, sku).await, 9);
}
db_test!(a_double_clicked_checkout_lands_on_the_one_order);

async fn invisible_characters_are_refused_and_nothing_is_written(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, producer), _] = two_producers(&shop).await;
    for sneaky in [
        "a\u{200b}@probe.cn",
        "a\u{0}@probe.cn",
        "\u{202e}a@probe.cn",
    ] {
        let r = call(
            &shop.state,
            "POST",
            "/api/v1/auth/register",
            &[],
            Some(json!({"login": sneaky, "password": PASSWORD})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{sneaky:?}");
        assert_eq!(r.json()["error"]["field"], "login");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("登录名"),
            "the message names the field: {}",
            r.text()
        );
    }
    assert_eq!(count(&shop, "users").await, 0);

    let buyer = token_for(&shop, "clean@example.cn", Role::Consumer, None).await;
    let bearer = format!("Bearer {buyer}");
    fill_cart(&shop, &buyer, sku, 1).await;
    for (field, value) in [
        ("recipient", "李\u{202e}华"),
        ("detail", "泉城路\u{0}1 号"),
        ("detail", "泉城路\u{200b}1 号"),
    ] {
        let mut address = address();
        address[field] = json!(value);
        let r = call(
            &shop.state,
            "POST",
            "/api/v1/checkout",
            &[("authorization", &bearer)],
            Some(json!({ "address": address })),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field);
    }
    assert_eq!(count(&shop, "orders").await, 0);
    assert_eq!(count(&shop, "addresses").await, 0);

    let maker = token_for(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    for (field, value) in [
        ("account_name", "重庆\u{0}巧姐合作社"),
        ("bank_name", "农商行\u{202e}"),
    ] {
        let mut details = json!({"method": "bank", "account_name": "重庆巧姐合作社", "account_no": "6214 8301 2345 6789", "bank_name": "重庆农村商业银行"});
        details[field] = json!(value);
        let r = call(
            &shop.state,
            "PUT",
            "/api/v1/producer/payout-details",
            &[("authorization", &format!("Bearer {maker}"))],
            Some(details),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field);
    }
    assert_eq!(count(&shop, "payout_details").await, 0);
}
db_test!(invisible_characters_are_refused_and_nothing_is_written);

async fn every_api_error_has_the_documented_shape(db: TestDb) {
    let shop = shop(db).await;
    let staff = token_for(&shop, "fed@example.cn", Role::Staff, None).await;
    let bearer = format!("Bearer {staff}");
    let auth = [("authorization", bearer.as_str())];
    let huge = "x".repeat(jinguo_storefront::app::MAX_BODY_BYTES + 10);
    let cases: Vec<(&str, String, Option<Value>, StatusCode, &str)> = vec![
        (
            "GET",
            "/api/v1/orders/not-a-number".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "GET",
            "/api/v1/no-such-thing".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "DELETE",
            "/api/v1/products".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "POST",
            "/api/v1/checkout".into(),
            Some(json!({"note": huge})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "GET",
            "/api/v1/staff/payouts/batches/999999/bank-file".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/products?page=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_page",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let r = call(&shop.state, method, &uri, &auth, body).await;
        assert_eq!(r.status, status, "{method} {uri}: {}", r.text());
        assert!(
            r.header(header::CONTENT_TYPE)
                .starts_with("application/json"),
            "{method} {uri}: {}",
            r.header(header::CONTENT_TYPE)
        );
        let json = r.json();
        assert_eq!(json["error"]["code"], code, "{method} {uri}");
        assert!(
            !json["error"]["message"].as_str().unwrap().is_empty(),
            "{method} {uri}"
        );
    }
    // A page gets the shop's error page instead.
    let page = call(&shop.state, "DELETE", "/products", &[], None).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(page.text().contains("这个地址不支持这种请求方式"));
}
db_test!(every_api_error_has_the_documented_shape);

async fn https_shops_send_hsts_and_check_the_origin_scheme(db: TestDb) {
    let plain = shop(db).await;
    assert!(
        plain
            .get("/")
            .await
            .headers
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none(),
        "no HSTS over plain http"
    );
    let mut settings = plain.state.settings.clone();
    settings.server.public_url = url::Url::parse("https://shop.example.cn").unwrap();
    let state = jinguo_storefront::AppState::new(settings, plain.state.shop.clone()).unwrap();
    let home = call(&state, "GET", "/", &[], None).await;
    assert_eq!(
        home.header(header::STRICT_TRANSPORT_SECURITY),
        "max-age=31536000"
    );
    let https = Shop {
        test: plain.test,
        state,
    };
    let mut browser = Browser::new(&https);
    browser.get("/login").await;
    let token = browser.cookies["csrf"].clone();
    let form = format!("csrf={token}&login=13900000000&password=x");
    for (origin, expected) in [
        ("http://shop.example.cn", StatusCode::FORBIDDEN),
        ("https://shop.example.cn:8443", StatusCode::FORBIDDEN),
        ("https://shop.example.cn", StatusCode::UNAUTHORIZED),
    ] {
        let request = Request::post("/login")
            .header(header::HOST, "shop.example.cn")
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, format!("csrf={token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap();
        let r = Reply::of(
            jinguo_storefront::router(https.state.clone())
                .oneshot(request)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, expected, "Origin {origin}");
    }
}
db_test!(https_shops_send_hsts_and_check_the_origin_scheme);

async fn sign_in_limits_answer_with_retry_after(db: TestDb) {
    let shop = shop_with(db, |s| s.accounts.registrations_per_address = 2).await;
    for (i, expected) in [
        StatusCode::CREATED,
        StatusCode::CREATED,
        StatusCode::TOO_MANY_REQUESTS,
    ]
    .into_iter()
    .enumerate()
    {
        let r = call(
            &shop.state,
            "POST",
            "/api/v1/auth/register",
            &[],
            Some(json!({"login": format!("r{i}@example.cn"), "password": PASSWORD})),
        )
        .await;
        assert_eq!(r.status, expected, "{}", r.text());
        if expected == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.json()["error"]["code"], "throttled");
            let wait: u64 = r.header(header::RETRY_AFTER).parse().unwrap();
            assert!((1..=900).contains(&wait));
        }
    }
}
db_test!(sign_in_limits_answer_with_retry_after);

async fn idle_and_slow_clients_do_not_take_the_shop_down(db: TestDb) {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let shop = shop(db).await;
    let mut settings = shop.state.settings.clone();
    // Small limits, to see in seconds what the defaults do at scale.
    settings.server.max_connections = Some(40);
    settings.server.header_timeout = Duration::from_secs(1);
    settings.server.body_timeout = Duration::from_secs(1);
    let state = jinguo_storefront::AppState::new(settings, shop.state.shop.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jinguo_storefront::app::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    // More idle sockets than the shop serves at once: they wait or are closed, and the shop
    // still answers.
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // A socket that sent nothing was closed by the shop.
    let mut byte = [0_u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(20), idle[0].read(&mut byte))
        .await
        .expect("the shop closed the idle socket");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(idle);

    // A body that does not come: 408 in the API's shape, not an empty 503.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"login\":",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
db_test!(idle_and_slow_clients_do_not_take_the_shop_down);

/// The real process under a small open-file limit (256, set by `prlimit` as a host might),
/// with 1,100 idle sockets open on it: `/healthz` still answers, the process has not run out
/// of files, and the sockets idle longest were closed to make room.
#[tokio::test]
async fn eleven_hundred_idle_sockets_leave_the_real_shop_answering() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    const SOCKETS: usize = 1_100;
    // This side needs a file per socket.
    let own = getrlimit(Resource::Nofile);
    if own.current.is_some_and(|n| n < 2 * SOCKETS as u64) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: own.maximum,
                maximum: own.maximum,
            },
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut prlimit = std::process::Command::new("prlimit");
    prlimit
        .args(["--nofile=256:256", crate::e2e::BIN])
        // Patient with idle clients: room is made by closing them, not by their timing out.
        .env("JINGUO_HEADER_TIMEOUT_SECS", "300");
    let mut server = crate::e2e::start_under(prlimit, dir.path(), None, false);
    let addr = server.base.trim_start_matches("http://").to_owned();

    let mut idle = Vec::new();
    for _ in 0..SOCKETS {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for _ in 0..3 {
        let health = client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("the shop answers beside 1,100 idle sockets");
        assert_eq!(health.status(), 200);
    }
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    // The first sockets, idle longest, were closed for the later ones.
    let mut byte = [0_u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), idle[0].read(&mut byte))
        .await
        .expect("the oldest idle socket was closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

async fn a_staff_refund_form_sent_twice_refunds_once(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, _), _] = two_producers(&shop).await;
    shop.accounts
        .register("fed@example.cn", PASSWORD, Role::Staff, None)
        .await
        .unwrap();
    let buyer = shop.buyer().await;
    let placed = shop.order(&buyer, &[(sku, 2)]).await.placed;
    shop.pay(placed.order_id).await;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    let part = order.parts[0].id.to_string();
    let url = format!("/staff/orders/{}/refund", order.id);

    let mut staff = Browser::new(&shop);
    staff.sign_in("fed@example.cn").await;
    let once = once_token(&staff.get(&url).await.text(), &url);
    let fields = [
        ("once", once.as_str()),
        ("part", part.as_str()),
        ("amount", "1.00"),
        ("reason", "破损"),
    ];
    let mut again = Browser {
        shop: &shop,
        cookies: staff.cookies.clone(),
    };
    let (a, b) = tokio::join!(staff.post(&url, &fields), again.post(&url, &fields));
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text());
    assert_eq!(b.status, StatusCode::SEE_OTHER, "{}", b.text());
    assert_eq!(a.location(), b.location(), "both land on the one refund");
    assert!(a.location().contains("refund="), "{}", a.location());
    assert_eq!(count(&shop, "refunds").await, 1);

    // An invisible character in the reason: the form again, naming the field; nothing written.
    let once = once_token(&staff.get(&url).await.text(), &url);
    let sneaky = staff
        .post(
            &url,
            &[
                ("once", once.as_str()),
                ("part", part.as_str()),
                ("amount", "1.00"),
                ("reason", "破\u{200b}损"),
            ],
        )
        .await;
    assert_eq!(sneaky.status, StatusCode::BAD_REQUEST);
    assert!(
        sneaky.text().contains("含有看不见的控制字符"),
        "{}",
        sneaky.text()
    );
    assert_eq!(count(&shop, "refunds").await, 1);
    // The form shown again can be corrected and sent with its token: the first failure was
    // not kept as the answer.
    let fixed = staff
        .post(
            &url,
            &[
                ("once", once.as_str()),
                ("part", part.as_str()),
                ("amount", "1.00"),
                ("reason", "破损"),
            ],
        )
        .await;
    assert_eq!(fixed.status, StatusCode::SEE_OTHER, "{}", fixed.text());
    assert_eq!(count(&shop, "refunds").await, 2);
}
db_test!(a_staff_refund_form_sent_twice_refunds_once);

/// An order of one unit of `sku`, placed through the API by `token`'s account.
async fn placed(shop: &Shop, token: &str, sku: jinguo_catalog::SkuId) -> Value {
    fill_cart(shop, token, sku, 1).await;
    let bearer = format!("Bearer {token}");
    call(
        &shop.state,
        "POST",
        "/api/v1/checkout",
        &[("authorization", &bearer)],
        Some(json!({"address": address()})),
    )
    .await
    .json()
}

async fn staff_and_producer_texts_refuse_invisible_characters(db: TestDb) {
    let shop = shop(db).await;
    let [(sku, producer), _] = two_producers(&shop).await;
    let buyer = token_for(&shop, "texts@example.cn", Role::Consumer, None).await;
    let staff = token_for(&shop, "fed@example.cn", Role::Staff, None).await;
    let maker = token_for(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    let as_ = |token: &str| format!("Bearer {token}");
    let order = placed(&shop, &buyer, sku).await;
    let (id, part) = (
        order["id"].as_i64().unwrap(),
        order["parts"][0]["id"].as_i64().unwrap(),
    );
    let reference = shop
        .orders
        .order(jinguo_order::OrderId(id))
        .await
        .unwrap()
        .payment_reference;

    // Recording the transfer with a NUL in its reference: refused, naming the field.
    let transfer = call(
        &shop.state,
        "POST",
        "/api/v1/staff/transfers",
        &[("authorization", &as_(&staff))],
        Some(json!({"reference": format!("{reference}\u{0}"), "amount_fen": 100, "received_on": "2026-11-29"})),
    )
    .await;
    assert_eq!(
        transfer.status,
        StatusCode::BAD_REQUEST,
        "{}",
        transfer.text()
    );
    assert_eq!(transfer.json()["error"]["field"], "reference");
    assert_eq!(count(&shop, "bank_transfers").await, 0);

    shop.pay(jinguo_order::OrderId(id)).await;
    let refund = call(
        &shop.state,
        "POST",
        &format!("/api/v1/staff/orders/{id}/refunds"),
        &[("authorization", &as_(&staff))],
        Some(json!({"part_id": part, "amount_fen": 100, "reason": "破损\u{202e}"})),
    )
    .await;
    assert_eq!(refund.status, StatusCode::BAD_REQUEST, "{}", refund.text());
    assert_eq!(refund.json()["error"]["field"], "reason");
    assert_eq!(count(&shop, "refunds").await, 0);

    let ship = call(
        &shop.state,
        "POST",
        &format!("/api/v1/orders/{id}/parts/{part}/ship"),
        &[("authorization", &as_(&maker))],
        Some(json!({"carrier": "邮\u{200b}政", "tracking_no": "98012345"})),
    )
    .await;
    assert_eq!(ship.status, StatusCode::BAD_REQUEST, "{}", ship.text());
    assert_eq!(ship.json()["error"]["field"], "carrier");
    let still = shop.orders.order(jinguo_order::OrderId(id)).await.unwrap();
    assert_eq!(
        still.parts[0].status,
        jinguo_order::state::PartStatus::ToShip,
        "not shipped"
    );

    // The transfer API sent twice at once with one key records once.
    let key = [
        ("authorization", as_(&staff)),
        ("idempotency-key", "transfer-1".to_owned()),
    ];
    let key: Vec<(&str, &str)> = key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = placed(&shop, &buyer, sku).await;
    let placed = shop
        .orders
        .order(jinguo_order::OrderId(second["id"].as_i64().unwrap()))
        .await
        .unwrap();
    let body = json!({"reference": placed.payment_reference, "amount_fen": placed.total.0, "received_on": "2026-11-29"});
    let (a, b) = tokio::join!(
        call(
            &shop.state,
            "POST",
            "/api/v1/staff/transfers",
            &key,
            Some(body.clone())
        ),
        call(
            &shop.state,
            "POST",
            "/api/v1/staff/transfers",
            &key,
            Some(body.clone())
        ),
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json(), b.json());
    assert_eq!(
        count(&shop, "bank_transfers").await,
        2,
        "the first order's and this one"
    );
}
db_test!(staff_and_producer_texts_refuse_invisible_characters);

async fn one_request_buys_without_touching_the_cart(db: TestDb) {
    let shop = shop(db).await;
    let [(a, _), (b, _)] = two_producers(&shop).await;
    let buyer = token_for(&shop, "app@example.cn", Role::Consumer, None).await;
    let bearer = format!("Bearer {buyer}");
    fill_cart(&shop, &buyer, a, 1).await;
    let buy = |items: Value| {
        let bearer = bearer.clone();
        let state = shop.state.clone();
        async move {
            call(
                &state,
                "POST",
                "/api/v1/checkout",
                &[("authorization", &bearer)],
                Some(json!({"address": address(), "items": items})),
            )
            .await
        }
    };
    let placed = buy(json!([{"sku_id": b.0, "quantity": 3}])).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json();
    assert_eq!(order["parts"].as_array().unwrap().len(), 1);
    assert_eq!(support::stock_of(&shop, b).await, 7);
    // The cart still holds what it held.
    let cart = call(
        &shop.state,
        "GET",
        "/api/v1/cart/items",
        &[("authorization", &bearer)],
        None,
    )
    .await
    .json();
    assert_eq!(cart["count"], 1);
    // Bad lines are refused and take nothing.
    for (items, code) in [
        (json!([]), "empty_cart"),
        (json!([{"sku_id": b.0, "quantity": 0}]), "invalid"),
        (
            json!([{"sku_id": b.0, "quantity": 1}, {"sku_id": b.0, "quantity": 2}]),
            "invalid",
        ),
        (json!([{"sku_id": b.0, "quantity": 8}]), "out_of_stock"),
    ] {
        let refused = buy(items.clone()).await;
        assert!(
            refused.status.is_client_error(),
            "{items}: {}",
            refused.text()
        );
        assert_eq!(refused.json()["error"]["code"], code, "{items}");
    }
    assert_eq!(support::stock_of(&shop, b).await, 7);
    assert_eq!(count(&shop, "orders").await, 1);
}
db_test!(one_request_buys_without_touching_the_cart);
