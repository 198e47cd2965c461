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
mod filter;
mod query;

use crate::error::{Error, Result};
use crate::lang::{Lang, STEMMED};
use crate::parse::Location;
use filter::{Allowed, Filtered, SegmentDocs};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tantivy::query::Query;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{
    BitSet, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

/// Version of the index layout (fields and analyzers). An index written with another version
/// is rebuilt from the catalog, which keeps every chunk's text.
pub const SCHEMA_VERSION: u32 = 7;
const SCHEMA_MARKER: &str = "lore-schema";

/// Memory for the writer's in-RAM segment before it flushes; 64 MB keeps a 2-core machine busy
/// without growing with the input.
const WRITER_HEAP: usize = 64 * 1024 * 1024;

/// Segments above which the end of an ingestion run merges the smallest (see
/// [`IndexWriterGuard::merge_small_segments`]).
const MAX_SEGMENTS: usize = 8;

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
    /// The chunk text again, unstemmed, for chunks of a language without a stemmer (or of
    /// none detected): with it every passage's words of spaced scripts are in one field
    /// besides `text`, so a question's words in `text` need only rescore (see
    /// `query::Question`).
    plain: Field,
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
        plain: b.add_text_field("text_plain", analyzed(analyze::PLAIN)),
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
    /// The share of the question's content words that occur anywhere in the index (1 when
    /// it has none): low when the question is in a language the documents are not.
    pub known_share: f32,
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

/// Field boosts of the query: a heading says what a passage is about; the title (source and
/// document name) matches too easily to weigh as much as the text.
const HEADING_BOOST: f32 = 1.5;
const TITLE_BOOST: f32 = 0.5;

/// Allowed-document sets kept per searcher generation: the active set changes with each
/// agent's or filter's view, and a handful of views cover a serving process's traffic.
const ALLOWED_CACHE: usize = 8;

/// One knowledge base's tantivy index.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// `meta.json`, whose content changes with every commit or merge (here or in another
    /// process): a search reloads the reader only when it changed, since a reload reopens
    /// every segment and starts a new searcher generation (which empties [`Self::cache`]).
    meta_path: PathBuf,
    last_meta: Mutex<Option<Vec<u8>>>,
    cache: Mutex<GenerationCache>,
}

/// What is derived from one searcher generation and reused by every search on it.
#[derive(Default)]
struct GenerationCache {
    generation: Option<u64>,
    /// Indices (into [`STEMMED`]) of the stemmed fields that hold any document.
    stemmed_present: Option<Arc<Vec<usize>>>,
    /// Whether any document has `text_plain` (see `TextIndex::plain_present`).
    plain_present: Option<bool>,
    /// Most recently used first.
    allowed: Vec<AllowedEntry>,
    doc_freq: std::collections::HashMap<Term, u64>,
}

/// Terms whose document frequency is kept per generation (then the cache starts over).
const DOC_FREQ_CACHE: usize = 50_000;

struct AllowedEntry {
    /// Sorted and deduplicated.
    active: Vec<(i64, u32)>,
    filter: IndexFilter,
    allowed: Arc<Allowed>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are caches, replaced whole: a panic elsewhere cannot leave them torn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
                meta_path: dir.join("meta.json"),
                last_meta: Mutex::new(None),
                cache: Mutex::new(GenerationCache::default()),
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

    /// Makes documents committed by this or another process visible to searches. Cheap when
    /// nothing was committed since the last reload (one small file read).
    pub fn reload(&self) -> Result<()> {
        let meta = std::fs::read(&self.meta_path).ok();
        let mut last = lock(&self.last_meta);
        if meta.is_some() && *last == meta {
            return Ok(());
        }
        self.reader.reload()?;
        *last = meta;
        Ok(())
    }

    /// The cache of `searcher`'s generation, emptied if it was another's.
    fn cache_for(&self, searcher: &tantivy::Searcher) -> MutexGuard<'_, GenerationCache> {
        let mut cache = lock(&self.cache);
        let generation = searcher.generation().generation_id();
        if cache.generation != Some(generation) {
            *cache = GenerationCache {
                generation: Some(generation),
                ..GenerationCache::default()
            };
        }
        cache
    }

    /// The stemmed fields (indices into [`STEMMED`]) that hold documents in `searcher`: a
    /// question is matched against those only, since an empty field can match nothing and
    /// each queried field costs a dictionary lookup per word and segment.
    fn stemmed_present(&self, searcher: &tantivy::Searcher) -> Result<Arc<Vec<usize>>> {
        if let Some(p) = &self.cache_for(searcher).stemmed_present {
            return Ok(Arc::clone(p));
        }
        let mut present = Vec::new();
        for (i, field) in self.fields.stemmed.iter().enumerate() {
            for seg in searcher.segment_readers() {
                if seg.inverted_index(*field)?.terms().num_terms() > 0 {
                    present.push(i);
                    break;
                }
            }
        }
        let present = Arc::new(present);
        self.cache_for(searcher).stemmed_present = Some(Arc::clone(&present));
        Ok(present)
    }

    /// Whether any document of `searcher` has `text_plain` (is in a language without a
    /// stemmer, or in none detected).
    fn plain_present(&self, searcher: &tantivy::Searcher) -> Result<bool> {
        if let Some(present) = self.cache_for(searcher).plain_present {
            return Ok(present);
        }
        let mut present = false;
        for seg in searcher.segment_readers() {
            if seg.inverted_index(self.fields.plain)?.terms().num_terms() > 0 {
                present = true;
                break;
            }
        }
        self.cache_for(searcher).plain_present = Some(present);
        Ok(present)
    }

    /// The documents of `searcher` that belong to the `active` pairs and pass `filter`,
    /// cached per generation and view (see [`filter`]).
    fn allowed(
        &self,
        searcher: &tantivy::Searcher,
        active: &[(i64, u32)],
        filter: IndexFilter,
    ) -> Result<Arc<Allowed>> {
        let mut key = active.to_vec();
        key.sort_unstable();
        key.dedup();
        {
            let mut cache = self.cache_for(searcher);
            if let Some(i) = cache
                .allowed
                .iter()
                .position(|e| e.filter == filter && e.active == key)
            {
                let entry = cache.allowed.remove(i);
                let allowed = Arc::clone(&entry.allowed);
                cache.allowed.insert(0, entry);
                return Ok(allowed);
            }
        }
        let started = Instant::now();
        let allowed = Arc::new(self.compute_allowed(searcher, &key, filter)?);
        tracing::debug!(
            pairs = key.len(),
            ?allowed,
            us = started.elapsed().as_micros() as u64,
            "active documents computed"
        );
        let mut cache = self.cache_for(searcher);
        cache.allowed.insert(
            0,
            AllowedEntry {
                active: key,
                filter,
                allowed: Arc::clone(&allowed),
            },
        );
        cache.allowed.truncate(ALLOWED_CACHE);
        Ok(allowed)
    }

    fn compute_allowed(
        &self,
        searcher: &tantivy::Searcher,
        active: &[(i64, u32)],
        filter: IndexFilter,
    ) -> Result<Allowed> {
        let f = &self.fields;
        let terms: HashSet<String> = active
            .iter()
            .map(|(s, v)| crate::store::version_term(*s, *v))
            .collect();
        let mut segments = std::collections::HashMap::new();
        for seg in searcher.segment_readers() {
            let mut bits = BitSet::with_max_value(seg.max_doc());
            let sv = seg.inverted_index(f.sv)?;
            // A segment holds the versions indexed in one batch (or merged from a few): its
            // dictionary is short, shorter than the active set once sources number in the
            // hundreds, so it is walked rather than probed.
            let mut stream = sv.terms().stream().map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                let passes = std::str::from_utf8(stream.key()).is_ok_and(|t| terms.contains(t));
                if passes {
                    let mut postings = sv
                        .read_postings_from_terminfo(stream.value(), IndexRecordOption::Basic)
                        .map_err(tantivy::TantivyError::from)?;
                    let mut doc = postings.doc();
                    while doc != tantivy::TERMINATED {
                        bits.insert(doc);
                        doc = postings.advance();
                    }
                }
            }
            if filter.in_stock_only {
                let mut stocked = BitSet::with_max_value(seg.max_doc());
                let term = Term::from_field_u64(f.in_stock, 1);
                if let Some(mut postings) = seg
                    .inverted_index(f.in_stock)?
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(tantivy::TantivyError::from)?
                {
                    let mut doc = postings.doc();
                    while doc != tantivy::TERMINATED {
                        if bits.contains(doc) {
                            stocked.insert(doc);
                        }
                        doc = postings.advance();
                    }
                }
                bits = stocked;
            }
            let docs = if bits.len() == 0 {
                SegmentDocs::None
            } else {
                let alive = seg.alive_bitset();
                let all = (0..seg.max_doc())
                    .all(|d| bits.contains(d) || alive.is_some_and(|a| a.is_deleted(d)));
                if all {
                    SegmentDocs::All
                } else {
                    SegmentDocs::Some(Arc::new(bits))
                }
            };
            segments.insert(seg.segment_id(), docs);
        }
        Ok(Allowed { segments })
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
                known_share: 1.0,
            });
        }
        let searcher = self.reader.searcher();
        let allowed = self.allowed(&searcher, active, filter)?;
        if allowed.is_empty() {
            return Ok(TextRanking {
                searcher,
                hits: Vec::new(),
                known_share: 1.0,
            });
        }
        // The question's language is not used to pick fields (see `question_query`).
        let _ = query_lang;
        let Some(question) = self.question_query(&searcher, query)? else {
            return Ok(TextRanking {
                searcher,
                hits: Vec::new(),
                known_share: 1.0,
            });
        };
        let known_share = question.known_share;
        let mut top = if question.deferred.is_empty() {
            top_docs(&searcher, &Filtered::new(question.ranking, allowed), limit)?
        } else {
            let depth = limit.max(RESCORED_CANDIDATES);
            let mut top = top_docs(&searcher, &Filtered::new(question.ranking, allowed), depth)?;
            add_scores(&searcher, &question.deferred, &mut top)?;
            top.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            top.truncate(limit);
            top
        };
        top.shrink_to_fit();
        let mut hits = Vec::with_capacity(top.len());
        let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
        for (score, addr) in top {
            let column = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("chunk_id")?,
                ),
            };
            let chunk_id = column
                .first(addr.doc_id)
                .ok_or_else(|| Error::Internal("index document without its chunk id".into()))?;
            hits.push(Ranked {
                score,
                chunk_id: chunk_id as i64,
                addr,
            });
        }
        Ok(TextRanking {
            searcher,
            hits,
            known_share,
        })
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

    /// The BM25 query of a question: its terms in the unstemmed fields and in the stemmed
    /// fields of every language the index holds (see [`query`]). `None` when it has no term.
    fn question_query(
        &self,
        searcher: &tantivy::Searcher,
        question: &str,
    ) -> Result<Option<query::Question>> {
        let f = &self.fields;
        // The question side of a stemmed field: the same stemmer, without the language's stop
        // words. "What is the best way to…" otherwise pays BM25 for "what", "is" and "the" in
        // every passage: dropping them raised text nDCG@10 on pydocs-faq from 0.55 to 0.70 and
        // on debfaq-en from 0.51 to 0.58 (the unstemmed fields keep every word, for names).
        let question_analyzers: Vec<String> = STEMMED
            .iter()
            .map(|(code, _)| analyze::coverage_name(code))
            .collect();
        let present = self.stemmed_present(searcher)?;
        // A stop word of any language the index holds: the question analyzer of that
        // language leaves nothing of it.
        let tokenizers = self.index.tokenizers();
        let is_stop_word = |word: &str| {
            present.iter().any(|&i| {
                tokenizers
                    .get(&question_analyzers[i])
                    .is_some_and(|mut analyzer| !analyzer.token_stream(word).advance())
            })
        };
        // Every passage's words of spaced scripts are in a stemmed field or in `text_plain`
        // too: those rank, the exact word form in `text` only rescores. A quarter less BM25
        // time (hybrid p50 at 100k chunks 2.9 → 2.5 ms) for the same nDCG@10 on every set.
        // Unspaced scripts (CJK bigrams) are only in `text`, and rank there.
        let defer_in_text =
            |word: &str| is_stop_word(word) || !word.chars().any(analyze::is_unspaced);
        // Japanese particles and verb endings (`は`, `です`, `ますか`) cut into bigrams are the
        // stop words of an unspaced script: a bigram of hiragana only is left out of `text`
        // when the question has kanji or katakana to rank by (debfaq-ja text nDCG@10 0.513
        // → 0.520, hybrid 0.626 → 0.629). A question in hiragana only keeps them all.
        let has_kanji_or_katakana = question
            .chars()
            .any(|c| analyze::is_unspaced(c) && !analyze::is_hiragana(c));
        let kana_skip = |word: &str| has_kanji_or_katakana && analyze::is_kana_grammar(word);
        // A question of stop words only ("what is it?") is ranked by them: nothing else
        // could find its passages.
        let mut content: Vec<String> = Vec::new();
        if let Some(mut base) = tokenizers.get(analyze::BASE) {
            let mut stream = base.token_stream(question);
            while stream.advance() {
                let t = stream.token();
                let stop = question
                    .get(t.offset_from..t.offset_to)
                    .is_some_and(|word| is_stop_word(&word.to_lowercase()));
                if !stop && !content.contains(&t.text) {
                    content.push(t.text.clone());
                }
            }
        }
        let has_content_word = !content.is_empty();
        let mut known = 0usize;
        for word in &content {
            if self.doc_freq(searcher, Term::from_field_text(f.text, word))? > 0 {
                known += 1;
            }
        }
        let known_share = if content.is_empty() {
            1.0
        } else {
            known as f32 / content.len() as f32
        };
        let text_defer: Option<&dyn Fn(&str) -> bool> = if has_content_word {
            Some(&defer_in_text)
        } else {
            None
        };
        let mut targets = vec![
            query::Target {
                field: f.text,
                analyzer: analyze::BASE,
                boost: 1.0,
                defer: text_defer,
                skip: Some(&kana_skip),
            },
            query::Target {
                field: f.heading,
                analyzer: analyze::BASE,
                boost: HEADING_BOOST,
                defer: None,
                skip: None,
            },
            query::Target {
                field: f.title,
                analyzer: analyze::BASE,
                boost: TITLE_BOOST,
                defer: None,
                skip: None,
            },
        ];
        // The stemmed fields of the languages the knowledge base holds, whatever the
        // question's detected language: detection on a one-line question is often wrong
        // (German read as Dutch), and a stem can only match documents of the language that
        // produced it, so the other fields cost little and lose nothing.
        for &i in present.iter() {
            targets.push(query::Target {
                field: f.stemmed[i],
                analyzer: &question_analyzers[i],
                boost: 1.0,
                defer: None,
                skip: None,
            });
        }
        // Passages in a language without a stemmer: their words, stop words left out as in
        // the stemmed fields.
        if self.plain_present(searcher)? {
            targets.push(query::Target {
                field: f.plain,
                analyzer: analyze::PLAIN,
                boost: 1.0,
                defer: None,
                skip: Some(&is_stop_word),
            });
        }
        // A flat union of (boosted) term queries: the shape tantivy prunes with block-max WAND.
        Ok(
            query::bag_of_terms(tokenizers, &targets, question).map(|mut q| {
                q.known_share = known_share;
                q
            }),
        )
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
        let searcher = self.reader.searcher();
        let allowed = self.allowed(&searcher, active, filter)?;
        // A handful of ids: a dictionary lookup per id and segment beats building a term-set
        // automaton (whose builder alone allocates more than this whole lookup costs).
        let mut found = Vec::with_capacity(ids.len());
        for (ord, seg) in searcher.segment_readers().iter().enumerate() {
            let passes = |doc: u32| match allowed.segments.get(&seg.segment_id()) {
                Some(SegmentDocs::All) => true,
                Some(SegmentDocs::Some(bits)) => bits.contains(doc),
                Some(SegmentDocs::None) | None => false,
            };
            let inverted = seg.inverted_index(f.chunk_id)?;
            for id in ids {
                let term = Term::from_field_u64(f.chunk_id, *id as u64);
                let Some(mut postings) = inverted
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(tantivy::TantivyError::from)?
                else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != tantivy::TERMINATED {
                    if passes(doc) && !seg.alive_bitset().is_some_and(|a| a.is_deleted(doc)) {
                        found.push(tantivy::DocAddress::new(ord as u32, doc));
                    }
                    doc = postings.advance();
                }
            }
        }
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
        // Only the question's terms matter: the passage's tokens are checked against them as
        // they stream, nothing of the passage is kept.
        let mut found = vec![false; q.len()];
        {
            let mut a = self.analyzer(&analyzer)?;
            let mut stream = a.token_stream(passage);
            while stream.advance() {
                let t = &stream.token().text;
                if let Some(i) = q.iter().position(|x| x == t) {
                    found[i] = true;
                }
            }
        }
        let searcher = self.reader.searcher();
        let n = searcher.num_docs().max(1) as f32;
        let mut total = 0.0;
        let mut covered = 0.0;
        for (t, found) in q.iter().zip(found) {
            let df = self.doc_freq(&searcher, Term::from_field_text(field, t))? as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            total += idf;
            tracing::trace!(term = %t, df, idf, covered = found, "coverage term");
            if found {
                covered += idf;
            }
        }
        Ok(if total > 0.0 { covered / total } else { 0.0 })
    }

    /// Document frequency of a term across segments, cached per searcher generation: a
    /// search asks for the same question's terms once per passage it checks.
    fn doc_freq(&self, searcher: &tantivy::Searcher, term: Term) -> Result<u64> {
        if let Some(df) = self.cache_for(searcher).doc_freq.get(&term) {
            return Ok(*df);
        }
        let df = searcher.doc_freq(&term)?;
        let mut cache = self.cache_for(searcher);
        if cache.doc_freq.len() >= DOC_FREQ_CACHE {
            cache.doc_freq.clear();
        }
        cache.doc_freq.insert(term, df);
        Ok(df)
    }

    /// Distinct tokens of `text` under a registered analyzer.
    fn tokens(&self, analyzer: &str, text: &str) -> Result<Vec<String>> {
        let mut a = self.analyzer(analyzer)?;
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

    /// A registered analyzer, by name.
    fn analyzer(&self, name: &str) -> Result<tantivy::tokenizer::TextAnalyzer> {
        self.index
            .tokenizers()
            .get(name)
            .ok_or_else(|| Error::Internal(format!("analyzer {name} is not registered")))
    }

    /// Number of documents visible to the current reader (all versions, active or not).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The `limit` best documents for `query`, best first (ties: lower address first), like
/// tantivy's `TopDocs` but with one pruning threshold across segments.
///
/// `TopDocs` collects each segment on its own, from a threshold of nothing, so every segment
/// scores its own top-k before pruning starts to bite; with the tens of segments an index
/// gets from batch commits that is most of the work. Here each segment starts from the k-th
/// best score found so far. Segments are visited in order and a document must beat the
/// threshold strictly, so a tie keeps the earlier address, as `TopDocs` does.
/// Fewest candidates of the ranking query that the deferred words rescore (see
/// [`query::Question`]). Measured with `lore eval`: 30, 50 and 100 give the same hybrid
/// nDCG@10 on all seven sets (text within ±0.01); each doubling costs about 0.1 ms at 100k
/// chunks.
const RESCORED_CANDIDATES: usize = 50;

/// Adds the scores of `clauses` to the documents of `top` (all clauses of one `Should` union,
/// whose score is the sum of its clauses'): each clause's scorer visits the candidates of a
/// segment in document order.
fn add_scores(
    searcher: &tantivy::Searcher,
    clauses: &[Box<dyn Query>],
    top: &mut [(f32, tantivy::DocAddress)],
) -> Result<()> {
    use tantivy::{DocSet, TERMINATED};
    // Candidate positions by (segment, document).
    let mut order: Vec<usize> = (0..top.len()).collect();
    order.sort_by_key(|&i| top[i].1);
    let scoring = tantivy::query::EnableScoring::enabled_from_searcher(searcher);
    for clause in clauses {
        let weight = clause.weight(scoring)?;
        let mut at = 0;
        while at < order.len() {
            let segment = top[order[at]].1.segment_ord;
            let end = at
                + order[at..]
                    .iter()
                    .take_while(|&&i| top[i].1.segment_ord == segment)
                    .count();
            let mut scorer = weight.scorer(searcher.segment_reader(segment), 1.0)?;
            for &i in &order[at..end] {
                let doc = top[i].1.doc_id;
                if scorer.doc() == TERMINATED {
                    break;
                }
                if scorer.doc() < doc {
                    scorer.seek(doc);
                }
                if scorer.doc() == doc {
                    top[i].0 += scorer.score();
                }
            }
            at = end;
        }
    }
    Ok(())
}

fn top_docs(
    searcher: &tantivy::Searcher,
    query: &dyn Query,
    limit: usize,
) -> Result<Vec<(f32, tantivy::DocAddress)>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    /// Ordered by quality: higher score, then lower address.
    #[derive(PartialEq)]
    struct Entry(f32, tantivy::DocAddress);
    impl Eq for Entry {}
    impl Ord for Entry {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0
                .total_cmp(&other.0)
                .then_with(|| other.1.cmp(&self.1))
        }
    }
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    if limit == 0 {
        return Ok(Vec::new());
    }
    let weight = query.weight(tantivy::query::EnableScoring::enabled_from_searcher(
        searcher,
    ))?;
    // A min-heap: its top is the worst kept document.
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::with_capacity(limit + 1);
    let threshold = |heap: &BinaryHeap<Reverse<Entry>>| match heap.peek() {
        Some(Reverse(worst)) if heap.len() >= limit => worst.0,
        _ => f32::MIN,
    };
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let alive = reader.alive_bitset();
        let start = threshold(&heap);
        weight.for_each_pruning(start, reader, &mut |doc, score| {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                return threshold(&heap);
            }
            let entry = Entry(score, tantivy::DocAddress::new(ord as u32, doc));
            if heap.len() < limit {
                heap.push(Reverse(entry));
            } else if let Some(mut worst) = heap.peek_mut() {
                if entry > worst.0 {
                    *worst = Reverse(entry);
                }
            }
            threshold(&heap)
        })?;
    }
    Ok(heap
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse(Entry(score, addr))| (score, addr))
        .collect())
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
        }
        match c
            .lang
            .and_then(|lang| STEMMED.iter().position(|(code, _)| *code == lang.code()))
        {
            Some(i) => doc.add_text(f.stemmed[i], c.text),
            None => doc.add_text(f.plain, c.text),
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

    /// Merges the smallest segments into one when there are more than [`MAX_SEGMENTS`]
    /// (leaving about half that many). Every segment costs each search a dictionary lookup
    /// per queried term and field, and its own start of the pruning; each ingestion batch
    /// commits a segment, and the writer's background merges are abandoned when it is
    /// dropped, so without this a knowledge base of a thousand documents searched some twenty
    /// segments. Merging the smallest keeps the cost proportional to what was added. Returns
    /// whether it merged.
    pub fn merge_small_segments(&mut self) -> Result<bool> {
        let metas = self.index.index.searchable_segment_metas()?;
        if metas.len() <= MAX_SEGMENTS {
            return Ok(false);
        }
        let mut by_size: Vec<(u32, tantivy::index::SegmentId)> =
            metas.iter().map(|m| (m.num_docs(), m.id())).collect();
        by_size.sort();
        let ids: Vec<_> = by_size[..metas.len() - MAX_SEGMENTS / 2]
            .iter()
            .map(|(_, id)| *id)
            .collect();
        let started = Instant::now();
        self.writer.merge(&ids).wait()?;
        // The merged-away segments' files go now rather than at some later commit.
        self.writer.garbage_collect_files().wait()?;
        self.index.reload()?;
        tracing::debug!(
            merged = ids.len(),
            ms = started.elapsed().as_millis() as u64,
            "index segments merged"
        );
        Ok(true)
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
        add_in(w, id, source, version, text, None);
    }

    fn add_in(
        w: &mut IndexWriterGuard<'_>,
        id: i64,
        source: i64,
        version: u32,
        text: &str,
        lang: Option<&Lang>,
    ) {
        w.add(&IndexChunk {
            chunk_id: id,
            source_id: source,
            version,
            ord: 0,
            title: "doc",
            lang,
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

    /// The ranking as the index computed it before the cached filter and the shared
    /// threshold: a term set on `sv`, required, next to the question's terms, with `TopDocs`.
    /// (The term set's constant score adds 1 to every score.)
    fn reference(
        idx: &TextIndex,
        query: &str,
        active: &[(i64, u32)],
        limit: usize,
    ) -> Vec<(f32, i64)> {
        let f = &idx.fields;
        // The same question terms as `rank`: what differs is the filter and the collector.
        let text = idx
            .question_query(&idx.reader.searcher(), query)
            .unwrap()
            .unwrap()
            .whole();
        let active_filter = tantivy::query::TermSetQuery::new(
            active
                .iter()
                .map(|(s, v)| Term::from_field_text(f.sv, &crate::store::version_term(*s, *v))),
        );
        let q = tantivy::query::BooleanQuery::new(vec![
            (
                tantivy::query::Occur::Must,
                Box::new(active_filter) as Box<dyn Query>,
            ),
            (tantivy::query::Occur::Must, text),
        ]);
        let searcher = idx.reader.searcher();
        let top = searcher
            .search(
                &q,
                &tantivy::collector::TopDocs::with_limit(limit).order_by_score(),
            )
            .unwrap();
        top.into_iter()
            .map(|(score, addr)| {
                let doc: TantivyDocument = searcher.doc(addr).unwrap();
                let id = doc.get_first(f.chunk_id).and_then(|v| v.as_u64()).unwrap();
                (score - 1.0, id as i64)
            })
            .collect()
    }

    #[test]
    fn questions_keep_stop_words_only_in_the_unstemmed_fields() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        let en = Lang("en".into());
        w.add(&IndexChunk {
            chunk_id: 1,
            source_id: 1,
            version: 1,
            ord: 0,
            title: "doc",
            lang: Some(&en),
            heading_path: &[],
            text: "Refunds are paid within ten days.",
            location: &Location::default(),
            fields: None,
            in_stock: None,
        })
        .unwrap();
        w.commit().unwrap();
        idx.reload().unwrap();
        let searcher = idx.reader.searcher();
        let q = idx
            .question_query(&searcher, "What is the refund? What refund?")
            .unwrap()
            .unwrap();
        let ranking = format!("{:?}", q.ranking);
        let deferred = format!("{:?}", q.deferred);
        let count = |shown: &str, t: &str| shown.matches(&format!("{t:?}")).count();
        // text, heading and title keep every word once (repeats dropped); the English stemmed
        // field gets only the stem of the content word.
        for (word, ranks, defers) in [("what", 2, 1), ("the", 2, 1), ("refund", 3, 1)] {
            assert_eq!(
                (count(&ranking, word), count(&deferred, word)),
                (ranks, defers),
                "{word}: ranking {ranking}, deferred {deferred}"
            );
        }
        // In the text field every passage has a stemmed twin (all are English): the stop words
        // and the exact form of "refund" only rescore; heading and title rank with them.
        assert_eq!(q.deferred.len(), 4, "{deferred}");
        assert!(idx.question_query(&searcher, "?! ...").unwrap().is_none());
    }

    #[test]
    fn the_ranking_tells_how_many_question_words_the_index_knows() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        let en = Lang("en".into());
        add_in(
            &mut w,
            1,
            1,
            1,
            "Refunds are paid within ten days.",
            Some(&en),
        );
        w.commit().unwrap();
        drop(w);
        idx.reload().unwrap();
        let share = |q: &str| {
            idx.rank(q, None, &[(1, 1)], IndexFilter::default(), 5)
                .unwrap()
                .known_share
        };
        // Stop words do not count; "refunds" and "days" are known, "delayed" is not.
        assert_eq!(share("What about the refunds?"), 1.0);
        assert!((share("are refunds delayed for days") - 2.0 / 3.0).abs() < 1e-6);
        // A Portuguese question about English pages: none of its content words is known.
        assert_eq!(share("qual o prazo de reembolso"), 0.0);
    }

    #[test]
    fn deferred_words_never_hide_a_passage() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        let (en, vi) = (Lang("en".into()), Lang("vi".into()));
        let en_texts = [
            "Refunds are paid within ten days of the return.",
            "What is it? It is what it is.",
            "Opening hours are nine to five.",
        ];
        for (i, text) in en_texts.iter().enumerate() {
            add_in(&mut w, i as i64 + 1, 1, 1, text, Some(&en));
        }
        add_in(&mut w, 4, 2, 1, "Chúng tôi giao hàng đến Hà Nội", Some(&vi));
        w.commit().unwrap();
        drop(w);
        idx.reload().unwrap();
        let active = [(1, 1), (2, 1)];
        let first = |q: &str| {
            let r = idx
                .rank(q, None, &active, IndexFilter::default(), 5)
                .unwrap();
            r.hits.first().map(|h| h.chunk_id)
        };
        // Vietnamese has no stemmer: its words rank in `text_plain` (in `text` they only
        // rescore).
        assert!(idx.plain_present(&idx.reader.searcher()).unwrap());
        assert_eq!(first("giao hàng Hà Nội"), Some(4));
        // A question of stop words only is ranked by them.
        assert_eq!(first("what is it"), Some(2));
        // The exact form rescores on top of the stem: "refunds" and "return".
        assert_eq!(first("the refunds return"), Some(1));
    }

    #[test]
    fn japanese_particles_do_not_rank_a_passage() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        let ja = Lang("ja".into());
        // 1 shares only particles and endings with the question; 2 shares its noun.
        add_in(
            &mut w,
            1,
            1,
            1,
            "これはですかにはますかでしょうか",
            Some(&ja),
        );
        add_in(&mut w, 2, 2, 1, "返品の期限について", Some(&ja));
        w.commit().unwrap();
        drop(w);
        idx.reload().unwrap();
        let ranked = |q: &str| -> Vec<i64> {
            idx.rank(q, None, &[(1, 1), (2, 1)], IndexFilter::default(), 5)
                .unwrap()
                .hits
                .iter()
                .map(|h| h.chunk_id)
                .collect()
        };
        assert_eq!(ranked("返品の期限はですか"), vec![2]);
        // In hiragana only, the bigrams are all the question has: they rank.
        assert_eq!(ranked("これはですか"), vec![1]);
        assert!(analyze::is_kana_grammar("です") && !analyze::is_kana_grammar("返品"));
        assert!(
            !analyze::is_kana_grammar("データ"),
            "katakana words are content"
        );
    }

    #[test]
    fn ranking_matches_the_plain_filtered_query_across_segments() {
        // Without a language nothing is deferred; in English the stop words and the exact
        // word forms are (see `query::Question`), and the two steps must find the same top.
        for lang in [None, Some(Lang("en".into()))] {
            let dir = tempfile::tempdir().unwrap();
            let idx = TextIndex::open(dir.path()).unwrap().0;
            let words = [
                "alpha", "beta", "gamma", "delta", "envío", "chile", "returns", "shipping", "the",
            ];
            let mut w = idx.writer().unwrap();
            let mut id = 0;
            let mut seed: u64 = 7;
            // Several commits: several segments, each with some versions of each source.
            for _ in 0..6 {
                for source in 1..=3 {
                    for version in 1..=2 {
                        for _ in 0..15 {
                            id += 1;
                            let text: Vec<&str> = (0..8)
                                .map(|_| {
                                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                                    words[(seed >> 33) as usize % words.len()]
                                })
                                .collect();
                            add_in(&mut w, id, source, version, &text.join(" "), lang.as_ref());
                        }
                    }
                }
                w.commit().unwrap();
            }
            w.delete("3:1");
            w.commit().unwrap();
            drop(w);
            assert!(idx.reader.searcher().segment_readers().len() > 1);
            let all: Vec<(i64, u32)> = (1..=3).flat_map(|s| [(s, 1), (s, 2)]).collect();
            for active in [
                vec![(1, 2), (2, 1), (3, 2)],
                all,
                vec![(2, 2)],
                vec![(3, 1)],
            ] {
                for query in [
                    "alpha beta",
                    "envio chile returns",
                    "\"alpha beta\" gamma",
                    "the",
                    "the alpha of returning",
                ] {
                    for limit in [1, 5, 40, 500] {
                        let got = idx
                            .rank(query, None, &active, IndexFilter::default(), limit)
                            .unwrap();
                        let want = reference(&idx, query, &active, limit);
                        let full: std::collections::HashMap<i64, f32> =
                            reference(&idx, query, &active, 10_000)
                                .into_iter()
                                .map(|(s, id)| (id, s))
                                .collect();
                        if lang.is_some() && query.starts_with("the ") {
                            // Stop words next to content words: two steps, an approximation.
                            // Every hit has its full score and the order is by it; the best
                            // is among the full query's first five.
                            for (i, g) in got.hits.iter().enumerate() {
                                let before = full.get(&g.chunk_id).copied();
                                assert!(before.is_some_and(|s| (s - g.score).abs() < 1e-4));
                                assert!(i == 0 || got.hits[i - 1].score >= g.score);
                            }
                            let first_five: Vec<i64> = want.iter().take(5).map(|w| w.1).collect();
                            assert_eq!(got.hits.is_empty(), want.is_empty());
                            if let Some(best) = got.hits.first() {
                                assert!(
                                    first_five.contains(&best.chunk_id),
                                    "{query} {active:?} {limit}: {best:?} not in {first_five:?}"
                                );
                            }
                            // Passages whose only match is a stop word are not found.
                            assert!(got.hits.len() <= want.len());
                            continue;
                        }
                        assert_eq!(
                            got.hits.len(),
                            want.len(),
                            "{lang:?} {query} {active:?} {limit}"
                        );
                        for (g, w) in got.hits.iter().zip(&want) {
                            // Same score sequence; each hit is allowed and scored as before.
                            assert!(
                                (g.score - w.0).abs() < 1e-4,
                                "{query}: {} vs {}",
                                g.score,
                                w.0
                            );
                            let before = full.get(&g.chunk_id).copied();
                            assert!(before.is_some_and(|s| (s - g.score).abs() < 1e-4));
                        }
                    }
                }
            }
            // Documents by id: only the allowed ones.
            let hits = idx
                .by_chunk_ids(
                    &[1, 16, 31, 1000],
                    &[(1, 1), (1, 2)],
                    IndexFilter::default(),
                )
                .unwrap();
            let mut ids: Vec<i64> = hits.iter().map(|h| h.chunk_id).collect();
            ids.sort();
            assert_eq!(ids, vec![1, 16]);
        }
    }

    #[test]
    fn small_segments_are_merged_and_searches_see_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap().0;
        let mut w = idx.writer().unwrap();
        // Only the merge under test.
        w.writer
            .set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        for i in 0..12 {
            add(&mut w, i, i, 1, &format!("alpha word{i}"));
            w.commit().unwrap();
        }
        let active: Vec<(i64, u32)> = (0..12).map(|i| (i, 1)).collect();
        let before = idx
            .search("alpha word3", None, &active, IndexFilter::default(), 5)
            .unwrap();
        assert!(idx.reader.searcher().segment_readers().len() > MAX_SEGMENTS);
        assert!(w.merge_small_segments().unwrap());
        assert!(idx.reader.searcher().segment_readers().len() <= MAX_SEGMENTS / 2 + 1);
        assert!(!w.merge_small_segments().unwrap());
        let after = idx
            .search("alpha word3", None, &active, IndexFilter::default(), 5)
            .unwrap();
        let ids = |h: &[IndexHit]| h.iter().map(|h| h.chunk_id).collect::<Vec<_>>();
        assert_eq!(ids(&before)[0], 3);
        assert_eq!(ids(&before).len(), ids(&after).len());
        assert_eq!(ids(&after)[0], 3);
        assert_eq!(idx.num_docs(), 12);
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
