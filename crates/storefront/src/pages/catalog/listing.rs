//! `/products` (browse with filters) and `/search` (the same, with search text).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use jinguo_catalog::{CatalogError, ListingQuery, ProducerKind, Sort, StockFilter};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::i18n::{Lang, Locale};
use crate::pages::{Req, View, encode, render};
use crate::query::ListingParams;
use crate::views::{self, Link, ProductCard};

#[derive(Serialize)]
struct FilterOption {
    label: String,
    url: String,
    selected: bool,
    count: Option<u64>,
}

#[derive(Serialize)]
struct Hidden {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct PriceForm {
    min: String,
    max: String,
    action: &'static str,
    hidden: Vec<Hidden>,
}

#[derive(Serialize)]
struct StockOptions {
    in_stock: FilterOption,
    all: FilterOption,
}

#[derive(Serialize)]
struct Filters {
    categories: Vec<FilterOption>,
    districts: Vec<FilterOption>,
    kinds: Vec<FilterOption>,
    certified: FilterOption,
    stock: StockOptions,
    sort: Vec<FilterOption>,
    price: PriceForm,
}

#[derive(Serialize)]
struct PageLink {
    n: u32,
    url: String,
    current: bool,
}

#[derive(Serialize)]
struct Pagination {
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
    links: Vec<PageLink>,
}

#[derive(Serialize)]
struct Listing {
    heading: String,
    total: u64,
    results: Vec<ProductCard>,
    filters: Filters,
    active_filters: Vec<Link>,
    pagination: Pagination,
    empty: bool,
    suggestions: Vec<Link>,
    popular: Vec<ProductCard>,
    is_search: bool,
    q: String,
}

pub async fn products(
    State(state): State<AppState>,
    req: Req,
    params: Result<Query<ListingParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = params.map_err(|_| AppError::bad(ErrorCode::BadQuery))?;
    listing(state, req, params, "/products").await
}

pub async fn search(
    State(state): State<AppState>,
    req: Req,
    params: Result<Query<ListingParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = params.map_err(|_| AppError::bad(ErrorCode::BadQuery))?;
    listing(state, req, params, "/search").await
}

/// The parameters of the current page, in a fixed order, for building links that change one.
#[derive(Clone)]
struct Params {
    base: &'static str,
    values: BTreeMap<&'static str, String>,
}

impl Params {
    fn from(base: &'static str, p: &ListingParams) -> Params {
        let mut values = BTreeMap::new();
        let fields: [(&'static str, &Option<String>); 9] = [
            ("q", &p.q),
            ("category", &p.category),
            ("district", &p.district),
            ("kind", &p.kind),
            ("certified", &p.certified),
            ("min_price", &p.min_price),
            ("max_price", &p.max_price),
            ("stock", &p.stock),
            ("sort", &p.sort),
        ];
        for (key, value) in fields {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                values.insert(key, v.to_owned());
            }
        }
        Params { base, values }
    }

    /// This page's URL with `key` set to `value` (or removed when `None`), back on page 1.
    fn with(&self, key: &'static str, value: Option<&str>) -> String {
        let mut values = self.values.clone();
        match value {
            Some(v) => values.insert(key, v.to_owned()),
            None => values.remove(key),
        };
        Self::url(self.base, &values, None)
    }

    fn page(&self, n: u32) -> String {
        Self::url(self.base, &self.values, Some(n))
    }

    fn url(base: &str, values: &BTreeMap<&'static str, String>, page: Option<u32>) -> String {
        let mut query: Vec<String> = values
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        if let Some(n) = page.filter(|n| *n > 1) {
            query.push(format!("page={n}"));
        }
        if query.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", query.join("&"))
        }
    }
}

async fn listing(
    state: AppState,
    req: Req,
    params: ListingParams,
    base: &'static str,
) -> Result<Response, AppError> {
    let lang = req.lang;
    let locale = state.i18n.locale(lang);
    let catalog = &state.catalog;
    let (categories, districts) =
        tokio::try_join!(catalog.categories_with_counts(), catalog.districts())?;
    let plain: Vec<_> = categories.iter().map(|(c, _)| c.clone()).collect();
    let mut query = params.parse(&plain)?;
    if base == "/search" && query.q.is_none() {
        // An empty search is the whole shop.
        query.sort = query.sort.filter(|s| *s != Sort::Relevance);
    }
    query.per_page = jinguo_catalog::listing::DEFAULT_PER_PAGE;
    let mut notice = None;
    let browse = match catalog.browse(&query).await {
        Ok(browse) => Some(browse),
        Err(CatalogError::Search(error)) => {
            tracing::warn!(%error, "search unavailable; showing the notice");
            notice = Some(locale.get("listing.search_unavailable").to_owned());
            None
        }
        Err(other) => return Err(other.into()),
    };
    let p = Params::from(base, &params);
    let facets = browse
        .as_ref()
        .and_then(|b| b.facets.clone())
        .unwrap_or_default();
    let has_facets = browse.as_ref().is_some_and(|b| b.facets.is_some());
    let count = |map: &BTreeMap<String, u64>, key: &str| {
        has_facets.then(|| map.get(key).copied().unwrap_or(0))
    };

    let mut active = Vec::new();
    let category_options: Vec<FilterOption> = categories
        .iter()
        .map(|(c, _)| {
            let selected = query.category.as_deref() == Some(c.slug.as_str());
            let label = lang.pick(&c.name, &c.name_en).to_owned();
            if selected {
                active.push(Link {
                    label: label.clone(),
                    url: p.with("category", None),
                });
            }
            FilterOption {
                url: p.with("category", if selected { None } else { Some(&c.slug) }),
                count: count(&facets.category, &c.slug),
                label,
                selected,
            }
        })
        .collect();
    let district_options: Vec<FilterOption> = districts
        .iter()
        .map(|(d, _)| {
            let selected = query.district.as_deref() == Some(d.code.as_str());
            let label = d.short_name.clone();
            if selected {
                active.push(Link {
                    label: d.name.clone(),
                    url: p.with("district", None),
                });
            }
            FilterOption {
                url: p.with("district", if selected { None } else { Some(&d.code) }),
                count: count(&facets.district, &d.code),
                label,
                selected,
            }
        })
        .collect();
    let kinds: Vec<FilterOption> = ProducerKind::ALL
        .iter()
        .map(|k| {
            let selected = query.producer_kind == Some(*k);
            let label = locale.get(&format!("kinds.{}", k.as_str())).to_owned();
            if selected {
                active.push(Link {
                    label: label.clone(),
                    url: p.with("kind", None),
                });
            }
            FilterOption {
                url: p.with("kind", if selected { None } else { Some(k.as_str()) }),
                count: count(&facets.producer_kind, k.as_str()),
                label,
                selected,
            }
        })
        .collect();
    // With search counts, values with no match are noise: keep only what narrows to something.
    let keep = |o: &FilterOption| o.selected || o.count != Some(0);
    let category_options: Vec<FilterOption> = category_options.into_iter().filter(keep).collect();
    let district_options: Vec<FilterOption> = district_options.into_iter().filter(keep).collect();
    let kinds: Vec<FilterOption> = kinds.into_iter().filter(keep).collect();
    let certified = FilterOption {
        label: locale.get("filters.certified").to_owned(),
        url: p.with("certified", if query.certified { None } else { Some("1") }),
        selected: query.certified,
        count: count(&facets.certified, "true"),
    };
    if query.certified {
        active.push(Link {
            label: certified.label.clone(),
            url: p.with("certified", None),
        });
    }
    let price_label = |fen: jinguo_common::money::Fen| format!("¥{}", fen.yuan_string());
    match (query.min_price, query.max_price) {
        (None, None) => {}
        (min, max) => active.push(Link {
            label: format!(
                "{}–{}",
                min.map(price_label).unwrap_or_default(),
                max.map(price_label).unwrap_or_default()
            ),
            url: {
                let mut without = p.clone();
                without.values.remove("min_price");
                without.values.remove("max_price");
                without.page(1)
            },
        }),
    }
    let stock = StockOptions {
        in_stock: FilterOption {
            label: locale.get("filters.in_stock").to_owned(),
            url: p.with("stock", None),
            selected: query.stock == StockFilter::InStock,
            count: None,
        },
        all: FilterOption {
            label: locale.get("filters.include_sold_out").to_owned(),
            url: p.with("stock", Some("all")),
            selected: query.stock == StockFilter::All,
            count: None,
        },
    };
    let effective = query.effective_sort();
    let sort = Sort::ALL
        .iter()
        .filter(|s| query.q.is_some() || **s != Sort::Relevance)
        .map(|s| FilterOption {
            label: locale.get(&format!("sort.{}", s.as_str())).to_owned(),
            url: p.with("sort", Some(s.as_str())),
            selected: *s == effective,
            count: None,
        })
        .collect();
    let price = PriceForm {
        min: params.min_price.clone().unwrap_or_default(),
        max: params.max_price.clone().unwrap_or_default(),
        action: base,
        hidden: p
            .values
            .iter()
            .filter(|(k, _)| !matches!(**k, "min_price" | "max_price"))
            .map(|(k, v)| Hidden {
                name: k,
                value: v.clone(),
            })
            .collect(),
    };

    let (results, total, pages) = match &browse {
        Some(b) => (
            b.page
                .items
                .iter()
                .map(|s| views::card(s, lang, b.highlights.get(&s.id)))
                .collect::<Vec<_>>(),
            b.page.total,
            b.page.pages(),
        ),
        None => (Vec::new(), 0, 0),
    };
    let page = query.page();
    let pagination = Pagination {
        page,
        pages,
        prev: (page > 1).then(|| p.page(page - 1)),
        next: (page < pages).then(|| p.page(page + 1)),
        links: page_window(page, pages)
            .map(|n| PageLink {
                n,
                url: p.page(n),
                current: n == page,
            })
            .collect(),
    };
    let empty = results.is_empty();
    let suggestions = if empty {
        suggestions(&query, &p, locale)
    } else {
        Vec::new()
    };
    let popular = if empty {
        views::cards(&catalog.featured(8).await?, lang)
    } else {
        Vec::new()
    };

    let q = query.q.clone().unwrap_or_default();
    let heading = heading(&query, &categories, lang, locale);
    let body = Listing {
        heading: heading.clone(),
        total,
        results,
        filters: Filters {
            categories: category_options,
            districts: district_options,
            kinds,
            certified,
            stock,
            sort,
            price,
        },
        active_filters: active,
        pagination,
        empty,
        suggestions,
        popular,
        is_search: query.q.is_some(),
        q: q.clone(),
    };
    let mut view = View::new("listing.html", heading, body);
    view.q = q;
    view.notice = notice;
    render(&state, &req, view)
}

fn heading(
    query: &ListingQuery,
    categories: &[(jinguo_catalog::Category, i64)],
    lang: Lang,
    locale: &Locale,
) -> String {
    if let Some(q) = &query.q {
        return locale.fill("listing.search_heading", &[("q", q.clone())]);
    }
    if let Some(slug) = &query.category
        && let Some((c, _)) = categories.iter().find(|(c, _)| &c.slug == slug)
    {
        return lang.pick(&c.name, &c.name_en).to_owned();
    }
    if let Some(code) = &query.district {
        let name = jinguo_common::region::regions()
            .district(code)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        return locale.fill("listing.district_heading", &[("district", name)]);
    }
    locale.get("listing.all_products_heading").to_owned()
}

/// Ways out of an empty result: drop a filter, search the whole shop, include sold-out items.
fn suggestions(query: &ListingQuery, p: &Params, locale: &Locale) -> Vec<Link> {
    let mut out = Vec::new();
    if query.has_filters()
        && let Some(q) = &query.q
    {
        out.push(Link {
            label: locale.fill("listing.search_everywhere", &[("q", q.clone())]),
            url: format!("/search?q={}", encode(q)),
        });
    }
    if query.has_filters() {
        out.push(Link {
            label: locale.get("listing.clear_filters").to_owned(),
            url: p.base.to_owned(),
        });
    }
    if query.stock == StockFilter::InStock {
        out.push(Link {
            label: locale.get("filters.include_sold_out").to_owned(),
            url: p.with("stock", Some("all")),
        });
    }
    out.push(Link {
        label: locale.get("nav.products").to_owned(),
        url: "/products".into(),
    });
    out
}

/// Page numbers around the current one: 1 … 4 5 [6] 7 8 … 20, without the ellipses.
fn page_window(page: u32, pages: u32) -> impl Iterator<Item = u32> {
    let from = page.saturating_sub(2).max(1);
    let to = (page + 2).min(pages);
    let mut numbers: Vec<u32> = (from..=to).collect();
    if pages > 0 && !numbers.contains(&1) {
        numbers.insert(0, 1);
    }
    if pages > 0 && !numbers.contains(&pages) {
        numbers.push(pages);
    }
    numbers.into_iter()
}
