use axum::extract::State;
use axum::response::Response;
use jinguo_catalog::Stats;
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::pages::{Req, View, render};
use crate::views::{self, ProductCard};

#[derive(Serialize)]
struct Shelf {
    name: String,
    url: String,
    count: i64,
}

#[derive(Serialize)]
struct Home {
    featured: Vec<ProductCard>,
    categories: Vec<Shelf>,
    districts: Vec<Shelf>,
    stats: Stats,
}

pub async fn home(State(state): State<AppState>, req: Req) -> Result<Response, AppError> {
    let catalog = &state.catalog;
    let (featured, categories, districts, stats) = tokio::try_join!(
        catalog.featured(12),
        catalog.categories_with_counts(),
        catalog.districts(),
        catalog.stats(),
    )?;
    let lang = req.lang;
    let body = Home {
        featured: views::cards(&featured, lang),
        categories: categories
            .iter()
            .map(|(c, n)| Shelf {
                name: lang.pick(&c.name, &c.name_en).to_owned(),
                url: views::category_url(&c.slug),
                count: *n,
            })
            .collect(),
        districts: districts
            .iter()
            .map(|(d, n)| Shelf {
                name: if lang == crate::i18n::Lang::Zh {
                    d.name.clone()
                } else {
                    d.short_name.clone()
                },
                url: views::district_url(&d.code),
                count: *n,
            })
            .collect(),
        stats,
    };
    let title = state.i18n.locale(lang).get("home.title").to_owned();
    render(&state, &req, View::new("home.html", title, body))
}
