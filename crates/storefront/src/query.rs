//! Listing and search parameters as they arrive in a URL, checked and turned into a
//! [`ListingQuery`]. Pages take prices in yuan (what people type); the API takes fen.

use jinguo_catalog::listing::{MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS};
use jinguo_catalog::{Category, ListingQuery, ProducerKind, Sort, StockFilter};
use jinguo_common::money::Fen;
use jinguo_common::region::regions;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode, Msg};

/// The raw parameters. Empty values count as absent (an emptied form field).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingParams {
    /// Search text, at most 200 characters.
    pub q: Option<String>,
    /// Category slug, e.g. `larou`.
    pub category: Option<String>,
    /// Six-digit district or county code of the producer, e.g. `500229` (城口县).
    pub district: Option<String>,
    /// Producer kind: `workshop`, `base`, `cooperative` or `household`.
    pub kind: Option<String>,
    /// `1` for products of verified producers with a valid certificate only.
    pub certified: Option<String>,
    /// Lowest price in yuan (pages), e.g. `50` or `49.90`.
    #[param(ignore)]
    pub min_price: Option<String>,
    #[param(ignore)]
    pub max_price: Option<String>,
    /// Lowest price in fen (API), e.g. `4990`.
    pub min_price_fen: Option<String>,
    /// Highest price in fen (API).
    pub max_price_fen: Option<String>,
    /// `in` (default: only what is in stock) or `all` (sold-out products too).
    pub stock: Option<String>,
    /// `relevance`, `recommended`, `newest`, `price_asc`, `price_desc` or `sales`.
    pub sort: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Products per page, 1 to 60 (API only; pages show 24).
    pub per_page: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListingParams {
    /// Checks every parameter; the first bad one is the error.
    pub fn parse(&self, categories: &[Category]) -> Result<ListingQuery, AppError> {
        let mut query = ListingQuery {
            page: 1,
            ..ListingQuery::default()
        };
        if let Some(q) = present(&self.q) {
            let chars = q.chars().count();
            if chars > MAX_QUERY_CHARS {
                return Err(AppError::bad_with(
                    ErrorCode::TooLongQuery,
                    Msg::new("errors.too_long_query")
                        .with("max", MAX_QUERY_CHARS)
                        .with("n", chars),
                ));
            }
            query.q = Some(q.to_owned());
        }
        if let Some(slug) = present(&self.category) {
            if !categories.iter().any(|c| c.slug == slug) {
                return Err(AppError::bad_with(
                    ErrorCode::UnknownCategory,
                    Msg::new("errors.unknown_category").with("value", slug),
                ));
            }
            query.category = Some(slug.to_owned());
        }
        if let Some(code) = present(&self.district) {
            if regions().district(code).is_none() {
                return Err(AppError::bad_with(
                    ErrorCode::UnknownDistrict,
                    Msg::new("errors.unknown_district").with("value", code),
                ));
            }
            query.district = Some(code.to_owned());
        }
        if let Some(kind) = present(&self.kind) {
            let kind: ProducerKind = kind.parse().map_err(|_| {
                AppError::bad_with(
                    ErrorCode::UnknownKind,
                    Msg::new("errors.unknown_kind").with("value", kind),
                )
            })?;
            query.producer_kind = Some(kind);
        }
        query.certified = match present(&self.certified) {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(other) => {
                return Err(AppError::bad_with(
                    ErrorCode::BadFlag,
                    Msg::new("errors.bad_flag").with("value", other),
                ));
            }
        };
        query.min_price = price(present(&self.min_price), present(&self.min_price_fen))?;
        query.max_price = price(present(&self.max_price), present(&self.max_price_fen))?;
        if let (Some(min), Some(max)) = (query.min_price, query.max_price)
            && min > max
        {
            return Err(AppError::bad(ErrorCode::PriceOrder));
        }
        query.stock = match present(&self.stock) {
            None | Some("in") => StockFilter::InStock,
            Some("all") => StockFilter::All,
            Some(other) => {
                return Err(AppError::bad_with(
                    ErrorCode::UnknownStock,
                    Msg::new("errors.unknown_stock").with("value", other),
                ));
            }
        };
        if let Some(sort) = present(&self.sort) {
            let parsed = Sort::parse(sort).ok_or_else(|| {
                AppError::bad_with(
                    ErrorCode::UnknownSort,
                    Msg::new("errors.unknown_sort").with("value", sort),
                )
            })?;
            query.sort = Some(parsed);
        }
        if let Some(page) = present(&self.page) {
            query.page = page
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(|| {
                    AppError::bad_with(
                        ErrorCode::BadPage,
                        Msg::new("errors.bad_page")
                            .with("value", page)
                            .with("max", MAX_PAGE),
                    )
                })?;
        }
        if let Some(per_page) = present(&self.per_page) {
            query.per_page = per_page
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                .ok_or_else(|| {
                    AppError::bad_with(
                        ErrorCode::BadPerPage,
                        Msg::new("errors.bad_per_page")
                            .with("value", per_page)
                            .with("max", MAX_PER_PAGE),
                    )
                })?;
        }
        Ok(query)
    }
}

/// A price given in yuan (`49.90`) or in fen (`4990`); never negative.
fn price(yuan: Option<&str>, fen: Option<&str>) -> Result<Option<Fen>, AppError> {
    let parsed = match (yuan, fen) {
        (Some(yuan), _) => Some(yuan.parse::<Fen>().map_err(|_| {
            AppError::bad_with(
                ErrorCode::BadPrice,
                Msg::new("errors.bad_price").with("value", yuan),
            )
        })?),
        (None, Some(fen)) => Some(Fen(fen.parse::<i64>().map_err(|_| {
            AppError::bad_with(
                ErrorCode::BadPrice,
                Msg::new("errors.bad_price").with("value", fen),
            )
        })?)),
        (None, None) => None,
    };
    if parsed.is_some_and(|p| p.0 < 0) {
        return Err(AppError::bad(ErrorCode::NegativePrice));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<Category> {
        vec![Category {
            id: jinguo_catalog::CategoryId(1),
            slug: "larou".into(),
            name: "腊肉".into(),
            name_en: "Smoked pork".into(),
            position: 1,
        }]
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListingQuery, AppError> {
        let query = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let params: ListingParams = serde_urlencoded_from(&query);
        params.parse(&categories())
    }

    fn serde_urlencoded_from(query: &str) -> ListingParams {
        let mut p = ListingParams::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "q" => p.q = v,
                "category" => p.category = v,
                "district" => p.district = v,
                "kind" => p.kind = v,
                "certified" => p.certified = v,
                "min_price" => p.min_price = v,
                "max_price" => p.max_price = v,
                "stock" => p.stock = v,
                "sort" => p.sort = v,
                "page" => p.page = v,
                _ => {}
            }
        }
        p
    }

    fn code(result: Result<ListingQuery, AppError>) -> &'static str {
        match result {
            Err(AppError::Said {
                status: http::StatusCode::BAD_REQUEST,
                code,
                ..
            }) => code.as_str(),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn accepts_what_a_form_sends() {
        let q = parse(&[
            ("q", " 腊肉 "),
            ("category", "larou"),
            ("min_price", "50"),
            ("max_price", ""),
            ("page", "2"),
        ])
        .unwrap();
        assert_eq!(q.q.as_deref(), Some("腊肉"));
        assert_eq!(q.min_price, Some(Fen(5_000)));
        assert_eq!(q.max_price, None);
        assert_eq!(q.page, 2);
    }

    #[test]
    fn refuses_bad_filters_with_a_reason() {
        assert_eq!(code(parse(&[("min_price", "-5")])), "negative_price");
        assert_eq!(code(parse(&[("min_price", "abc")])), "bad_price");
        assert_eq!(
            code(parse(&[("min_price", "90"), ("max_price", "10")])),
            "price_order"
        );
        assert_eq!(code(parse(&[("sort", "cheapest")])), "unknown_sort");
        assert_eq!(code(parse(&[("page", "0")])), "bad_page");
        assert_eq!(code(parse(&[("category", "nope")])), "unknown_category");
        assert_eq!(code(parse(&[("district", "999999")])), "unknown_district");
        assert_eq!(code(parse(&[("kind", "factory")])), "unknown_kind");
        assert_eq!(code(parse(&[("q", &"腊".repeat(2048))])), "too_long_query");
    }
}
