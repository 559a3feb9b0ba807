//! Set-up for the storefront's tests: the whole app over a test shop (wired by
//! `jinguo_shop::Shop::assemble`, as `jinguo serve` wires it), driven through its router without
//! a socket, with builders for what each test needs; the demo catalog only where a test is
//! about the shop as the demo fills it.

#![allow(dead_code)]

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jinguo_accounts::{Role, SessionKind};
use jinguo_catalog::SkuId;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_common::ids::ProducerId;
use jinguo_common::testing::TestDb;
use jinguo_shop::ShopSettings;
use jinguo_shop::testing::TestShop;
use jinguo_storefront::{AppState, Settings, router};
use tower::ServiceExt;

pub struct Shop {
    pub test: TestShop,
    pub state: AppState,
}

impl std::ops::Deref for Shop {
    type Target = TestShop;
    fn deref(&self) -> &TestShop {
        &self.test
    }
}

/// An empty shop (passwords hash fast, sign-ins from one address are not limited).
pub async fn shop(db: TestDb) -> Shop {
    shop_with(db, |_| {}).await
}

/// An empty shop with the settings `tweak` changes.
pub async fn shop_with(db: TestDb, tweak: impl FnOnce(&mut ShopSettings)) -> Shop {
    let test = TestShop::with(db, tweak).await;
    let state = AppState::new(Settings::around(test.settings.clone()), test.shop.clone()).unwrap();
    Shop { test, state }
}

/// A shop holding the demo catalog (with its drawn pictures when asked), its search in step.
pub async fn demo_shop(db: TestDb, pictures: bool) -> Shop {
    let shop = demo_shop_with(db, pictures, |_| {}).await;
    shop.catalog.sync_search().await.unwrap();
    shop
}

/// A shop with the settings `tweak` changes, holding the demo catalog; its search index is left
/// to catch up (the caller syncs it if its backend answers).
pub async fn demo_shop_with(
    db: TestDb,
    pictures: bool,
    tweak: impl FnOnce(&mut ShopSettings),
) -> Shop {
    let shop = shop_with(db, tweak).await;
    demo::seed(&shop.catalog, SeedOptions { pictures }, &|_, _| {})
        .await
        .unwrap();
    shop
}

/// The password of every account these tests make.
pub const PASSWORD: &str = "correct horse battery";

/// Registers an account and returns an API token for it.
pub async fn token_for(
    shop: &Shop,
    login: &str,
    role: Role,
    producer: Option<ProducerId>,
) -> String {
    shop.accounts
        .register(login, PASSWORD, role, producer)
        .await
        .unwrap();
    let (_, token) = shop
        .accounts
        .sign_in(login, PASSWORD, "test", SessionKind::Api)
        .await
        .unwrap();
    token.as_str().to_owned()
}

/// Two products of two producers, 10 in stock each: (SKU, producer) of each.
pub async fn two_producers(shop: &Shop) -> [(SkuId, ProducerId); 2] {
    let mut out = Vec::new();
    for _ in 0..2 {
        let product = shop.product().stock(10).create(&shop.catalog).await;
        out.push((product.skus[0].id, product.producer.id));
    }
    shop.catalog.sync_search().await.unwrap();
    [out[0], out[1]]
}

/// A SKU's stock now.
pub async fn stock_of(shop: &Shop, sku: SkuId) -> i64 {
    shop.stock(sku).await
}

/// How many rows a table holds (to prove that nothing was written).
pub async fn count(shop: &Shop, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(shop.db.pool())
        .await
        .unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn of(response: http::Response<Body>) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    }
}

impl Shop {
    pub async fn get(&self, uri: &str) -> Reply {
        self.get_with(uri, &[]).await
    }

    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router(self.state.clone())
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        Reply::of(response).await
    }
}

/// The hrefs in a page that start with `prefix`, in order, without repeats.
pub fn links(html: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let needle = format!("href=\"{prefix}");
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        let start = at + "href=\"".len();
        let end = rest[start..].find('"').map_or(rest.len(), |e| start + e);
        let link = rest[start..end].replace("&amp;", "&");
        if !out.contains(&link) {
            out.push(link);
        }
        rest = &rest[end..];
    }
    out
}

pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A browser signed in to a new account of `role` (its login `login`, the tests' password).
pub async fn signed_in<'a>(
    shop: &'a Shop,
    login: &str,
    role: Role,
    producer: Option<ProducerId>,
) -> Browser<'a> {
    shop.accounts
        .register(login, PASSWORD, role, producer)
        .await
        .unwrap();
    let mut browser = Browser::new(shop);
    browser.sign_in(login).await;
    browser
}

/// A browser without script: keeps cookies, sends forms, does not follow redirects.
pub struct Browser<'a> {
    pub shop: &'a Shop,
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(shop: &'a Shop) -> Browser<'a> {
        Browser {
            shop,
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: http::request::Builder, body: Body) -> Reply {
        let request = request
            .header(header::COOKIE, self.cookie_header())
            .body(body)
            .unwrap();
        let response = router(self.shop.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let reply = Reply::of(response).await;
        for value in reply.headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(Request::get(uri), Body::empty()).await
    }

    /// Posts a form as the page would, with the CSRF token the last page carried.
    pub async fn post(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let token = self.cookies.get("csrf").cloned().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(uri, &all).await
    }

    /// Signs in through the sign-in form, as `login` with the tests' password.
    pub async fn sign_in(&mut self, login: &str) {
        self.get("/login").await;
        let done = self
            .post(
                "/login",
                &[
                    ("login", login),
                    ("password", PASSWORD),
                    ("next", "/orders"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        assert_eq!(done.location(), "/orders");
    }

    /// Posts exactly these fields.
    pub async fn post_raw(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }
}

impl Reply {
    pub fn location(&self) -> String {
        self.header(header::LOCATION)
    }
}

/// The API as a client with a bearer token sees it.
pub async fn api(
    shop: &Shop,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router(shop.state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    Reply::of(response).await
}

/// A mail server that accepts every message and keeps it (envelope recipients, then the data).
pub async fn smtp_sink() -> (
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let inbox = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut recipients = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO")
                    {
                        b"250-sink\r\n250 AUTH PLAIN\r\n"
                    } else if command.starts_with("AUTH PLAIN") {
                        b"235 welcome\r\n"
                    } else if command.starts_with("RCPT TO:") {
                        recipients.push(
                            line.trim_end()[8..]
                                .trim_matches(|c| c == '<' || c == '>')
                                .to_owned(),
                        );
                        b"250 ok\r\n"
                    } else if command == "DATA" {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            lines.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        inbox
                            .lock()
                            .unwrap()
                            .push((std::mem::take(&mut recipients), data));
                        b"250 kept\r\n"
                    } else if command == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, inbox)
}
