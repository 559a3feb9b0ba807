//! The embedded search backend: a tantivy index on local disk with jieba segmentation. Used when
//! no Meilisearch server is configured; one process writes it (a county shop's single
//! `jinguo serve`). All tantivy work is blocking and runs on the blocking thread pool. One
//! adapter (schema, indexing, the query with its filters, sorts and facets), kept in one file.

use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value as _,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentReader,
    TantivyDocument, Term,
};

use super::tokenizer::{ChineseTokenizer, Mode, cjk_chars};
use super::{Facets, ProductDocument, ProductSearch, Progress, SearchError, SearchHits};
use crate::listing::{ListingQuery, Sort, StockFilter};
use crate::product::ProductId;

/// Bumped whenever the schema or the segmentation changes; an index of another version is
/// rebuilt from the database at start-up.
const SCHEMA_VERSION: &str = "jinguo-products-2";
const VERSION_FILE: &str = "jinguo-schema-version";
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
const NAME: &str = "embedded";

/// Words too common to narrow a search.
const STOPWORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "在", "是", "我", "要", "买",
];

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    /// The whole document as JSON, for comparing the index with the database.
    doc: Field,
    title: Field,
    title_en: Field,
    tags: Field,
    producer_name: Field,
    producer_name_en: Field,
    district: Field,
    category_name: Field,
    description: Field,
    category: Field,
    district_code: Field,
    producer_kind: Field,
    certified_until: Field,
    in_stock: Field,
    price_fen: Field,
    created_at: Field,
    sales: Field,
    featured: Field,
}

impl Fields {
    /// The Chinese text fields a word is looked for in, with their weight.
    fn chinese(&self) -> [(Field, Score); 6] {
        [
            (self.title, 4.0),
            (self.tags, 3.0),
            (self.category_name, 3.0),
            (self.district, 2.0),
            (self.producer_name, 2.0),
            (self.description, 0.5),
        ]
    }

    fn latin(&self) -> [(Field, Score); 2] {
        [(self.title_en, 3.0), (self.producer_name_en, 1.5)]
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let zh = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("zh")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let en = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_i64_field("id", INDEXED | STORED | FAST),
        doc: b.add_text_field("doc", STORED),
        title: b.add_text_field("title", zh(true)),
        title_en: b.add_text_field("title_en", en.clone()),
        tags: b.add_text_field("tags", zh(false)),
        producer_name: b.add_text_field("producer_name", zh(false)),
        producer_name_en: b.add_text_field("producer_name_en", en),
        district: b.add_text_field("district", zh(false)),
        category_name: b.add_text_field("category_name", zh(false)),
        description: b.add_text_field("description", zh(false)),
        category: b.add_text_field("category", STRING | FAST),
        district_code: b.add_text_field("district_code", STRING | FAST),
        producer_kind: b.add_text_field("producer_kind", STRING | FAST),
        certified_until: b.add_i64_field("certified_until", INDEXED | FAST),
        in_stock: b.add_i64_field("in_stock", INDEXED | FAST),
        price_fen: b.add_i64_field("price_fen", INDEXED | FAST),
        created_at: b.add_i64_field("created_at", INDEXED | FAST),
        sales: b.add_i64_field("sales", INDEXED | FAST),
        featured: b.add_i64_field("featured", INDEXED | FAST),
    };
    (b.build(), fields)
}

fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register("zh", TextAnalyzer::from(ChineseTokenizer::new(Mode::Index)));
    index.tokenizers().register(
        "en",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build(),
    );
}

struct Inner {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

/// The embedded index. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedSearch {
    inner: Arc<Inner>,
}

fn failed(e: impl std::fmt::Display) -> SearchError {
    SearchError::Failed {
        backend: NAME,
        message: e.to_string(),
    }
}

impl EmbeddedSearch {
    /// Opens the index in `dir`, creating it (empty) when it is missing or of another schema
    /// version. Returns whether it was created, in which case the caller fills it.
    pub fn open(dir: &Path) -> Result<(EmbeddedSearch, bool), SearchError> {
        let (schema, fields) = schema();
        let version_file = dir.join(VERSION_FILE);
        let current = std::fs::read_to_string(&version_file).ok();
        let fresh = current.as_deref().map(str::trim) != Some(SCHEMA_VERSION);
        if fresh && dir.exists() {
            std::fs::remove_dir_all(dir).map_err(failed)?;
        }
        std::fs::create_dir_all(dir).map_err(failed)?;
        let index = if fresh {
            let index = Index::create_in_dir(dir, schema).map_err(failed)?;
            std::fs::write(&version_file, SCHEMA_VERSION).map_err(failed)?;
            index
        } else {
            Index::open_in_dir(dir).map_err(failed)?
        };
        register_tokenizers(&index);
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|e| SearchError::Unavailable {
                backend: NAME,
                message: format!(
                    "{e} (is another jinguo process using {}? Several processes need Meilisearch)",
                    dir.display()
                ),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        let inner = Inner {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        };
        Ok((
            EmbeddedSearch {
                inner: Arc::new(inner),
            },
            fresh,
        ))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    ) -> Result<T, SearchError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(failed)?
    }
}

impl Inner {
    fn document(&self, d: &ProductDocument) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_i64(f.id, d.id);
        doc.add_text(f.doc, serde_json::to_string(d).unwrap_or_default());
        doc.add_text(f.title, &d.title);
        doc.add_text(f.title_en, &d.title_en);
        for tag in &d.tags {
            doc.add_text(f.tags, tag);
        }
        doc.add_text(f.producer_name, &d.producer_name);
        doc.add_text(f.producer_name_en, &d.producer_name_en);
        doc.add_text(f.district, &d.district);
        doc.add_text(f.category_name, &d.category_name);
        doc.add_text(f.description, &d.description);
        doc.add_text(f.category, &d.category);
        doc.add_text(f.district_code, &d.district_code);
        doc.add_text(f.producer_kind, &d.producer_kind);
        doc.add_i64(f.certified_until, d.certified_until);
        doc.add_i64(f.in_stock, i64::from(d.in_stock));
        doc.add_i64(f.price_fen, d.price_fen);
        doc.add_i64(f.created_at, d.created_at);
        doc.add_i64(f.sales, d.sales);
        doc.add_i64(f.featured, i64::from(d.featured));
        doc
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer
            .lock()
            .map_err(|_| failed("index writer poisoned"))
    }

    fn commit(&self, writer: &mut IndexWriter) -> Result<(), SearchError> {
        writer.commit().map_err(failed)?;
        self.reader.reload().map_err(failed)
    }

    fn text_query(
        &self,
        searcher: &Searcher,
        q: &str,
    ) -> Result<Option<Box<dyn Query>>, SearchError> {
        let f = self.fields;
        let words: Vec<String> = ChineseTokenizer::new(Mode::Query)
            .tokens(q)
            .into_iter()
            .map(|t| t.text)
            .filter(|w| !STOPWORDS.contains(&w.as_str()))
            .collect();
        if words.is_empty() {
            return Ok(None);
        }
        let mut required: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in words {
            let known = f.chinese().iter().try_fold(0u64, |n, (field, _)| {
                searcher
                    .doc_freq(&Term::from_field_text(*field, &word))
                    .map(|df| n + df)
            });
            let known = known.map_err(failed)? > 0;
            let clause: Box<dyn Query> = match cjk_chars(&word) {
                // A Chinese word the index does not hold whole: require each of its characters.
                Some(chars) if !known => Box::new(BooleanQuery::new(
                    chars
                        .iter()
                        .map(|c| (Occur::Must, self.any_field(c, false)))
                        .collect(),
                )),
                _ => self.any_field(&word, true),
            };
            required.push((Occur::Must, clause));
        }
        Ok(Some(Box::new(BooleanQuery::new(required))))
    }

    /// A word in any text field, weighted by field; Latin words also match with a typo or two.
    fn any_field(&self, word: &str, fuzzy: bool) -> Box<dyn Query> {
        let f = self.fields;
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in f.chinese() {
            let term = Term::from_field_text(field, word);
            let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
            should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))));
        }
        if word.is_ascii() {
            // Meilisearch's defaults: no typo under 5 letters, one under 9, else two.
            let typos = match word.len() {
                0..=4 => 0,
                5..=8 => 1,
                _ => 2,
            };
            for (field, boost) in f.latin() {
                let term = Term::from_field_text(field, word);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), boost)),
                ));
                if fuzzy && typos > 0 {
                    let near = FuzzyTermQuery::new(term, typos, true);
                    should.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(near), boost / 2.0)),
                    ));
                }
            }
        }
        Box::new(BooleanQuery::new(should))
    }

    fn filters(&self, query: &ListingQuery, today: i64) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        let text_term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(category) = &query.category {
            filters.push(text_term(f.category, category));
        }
        if let Some(district) = &query.district {
            filters.push(text_term(f.district_code, district));
        }
        if let Some(kind) = query.producer_kind {
            filters.push(text_term(f.producer_kind, kind.as_str()));
        }
        if query.certified {
            filters.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.certified_until, today)),
                Bound::Unbounded,
            )));
        }
        if query.min_price.is_some() || query.max_price.is_some() {
            let lower = query.min_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_i64(f.price_fen, p.0))
            });
            let upper = query.max_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_i64(f.price_fen, p.0))
            });
            filters.push(Box::new(RangeQuery::new(lower, upper)));
        }
        if query.stock == StockFilter::InStock {
            filters.push(Box::new(TermQuery::new(
                Term::from_field_i64(f.in_stock, 1),
                IndexRecordOption::Basic,
            )));
        }
        filters
            .into_iter()
            .map(|q| {
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>,
                )
            })
            .collect()
    }

    fn search(&self, query: &ListingQuery, today: i64) -> Result<SearchHits, SearchError> {
        let searcher = self.reader.searcher();
        let text = match &query.q {
            Some(q) => self.text_query(&searcher, q)?,
            None => None,
        };
        let mut clauses = self.filters(query, today);
        if let Some(text) = &text {
            clauses.push((Occur::Must, text.box_clone()));
        }
        let full: Box<dyn Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };

        let sort = query.effective_sort();
        let top = TopDocs::with_limit(query.per_page() as usize)
            .and_offset(query.offset() as usize)
            .tweak_score(move |segment: &SegmentReader| sort_key(segment, sort));
        let aggregations = self.facet_request(today)?;
        let facets_collector = AggregationCollector::from_aggs(
            aggregations,
            AggContextParams::new(
                AggregationLimitsGuard::default(),
                self.index.tokenizers().clone(),
            ),
        );
        let (top, total, facets) = searcher
            .search(&*full, &(top, Count, facets_collector))
            .map_err(failed)?;

        let mut ids = Vec::with_capacity(top.len());
        let mut highlights = HashMap::new();
        let highlighter = match &text {
            Some(text) => Some(self.highlighter(&searcher, text.as_ref())?),
            None => None,
        };
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(failed)?;
            let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_i64()) else {
                continue;
            };
            let id = ProductId(id);
            if let (Some(generator), Some(title)) = (
                &highlighter,
                doc.get_first(self.fields.title).and_then(|v| v.as_str()),
            ) {
                let mut snippet = generator.snippet(title);
                if !snippet.highlighted().is_empty() && snippet.fragment() == title {
                    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                    highlights.insert(id, snippet.to_html());
                }
            }
            ids.push(id);
        }
        Ok(SearchHits {
            ids,
            total: total as u64,
            facets: facets_from(&serde_json::to_value(facets).map_err(failed)?),
            highlights,
        })
    }

    fn highlighter(
        &self,
        searcher: &Searcher,
        text: &dyn Query,
    ) -> Result<SnippetGenerator, SearchError> {
        let mut generator =
            SnippetGenerator::create(searcher, text, self.fields.title).map_err(failed)?;
        generator.set_max_num_chars(400);
        Ok(generator)
    }

    fn facet_request(&self, today: i64) -> Result<Aggregations, SearchError> {
        let terms = |field: &str| json!({ "terms": { "field": field, "size": 500 } });
        let request = json!({
            "category": terms("category"),
            "district": terms("district_code"),
            "producer_kind": terms("producer_kind"),
            "certified": { "range": { "field": "certified_until", "ranges": [
                { "key": "false", "to": today },
                { "key": "true", "from": today },
            ]}},
        });
        serde_json::from_value(request).map_err(failed)
    }
}

/// The sort key of a document: larger ranks first.
fn sort_key(
    segment: &SegmentReader,
    sort: Sort,
) -> impl Fn(DocId, Score) -> (f64, i64, i64) + use<> {
    let column = |name: &str| segment.fast_fields().i64(name).ok();
    let (price, created, sales, featured) = (
        column("price_fen"),
        column("created_at"),
        column("sales"),
        column("featured"),
    );
    move |doc: DocId, score: Score| {
        let get = |c: &Option<tantivy::columnar::Column<i64>>| {
            c.as_ref().and_then(|c| c.first(doc)).unwrap_or(0)
        };
        match sort {
            Sort::Relevance => (f64::from(score), get(&featured), get(&sales)),
            Sort::Recommended => (get(&featured) as f64, get(&sales), get(&created)),
            Sort::Newest => (get(&created) as f64, 0, 0),
            Sort::PriceAsc => (-(get(&price) as f64), 0, 0),
            Sort::PriceDesc => (get(&price) as f64, 0, 0),
            Sort::Sales => (get(&sales) as f64, get(&created), 0),
        }
    }
}

fn facets_from(results: &Value) -> Facets {
    let buckets = |name: &str| -> BTreeMap<String, u64> {
        results[name]["buckets"]
            .as_array()
            .map(|buckets| {
                buckets
                    .iter()
                    .filter_map(|b| {
                        let key = match &b["key"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let count = b["doc_count"].as_u64()?;
                        (count > 0).then_some((key, count))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Facets {
        category: buckets("category"),
        district: buckets("district"),
        producer_kind: buckets("producer_kind"),
        certified: buckets("certified"),
    }
}

#[async_trait]
impl ProductSearch for EmbeddedSearch {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| {
            let mut writer = inner.writer()?;
            for d in &docs {
                writer.delete_term(Term::from_field_i64(inner.fields.id, d.id));
                writer.add_document(inner.document(d)).map_err(failed)?;
            }
            inner.commit(&mut writer)
        })
        .await
    }

    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| {
            let mut writer = inner.writer()?;
            for id in &ids {
                writer.delete_term(Term::from_field_i64(inner.fields.id, id.0));
            }
            inner.commit(&mut writer)
        })
        .await
    }

    async fn rebuild(
        &self,
        docs: Vec<ProductDocument>,
        progress: Progress,
    ) -> Result<(), SearchError> {
        self.blocking(move |inner| {
            let mut writer = inner.writer()?;
            // Readers keep the old segments until this commit: no moment with an empty index.
            writer.delete_all_documents().map_err(failed)?;
            let total = docs.len() as u64;
            for (i, d) in docs.iter().enumerate() {
                writer.add_document(inner.document(d)).map_err(failed)?;
                if i % 500 == 499 {
                    progress(i as u64 + 1, total);
                }
            }
            progress(total, total);
            inner.commit(&mut writer)
        })
        .await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.blocking(|inner| Ok(inner.reader.searcher().num_docs()))
            .await
    }

    async fn dump(&self) -> Result<Vec<ProductDocument>, SearchError> {
        self.blocking(|inner| {
            let searcher = inner.reader.searcher();
            let addresses = searcher
                .search(&AllQuery, &tantivy::collector::DocSetCollector)
                .map_err(failed)?;
            let mut docs = Vec::with_capacity(addresses.len());
            for address in addresses {
                let stored: TantivyDocument = searcher.doc(address).map_err(failed)?;
                let json = stored
                    .get_first(inner.fields.doc)
                    .and_then(|v| v.as_str())
                    .unwrap_or("{}");
                docs.push(serde_json::from_str(json).map_err(failed)?);
            }
            Ok(docs)
        })
        .await
    }

    async fn search(&self, query: &ListingQuery, today: i64) -> Result<SearchHits, SearchError> {
        let query = query.clone();
        self.blocking(move |inner| inner.search(&query, today))
            .await
    }
}
