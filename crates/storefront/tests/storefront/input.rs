//! Invisible characters (NUL, the zero-width space, the right-to-left override) in every text
//! field of every API body and of every form a page shows: each is refused with a 400 that
//! names the field, and nothing is written. The API's bodies are read off its OpenAPI document,
//! so an endpoint added later is tried without this file changing.

use http::StatusCode;
use jinguo_accounts::Role;
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use serde_json::{Map, Value, json};

use crate::hostile::call;
use crate::support::{Shop, count, shop, token_for, two_producers};

/// Each long enough for any text's least length, so that what is refused is the character.
const SNEAKY: [&str; 3] = [
    "泉城\u{0}路 8 号",
    "泉城\u{200b}路 8 号",
    "泉城\u{202e}路 8 号",
];

/// The tables a refused request could have written to.
const TABLES: [&str; 14] = [
    "delivery_restrictions",
    "users",
    "login_failures",
    "addresses",
    "cart_items",
    "orders",
    "refunds",
    "bank_transfers",
    "payout_details",
    "payouts",
    "ledger_entries",
    "shipping_rules",
    "idempotent_requests",
    "notifications",
];

async fn written(shop: &Shop) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(count(shop, table).await);
    }
    counts
}

/// `schema` with its `$ref` followed into the document's components.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            resolved(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A body for each text field `schema` has, anywhere in it, holding only that field (set to
/// `text`, inside the objects and lists that lead to it), with the field's name.
fn bodies(doc: &Value, schema: &Value, text: &str) -> Vec<(String, Value)> {
    let schema = resolved(doc, schema);
    let mut out = Vec::new();
    for variants in ["oneOf", "anyOf", "allOf"] {
        for variant in schema[variants].as_array().into_iter().flatten() {
            out.extend(bodies(doc, variant, text));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"array") {
        for (field, item) in bodies(doc, &schema["items"], text) {
            out.push((field, json!([item])));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let property = resolved(doc, property);
            let is_text = match &property["type"] {
                Value::String(t) => t == "string",
                Value::Array(ts) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_text {
                out.push((name.clone(), json!({ name: text })));
            }
            for (field, inner) in bodies(doc, property, text) {
                let mut wrapper = Map::new();
                wrapper.insert(name.clone(), inner);
                out.push((field, Value::Object(wrapper)));
            }
        }
    }
    out
}

async fn every_api_body_refuses_invisible_characters(db: TestDb) {
    let shop = shop(db).await;
    let [(_, producer), _] = two_producers(&shop).await;
    let consumer = token_for(&shop, "buyer@example.cn", Role::Consumer, None).await;
    let maker = token_for(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    let staff = token_for(&shop, "fed@example.cn", Role::Staff, None).await;
    let doc = call(&shop.state, "GET", "/api/v1/openapi.json", &[], None)
        .await
        .json();
    let before = written(&shop).await;
    let mut tried = Vec::new();
    let mut wrong = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(schema) = operation
                .pointer("/requestBody/content/application~1json/schema")
                .cloned()
            else {
                continue;
            };
            let token = if path.starts_with("/api/v1/producer") || path.contains("/parts/") {
                &maker
            } else if path.starts_with("/api/v1/staff") {
                &staff
            } else {
                &consumer
            };
            let bearer = format!("Bearer {token}");
            // Path parameters that parse; the body is read before any is looked up.
            let uri = path
                .replace("{action}", "ship")
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = method.to_uppercase();
            for text in SNEAKY {
                for (field, body) in bodies(&doc, &schema, text) {
                    if field == "password" && !text.contains('\0') {
                        continue; // any character but a control one may be in a password
                    }
                    let r = call(
                        &shop.state,
                        &method,
                        &uri,
                        &[("authorization", &bearer)],
                        Some(body.clone()),
                    )
                    .await;
                    assert_eq!(
                        r.status,
                        StatusCode::BAD_REQUEST,
                        "{method} {uri} {body}: {}",
                        r.text()
                    );
                    let error = &r.json()["error"];
                    let message = error["message"].as_str().unwrap_or_default();
                    if error["code"] != "invalid"
                        || error["field"] != field.as_str()
                        || !message.contains("看不见的控制字符")
                    {
                        wrong.push(format!("{method} {uri} {body}: {error}"));
                    }
                    tried.push(format!("{method} {path} {field}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as they should be: {wrong:#?}"
    );
    assert_eq!(written(&shop).await, before, "a refused request wrote");
    // The document's bodies were really read: the ones with texts people type are among them.
    for expected in [
        "POST /api/v1/auth/register login",
        "POST /api/v1/checkout recipient",
        "POST /api/v1/checkout detail",
        "POST /api/v1/staff/orders/{id}/refunds reason",
        "POST /api/v1/staff/transfers reference",
        "PUT /api/v1/producer/payout-details account_name",
    ] {
        assert!(
            tried.iter().any(|t| t == expected),
            "{expected} not tried: {tried:#?}"
        );
    }
}
db_test!(every_api_body_refuses_invisible_characters);

/// A form a page shows that posts: where to, and its fields as the page fills them.
#[derive(Debug)]
pub struct PageForm {
    pub action: String,
    pub fields: Vec<FormField>,
}

#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    /// `text` for anything a person types words into (text, tel, email, password, textarea).
    pub kind: String,
    pub value: String,
}

/// `name`'s value in the tag `tag` (the text from `<` to `>`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let value = &tag[at..at + tag[at..].find('"')?];
    Some(value.replace("&amp;", "&").replace("&quot;", "\""))
}

/// The forms on `html` that post, read as a browser would send them untouched.
pub fn post_forms(html: &str) -> Vec<PageForm> {
    let mut forms = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap()];
        let body = &chunk[..chunk.find("</form>").unwrap_or(chunk.len())];
        if attribute(tag, "method").as_deref() != Some("post") {
            continue;
        }
        let mut fields: Vec<FormField> = Vec::new();
        for (open, element) in [
            ("<input", "input"),
            ("<textarea", "textarea"),
            ("<select", "select"),
        ] {
            for piece in body.split(open).skip(1) {
                let tag = &piece[..piece.find('>').unwrap()];
                let Some(name) = attribute(tag, "name") else {
                    continue;
                };
                let input_type = attribute(tag, "type").unwrap_or_else(|| "text".into());
                let (kind, value) = match element {
                    "textarea" => {
                        let content = &piece[piece.find('>').unwrap() + 1..];
                        (
                            "text".to_owned(),
                            content[..content.find("</textarea>").unwrap()].to_owned(),
                        )
                    }
                    "select" => {
                        let options = &piece[..piece.find("</select>").unwrap()];
                        let chosen = options
                            .split("<option")
                            .skip(1)
                            .find(|o| o[..o.find('>').unwrap()].contains(" selected"))
                            .or_else(|| options.split("<option").nth(1));
                        let value = chosen
                            .and_then(|o| attribute(&o[..o.find('>').unwrap()], "value"))
                            .unwrap_or_default();
                        ("choice".to_owned(), value)
                    }
                    _ => match input_type.as_str() {
                        "text" | "tel" | "email" | "password" | "search" => (
                            "text".to_owned(),
                            attribute(tag, "value").unwrap_or_default(),
                        ),
                        "radio" | "checkbox" => {
                            let checked = tag.contains(" checked");
                            let taken = fields.iter().any(|f| f.name == name);
                            if !checked && (input_type == "checkbox" || taken) {
                                continue;
                            }
                            fields.retain(|f| f.name != name);
                            (
                                "choice".to_owned(),
                                attribute(tag, "value").unwrap_or_default(),
                            )
                        }
                        "submit" | "button" => continue,
                        other => (
                            other.to_owned(),
                            attribute(tag, "value").unwrap_or_default(),
                        ),
                    },
                };
                fields.push(FormField { name, kind, value });
            }
        }
        forms.push(PageForm {
            action: attribute(tag, "action").unwrap(),
            fields,
        });
    }
    forms
}

/// What a careful person would type where a page left a field empty.
pub fn typed_value(name: &str) -> &'static str {
    match name {
        "login" => "13900139077",
        "password" | "password2" | "current" => crate::support::PASSWORD,
        "new" | "new2" => "another long password",
        "recipient" => "王芳",
        "phone" => "13900139000",
        "region_code" => "370102",
        "detail" => "历下区泉城路 8 号",
        "reason" => "包装破损",
        "amount" | "fee" | "per_kg" | "threshold" => "1.00",
        "reference" => "REF-2026",
        "received_on" => "2026-11-29",
        "carrier" => "中国邮政",
        "tracking_no" => "98012345",
        "account_name" => "重庆巧姐合作社",
        "account_no" => "6214 8301 2345 6789",
        "bank_name" => "重庆农村商业银行",
        "stripe_account" => "acct_1A2b3C",
        "note" => "账号有误",
        "notice" => "暂停配送",
        "stock" | "quantity" => "1",
        "month" => "2026-11",
        "code" => "54",
        _ => "",
    }
}

/// Texts whose value is read as a number, a date or a code: an invisible character in one is
/// refused as not being one (naming the field), not as an invisible character.
const READ_AS_VALUES: [&str; 8] = [
    "amount",
    "fee",
    "per_kg",
    "threshold",
    "phone",
    "month",
    "account_no",
    "code",
];

/// Fields that count only with a choice made elsewhere in their form (a new address rather
/// than a saved one, a shipping rule by weight): the choice and its value.
fn counts_with(field: &str) -> Option<(&'static str, &'static str)> {
    match field {
        "recipient" | "phone" | "detail" => Some(("address_id", "")),
        "per_kg" => Some(("kind", "by_weight")),
        "threshold" => Some(("kind", "free_over")),
        "account_name" | "account_no" | "bank_name" => Some(("method", "bank")),
        "stripe_account" => Some(("method", "stripe")),
        _ => None,
    }
}

async fn every_form_refuses_invisible_characters(db: TestDb) {
    use crate::support::{Browser, shop_with, signed_in};
    let shop = shop_with(db, |s| {
        s.settlement.minimum_payout = jinguo_common::money::Fen(1)
    })
    .await;
    // A shop with something on every page: producers owed money and a payout to mark, an
    // order to cancel, one to refund, a part to ship, and a cart to check out.
    let (_, _) = crate::e2e::producers_owed(&shop, 1).await;
    shop.settlement.settle("test").await.unwrap();
    let payout: i64 = sqlx::query_scalar("select id from payouts")
        .fetch_one(shop.db.pool())
        .await
        .unwrap();
    let [(sku, producer), _] = two_producers(&shop).await;
    let mut buyer = signed_in(&shop, "13900139001", Role::Consumer, None).await;
    let user = shop
        .accounts
        .by_login("13900139001")
        .await
        .unwrap()
        .unwrap();
    let unpaid = shop.order(&user, &[(sku, 1)]).await.placed.order_id;
    let paid = shop.order(&user, &[(sku, 1)]).await.placed.order_id;
    shop.pay(paid).await;
    let sku_text = sku.0.to_string();
    buyer
        .post("/cart/items", &[("sku_id", &sku_text), ("quantity", "1")])
        .await;
    let mut maker = signed_in(&shop, "13900139002", Role::Producer, Some(producer)).await;
    let mut staff = signed_in(&shop, "13900139003", Role::Staff, None).await;
    let mut visitor = Browser::new(&shop);

    let pages: Vec<(&mut Browser, Vec<String>)> = vec![
        (&mut visitor, vec!["/login".into(), "/register".into()]),
        (
            &mut buyer,
            vec![
                "/cart".into(),
                "/checkout".into(),
                "/account".into(),
                format!("/orders/{unpaid}"),
            ],
        ),
        (
            &mut maker,
            vec![
                "/producer/orders".into(),
                "/producer/stock".into(),
                "/producer/money".into(),
            ],
        ),
        (
            &mut staff,
            vec![
                "/staff/payments".into(),
                "/staff/restrictions".into(),
                "/staff/money".into(),
                format!("/staff/orders/{paid}/refund"),
            ],
        ),
    ];
    let before = written(&shop).await;
    let (mut tried, mut wrong) = (Vec::new(), Vec::new());
    for (browser, urls) in pages {
        for url in urls {
            let page = browser.get(&url).await;
            assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text());
            for form in post_forms(&page.text()) {
                for (i, field) in form.fields.iter().enumerate() {
                    if field.kind != "text" {
                        continue;
                    }
                    for text in SNEAKY {
                        let password =
                            ["password", "current", "new"].contains(&field.name.as_str());
                        let confirmation = ["password2", "new2"].contains(&field.name.as_str());
                        if confirmation || (password && !text.contains('\0')) {
                            continue; // any character but a control one may be in a password
                        }
                        let choice = counts_with(&field.name);
                        // Refresh the page for new single-use tokens, then send it with this
                        // one field holding the invisible character.
                        let fresh = post_forms(&browser.get(&url).await.text())
                            .into_iter()
                            .find(|f| f.action == form.action)
                            .unwrap_or_else(|| {
                                panic!("{url} lost its form {}: {wrong:#?}", form.action)
                            });
                        let sent: Vec<(String, String)> = fresh
                            .fields
                            .iter()
                            .enumerate()
                            .filter(|(_, f)| f.name != "csrf")
                            .map(|(j, f)| {
                                let value = if field.name == "lines" && j == i {
                                    // A row of the bank's file, its reference holding it.
                                    format!("{payout},{text}")
                                } else if j == i || f.name == format!("{}2", field.name) {
                                    text.to_owned()
                                } else if let Some((_, chosen)) =
                                    choice.filter(|(name, _)| *name == f.name)
                                {
                                    chosen.to_owned()
                                } else if f.value.is_empty() {
                                    typed_value(&f.name).to_owned()
                                } else {
                                    f.value.clone()
                                };
                                (f.name.clone(), value)
                            })
                            .collect();
                        let sent: Vec<(&str, &str)> =
                            sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        let r = browser.post(&form.action, &sent).await;
                        let said = r.text().contains("看不见的控制字符")
                            || READ_AS_VALUES.contains(&field.name.as_str());
                        if !r.status.is_client_error() || !said || written(&shop).await != before {
                            wrong.push(format!(
                                "{} {} = {text:?}: {} {}",
                                form.action,
                                field.name,
                                r.status,
                                r.location()
                            ));
                        }
                        tried.push(format!("{} {}", form.action, field.name));
                    }
                }
            }
        }
    }
    tried.dedup();
    assert!(
        wrong.is_empty(),
        "not refused as they should be: {wrong:#?}"
    );
    assert_eq!(written(&shop).await, before, "a refused form wrote");
    for expected in [
        "/register login",
        "/checkout recipient",
        "/checkout detail",
        "/producer/money/details account_name",
        "/staff/payments reference",
        "/staff/money/confirm lines",
        "/staff/money/payouts/1/failed note",
        "/login password",
    ] {
        assert!(
            tried.iter().any(|t| t == expected),
            "{expected} not tried: {tried:#?}"
        );
    }
    assert!(
        tried.iter().any(|t| t.ends_with("/ship carrier")),
        "{tried:#?}"
    );
}
db_test!(every_form_refuses_invisible_characters);
