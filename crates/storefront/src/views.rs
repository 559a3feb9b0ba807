//! What templates and API responses show, built from domain values: display-ready strings, URLs,
//! the right language's text.

use jinguo_catalog::image::{ImageId, Size};
use jinguo_catalog::{Certification, Producer, ProductSummary};
use jinguo_common::money::Fen;
use jinguo_common::region::regions;
use serde::Serialize;

use crate::i18n::{Lang, Locale};

pub fn image_url(id: ImageId, size: Size) -> String {
    format!("/images/{id}/{}.jpg", size.as_str())
}

pub fn product_url(slug: &str) -> String {
    format!("/products/{slug}")
}

pub fn producer_url(slug: &str) -> String {
    format!("/producers/{slug}")
}

pub fn trace_url(code: &str) -> String {
    format!("/trace/{code}")
}

pub fn district_url(code: &str) -> String {
    format!("/products?district={code}")
}

pub fn category_url(slug: &str) -> String {
    format!("/products?category={slug}")
}

/// The district's everyday name (城口), or the code when unknown.
pub fn district_short(code: &str) -> String {
    regions()
        .district(code)
        .map(|d| d.short_name.clone())
        .unwrap_or_else(|| code.to_owned())
}

#[derive(Debug, Clone, Serialize)]
pub struct Picture {
    pub thumb: String,
    pub card: String,
    pub large: String,
    pub alt: String,
}

impl Picture {
    pub fn new(id: ImageId, alt: &str) -> Picture {
        Picture {
            thumb: image_url(id, Size::Thumb),
            card: image_url(id, Size::Card),
            large: image_url(id, Size::Large),
            alt: alt.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardProducer {
    pub name: String,
    pub url: String,
    pub district: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProductCard {
    pub url: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_html: Option<String>,
    pub price: String,
    pub price_from: bool,
    pub stock: i64,
    pub sold_out: bool,
    pub low_stock: bool,
    pub image: Option<Picture>,
    pub producer: CardProducer,
}

/// Stock at or below this is shown as "only N left".
pub const LOW_STOCK: i64 = 5;

pub fn card(p: &ProductSummary, lang: Lang, highlight: Option<&String>) -> ProductCard {
    let title = lang.pick(&p.title, &p.title_en).to_owned();
    ProductCard {
        url: product_url(&p.slug),
        // Highlights mark the Chinese title; show them only when that is the title shown.
        title_html: highlight.filter(|_| title == p.title).cloned(),
        image: p.image_id.map(|id| Picture::new(id, &title)),
        title,
        price: p.price.yuan_string(),
        price_from: p.price_max > p.price,
        stock: p.stock,
        sold_out: p.stock <= 0,
        low_stock: (1..=LOW_STOCK).contains(&p.stock),
        producer: CardProducer {
            name: lang.pick(&p.producer.name, &p.producer.name_en).to_owned(),
            url: producer_url(&p.producer.slug),
            district: district_short(&p.producer.district_code),
            verified: p.producer.verified,
        },
    }
}

pub fn cards(items: &[ProductSummary], lang: Lang) -> Vec<ProductCard> {
    items.iter().map(|p| card(p, lang, None)).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificationView {
    /// `valid`, `expired` or `none`.
    pub status: &'static str,
    pub number: String,
    pub until: String,
}

impl CertificationView {
    pub fn new(certification: &Certification) -> Self {
        match certification {
            Certification::Valid { number, until } => CertificationView {
                status: "valid",
                number: number.clone(),
                until: until.clone(),
            },
            Certification::Expired { number, until } => CertificationView {
                status: "expired",
                number: number.clone(),
                until: until.clone(),
            },
            Certification::None => CertificationView {
                status: "none",
                number: String::new(),
                until: String::new(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProducerPanel {
    pub name: String,
    pub url: String,
    pub kind: &'static str,
    pub kind_label: String,
    pub place: String,
    pub district: Link,
    pub verified: bool,
    pub certification: CertificationView,
    pub women_employed: i64,
    pub founded_year: Option<i64>,
    pub image: Option<Picture>,
}

pub fn producer_panel(
    p: &Producer,
    today: time::Date,
    lang: Lang,
    locale: &Locale,
) -> ProducerPanel {
    let name = lang.pick(&p.name, &p.name_en).to_owned();
    let district_name = regions()
        .district(&p.district_code)
        .map(|d| {
            if lang == Lang::Zh {
                d.name.clone()
            } else {
                d.short_name.clone()
            }
        })
        .unwrap_or_default();
    ProducerPanel {
        url: producer_url(&p.slug),
        kind: p.kind.as_str(),
        kind_label: locale.get(&format!("kinds.{}", p.kind.as_str())).to_owned(),
        place: p.place(),
        district: Link {
            label: district_name,
            url: district_url(&p.district_code),
        },
        verified: p.verified,
        certification: CertificationView::new(&p.certification(today)),
        women_employed: p.women_employed,
        founded_year: p.founded_year,
        image: p.image_id.map(|id| Picture::new(id, &name)),
        name,
    }
}

/// `68.00` or `68.00–132.00`
pub fn price_range(prices: impl Iterator<Item = Fen>) -> String {
    let prices: Vec<Fen> = prices.collect();
    let (Some(min), Some(max)) = (prices.iter().min(), prices.iter().max()) else {
        return String::new();
    };
    if min == max {
        min.yuan_string()
    } else {
        format!("{}–{}", min.yuan_string(), max.yuan_string())
    }
}

/// A moment as people in China read it: `2026-11-29 18:30` (UTC+8).
pub fn when(ms: jinguo_common::clock::Millis) -> String {
    let china = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(china);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// A notification in words: its `[notifications]` string with its values filled in.
pub fn notification_text(
    locale: &crate::i18n::Locale,
    n: &jinguo_order::notify::Notification,
) -> String {
    let args: Vec<(&str, String)> = n
        .args
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    locale.fill(&format!("notifications.{}", n.kind), &args)
}

/// A CSV download.
pub fn csv_response(csv: String, filename: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (
                http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        csv,
    )
        .into_response()
}

/// The month a page or the API asks for (`2026-11`), this month in China when none.
pub fn month_of(
    clock: &jinguo_common::Clock,
    month: Option<&str>,
) -> Result<jinguo_settlement::statement::Month, crate::error::AppError> {
    use jinguo_settlement::statement::Month;
    match month {
        Some(m) if !m.trim().is_empty() => Ok(Month::parse(m)?),
        _ => Ok(Month::of(clock.now_ms())),
    }
}
