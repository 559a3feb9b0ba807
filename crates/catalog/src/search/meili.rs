//! The Meilisearch backend, for a city-wide shop with several `jinguo serve` processes. Speaks to
//! the server through meilisearch-sdk; every write waits for its task and a failed task is an
//! error, so the outbox keeps the rows until the server has really taken them.

use async_trait::async_trait;
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::documents::DocumentsQuery;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetingSettings, LocalizedAttributes, MinWordSizeForTypos, PaginationSetting, Settings,
    TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Facets, ProductDocument, ProductSearch, Progress, SearchError, SearchHits};
use crate::listing::{ListingQuery, Sort, StockFilter};
use crate::product::ProductId;

const NAME: &str = "meilisearch";
/// How long a write may take before it counts as failed (and is retried from the outbox).
const TASK_TIMEOUT: Duration = Duration::from_secs(60);
const TASK_POLL: Duration = Duration::from_millis(25);
/// Documents per request when rebuilding.
const CHUNK: usize = 2_000;
/// Marks around highlighted words, from Unicode's private use area so they cannot occur in a
/// title; turned into `<mark>` after the title is HTML-escaped.
const PRE: &str = "\u{E000}";
const POST: &str = "\u{E001}";

pub struct MeiliSearch {
    client: Client,
    uid: String,
    settings_applied: AtomicBool,
}

fn error(e: MeiliError) -> SearchError {
    match e {
        MeiliError::HttpError(_)
        | MeiliError::MeilisearchCommunication(_)
        | MeiliError::Timeout => SearchError::Unavailable {
            backend: NAME,
            message: e.to_string(),
        },
        other => SearchError::Failed {
            backend: NAME,
            message: other.to_string(),
        },
    }
}

fn is_missing_index(e: &MeiliError) -> bool {
    matches!(e, MeiliError::Meilisearch(m) if m.error_code == ErrorCode::IndexNotFound)
}

/// The index settings, applied idempotently: the same request every start.
fn settings() -> Settings {
    Settings::new()
        // Deliberate order: a match in the title counts most, then tags, then the category, who
        // made it and where, then the description.
        .with_searchable_attributes([
            "title",
            "title_en",
            "tags",
            "category_name",
            "producer_name",
            "producer_name_en",
            "district",
            "description",
        ])
        .with_filterable_attributes([
            "category",
            "district_code",
            "producer_kind",
            "certified_until",
            "in_stock",
            "price_fen",
        ])
        .with_sortable_attributes(["price_fen", "created_at", "sales", "featured"])
        // Sorting, when asked for, decides the order; relevance decides within equal keys.
        .with_ranking_rules([
            "sort",
            "words",
            "typo",
            "proximity",
            "attribute",
            "exactness",
        ])
        .with_localized_attributes([
            LocalizedAttributes {
                locales: vec!["cmn".to_owned()],
                attribute_patterns: [
                    "title",
                    "tags",
                    "category_name",
                    "producer_name",
                    "district",
                    "description",
                ]
                .map(String::from)
                .to_vec(),
            },
            LocalizedAttributes {
                locales: vec!["eng".to_owned()],
                attribute_patterns: vec!["title_en".to_owned(), "producer_name_en".to_owned()],
            },
        ])
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(5),
                two_typos: Some(9),
            }),
            ..Default::default()
        })
        .with_pagination(PaginationSetting {
            max_total_hits: 100_000,
        })
        .with_faceting(FacetingSettings {
            max_values_per_facet: 500,
            sort_facet_values_by: None,
        })
}

#[derive(Deserialize)]
struct Hit {
    id: i64,
}

fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The filter expression for the query's filters (empty when there are none).
fn filter(query: &ListingQuery, today: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(category) = &query.category {
        parts.push(format!("category = {}", quoted(category)));
    }
    if let Some(district) = &query.district {
        parts.push(format!("district_code = {}", quoted(district)));
    }
    if let Some(kind) = query.producer_kind {
        parts.push(format!("producer_kind = {}", quoted(kind.as_str())));
    }
    if query.certified {
        parts.push(format!("certified_until >= {today}"));
    }
    if let Some(min) = query.min_price {
        parts.push(format!("price_fen >= {}", min.0));
    }
    if let Some(max) = query.max_price {
        parts.push(format!("price_fen <= {}", max.0));
    }
    if query.stock == StockFilter::InStock {
        parts.push("in_stock = true".to_owned());
    }
    parts.join(" AND ")
}

fn sort(query: &ListingQuery) -> &'static [&'static str] {
    match query.effective_sort() {
        Sort::Relevance => &[],
        Sort::Recommended => &["featured:desc", "sales:desc", "created_at:desc"],
        Sort::Newest => &["created_at:desc"],
        Sort::PriceAsc => &["price_fen:asc"],
        Sort::PriceDesc => &["price_fen:desc"],
        Sort::Sales => &["sales:desc", "created_at:desc"],
    }
}

/// Escapes the title for HTML and turns the highlight markers into `<mark>`.
fn highlight(formatted: &str) -> String {
    let mut out = String::with_capacity(formatted.len() + 16);
    for c in formatted.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '\u{E000}' => out.push_str("<mark>"),
            '\u{E001}' => out.push_str("</mark>"),
            other => out.push(other),
        }
    }
    out
}

impl MeiliSearch {
    /// A backend for the index `uid` on the server at `url`. Nothing is sent yet.
    pub fn new(url: &str, key: Option<&str>, uid: &str) -> Result<MeiliSearch, SearchError> {
        let client = Client::new(url.trim_end_matches('/'), key).map_err(error)?;
        Ok(MeiliSearch {
            client,
            uid: uid.to_owned(),
            settings_applied: AtomicBool::new(false),
        })
    }

    fn index(&self) -> Index {
        self.client.index(&self.uid)
    }

    async fn wait(&self, task: TaskInfo) -> Result<(), SearchError> {
        self.wait_unless(task, None).await
    }

    /// Waits for the task; a failure with the code `tolerated` counts as success.
    async fn wait_unless(
        &self,
        task: TaskInfo,
        tolerated: Option<ErrorCode>,
    ) -> Result<(), SearchError> {
        let done = task
            .wait_for_completion(&self.client, Some(TASK_POLL), Some(TASK_TIMEOUT))
            .await
            .map_err(error)?;
        match done {
            Task::Failed { content } if tolerated.as_ref() == Some(&content.error.error_code) => {
                Ok(())
            }
            Task::Failed { content } => Err(SearchError::Failed {
                backend: NAME,
                message: content.error.error_message,
            }),
            _ => Ok(()),
        }
    }

    async fn apply_settings_to(&self, uid: &str) -> Result<(), SearchError> {
        let task = self
            .client
            .index(uid)
            .set_settings(&settings())
            .await
            .map_err(error)?;
        self.wait(task).await
    }

    /// Creates the index if missing and applies the settings (the same ones every time).
    pub async fn apply_settings(&self) -> Result<(), SearchError> {
        self.ensure_index(&self.uid).await?;
        self.apply_settings_to(&self.uid).await?;
        self.settings_applied.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn ensure_settings(&self) -> Result<(), SearchError> {
        if self.settings_applied.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.apply_settings().await
    }

    async fn ensure_index(&self, uid: &str) -> Result<(), SearchError> {
        match self.client.get_index(uid).await {
            Ok(_) => Ok(()),
            Err(e) if is_missing_index(&e) => {
                let task = self
                    .client
                    .create_index(uid, Some("id"))
                    .await
                    .map_err(error)?;
                match self.wait(task).await {
                    // Another process created it first.
                    Err(SearchError::Failed { message, .. })
                        if message.contains("already exists") =>
                    {
                        Ok(())
                    }
                    other => other,
                }
            }
            Err(e) => Err(error(e)),
        }
    }

    async fn delete_index(&self, uid: &str) -> Result<(), SearchError> {
        match self.client.delete_index(uid).await {
            Ok(task) => self.wait_unless(task, Some(ErrorCode::IndexNotFound)).await,
            Err(e) if is_missing_index(&e) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    /// Removes the index and its rebuild twin (for tests and teardown).
    pub async fn drop_index(&self) -> Result<(), SearchError> {
        self.delete_index(&format!("{}_rebuild", self.uid)).await?;
        self.delete_index(&self.uid).await
    }

    async fn count_in(&self, uid: &str, filter: &str) -> Result<u64, SearchError> {
        let index = self.client.index(uid);
        let mut search = index.search();
        search.with_hits_per_page(0).with_page(1);
        if !filter.is_empty() {
            search.with_filter(filter);
        }
        let results = search.execute::<Hit>().await.map_err(error)?;
        Ok(results.total_hits.unwrap_or(0) as u64)
    }
}

#[async_trait]
impl ProductSearch for MeiliSearch {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        self.ensure_settings().await?;
        let task = self
            .index()
            .add_or_replace(&docs, Some("id"))
            .await
            .map_err(error)?;
        self.wait(task).await
    }

    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ensure_settings().await?;
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let task = self.index().delete_documents(&ids).await.map_err(error)?;
        self.wait(task).await
    }

    async fn rebuild(
        &self,
        docs: Vec<ProductDocument>,
        progress: Progress,
    ) -> Result<(), SearchError> {
        // Build a twin, then swap it in: searches answer from the old index until the swap.
        let twin = format!("{}_rebuild", self.uid);
        self.delete_index(&twin).await?;
        self.ensure_index(&twin).await?;
        self.apply_settings_to(&twin).await?;
        let total = docs.len() as u64;
        let mut done = 0u64;
        for chunk in docs.chunks(CHUNK) {
            let task = self
                .client
                .index(&twin)
                .add_or_replace(chunk, Some("id"))
                .await
                .map_err(error)?;
            self.wait(task).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        progress(total, total);
        self.ensure_index(&self.uid).await?;
        let swap = SwapIndexes {
            indexes: (self.uid.clone(), twin.clone()),
            rename: None,
        };
        let task = self.client.swap_indexes([&swap]).await.map_err(error)?;
        self.wait(task).await?;
        self.settings_applied.store(true, Ordering::SeqCst);
        // The twin now holds the old documents.
        self.delete_index(&twin).await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        match self.index().get_stats().await {
            Ok(stats) => Ok(stats.number_of_documents as u64),
            Err(e) if is_missing_index(&e) => Ok(0),
            Err(e) => Err(error(e)),
        }
    }

    async fn search(&self, query: &ListingQuery, today: i64) -> Result<SearchHits, SearchError> {
        let index = self.index();
        let filter = filter(query, today);
        let mut search = index.search();
        if let Some(q) = &query.q {
            search.with_query(q);
        }
        if !filter.is_empty() {
            search.with_filter(&filter);
        }
        let sort = sort(query);
        if !sort.is_empty() {
            search.with_sort(sort);
        }
        search
            .with_page(query.page() as usize)
            .with_hits_per_page(query.per_page() as usize)
            .with_facets(Selectors::Some(&[
                "category",
                "district_code",
                "producer_kind",
            ]))
            .with_attributes_to_retrieve(Selectors::Some(&["id"]))
            .with_attributes_to_highlight(Selectors::Some(&["title"]))
            .with_highlight_pre_tag(PRE)
            .with_highlight_post_tag(POST)
            .with_matching_strategy(MatchingStrategies::ALL);
        let results = search.execute::<Hit>().await.map_err(error)?;
        let total = results.total_hits.unwrap_or(0) as u64;

        // The certified count is one more question: how many of these hold a valid certificate.
        let mut certified_filter = format!("certified_until >= {today}");
        if !filter.is_empty() {
            certified_filter = format!("{filter} AND {certified_filter}");
        }
        let certified = if query.q.is_some() {
            let mut count = index.search();
            count
                .with_query(query.q.as_deref().unwrap_or(""))
                .with_filter(&certified_filter)
                .with_page(1)
                .with_hits_per_page(0)
                .with_matching_strategy(MatchingStrategies::ALL);
            count
                .execute::<Hit>()
                .await
                .map_err(error)?
                .total_hits
                .unwrap_or(0) as u64
        } else {
            self.count_in(&self.uid, &certified_filter).await?
        };

        let mut ids = Vec::with_capacity(results.hits.len());
        let mut highlights = HashMap::new();
        for hit in results.hits {
            let id = ProductId(hit.result.id);
            let marked = hit
                .formatted_result
                .as_ref()
                .and_then(|f| f.get("title"))
                .and_then(|t| t.as_str())
                .filter(|t| t.contains(PRE));
            if query.q.is_some()
                && let Some(title) = marked
            {
                highlights.insert(id, highlight(title));
            }
            ids.push(id);
        }
        let distribution = results.facet_distribution.unwrap_or_default();
        let facet = |name: &str| -> BTreeMap<String, u64> {
            distribution
                .get(name)
                .map(|values| {
                    values
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| (k.clone(), *n as u64))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut certified_facet = BTreeMap::new();
        if certified > 0 {
            certified_facet.insert("true".to_owned(), certified);
        }
        if total > certified {
            certified_facet.insert("false".to_owned(), total - certified);
        }
        Ok(SearchHits {
            ids,
            total,
            facets: Facets {
                category: facet("category"),
                district: facet("district_code"),
                producer_kind: facet("producer_kind"),
                certified: certified_facet,
            },
            highlights,
        })
    }

    async fn dump(&self) -> Result<Vec<ProductDocument>, SearchError> {
        let index = self.index();
        let mut all = Vec::new();
        loop {
            let mut query = DocumentsQuery::new(&index);
            query.with_offset(all.len()).with_limit(1_000);
            let page = match index.get_documents_with::<ProductDocument>(&query).await {
                Ok(page) => page,
                Err(e) if is_missing_index(&e) => return Ok(all),
                Err(e) => return Err(error(e)),
            };
            let n = page.results.len();
            all.extend(page.results);
            if n == 0 || all.len() as u32 >= page.total {
                return Ok(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jinguo_common::money::Fen;

    #[test]
    fn filters_quote_values_and_combine_with_and() {
        let query = ListingQuery {
            category: Some("larou".into()),
            district: Some("500229".into()),
            certified: true,
            min_price: Some(Fen(100)),
            ..Default::default()
        };
        assert_eq!(
            filter(&query, 20261129),
            "category = \"larou\" AND district_code = \"500229\" AND certified_until >= 20261129 \
             AND price_fen >= 100 AND in_stock = true"
        );
    }

    #[test]
    fn highlights_escape_the_title() {
        assert_eq!(
            highlight("<b>城口\u{E000}腊肉\u{E001}</b>"),
            "&lt;b&gt;城口<mark>腊肉</mark>&lt;/b&gt;"
        );
    }
}
