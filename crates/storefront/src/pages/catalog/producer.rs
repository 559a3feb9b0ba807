use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, render};
use crate::views::{self, ProducerPanel, ProductCard};

#[derive(Serialize)]
struct ProducerPage {
    producer: ProducerPanel,
    story: String,
    products: Vec<ProductCard>,
    founded_year: Option<i64>,
}

pub async fn producer(
    State(state): State<AppState>,
    req: Req,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let found = state.catalog.producer(&slug).await?;
    let (producer, products) = (&found.0, &found.1);
    let lang = req.lang;
    let panel = views::producer_panel(producer, state.today(), lang, state.i18n.locale(lang));
    let body = ProducerPage {
        story: lang
            .pick(&producer.story, &producer.story_en)
            .trim()
            .to_owned(),
        products: views::cards(products, lang),
        founded_year: producer.founded_year,
        producer: panel,
    };
    let title = body.producer.name.clone();
    render(&state, &req, View::new("producer.html", title, body))
}

#[derive(Serialize)]
struct Entry {
    panel: ProducerPanel,
    products: i64,
}

#[derive(Serialize)]
struct ProducersPage {
    producers: Vec<Entry>,
}

pub async fn producers(State(state): State<AppState>, req: Req) -> Result<Response, AppError> {
    let lang = req.lang;
    let locale = state.i18n.locale(lang);
    let (producers, counts) = tokio::try_join!(
        state.catalog.producers(),
        state.catalog.product_counts_by_producer()
    )?;
    let body = ProducersPage {
        producers: producers
            .iter()
            .map(|p| Entry {
                panel: views::producer_panel(p, state.today(), lang, locale),
                products: counts.get(&p.id).copied().unwrap_or(0),
            })
            .collect(),
    };
    let title = locale.get("producer.list_title").to_owned();
    render(&state, &req, View::new("producers.html", title, body))
}
