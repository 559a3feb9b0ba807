//! Set-up for the storefront's tests: the whole app over a fresh test database, with the demo
//! catalog, driven through its router without a socket.

#![allow(dead_code)]

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_common::Clock;
use jinguo_common::config::Settings;
use jinguo_common::testing::TestDb;
use jinguo_storefront::{App, AppState, router};
use secrecy::SecretString;
use tower::ServiceExt;

/// Noon on 2026-11-29 in Chongqing.
pub const NOW: i64 = 1_795_924_800_000;

pub struct Shop {
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    pub db: TestDb,
}

pub async fn shop(db: TestDb, pictures: bool) -> Shop {
    let shop = shop_with(db, pictures, |_| {}).await;
    shop.state.catalog.sync_search().await.unwrap();
    shop
}

/// A shop with the demo catalog and the settings `tweak` changes; its search index may not be
/// in step yet (the caller syncs it if it can).
pub async fn shop_with(db: TestDb, pictures: bool, tweak: impl FnOnce(&mut Settings)) -> Shop {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults();
    settings.database_url = Some(SecretString::from(db.url()));
    settings.data_dir = data_dir.path().to_owned();
    tweak(&mut settings);
    let app = App::build(settings, Clock::manual(NOW)).await.unwrap();
    demo::seed(&app.state.catalog, SeedOptions { pictures }, &|_, _| {})
        .await
        .unwrap();
    Shop {
        state: app.state,
        data_dir,
        db,
    }
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

/// A shop whose passwords hash fast (tests sign many people in).
pub async fn fast_shop(db: TestDb) -> Shop {
    let shop = shop_with(db, false, |s| {
        s.password_hash = "fast".to_owned();
        s.login_limit_per_address = 10_000;
    })
    .await;
    shop.state.catalog.sync_search().await.unwrap();
    shop
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
