//! Languages: zh-CN first, English second. Strings shown to people live in
//! `web/locales/{zh-CN,en}.toml`; templates see them as `t`, handlers look them up by dotted key.
//! Templates and locales are compiled into the binary, so `jinguo` runs from any directory.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;

use crate::error::{Arg, Msg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Lang {
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

pub const LANG_COOKIE: &str = "lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name, for the switch link.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "zh-CN" | "zh" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The shopper's language: the switch they chose (a cookie), else what their browser asks
    /// for first, else Chinese.
    pub fn from_parts(parts: &Parts) -> Lang {
        Lang::from_headers(&parts.headers)
    }

    pub fn from_headers(headers: &http::HeaderMap) -> Lang {
        let cookie = headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        if let Some(lang) = cookie {
            return lang;
        }
        let accept = headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let first = accept
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if first.starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// Picks the text in this language, falling back to Chinese when there is no English.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::En if !en.trim().is_empty() => en,
            _ => zh,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Lang::from_parts(parts))
    }
}

/// One language's strings, flattened to dotted keys (`errors.bad_page`).
pub struct Locale {
    strings: HashMap<String, String>,
    /// The same strings as nested tables, for templates.
    pub tree: toml::Table,
}

impl Locale {
    pub fn parse(source: &str) -> anyhow::Result<Locale> {
        let tree: toml::Table = toml::from_str(source)?;
        let mut strings = HashMap::new();
        flatten("", &tree, &mut strings);
        Ok(Locale { strings, tree })
    }

    /// The string at `key`, or the key itself when missing (visible, never a crash).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.strings.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The string at `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, args: &[(&str, String)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// A message in this language, its `{name}`s filled (a value that is a message itself is
    /// said in this language too).
    pub fn say(&self, msg: &Msg) -> String {
        let mut text = self.get(&msg.key).to_owned();
        for (name, arg) in &msg.args {
            let value = match arg {
                Arg::Text(text) => text.clone(),
                Arg::Msg(inner) => self.say(inner),
            };
            text = text.replace(&format!("{{{name}}}"), &value);
        }
        text
    }

    /// Whether this language has a string at `key`.
    pub fn has(&self, key: &str) -> bool {
        self.strings.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.strings.keys()
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            toml::Value::String(s) => {
                out.insert(path, s.clone());
            }
            other => {
                out.insert(path, other.to_string());
            }
        }
    }
}

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../web/templates/base.html"),
    ),
    (
        "components.html",
        include_str!("../../../web/templates/components.html"),
    ),
    (
        "home.html",
        include_str!("../../../web/templates/home.html"),
    ),
    (
        "listing.html",
        include_str!("../../../web/templates/listing.html"),
    ),
    (
        "product.html",
        include_str!("../../../web/templates/product.html"),
    ),
    (
        "producer.html",
        include_str!("../../../web/templates/producer.html"),
    ),
    (
        "producers.html",
        include_str!("../../../web/templates/producers.html"),
    ),
    (
        "trace.html",
        include_str!("../../../web/templates/trace.html"),
    ),
    (
        "error.html",
        include_str!("../../../web/templates/error.html"),
    ),
    (
        "account_nav.html",
        include_str!("../../../web/templates/account_nav.html"),
    ),
    (
        "login.html",
        include_str!("../../../web/templates/login.html"),
    ),
    (
        "register.html",
        include_str!("../../../web/templates/register.html"),
    ),
    (
        "account.html",
        include_str!("../../../web/templates/account.html"),
    ),
    (
        "cart.html",
        include_str!("../../../web/templates/cart.html"),
    ),
    (
        "checkout.html",
        include_str!("../../../web/templates/checkout.html"),
    ),
    (
        "order.html",
        include_str!("../../../web/templates/order.html"),
    ),
    (
        "orders.html",
        include_str!("../../../web/templates/orders.html"),
    ),
    (
        "producer_orders.html",
        include_str!("../../../web/templates/producer_orders.html"),
    ),
    (
        "producer_stock.html",
        include_str!("../../../web/templates/producer_stock.html"),
    ),
    (
        "staff_payments.html",
        include_str!("../../../web/templates/staff_payments.html"),
    ),
    (
        "staff_restrictions.html",
        include_str!("../../../web/templates/staff_restrictions.html"),
    ),
    (
        "order_pay.html",
        include_str!("../../../web/templates/order_pay.html"),
    ),
    (
        "producer_money.html",
        include_str!("../../../web/templates/producer_money.html"),
    ),
    (
        "staff_money.html",
        include_str!("../../../web/templates/staff_money.html"),
    ),
    (
        "staff_reconciliation.html",
        include_str!("../../../web/templates/staff_reconciliation.html"),
    ),
    (
        "staff_refund.html",
        include_str!("../../../web/templates/staff_refund.html"),
    ),
];

const ZH: &str = include_str!("../../../web/locales/zh-CN.toml");
const EN: &str = include_str!("../../../web/locales/en.toml");

/// The compiled templates and strings of both languages.
pub struct I18n {
    zh: (tera::Tera, Locale),
    en: (tera::Tera, Locale),
}

impl I18n {
    pub fn load() -> anyhow::Result<I18n> {
        let build = |source: &str| -> anyhow::Result<(tera::Tera, Locale)> {
            let locale = Locale::parse(source)?;
            let mut tera = tera::Tera::new();
            tera.autoescape_on([".html"]);
            tera.add_raw_templates(TEMPLATES.iter().copied())
                .map_err(|e| anyhow::anyhow!("templates: {e}"))?;
            tera.global_context().insert("t", &locale.tree);
            Ok((tera, locale))
        };
        let zh = build(ZH)?;
        let en = build(EN)?;
        if let Some(missing) = zh.1.keys().find(|k| !en.1.strings.contains_key(*k)) {
            anyhow::bail!("web/locales/en.toml lacks the key {missing} that zh-CN.toml has");
        }
        Ok(I18n { zh, en })
    }

    pub fn tera(&self, lang: Lang) -> &tera::Tera {
        match lang {
            Lang::Zh => &self.zh.0,
            Lang::En => &self.en.0,
        }
    }

    pub fn locale(&self, lang: Lang) -> &Locale {
        match lang {
            Lang::Zh => &self.zh.1,
            Lang::En => &self.en.1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, field_key, problem};
    use jinguo_common::invalid::{Field, Invalid, Problem};

    /// Every message a person can be shown, in every language, with nothing left unfilled.
    #[test]
    fn every_message_is_said_in_both_languages() {
        let i18n = I18n::load().unwrap();
        let mut keys: Vec<String> = Vec::new();
        keys.extend(ErrorCode::ALL.iter().map(|c| c.key()));
        keys.extend(Field::ALL.iter().map(|f| field_key(*f)));
        for kind in jinguo_settlement::reconcile::MismatchKind::ALL {
            keys.push(format!("money.mismatch.{kind}"));
        }
        for flag in jinguo_order::FlagReason::ALL {
            keys.push(format!("flag_reasons.{flag}"));
        }
        for status in jinguo_settlement::PayoutStatus::ALL {
            keys.push(format!("money.payout_status.{status}"));
        }
        for method in jinguo_settlement::PayoutMethod::ALL {
            keys.push(format!("money.method.{method}"));
        }
        for status in jinguo_order::state::OrderStatus::ALL {
            keys.push(format!("order_status.{status}"));
        }
        for status in jinguo_order::state::PartStatus::ALL {
            keys.push(format!("part_status.{status}"));
        }
        for actor in jinguo_order::state::ActorKind::ALL {
            keys.push(format!("actors.{actor}"));
        }
        for kind in jinguo_order::state::ActionKind::ON_PARTS {
            keys.push(format!("part_actions.{kind}"));
        }
        for outcome in jinguo_order::TransferOutcome::ALL {
            keys.push(format!("transfer_outcome.{outcome}"));
        }
        for level in jinguo_order::region::Level::ALL {
            keys.push(format!("levels.{level}"));
        }
        for lang in [Lang::Zh, Lang::En] {
            let locale = i18n.locale(lang);
            for key in &keys {
                assert!(locale.has(key), "{} lacks {key}", lang.code());
            }
            for p in Problem::examples() {
                let said = locale.say(&crate::error::Msg::invalid(&Invalid::new(Field::Phone, p)));
                assert!(
                    !said.contains('{') && !said.contains("problems."),
                    "{}: {said}",
                    lang.code()
                );
            }
            let needs = problem(&Problem::NeedsAlso {
                other: Field::CertifiedUntil,
            });
            let said = locale.say(&needs);
            assert!(
                said.contains(locale.get("fields.certified_until")),
                "{said}"
            );
        }
    }

    #[test]
    fn a_field_error_reads_in_the_visitors_language() {
        let i18n = I18n::load().unwrap();
        let invalid = Invalid::new(Field::Recipient, Problem::Length { min: 1, max: 20 });
        let msg = crate::error::Msg::invalid(&invalid);
        assert_eq!(
            i18n.locale(Lang::Zh).say(&msg),
            "收货人：需要 1 到 20 个字。"
        );
        assert_eq!(
            i18n.locale(Lang::En).say(&msg),
            "Recipient: 1 to 20 characters."
        );
    }
}
