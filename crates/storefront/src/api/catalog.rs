//! The catalog through the API: products (listing and search), a product, a producer, and
//! what a provenance code leads to.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::ErrorBody;
use super::types::{Images, ProducerInfo, ProductItem, Provenance};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::query::ListingParams;
use crate::views;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(list))
        .route("/products/{slug}", get(detail))
        .route("/producers/{slug}", get(producer))
        .route("/trace/{code}", get(trace))
}

#[derive(Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductItem>,
    /// Matching products over all pages.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// With search text: facet name (`category`, `district`, `producer_kind`, `certified`) →
    /// value → number of matching products.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<BTreeMap<String, BTreeMap<String, u64>>>,
}

/// Products, filtered, sorted and paged; with `q`, a search.
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "catalog",
    params(ListingParams),
    responses(
        (status = 200, body = ProductList),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 503, description = "Search is unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListingParams>, QueryRejection>,
) -> Result<Json<ProductList>, AppError> {
    let Query(params) = params.map_err(|_| AppError::bad(ErrorCode::BadQuery))?;
    let categories = state.catalog.categories().await?;
    let mut query = params.parse(&categories)?;
    if query.per_page == 0 {
        query.per_page = jinguo_catalog::listing::DEFAULT_PER_PAGE;
    }
    let browse = state.catalog.browse(&query).await?;
    let facets = browse.facets.clone().map(|f| {
        BTreeMap::from([
            ("category".to_owned(), f.category),
            ("district".to_owned(), f.district),
            ("producer_kind".to_owned(), f.producer_kind),
            ("certified".to_owned(), f.certified),
        ])
    });
    Ok(Json(ProductList {
        items: browse
            .page
            .items
            .iter()
            .map(|p| ProductItem::of(p, browse.highlights.get(&p.id)))
            .collect(),
        total: browse.page.total,
        page: browse.page.page,
        per_page: browse.page.per_page,
        facets,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Sku {
    pub id: i64,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
    pub weight_g: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub name_en: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProductDetail {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub description: String,
    pub description_en: String,
    pub unit: String,
    pub origin: String,
    pub shelf_life_days: Option<i64>,
    pub tags: Vec<String>,
    pub category: Category,
    /// Lowest SKU price, in fen.
    pub price_fen: i64,
    /// Units in stock over all SKUs.
    pub stock: i64,
    pub skus: Vec<Sku>,
    pub images: Vec<Images>,
    pub producer: ProducerInfo,
    /// The product's batches, newest first, each with its public provenance code.
    pub provenance: Vec<Provenance>,
}

/// One product with its SKUs, pictures, producer and provenance.
#[utoipa::path(
    get,
    path = "/api/v1/products/{slug}",
    tag = "catalog",
    params(("slug" = String, Path, description = "The product's slug")),
    responses((status = 200, body = ProductDetail), (status = 404, body = ErrorBody))
)]
pub async fn detail(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<ProductDetail>, AppError> {
    let d = state.catalog.product(&slug).await?;
    let p = &d.product;
    Ok(Json(ProductDetail {
        id: p.id.0,
        slug: p.slug.clone(),
        title: p.title.clone(),
        title_en: p.title_en.clone(),
        description: p.description.trim().to_owned(),
        description_en: p.description_en.trim().to_owned(),
        unit: p.unit.clone(),
        origin: p.origin.clone(),
        shelf_life_days: p.shelf_life_days,
        tags: p.tags.clone(),
        category: Category {
            slug: d.category.slug.clone(),
            name: d.category.name.clone(),
            name_en: d.category.name_en.clone(),
        },
        price_fen: d.skus.iter().map(|s| s.price.0).min().unwrap_or(0),
        stock: d.skus.iter().map(|s| s.stock).sum(),
        skus: d
            .skus
            .iter()
            .map(|s| Sku {
                id: s.id.0,
                name: s.name.clone(),
                price_fen: s.price.0,
                stock: s.stock,
                weight_g: s.weight_g,
            })
            .collect(),
        images: d.images.iter().copied().map(Images::of).collect(),
        producer: ProducerInfo::of(&d.producer, state.today()),
        provenance: d
            .batches
            .iter()
            .map(|b| Provenance::of(b, &d.producer))
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ProducerDetail {
    #[serde(flatten)]
    pub producer: ProducerInfo,
    /// Its published products.
    pub products: Vec<ProductItem>,
}

/// A producer: place, story, verification and certificate, and its products.
#[utoipa::path(
    get,
    path = "/api/v1/producers/{slug}",
    tag = "catalog",
    params(("slug" = String, Path, description = "The producer's slug")),
    responses((status = 200, body = ProducerDetail), (status = 404, body = ErrorBody))
)]
pub async fn producer(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<ProducerDetail>, AppError> {
    let found = state.catalog.producer(&slug).await?;
    let (producer, products) = (&found.0, &found.1);
    Ok(Json(ProducerDetail {
        producer: ProducerInfo::of(producer, state.today()),
        products: products.iter().map(|p| ProductItem::of(p, None)).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TracedProduct {
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub url: String,
    pub image: Option<Images>,
}

#[derive(Serialize, ToSchema)]
pub struct TraceResult {
    pub code: String,
    pub batch: Provenance,
    pub product: TracedProduct,
    pub producer: ProducerInfo,
}

/// What a provenance code on a package stands for: the batch, its product and its producer.
#[utoipa::path(
    get,
    path = "/api/v1/trace/{code}",
    tag = "catalog",
    params(("code" = String, Path, description = "The eight-character code on the package; case and dashes ignored")),
    responses((status = 200, body = TraceResult), (status = 404, body = ErrorBody))
)]
pub async fn trace(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<TraceResult>, AppError> {
    let t = state.catalog.trace(&code).await?;
    Ok(Json(TraceResult {
        code: t.batch.code.clone(),
        batch: Provenance::of(&t.batch, &t.producer),
        product: TracedProduct {
            slug: t.product.slug.clone(),
            title: t.product.title.clone(),
            title_en: t.product.title_en.clone(),
            url: views::product_url(&t.product.slug),
            image: t.image_id.map(Images::of),
        },
        producer: ProducerInfo::of(&t.producer, state.today()),
    }))
}
