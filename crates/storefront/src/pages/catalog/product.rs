use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, render};
use crate::views::{self, Link, Picture, ProducerPanel, ProductCard};

#[derive(Serialize)]
struct Image {
    #[serde(flatten)]
    picture: Picture,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct ProductView {
    title: String,
    title_en: String,
    description: String,
    unit: String,
    origin: String,
    shelf_life: Option<String>,
    tags: Vec<String>,
    category: Link,
    images: Vec<Image>,
}

#[derive(Serialize)]
struct SkuView {
    id: i64,
    name: String,
    price: String,
    stock: i64,
    sold_out: bool,
    low_stock: bool,
}

#[derive(Serialize)]
struct BatchView {
    code: String,
    trace_url: String,
    batch_no: String,
    produced_on: String,
    site: String,
    quantity: Option<i64>,
    note: String,
}

#[derive(Serialize)]
struct ProductPage {
    product: ProductView,
    price: String,
    skus: Vec<SkuView>,
    producer: ProducerPanel,
    story_excerpt: String,
    batches: Vec<BatchView>,
    related: Vec<ProductCard>,
    buy_note: String,
    /// Some SKU is in stock: the page offers the add-to-cart form.
    can_buy: bool,
}

pub async fn product(
    State(state): State<AppState>,
    req: Req,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let detail = state.catalog.product(&slug).await?;
    let siblings = state.catalog.products_of(detail.producer.id).await?;
    let lang = req.lang;
    let locale = state.i18n.locale(lang);
    let p = &detail.product;
    let title = lang.pick(&p.title, &p.title_en).to_owned();
    let story = lang.pick(&detail.producer.story, &detail.producer.story_en);
    let body = ProductPage {
        product: ProductView {
            title: title.clone(),
            title_en: if lang == crate::i18n::Lang::Zh {
                p.title_en.clone()
            } else {
                String::new()
            },
            description: lang
                .pick(&p.description, &p.description_en)
                .trim()
                .to_owned(),
            unit: p.unit.clone(),
            origin: p.origin.clone(),
            shelf_life: p
                .shelf_life_days
                .map(|n| locale.fill("product.shelf_life_days", &[("n", n.to_string())])),
            tags: p.tags.clone(),
            category: Link {
                label: lang
                    .pick(&detail.category.name, &detail.category.name_en)
                    .to_owned(),
                url: views::category_url(&detail.category.slug),
            },
            images: detail
                .images
                .iter()
                .map(|id| Image {
                    picture: Picture::new(*id, &title),
                    width: 480,
                    height: 360,
                })
                .collect(),
        },
        price: views::price_range(detail.skus.iter().map(|s| s.price)),
        skus: detail
            .skus
            .iter()
            .map(|s| SkuView {
                id: s.id.0,
                name: s.name.clone(),
                price: s.price.yuan_string(),
                stock: s.stock,
                sold_out: s.stock <= 0,
                low_stock: (1..=views::LOW_STOCK).contains(&s.stock),
            })
            .collect(),
        producer: views::producer_panel(&detail.producer, state.today(), lang, locale),
        story_excerpt: excerpt(story, 120),
        batches: detail
            .batches
            .iter()
            .map(|b| BatchView {
                code: b.code.clone(),
                trace_url: views::trace_url(&b.code),
                batch_no: b.batch_no.clone(),
                produced_on: b.produced_on.clone(),
                site: b.site.clone(),
                quantity: b.quantity,
                note: b.note.clone(),
            })
            .collect(),
        related: siblings
            .iter()
            .filter(|s| s.id != p.id)
            .take(8)
            .map(|s| views::card(s, lang, None))
            .collect(),
        buy_note: locale.get("listing.buy_note").to_owned(),
        can_buy: detail.skus.iter().any(|s| s.stock > 0),
    };
    render(&state, &req, View::new("product.html", title, body))
}

/// The first `max` characters of a text, cut at a character boundary, with an ellipsis.
fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}
