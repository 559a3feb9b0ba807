//! Browsing: the filters, sorts and pages a shopper uses, answered from the tables when there is
//! no search text and from the search backend when there is.

use jinguo_common::db::SqlBuf;
use jinguo_common::money::Fen;
use serde::Serialize;
use sqlx::AnyConnection;
use std::collections::HashMap;

use crate::producer::ProducerKind;
use crate::product::{ProductId, ProductSummary, SUMMARY_COLUMNS, SUMMARY_FROM, summary_from_row};
use crate::search::Facets;

/// Longest search text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most products on one page.
pub const MAX_PER_PAGE: u32 = 60;
pub const DEFAULT_PER_PAGE: u32 = 24;
/// Deepest page reachable; past it, narrow the filters.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first; only with search text.
    Relevance,
    /// Featured first, then best-selling, then newest: the shop's own order.
    #[default]
    Recommended,
    Newest,
    PriceAsc,
    PriceDesc,
    /// Best-selling first.
    Sales,
}

impl Sort {
    pub const ALL: [Sort; 6] = [
        Sort::Relevance,
        Sort::Recommended,
        Sort::Newest,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::Sales,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Recommended => "recommended",
            Sort::Newest => "newest",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Sales => "sales",
        }
    }

    pub fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Sold-out products are left out unless asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StockFilter {
    #[default]
    InStock,
    All,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ListingQuery {
    /// Search text, trimmed; `None` when empty.
    pub q: Option<String>,
    /// Category slug.
    pub category: Option<String>,
    /// Six-digit district code of the producer.
    pub district: Option<String>,
    pub producer_kind: Option<ProducerKind>,
    /// Only products of verified producers with a valid certificate.
    pub certified: bool,
    pub min_price: Option<Fen>,
    pub max_price: Option<Fen>,
    pub stock: StockFilter,
    /// `None` means relevance with search text and the shop's order without.
    pub sort: Option<Sort>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl ListingQuery {
    pub fn effective_sort(&self) -> Sort {
        match (self.sort, &self.q) {
            (Some(Sort::Relevance), None) => Sort::Recommended,
            (Some(sort), _) => sort,
            (None, Some(_)) => Sort::Relevance,
            (None, None) => Sort::Recommended,
        }
    }

    pub fn page(&self) -> u32 {
        self.page.clamp(1, MAX_PAGE)
    }

    pub fn per_page(&self) -> u32 {
        if self.per_page == 0 {
            DEFAULT_PER_PAGE
        } else {
            self.per_page.min(MAX_PER_PAGE)
        }
    }

    pub fn offset(&self) -> u32 {
        (self.page() - 1) * self.per_page()
    }

    /// Whether any filter narrows the results (for "remove a filter" hints).
    pub fn has_filters(&self) -> bool {
        self.category.is_some()
            || self.district.is_some()
            || self.producer_kind.is_some()
            || self.certified
            || self.min_price.is_some()
            || self.max_price.is_some()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn pages(&self) -> u32 {
        let per_page = u64::from(self.per_page.max(1));
        u32::try_from(self.total.div_ceil(per_page)).unwrap_or(u32::MAX)
    }
}

/// One page of products for a listing or a search, with what the search backend adds.
#[derive(Debug, Clone, Serialize)]
pub struct Browse {
    pub page: Page<ProductSummary>,
    /// Counts per filter value over the whole result, when the answer came from search.
    pub facets: Option<Facets>,
    /// Titles with the matched words marked `<mark>…</mark>` (HTML-escaped otherwise).
    pub highlights: HashMap<ProductId, String>,
}

fn push_filters(sql: &mut SqlBuf, query: &ListingQuery, today: &str) {
    sql.push(" where p.status = 'published'");
    if let Some(category) = &query.category {
        sql.push(" and c.slug = ").bind(category.as_str());
    }
    if let Some(district) = &query.district {
        sql.push(" and pr.district_code = ").bind(district.as_str());
    }
    if let Some(kind) = query.producer_kind {
        sql.push(" and pr.kind = ").bind(kind.as_str());
    }
    if query.certified {
        sql.push(" and pr.verified = ").bind(true);
        sql.push(" and pr.certified_until >= ")
            .bind(today.to_owned());
    }
    if let Some(min) = query.min_price {
        sql.push(" and s.price_fen >= ").bind(min.0);
    }
    if let Some(max) = query.max_price {
        sql.push(" and s.price_fen <= ").bind(max.0);
    }
    if query.stock == StockFilter::InStock {
        sql.push(" and s.stock > 0");
    }
}

/// A page of products from the tables (no search text).
pub async fn list(
    conn: &mut AnyConnection,
    query: &ListingQuery,
    today: time::Date,
) -> Result<Page<ProductSummary>, sqlx::Error> {
    let today = today.to_string();
    let mut count = SqlBuf::new("select count(*)");
    count.push(SUMMARY_FROM);
    push_filters(&mut count, query, &today);
    let total: i64 = count.query_scalar().fetch_one(&mut *conn).await?;

    let mut sql = SqlBuf::new("select ");
    sql.push(SUMMARY_COLUMNS).push(SUMMARY_FROM);
    push_filters(&mut sql, query, &today);
    sql.push(match query.effective_sort() {
        Sort::Relevance | Sort::Recommended => {
            " order by p.featured desc, p.sales desc, p.created_at desc, p.id desc"
        }
        Sort::Newest => " order by p.created_at desc, p.id desc",
        Sort::PriceAsc => " order by s.price_fen asc, p.id asc",
        Sort::PriceDesc => " order by s.price_fen desc, p.id asc",
        Sort::Sales => " order by p.sales desc, p.id asc",
    });
    sql.push(" limit ")
        .bind(i64::from(query.per_page()))
        .push(" offset ")
        .bind(i64::from(query.offset()));
    let rows = sql.query().fetch_all(&mut *conn).await?;
    Ok(Page {
        items: rows
            .iter()
            .map(summary_from_row)
            .collect::<Result<_, _>>()?,
        total: u64::try_from(total).unwrap_or(0),
        page: query.page(),
        per_page: query.per_page(),
    })
}

/// Published products by id, in the order of `ids` (a search backend's ranking).
pub async fn summaries_by_ids(
    conn: &mut AnyConnection,
    ids: &[ProductId],
) -> Result<Vec<ProductSummary>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = SqlBuf::new("select ");
    sql.push(SUMMARY_COLUMNS)
        .push(SUMMARY_FROM)
        .push(" where p.status = 'published' and p.id in ")
        .bind_list(ids.iter().map(|id| id.0));
    let rows = sql.query().fetch_all(conn).await?;
    let mut by_id: HashMap<ProductId, ProductSummary> = rows
        .iter()
        .map(|r| summary_from_row(r).map(|s| (s.id, s)))
        .collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A producer's published products, in the shop's order.
pub async fn of_producer(
    conn: &mut AnyConnection,
    producer: crate::ProducerId,
) -> Result<Vec<ProductSummary>, sqlx::Error> {
    let mut sql = SqlBuf::new("select ");
    sql.push(SUMMARY_COLUMNS)
        .push(SUMMARY_FROM)
        .push(" where p.status = 'published' and p.producer_id = ")
        .bind(producer.0)
        .push(" order by p.featured desc, p.sales desc, p.created_at desc, p.id desc");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(summary_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_defaults_depend_on_search_text() {
        let mut q = ListingQuery::default();
        assert_eq!(q.effective_sort(), Sort::Recommended);
        q.q = Some("腊肉".into());
        assert_eq!(q.effective_sort(), Sort::Relevance);
        q.q = None;
        q.sort = Some(Sort::Relevance);
        assert_eq!(q.effective_sort(), Sort::Recommended);
    }

    #[test]
    fn pages_are_clamped() {
        let q = ListingQuery {
            page: 0,
            per_page: 1000,
            ..Default::default()
        };
        assert_eq!((q.page(), q.per_page(), q.offset()), (1, MAX_PER_PAGE, 0));
        let page: Page<()> = Page {
            items: vec![],
            total: 61,
            page: 1,
            per_page: 30,
        };
        assert_eq!(page.pages(), 3);
    }
}
