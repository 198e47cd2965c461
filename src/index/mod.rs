//! Index: the full-text index of one knowledge base (tantivy, BM25).
//!
//! Every chunk of every retained version is a document tagged with its `(source, version)`
//! pair. The index never decides what is visible: a search is always filtered to the pairs
//! the catalog says are active, so publishing or reverting a version needs no index write, and
//! a half-written version (a crash before publish) is invisible by construction.
//!
//! Writing needs tantivy's writer lock, which is exclusive across processes. lore uses it as
//! the knowledge base's *ingest lock*: only its holder builds versions (see
//! [`crate::store::Catalog::recover`]).

pub mod analyze;
mod query;

use crate::error::{Error, Result};
use crate::lang::{Lang, STEMMED};
use crate::parse::Location;
use std::path::Path;
use std::time::{Duration, Instant};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Version of the index layout (fields and analyzers). An index written with another version
/// is rebuilt from the catalog, which keeps every chunk's text.
pub const SCHEMA_VERSION: u32 = 6;
const SCHEMA_MARKER: &str = "lore-schema";

/// Memory for the writer's in-RAM segment before it flushes; 64 MB keeps a 2-core machine busy
/// without growing with the input.
const WRITER_HEAP: usize = 64 * 1024 * 1024;

/// How long to wait for another process's writer before giving up.
const WRITER_WAIT: Duration = Duration::from_secs(60);

/// The fields of a chunk document.
#[derive(Clone)]
struct Fields {
    chunk_id: Field,
    source_id: Field,
    sv: Field,
    version: Field,
    ord: Field,
    lang: Field,
    title: Field,
    heading: Field,
    /// The chunk text without stemming: exact word forms in every language and script.
    text: Field,
    /// The chunk text again, stemmed, in the field of its language (`text_es`, …), one per
    /// language in [`STEMMED`] (same order). Only documents of that language have it.
    stemmed: Vec<Field>,
    location: Field,
    /// 1 for a product with stock (or unknown stock), 0 for one known to be out of stock;
    /// absent for anything that is not a product.
    in_stock: Field,
    /// Structured fields (JSON), returned with the hit.
    fields: Field,
}

fn analyzed(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let base = analyzed(analyze::BASE);
    let fields = Fields {
        chunk_id: b.add_u64_field("chunk_id", STORED | INDEXED | FAST),
        source_id: b.add_u64_field("source_id", INDEXED | STORED),
        sv: b.add_text_field("sv", STRING),
        version: b.add_u64_field("version", STORED),
        ord: b.add_u64_field("ord", STORED),
        lang: b.add_text_field("lang", STRING | STORED),
        title: b.add_text_field("title", base.clone()),
        heading: b.add_text_field("heading", base.clone() | STORED),
        text: b.add_text_field("text", base | STORED),
        stemmed: STEMMED
            .iter()
            .map(|(code, _)| {
                b.add_text_field(
                    &format!("text_{code}"),
                    analyzed(&analyze::stemmed_name(code)),
                )
            })
            .collect(),
        location: b.add_text_field("location", STORED),
        in_stock: b.add_u64_field("in_stock", INDEXED),
        fields: b.add_text_field("fields", STORED),
    };
    (b.build(), fields)
}

/// A chunk to index.
pub struct IndexChunk<'a> {
    pub chunk_id: i64,
    pub source_id: i64,
    pub version: u32,
    pub ord: u32,
    /// The source's name and the document's title: matched with a small weight.
    pub title: &'a str,
    /// The language of the version, which picks the stemmed field.
    pub lang: Option<&'a Lang>,
    pub heading_path: &'a [String],
    pub text: &'a str,
    pub location: &'a Location,
    /// Structured fields as JSON (products).
    pub fields: Option<&'a str>,
    /// For products: whether it can be bought now.
    pub in_stock: Option<bool>,
}

/// Restrictions applied inside the index (the source restrictions are in the active pairs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexFilter {
    /// Only products that are not known to be out of stock.
    pub in_stock_only: bool,
}

/// A raw index hit, before the catalog adds names.
#[derive(Debug, Clone)]
pub struct IndexHit {
    pub score: f32,
    pub chunk_id: i64,
    pub source_id: i64,
    pub version: u32,
    pub ord: u32,
    pub heading_path: Vec<String>,
    pub text: String,
    pub lang: Option<Lang>,
    pub location: Location,
    pub fields: Option<String>,
}

/// A BM25 ranking: chunk ids and scores, with the searcher that can load their documents
/// (document addresses are only valid for the searcher that produced them).
pub struct TextRanking {
    searcher: tantivy::Searcher,
    pub hits: Vec<Ranked>,
}

/// One ranked chunk, its document not loaded yet.
#[derive(Debug, Clone, Copy)]
pub struct Ranked {
    pub score: f32,
    pub chunk_id: i64,
    addr: tantivy::DocAddress,
}

/// Separator of heading path elements in the stored `heading` field.
const HEADING_SEP: &str = " \u{203a} ";

/// One knowledge base's tantivy index.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl TextIndex {
    /// Opens (creating if needed) the index in `dir`. Returns the index and whether it was
    /// created empty (new, or replaced because its layout was older), in which case the caller
    /// must fill it from the catalog.
    pub fn open(dir: &Path) -> Result<(TextIndex, bool)> {
        let marker = dir.join(SCHEMA_MARKER);
        let current = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let fresh = current != Some(SCHEMA_VERSION);
        if fresh && dir.exists() {
            tracing::warn!(dir = %dir.display(), ?current, "index layout changed; rebuilding from the catalog");
            std::fs::remove_dir_all(dir)
                .map_err(|e| Error::storage(format!("removing {}", dir.display()), e))?;
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        let index = Index::open_or_create(directory, schema)?;
        if fresh {
            std::fs::write(&marker, SCHEMA_VERSION.to_string())
                .map_err(|e| Error::storage(format!("writing {}", marker.display()), e))?;
        }
        analyze::register(index.tokenizers());
        // Manual reloads: this process reloads after its own commits, and a search in another
        // process opens its own reader, so a watcher thread buys nothing.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok((
            TextIndex {
                index,
                reader,
                fields,
            },
            fresh,
        ))
    }

    /// Takes the writer (the ingest lock), waiting for another process to release it.
    pub fn writer(&self) -> Result<IndexWriterGuard<'_>> {
        let started = Instant::now();
        loop {
            match self
                .index
                .writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP)
            {
                Ok(writer) => {
                    return Ok(IndexWriterGuard {
                        index: self,
                        writer,
                    })
                }
                Err(tantivy::TantivyError::LockFailure(..)) if started.elapsed() < WRITER_WAIT => {
                    tracing::debug!("index writer busy in another process; waiting");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(tantivy::TantivyError::LockFailure(..)) => {
                    return Err(Error::Internal(format!(
                        "the knowledge base is locked by another lore process for more than {}s",
                        WRITER_WAIT.as_secs()
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Makes documents committed by this or another process visible to searches.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    /// BM25 search over the chunks of the given `(source, version)` pairs only.
    ///
    /// The question is matched against the unstemmed fields and the stemmed field of its
    /// language; when its language cannot be told (short questions, product codes), against
    /// every stemmed field — each only holds documents of its own language, so a stem can only
    /// match documents of the language that produced it.
    ///
    /// Returns scores and chunk ids only (read from a fast field): loading a stored document
    /// costs tens of microseconds, so callers load just the hits they keep ([`Self::load`]).
    pub fn rank(
        &self,
        query: &str,
        query_lang: Option<&Lang>,
        active: &[(i64, u32)],
        filter: IndexFilter,
        limit: usize,
    ) -> Result<TextRanking> {
        if active.is_empty() || limit == 0 || query.trim().is_empty() {
            return Ok(TextRanking {
                searcher: self.reader.searcher(),
                hits: Vec::new(),
            });
        }
        let f = &self.fields;
        let searcher = self.reader.searcher();
        let stemmed_names: Vec<String> = STEMMED
            .iter()
            .map(|(code, _)| analyze::stemmed_name(code))
            .collect();
        let mut targets = vec![
            query::Target {
                field: f.text,
                analyzer: analyze::BASE,
                boost: 1.0,
            },
            query::Target {
                field: f.heading,
                analyzer: analyze::BASE,
                boost: 1.5,
            },
            query::Target {
                field: f.title,
                analyzer: analyze::BASE,
                boost: 0.5,
            },
        ];
        // The stemmed fields of the languages the knowledge base holds, whatever the
        // question's detected language: detection on a one-line question is often wrong
        // (German read as Dutch), and a stem can only match documents of the language that
        // produced it, so the other fields cost little and lose nothing.
        let _ = query_lang;
        for i in self.present_languages(&searcher)? {
            targets.push(query::Target {
                field: f.stemmed[i],
                analyzer: &stemmed_names[i],
                boost: 1.0,
            });
        }
        let Some(text_query) = query::bag_of_terms(self.index.tokenizers(), &targets, query) else {
            return Ok(TextRanking {
                searcher,
                hits: Vec::new(),
            });
        };
        let mut clauses = self.restrictions(active, filter);
        clauses.push((Occur::Must, text_query));
        let query: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("chunk_id")?;
            let chunk_id = column
                .first(addr.doc_id)
                .ok_or_else(|| Error::Internal("index document without its chunk id".into()))?;
            hits.push(Ranked {
                score,
                chunk_id: chunk_id as i64,
                addr,
            });
        }
        Ok(TextRanking { searcher, hits })
    }

    /// Whether any indexed chunk is in `lang` (hybrid search weighs BM25 down for a question
    /// in a language the knowledge base does not hold).
    pub fn holds_language(&self, lang: &Lang) -> Result<bool> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.lang, lang.code());
        for segment in searcher.segment_readers() {
            let docs = segment
                .inverted_index(self.fields.lang)?
                .doc_freq(&term)
                .map_err(|e| Error::Internal(format!("reading the index: {e}")))?;
            if docs > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Positions in [`STEMMED`] of the languages that have at least one indexed document.
    fn present_languages(&self, searcher: &tantivy::Searcher) -> Result<Vec<usize>> {
        let mut present = Vec::new();
        for (i, field) in self.fields.stemmed.iter().enumerate() {
            for segment in searcher.segment_readers() {
                if segment.inverted_index(*field)?.terms().num_terms() > 0 {
                    present.push(i);
                    break;
                }
            }
        }
        Ok(present)
    }

    /// [`Self::rank`] with every hit's document loaded.
    pub fn search(
        &self,
        query: &str,
        query_lang: Option<&Lang>,
        active: &[(i64, u32)],
        filter: IndexFilter,
        limit: usize,
    ) -> Result<Vec<IndexHit>> {
        let ranking = self.rank(query, query_lang, active, filter, limit)?;
        ranking
            .hits
            .iter()
            .map(|h| self.load(&ranking, h))
            .collect()
    }

    /// The clauses every search carries: only the active `(source, version)` pairs, and the
    /// chunk-level filters.
    fn restrictions(
        &self,
        active: &[(i64, u32)],
        filter: IndexFilter,
    ) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.fields;
        let active_filter = TermSetQuery::new(
            active
                .iter()
                .map(|(s, v)| Term::from_field_text(f.sv, &crate::store::version_term(*s, *v))),
        );
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(active_filter))];
        if filter.in_stock_only {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.in_stock, 1),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        clauses
    }

    /// The full document of a ranked hit (stored fields are only read for what is shown).
    pub fn load(&self, ranking: &TextRanking, hit: &Ranked) -> Result<IndexHit> {
        let doc: TantivyDocument = ranking.searcher.doc(hit.addr)?;
        self.hit_from_doc(hit.score, &doc)
    }

    /// The documents of the given chunks (the vector side's hits), restricted like a search
    /// to the active pairs and `filter`; chunks that do not pass are left out. Scores are 0.
    pub fn by_chunk_ids(
        &self,
        ids: &[i64],
        active: &[(i64, u32)],
        filter: IndexFilter,
    ) -> Result<Vec<IndexHit>> {
        if ids.is_empty() || active.is_empty() {
            return Ok(Vec::new());
        }
        let f = &self.fields;
        let by_id = TermSetQuery::new(
            ids.iter()
                .map(|id| Term::from_field_u64(f.chunk_id, *id as u64)),
        );
        let mut clauses = self.restrictions(active, filter);
        clauses.push((Occur::Must, Box::new(by_id)));
        let searcher = self.reader.searcher();
        let found = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut hits = Vec::with_capacity(found.len());
        for addr in found {
            let doc: TantivyDocument = searcher.doc(addr)?;
            hits.push(self.hit_from_doc(0.0, &doc)?);
        }
        Ok(hits)
    }

    fn hit_from_doc(&self, score: f32, doc: &TantivyDocument) -> Result<IndexHit> {
        let f = &self.fields;
        let u = |field: Field| doc.get_first(field).and_then(|v| v.as_u64());
        let lang = doc
            .get_first(f.lang)
            .and_then(|v| v.as_str())
            .map(|s| Lang(s.to_string()));
        let s = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let missing = || Error::Internal("index document without its ids".into());
        let heading = s(f.heading);
        Ok(IndexHit {
            score,
            chunk_id: u(f.chunk_id).ok_or_else(missing)? as i64,
            source_id: u(f.source_id).ok_or_else(missing)? as i64,
            version: u(f.version).ok_or_else(missing)? as u32,
            ord: u(f.ord).unwrap_or(0) as u32,
            heading_path: if heading.is_empty() {
                Vec::new()
            } else {
                heading.split(HEADING_SEP).map(str::to_string).collect()
            },
            text: s(f.text),
            lang,
            location: serde_json::from_str(&s(f.location)).unwrap_or_default(),
            fields: doc
                .get_first(f.fields)
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }

    /// How much of the question a passage covers, from 0 to 1: the IDF-weighted share of the
    /// question's distinct terms that occur in the passage. Rare words (product codes, "Chile")
    /// weigh a lot, function words ("do", "the") almost nothing, so the figure reads as "did
    /// the passage talk about what was asked". Terms are compared after the passage language's
    /// stemmer when it has one, so "envío" covers "envíos".
    pub fn coverage(&self, query: &str, passage: &str, lang: Option<&Lang>) -> Result<f32> {
        let f = &self.fields;
        let (analyzer, field) =
            match lang.and_then(|l| STEMMED.iter().position(|(c, _)| *c == l.code())) {
                Some(i) => (analyze::coverage_name(STEMMED[i].0), f.stemmed[i]),
                None => (analyze::BASE.to_string(), f.text),
            };
        let q = self.tokens(&analyzer, query)?;
        if q.is_empty() {
            return Ok(0.0);
        }
        let p: std::collections::HashSet<String> =
            self.tokens(&analyzer, passage)?.into_iter().collect();
        let searcher = self.reader.searcher();
        let n = searcher.num_docs().max(1) as f32;
        let mut total = 0.0;
        let mut covered = 0.0;
        for t in &q {
            let df = searcher.doc_freq(&Term::from_field_text(field, t))? as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            total += idf;
            tracing::trace!(term = %t, df, idf, covered = p.contains(t), "coverage term");
            if p.contains(t) {
                covered += idf;
            }
        }
        Ok(if total > 0.0 { covered / total } else { 0.0 })
    }

    /// Distinct tokens of `text` under a registered analyzer.
    fn tokens(&self, analyzer: &str, text: &str) -> Result<Vec<String>> {
        let mut a = self
            .index
            .tokenizers()
            .get(analyzer)
            .ok_or_else(|| Error::Internal(format!("analyzer {analyzer} is not registered")))?;
        let mut stream = a.token_stream(text);
        let mut out: Vec<String> = Vec::new();
        while stream.advance() {
            let t = &stream.token().text;
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        Ok(out)
    }

    /// Number of documents visible to the current reader (all versions, active or not).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The held writer. Dropping it without [`IndexWriterGuard::commit`] discards what was added.
pub struct IndexWriterGuard<'a> {
    index: &'a TextIndex,
    writer: IndexWriter<TantivyDocument>,
}

impl IndexWriterGuard<'_> {
    pub fn add(&mut self, c: &IndexChunk<'_>) -> Result<()> {
        let f = &self.index.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.chunk_id, c.chunk_id as u64);
        doc.add_u64(f.source_id, c.source_id as u64);
        doc.add_text(f.sv, crate::store::version_term(c.source_id, c.version));
        doc.add_u64(f.version, u64::from(c.version));
        doc.add_u64(f.ord, u64::from(c.ord));
        doc.add_text(f.title, c.title);
        doc.add_text(f.heading, c.heading_path.join(HEADING_SEP));
        doc.add_text(f.text, c.text);
        if let Some(lang) = c.lang {
            doc.add_text(f.lang, lang.code());
            if let Some(i) = STEMMED.iter().position(|(code, _)| *code == lang.code()) {
                doc.add_text(f.stemmed[i], c.text);
            }
        }
        doc.add_text(
            f.location,
            serde_json::to_string(c.location).map_err(|e| Error::Internal(e.to_string()))?,
        );
        if let Some(fields) = c.fields {
            doc.add_text(f.fields, fields);
        }
        if let Some(in_stock) = c.in_stock {
            doc.add_u64(f.in_stock, u64::from(in_stock));
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Deletes documents by a catalog gc term: `source:ID` (a removed source) or `S:V` (one
    /// version).
    pub fn delete(&mut self, term: &str) {
        let f = &self.index.fields;
        if let Some(id) = term
            .strip_prefix("source:")
            .and_then(|s| s.parse::<u64>().ok())
        {
            self.writer
                .delete_term(Term::from_field_u64(f.source_id, id));
        } else {
            self.writer.delete_term(Term::from_field_text(f.sv, term));
        }
    }

    /// Durably commits everything added or deleted, and makes it visible to this process.
    pub fn commit(&mut self) -> Result<()> {
        self.writer.commit()?;
        self.index.reload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(w: &mut IndexWriterGuard<'_>, id: i64, source: i64, version: u32, text: &str) {
        w.add(&IndexChunk {
            chunk_id: id,
            source_id: source,
            version,
            ord: 0,
            title: "doc",
            lang: None,
            heading_path: &["Shipping".to_string(), "Chile".to_string()],
            text,
            location: &Location::lines(1, 2),
            fields: None,
            in_stock: None,
        })
        .unwrap();
    }

    #[test]
    fn search_sees_only_active_pairs_and_folds_accents() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        {
            let mut w = idx.writer().unwrap();
            add(&mut w, 1, 1, 1, "Envío a Chile en 7 días");
            add(&mut w, 2, 1, 2, "Envío a Chile en 12 días");
            add(&mut w, 3, 2, 1, "Devoluciones en 30 días");
            w.commit().unwrap();
        }
        let hits = idx
            .search(
                "envio chile",
                None,
                &[(1, 2), (2, 1)],
                IndexFilter::default(),
                10,
            )
            .unwrap();
        // Chunk 3 matches only through the shared heading; chunk 1 is not active.
        let ids: Vec<i64> = hits.iter().map(|h| h.chunk_id).collect();
        assert_eq!(ids, vec![2, 3]);
        assert_eq!(hits[0].heading_path, vec!["Shipping", "Chile"]);
        assert_eq!(hits[0].location, Location::lines(1, 2));
        let hits = idx
            .search("envio chile", None, &[(1, 1)], IndexFilter::default(), 10)
            .unwrap();
        assert_eq!(hits[0].chunk_id, 1);
        assert!(idx
            .search("envio", None, &[], IndexFilter::default(), 10)
            .unwrap()
            .is_empty());
        // Query syntax characters do not fail the search.
        assert!(!idx
            .search(
                "¿envío: (Chile)? \"",
                None,
                &[(1, 1)],
                IndexFilter::default(),
                10
            )
            .unwrap()
            .is_empty());
    }

    #[test]
    fn stemmed_fields_match_word_forms_of_the_documents_language() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let es = Lang("es".into());
        let en = Lang("en".into());
        let mut w = idx.writer().unwrap();
        for (id, text, lang) in [
            (1, "Realizamos envíos a Chile y Colombia", &es),
            (2, "Returned items are refunded", &en),
        ] {
            w.add(&IndexChunk {
                chunk_id: id,
                source_id: id,
                version: 1,
                ord: 0,
                title: "t",
                lang: Some(lang),
                heading_path: &[],
                text,
                location: &Location::default(),
                fields: None,
                in_stock: None,
            })
            .unwrap();
        }
        w.commit().unwrap();
        let active = [(1, 1), (2, 1)];
        // "envío" (singular) finds "envíos" only through the Spanish stemmer.
        let hits = idx
            .search("envío", Some(&es), &active, IndexFilter::default(), 5)
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].lang, Some(es.clone()));
        let hits = idx
            .search("envío", None, &active, IndexFilter::default(), 5)
            .unwrap();
        assert_eq!(hits.len(), 1);
        let hits = idx
            .search(
                "return refund",
                Some(&en),
                &active,
                IndexFilter::default(),
                5,
            )
            .unwrap();
        assert_eq!(hits[0].chunk_id, 2);
    }

    #[test]
    fn an_index_of_another_layout_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fresh) = TextIndex::open(dir.path()).unwrap();
        assert!(fresh);
        let (_, fresh) = TextIndex::open(dir.path()).unwrap();
        assert!(!fresh);
        std::fs::write(dir.path().join(SCHEMA_MARKER), "1").unwrap();
        let (_, fresh) = TextIndex::open(dir.path()).unwrap();
        assert!(fresh);
    }

    #[test]
    fn delete_by_version_and_by_source() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        add(&mut w, 1, 1, 1, "alpha");
        add(&mut w, 2, 1, 2, "alpha");
        add(&mut w, 3, 2, 1, "alpha");
        w.commit().unwrap();
        assert_eq!(idx.num_docs(), 3);
        w.delete("1:1");
        w.commit().unwrap();
        assert_eq!(idx.num_docs(), 2);
        w.delete("source:2");
        w.commit().unwrap();
        assert_eq!(idx.num_docs(), 1);
    }

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let other = TextIndex::open(dir.path()).unwrap().0;
        let w = idx.writer().unwrap();
        let t = std::thread::spawn(move || {
            let started = Instant::now();
            let _w2 = other.writer().unwrap();
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(500));
        drop(w);
        assert!(t.join().unwrap() >= Duration::from_millis(400));
    }
}
