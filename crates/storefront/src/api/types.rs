//! What the API returns. Separate from the domain types so the wire format changes only on
//! purpose.

use jinguo_catalog::{Batch, Producer, ProductSummary};
use jinguo_common::region::regions;
use serde::Serialize;
use utoipa::ToSchema;

use crate::views::{self, CertificationView};
use jinguo_catalog::image::{ImageId, Size};

#[derive(Serialize, ToSchema)]
pub struct District {
    /// Six-digit GB/T 2260 code.
    pub code: String,
    pub name: String,
}

impl District {
    pub fn of(code: &str) -> District {
        District {
            code: code.to_owned(),
            name: regions()
                .district(code)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProducerBrief {
    pub slug: String,
    pub name: String,
    pub district: District,
    pub verified: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Images {
    /// 160×120
    pub thumb: String,
    /// 480×360
    pub card: String,
    /// At most 1200 on the long side.
    pub large: String,
}

impl Images {
    pub fn of(id: ImageId) -> Images {
        Images {
            thumb: views::image_url(id, Size::Thumb),
            card: views::image_url(id, Size::Card),
            large: views::image_url(id, Size::Large),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProductItem {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub category: String,
    /// Lowest SKU price, in fen.
    pub price_fen: i64,
    /// Highest SKU price, in fen.
    pub max_price_fen: i64,
    /// Units in stock over all SKUs.
    pub stock: i64,
    pub image: Option<Images>,
    pub producer: ProducerBrief,
    /// The title with matched words in `<mark>…</mark>` (HTML-escaped), for searches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
}

impl ProductItem {
    pub fn of(p: &ProductSummary, highlight: Option<&String>) -> ProductItem {
        ProductItem {
            id: p.id.0,
            slug: p.slug.clone(),
            title: p.title.clone(),
            title_en: p.title_en.clone(),
            category: p.category_slug.clone(),
            price_fen: p.price.0,
            max_price_fen: p.price_max.0,
            stock: p.stock,
            image: p.image_id.map(Images::of),
            producer: ProducerBrief {
                slug: p.producer.slug.clone(),
                name: p.producer.name.clone(),
                district: District::of(&p.producer.district_code),
                verified: p.producer.verified,
            },
            highlight: highlight.cloned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Certificate {
    /// `valid`, `expired` or `none`.
    pub status: String,
    pub number: Option<String>,
    /// Last day of validity, `YYYY-MM-DD`.
    pub until: Option<String>,
}

impl Certificate {
    pub fn of(view: CertificationView) -> Certificate {
        let present = view.status != "none";
        Certificate {
            status: view.status.to_owned(),
            number: present.then_some(view.number),
            until: present.then_some(view.until),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProducerInfo {
    pub slug: String,
    /// `workshop` (巾帼扶贫车间), `base` (巾帼脱贫示范基地), `cooperative` or `household`.
    pub kind: String,
    pub name: String,
    pub name_en: String,
    pub district: District,
    pub township: String,
    pub village: String,
    pub story: String,
    pub story_en: String,
    pub verified: bool,
    pub certification: Certificate,
    /// Women employed or organised, as declared by the producer.
    pub women_employed: i64,
    pub founded_year: Option<i64>,
    pub image: Option<Images>,
}

impl ProducerInfo {
    pub fn of(p: &Producer, today: time::Date) -> ProducerInfo {
        ProducerInfo {
            slug: p.slug.clone(),
            kind: p.kind.as_str().to_owned(),
            name: p.name.clone(),
            name_en: p.name_en.clone(),
            district: District::of(&p.district_code),
            township: p.township.clone(),
            village: p.village.clone(),
            story: p.story.trim().to_owned(),
            story_en: p.story_en.trim().to_owned(),
            verified: p.verified,
            certification: Certificate::of(CertificationView::new(&p.certification(today))),
            women_employed: p.women_employed,
            founded_year: p.founded_year,
            image: p.image_id.map(Images::of),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProducerRef {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Provenance {
    /// The public code printed on the batch's packages.
    pub code: String,
    pub batch_no: String,
    /// Production or harvest date, `YYYY-MM-DD`.
    pub batch_date: String,
    /// Where the batch was made or harvested.
    pub site: String,
    pub quantity: Option<i64>,
    pub note: String,
    pub producer: ProducerRef,
    /// The public trace page.
    pub trace_url: String,
}

impl Provenance {
    pub fn of(b: &Batch, producer: &Producer) -> Provenance {
        Provenance {
            code: b.code.clone(),
            batch_no: b.batch_no.clone(),
            batch_date: b.produced_on.clone(),
            site: b.site.clone(),
            quantity: b.quantity,
            note: b.note.clone(),
            producer: ProducerRef {
                slug: producer.slug.clone(),
                name: producer.name.clone(),
            },
            trace_url: views::trace_url(&b.code),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PayoutBody {
    pub id: i64,
    pub batch_id: i64,
    pub producer_id: i64,
    pub producer_name: String,
    pub amount_fen: i64,
    /// `stripe` or `bank`
    pub method: String,
    /// `pending`, `sending`, `sent` or `failed`
    pub status: String,
    pub provider_ref: Option<String>,
    pub note: String,
}

impl From<jinguo_settlement::payout::Payout> for PayoutBody {
    fn from(p: jinguo_settlement::payout::Payout) -> Self {
        PayoutBody {
            id: p.id.0,
            batch_id: p.batch_id.0,
            producer_id: p.producer_id.0,
            producer_name: p.producer_name,
            amount_fen: p.amount.0,
            method: p.method.as_str().to_owned(),
            status: p.status.as_str().to_owned(),
            provider_ref: p.provider_ref,
            note: p.note,
        }
    }
}
