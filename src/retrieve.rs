//! Retrieve: answer a question with ranked passages, each with a citation.
//!
//! The catalog says which `(source, version)` pairs are served (active versions of enabled
//! sources); the index ranks chunks among those pairs only; the catalog then names the
//! sources. A disabled source, a failed build or a superseded version can never leak into the
//! results because they are not in the pair set.

use crate::error::{Error, Result};
use crate::index::{IndexFilter, IndexHit, Ranked, TextIndex};
use crate::ingest::Semantic;
use crate::parse::Location;
use crate::store::{Catalog, SourceFilter};
use serde::Serialize;
use std::collections::HashMap;

/// Hits requested when the caller does not say.
pub const DEFAULT_K: usize = 5;
/// The most hits one search returns.
pub const MAX_K: usize = 100;

/// One ranked passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub source_id: i64,
    pub source_name: String,
    pub version: u32,
    pub score: f32,
    pub text: String,
    pub location: Location,
    pub heading_path: Vec<String>,
    /// Language of the passage (`es`), when it could be told.
    pub language: Option<String>,
    /// For product catalogs: the product's structured fields (name, price, currency, stock,
    /// link, sku, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<serde_json::Value>,
    /// Position of the chunk in its version.
    pub chunk: u32,
    /// The chunk's id in the catalog.
    pub chunk_id: i64,
    /// A one-line human citation: `faq.md v2 › Shipping › Chile (lines 12-14)`.
    pub citation: String,
}

/// The answer to one search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub query: String,
    /// The mode that answered (`hybrid` falls back to `text` without an embedder).
    pub mode: SearchMode,
    /// How sure lore is that the hits answer the question, from 0 to 1.
    pub confidence: f32,
    /// True when nothing relevant was found: `hits` is then empty (unless the caller asked
    /// for everything with `min_confidence` 0) and the question was counted as a gap.
    pub nothing_relevant: bool,
    pub hits: Vec<Hit>,
}

/// Below this confidence a search answers "nothing relevant" (see [`TextIndex::coverage`]).
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.35;

/// Which retrievers answer a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// BM25 over the language-aware full-text index.
    Text,
    /// Cosine similarity of embeddings.
    Vector,
    /// Both, fused. Without an embedder this is full-text search (and says so in
    /// [`SearchResults::mode`]).
    #[default]
    Hybrid,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Text => "text",
            SearchMode::Vector => "vector",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for SearchMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(SearchMode::Text),
            "vector" => Ok(SearchMode::Vector),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(Error::invalid(format!(
                "unknown search mode {other:?} (text, vector, hybrid)"
            ))),
        }
    }
}

/// How hybrid search fuses its two rankings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fusion {
    /// Reciprocal rank fusion: `Σ w / (5 + rank)`, `w` 0.5 for the full-text ranking (0.2 for
    /// a question in a language no document is in) and 1 for the vector one. Needs no calibration between BM25 scores and cosines, which live on
    /// unrelated scales; the default.
    #[default]
    Rrf,
    /// `(1 − ratio) · bm25' + ratio · cosine'`, each min-max normalised over its candidates:
    /// `ratio` 0 is full-text ranking, 1 is vector ranking; for admins who want to lean one
    /// way.
    Weighted { semantic_ratio: f32 },
}

/// Weight of the full-text ranking in reciprocal rank fusion (the vector ranking weighs 1).
/// With [`RRF_K`], chosen with `lore eval` over the seven sets and the cross-lingual ones
/// (grid in the README): BM25 is the weaker retriever on every set (nDCG 0.45–0.55 against
/// 0.58–0.70), so it must not outvote the vectors' top, yet on pydocs-faq, whose questions
/// name functions and modules, it adds 0.05. 0.5 at k = 5 keeps hybrid at or above both single
/// modes on all seven sets.
const RRF_TEXT_WEIGHT: f32 = 0.5;

/// The full-text ranking's weight when the question is in a language no document of the
/// knowledge base is in (a German question about English pages): BM25 can then only match
/// names and codes, and at 0.5 it pulled cross-lingual hybrid below vector search alone (de
/// 0.629 vs 0.636); at 0.2 hybrid is at or above vector search on all four cross-lingual sets.
const RRF_TEXT_WEIGHT_OTHER_LANGUAGE: f32 = 0.2;

/// Below this share of a question's content words found anywhere in the index, the question
/// is taken to be in another language than the documents even when its language was not
/// told (one-line detection is often unsure): cross-lingual Portuguese questions about English
/// pages were left at full weight and hybrid fell under vector search (0.603 against 0.612);
/// with this rule 0.619, and the same-language sets move by at most 0.001.
const KNOWN_SHARE_MIN: f32 = 0.5;

/// The full-text ranking's weight in reciprocal rank fusion for a question: lighter when its
/// language is one no document is in (`language_held` false) or when most of its content
/// words occur nowhere in the index (`known_share`).
fn rrf_text_weight(language_held: bool, known_share: f32) -> f32 {
    if !language_held || known_share < KNOWN_SHARE_MIN {
        RRF_TEXT_WEIGHT_OTHER_LANGUAGE
    } else {
        RRF_TEXT_WEIGHT
    }
}

/// The `k` constant of reciprocal rank fusion. The original paper's 60 flattens the top of
/// both rankings, so passages the weaker side ranks first could overtake the stronger side's
/// best; at 5 the vector ranking's top keeps its lead and BM25 mostly reorders near-ties and
/// lifts exact-name matches (measured with `lore eval`, figures in the README).
const RRF_K: f32 = 5.0;

/// What to search and how many hits to return.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub k: usize,
    pub filter: SourceFilter,
    /// Results below this confidence are withheld and the question is recorded as a knowledge
    /// gap. 0 returns whatever was found (an admin's "test retrieval" view).
    pub min_confidence: f32,
    /// Count questions that found nothing relevant as knowledge gaps (off for evaluations).
    pub record_gaps: bool,
    /// Restrictions on the chunks themselves (products in stock).
    pub index_filter: IndexFilter,
    pub mode: SearchMode,
    pub fusion: Fusion,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: DEFAULT_K,
            filter: SourceFilter::default(),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            record_gaps: true,
            index_filter: IndexFilter::default(),
            mode: SearchMode::default(),
            fusion: Fusion::default(),
        }
    }
}

/// What one knowledge base searches with.
pub(crate) struct Searcher<'a> {
    pub catalog: &'a Catalog,
    pub index: &'a TextIndex,
    pub semantic: Option<Semantic<'a>>,
    pub kb_id: i64,
}

/// Candidates each retriever contributes to fusion: enough that a passage ranked low by one
/// and high by the other is still seen by both.
fn candidates(k: usize) -> usize {
    (k * 4).max(40)
}

/// Searches the served versions of a knowledge base in the requested mode.
pub(crate) fn search(s: &Searcher<'_>, query: &str, opts: &SearchOptions) -> Result<SearchResults> {
    let k = opts.k.clamp(1, MAX_K);
    let mode = match (opts.mode, s.semantic) {
        (SearchMode::Vector, None) => {
            return Err(Error::invalid(
                "vector search needs an embedder; this engine runs full-text only \
                 (see [embed] in lore.toml, or LORE_EMBEDDER)",
            ))
        }
        (SearchMode::Hybrid, None) => SearchMode::Text,
        (m, _) => m,
    };
    let active = s.catalog.active_pairs(s.kb_id, &opts.filter)?;
    // Text alone needs no more than k; fusion needs depth on both sides.
    let n = if mode == SearchMode::Text {
        k
    } else {
        candidates(k)
    };
    let mut language_held = true;
    let query_lang = if mode == SearchMode::Vector {
        None
    } else {
        crate::lang::detect_query(query)
    };
    let ranking = if mode == SearchMode::Vector {
        None
    } else {
        if mode == SearchMode::Hybrid {
            if let Some(lang) = &query_lang {
                language_held = s.index.holds_language(lang)?;
            }
        }
        Some(
            s.index
                .rank(query, query_lang.as_ref(), &active, opts.index_filter, n)?,
        )
    };
    let text_weight = rrf_text_weight(
        language_held,
        ranking.as_ref().map_or(1.0, |r| r.known_share),
    );
    let text_cands: Vec<Cand> = ranking.as_ref().map_or_else(Vec::new, |r| {
        r.hits
            .iter()
            .map(|h| Cand {
                chunk_id: h.chunk_id,
                score: h.score,
                ranked: Some(*h),
                source_id: None,
                other_language: false,
            })
            .collect()
    });
    let (mut vector_cands, mut loaded, best_cosine) = match (mode, s.semantic) {
        (SearchMode::Text, _) | (_, None) => (Vec::new(), HashMap::new(), None),
        (_, Some(sem)) => vector_candidates(s, sem, query, &active, opts.index_filter, n)?,
    };
    // Which vector candidates the full-text ranking cannot see: passages in another
    // language than the question's (only known when the question's language is).
    // Only where the full text weighs fully: when the question's language is one no document
    // is in, every passage is in another language and the lighter weight already says so
    // (applied there too, cross-lingual hybrid fell by 0.001–0.004).
    if let (SearchMode::Hybrid, Some(q), true) = (mode, &query_lang, text_weight == RRF_TEXT_WEIGHT)
    {
        let langs = s.catalog.source_languages(s.kb_id)?;
        for c in vector_cands.iter_mut() {
            c.other_language = c
                .source_id
                .and_then(|id| langs.get(&id))
                .and_then(|l| l.as_deref())
                .is_some_and(|l| l != q.0.as_str());
        }
    }
    let fused: Vec<Cand> = match mode {
        SearchMode::Text => text_cands,
        SearchMode::Vector => vector_cands,
        SearchMode::Hybrid => fuse(text_cands, vector_cands, opts.fusion, text_weight),
    };
    let kept: Vec<Cand> = fused.into_iter().take(k).collect();
    // Documents are loaded for the kept hits only: from the BM25 ranking's searcher, or by
    // chunk id (one query) for hits found by the vector side alone.
    let missing: Vec<i64> = kept
        .iter()
        .filter(|c| c.ranked.is_none() && !loaded.contains_key(&c.chunk_id))
        .map(|c| c.chunk_id)
        .collect();
    if !missing.is_empty() {
        for h in s.index.by_chunk_ids(&missing, &active, opts.index_filter)? {
            loaded.insert(h.chunk_id, h);
        }
    }
    let mut hits = Vec::with_capacity(k);
    let mut names: HashMap<i64, String> = HashMap::new();
    for c in kept {
        let doc = match (&ranking, c.ranked) {
            (Some(r), Some(ranked)) => Some(s.index.load(r, &ranked)?),
            _ => loaded.remove(&c.chunk_id),
        };
        // A vector whose chunk is no longer in the index (a version being replaced) is skipped.
        if let Some(mut doc) = doc {
            doc.score = c.score;
            hits.push(to_hit(s, &mut names, doc)?);
        }
    }
    // Confidence: the best of (a) how much of the question the first hits cover, word for
    // word (the top hit is not always the one that covers best), and (b) how close the best
    // passage's embedding is, on the embedder's calibrated scale — which is what lets a
    // question in Spanish about an English document count as answered.
    let mut confidence: f32 = 0.0;
    for h in hits.iter().take(3) {
        let passage = format!("{} {}", h.heading_path.join(" "), h.text);
        let lang = h.language.clone().map(crate::lang::Lang);
        confidence = confidence.max(s.index.coverage(query, &passage, lang.as_ref())?);
    }
    if let (Some(cos), Some(sem)) = (best_cosine, s.semantic) {
        if let Some((lo, hi)) = sem.embedder.relevance_range() {
            confidence = confidence.max(((cos - lo) / (hi - lo)).clamp(0.0, 1.0));
        }
    }
    let nothing_relevant = hits.is_empty() || confidence < opts.min_confidence;
    if nothing_relevant {
        if opts.record_gaps {
            s.catalog.record_gap(s.kb_id, query, confidence)?;
        }
        tracing::info!(query, confidence, "nothing relevant");
        if opts.min_confidence > 0.0 {
            hits.clear();
        }
    }
    Ok(SearchResults {
        query: query.to_string(),
        mode,
        confidence,
        nothing_relevant,
        hits,
    })
}

/// A candidate of fusion: a chunk and its score; its document is loaded only if it is kept.
#[derive(Debug, Clone, Copy)]
struct Cand {
    chunk_id: i64,
    score: f32,
    /// Set when BM25 ranked it (its document can be loaded from that ranking).
    ranked: Option<Ranked>,
    /// Its source, when known (vector hits carry it).
    source_id: Option<i64>,
    /// Its source is in another language than the question (see [`fuse`]).
    other_language: bool,
}

/// Documents loaded while filtering, by chunk id.
type Loaded = HashMap<i64, IndexHit>;

/// The vector side: nearest chunks among the active pairs, in similarity order, scores are
/// cosines; also the best cosine. The vector store only holds chunks of the pairs it is asked
/// for, so no document is read here — unless a chunk-level filter (in stock) is on, which
/// only the full-text index can apply; the documents read for it are returned for reuse.
fn vector_candidates(
    s: &Searcher<'_>,
    sem: Semantic<'_>,
    query: &str,
    active: &[(i64, u32)],
    filter: IndexFilter,
    n: usize,
) -> Result<(Vec<Cand>, Loaded, Option<f32>)> {
    if query.trim().is_empty() || active.is_empty() {
        return Ok((Vec::new(), HashMap::new(), None));
    }
    let q = sem.embedder.embed_query(query)?;
    let cand = |h: &crate::vector::VectorHit| Cand {
        chunk_id: h.chunk_id,
        score: h.score,
        ranked: None,
        source_id: Some(h.source_id),
        other_language: false,
    };
    if !filter.in_stock_only {
        let near = sem.vectors.search(&q, active, n)?;
        let best = near.first().map(|h| h.score);
        return Ok((near.iter().map(cand).collect(), HashMap::new(), best));
    }
    // Filtered after the vector search: ask for more.
    let near = sem.vectors.search(&q, active, n * 4)?;
    let ids: Vec<i64> = near.iter().map(|h| h.chunk_id).collect();
    let docs: Loaded = s
        .index
        .by_chunk_ids(&ids, active, filter)?
        .into_iter()
        .map(|h| (h.chunk_id, h))
        .collect();
    let out: Vec<Cand> = near
        .iter()
        .filter(|h| docs.contains_key(&h.chunk_id))
        .take(n)
        .map(cand)
        .collect();
    let best = out.first().map(|c| c.score);
    Ok((out, docs, best))
}

/// Merges the two rankings (each best first) into one.
/// `text_weight` is the full-text ranking's weight in reciprocal rank fusion (the vector
/// ranking weighs 1).
fn fuse(text: Vec<Cand>, vector: Vec<Cand>, fusion: Fusion, text_weight: f32) -> Vec<Cand> {
    let mut scored: HashMap<i64, (f32, Cand)> = HashMap::new();
    // For weighted fusion both sides are min-max normalised over their candidates: BM25 has
    // no scale, and cosines of one model crowd into a narrow band (e5: 0.75–0.9), so raw
    // values would let one side decide alone whatever the ratio.
    let range = |list: &[Cand]| {
        let hi = list.iter().map(|h| h.score).fold(f32::MIN, f32::max);
        let lo = list.iter().map(|h| h.score).fold(f32::MAX, f32::min);
        (lo, hi - lo)
    };
    let ranges = [range(&text), range(&vector)];
    let text_rank: HashMap<i64, usize> = text
        .iter()
        .enumerate()
        .map(|(rank, c)| (c.chunk_id, rank))
        .collect();
    let rrf = |w: f32, rank: usize| w / (RRF_K + rank as f32 + 1.0);
    for (side, list) in [(0, text), (1, vector)] {
        let (lo, span) = ranges[side];
        for (rank, h) in list.into_iter().enumerate() {
            let add = match fusion {
                Fusion::Rrf if side == 0 => rrf(text_weight, rank),
                Fusion::Rrf => {
                    // The full text cannot find a passage in another language than the
                    // question: it neither votes for nor against it, so its vote counts as
                    // the vector's rank when that is better than its own.
                    let blind = match text_rank.get(&h.chunk_id) {
                        Some(&t) if h.other_language && rank < t => {
                            rrf(text_weight, rank) - rrf(text_weight, t)
                        }
                        None if h.other_language => rrf(text_weight, rank),
                        _ => 0.0,
                    };
                    rrf(1.0, rank) + blind
                }
                Fusion::Weighted { semantic_ratio } => {
                    let r = semantic_ratio.clamp(0.0, 1.0);
                    let w = if side == 0 { 1.0 - r } else { r };
                    // One candidate (or all equal): nothing to tell apart, each counts fully.
                    let norm = if span > f32::EPSILON {
                        (h.score - lo) / span
                    } else {
                        1.0
                    };
                    w * norm
                }
            };
            scored
                .entry(h.chunk_id)
                .and_modify(|(s, c)| {
                    *s += add;
                    c.ranked = c.ranked.or(h.ranked);
                })
                .or_insert((add, h));
        }
    }
    let mut out: Vec<(f32, Cand)> = scored.into_values().collect();
    // Ties (same fused score) go to the lower chunk id, so rankings are reproducible.
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.chunk_id.cmp(&b.1.chunk_id)));
    out.into_iter()
        .map(|(score, mut h)| {
            h.score = score;
            h
        })
        .collect()
}

fn to_hit(s: &Searcher<'_>, names: &mut HashMap<i64, String>, h: IndexHit) -> Result<Hit> {
    let name = match names.get(&h.source_id) {
        Some(n) => n.clone(),
        None => {
            let n = s
                .catalog
                .source_name(s.kb_id, h.source_id)?
                .unwrap_or_else(|| format!("source {}", h.source_id));
            names.insert(h.source_id, n.clone());
            n
        }
    };
    Ok(Hit {
        citation: citation(&name, h.version, &h.heading_path, &h.location),
        source_id: h.source_id,
        source_name: name,
        version: h.version,
        score: h.score,
        text: h.text,
        location: h.location,
        heading_path: h.heading_path,
        language: h.lang.map(|l| l.0),
        product: h
            .fields
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok()),
        chunk: h.ord,
        chunk_id: h.chunk_id,
    })
}

/// `name v3 › Heading › Sub (lines 4-9)`.
pub fn citation(name: &str, version: u32, heading_path: &[String], location: &Location) -> String {
    let mut s = format!("{name} v{version}");
    for h in heading_path {
        s.push_str(" \u{203a} ");
        s.push_str(h);
    }
    if !location.is_empty() {
        s.push_str(&format!(" ({location})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, score: f32) -> Cand {
        Cand {
            chunk_id: id,
            score,
            ranked: None,
            source_id: None,
            other_language: false,
        }
    }

    #[test]
    fn full_text_is_blind_to_passages_in_another_language_not_against_them() {
        let other = |id: i64, score: f32| Cand {
            other_language: true,
            ..hit(id, score)
        };
        // Text ranks 1, 2 (same language as the question); vectors rank 5 (an English page
        // for a Russian question), 1, 2. k = 5, text weight 0.5.
        // 5: 1/6 + 0.5/6 (its text vote is its vector rank) = 0.25
        // 1: 0.5/6 + 1/7 = 0.226190;  2: 0.5/7 + 1/8 = 0.196429
        let fused = fuse(
            vec![hit(1, 9.0), hit(2, 5.0)],
            vec![other(5, 0.9), hit(1, 0.8), hit(2, 0.7)],
            Fusion::Rrf,
            0.5,
        );
        assert_eq!(ids(&fused), vec![5, 1, 2]);
        assert!((fused[0].score - 0.25).abs() < 1e-5);
        // Without the mark, 5 would be 1/6 = 0.166667, last.
        let fused = fuse(
            vec![hit(1, 9.0), hit(2, 5.0)],
            vec![hit(5, 0.9), hit(1, 0.8), hit(2, 0.7)],
            Fusion::Rrf,
            0.5,
        );
        assert_eq!(ids(&fused), vec![1, 2, 5]);
        // Where the text ranks such a passage better than the vectors (a shared product
        // code), its own rank counts: 5 at text rank 1, vector rank 3 → 0.5/6 + 1/8.
        let fused = fuse(
            vec![hit(5, 9.0), hit(1, 5.0)],
            vec![hit(1, 0.9), hit(2, 0.8), other(5, 0.7)],
            Fusion::Rrf,
            0.5,
        );
        let five = fused.iter().find(|c| c.chunk_id == 5).unwrap();
        assert!((five.score - (0.5 / 6.0 + 1.0 / 8.0)).abs() < 1e-5);
    }

    fn ids(hits: &[Cand]) -> Vec<i64> {
        hits.iter().map(|h| h.chunk_id).collect()
    }

    #[test]
    fn reciprocal_rank_fusion_matches_a_hand_computed_example() {
        // Text (weight 0.5) ranks 1, 2, 3; vectors (weight 1) rank 3, 4, 1; k = 5.
        // 1: 0.5/6 + 1/8 = 0.083333 + 0.125    = 0.208333
        // 2: 0.5/7                             = 0.071429
        // 3: 0.5/8 + 1/6 = 0.0625 + 0.166667   = 0.229167
        // 4: 1/7                               = 0.142857
        let fused = fuse(
            vec![hit(1, 9.0), hit(2, 5.0), hit(3, 1.0)],
            vec![hit(3, 0.9), hit(4, 0.8), hit(1, 0.7)],
            Fusion::Rrf,
            0.5,
        );
        assert_eq!(ids(&fused), vec![3, 1, 4, 2]);
        assert!((fused[0].score - 0.229_167).abs() < 1e-5);
        assert!((fused[3].score - 0.071_429).abs() < 1e-5);
        // A lighter text weight (a question in another language): the vector ranking's second
        // overtakes the text ranking's first. 1: 0.2/6 + 1/8 = 0.158333; 4: 1/7 = 0.142857;
        // 2: 0.2/7 = 0.028571. Still 3, 1, 4, 2 — but 1's lead over 4 shrinks from 0.065 to
        // 0.015, and with text weight 0 the order is the vector ranking.
        let fused = fuse(
            vec![hit(1, 9.0), hit(2, 5.0), hit(3, 1.0)],
            vec![hit(3, 0.9), hit(4, 0.8), hit(1, 0.7)],
            Fusion::Rrf,
            0.2,
        );
        assert!((fused[1].score - 0.158_333).abs() < 1e-5);
        let fused = fuse(
            vec![hit(1, 9.0), hit(2, 5.0)],
            vec![hit(4, 0.8), hit(1, 0.7)],
            Fusion::Rrf,
            0.0,
        );
        assert_eq!(ids(&fused)[..2], [4, 1]);
        // A document found by one side only still gets in.
        let fused = fuse(vec![], vec![hit(7, 0.5)], Fusion::Rrf, 0.5);
        assert_eq!(ids(&fused), vec![7]);
    }

    #[test]
    fn weighted_fusion_normalises_both_sides_and_mixes_them() {
        // Text 10, 6, 2 → 1, 0.5, 0; vector 0.9, 0.8, 0.5 → 1, 0.75, 0.
        // ratio 0.5: 1 = 0.5·1 = 0.5; 2 = 0.5·0 + 0.5·1 = 0.5; 4 = 0.5·0.5 + 0.5·0.75
        // = 0.625; 3 = 0.5·0 = 0. So 4, then 1 and 2 tied (lower id first), then 3.
        let text = || vec![hit(1, 10.0), hit(4, 6.0), hit(2, 2.0)];
        let vector = || vec![hit(2, 0.9), hit(4, 0.8), hit(3, 0.5)];
        let w = |r| Fusion::Weighted { semantic_ratio: r };
        let fused = fuse(text(), vector(), w(0.5), 0.5);
        assert_eq!(ids(&fused), vec![4, 1, 2, 3]);
        assert!((fused[0].score - 0.625).abs() < 1e-6);
        assert_eq!(ids(&fuse(text(), vector(), w(0.0), 0.5))[..3], [1, 4, 2]);
        assert_eq!(ids(&fuse(text(), vector(), w(1.0), 0.5))[0], 2);
    }

    #[test]
    fn full_text_weighs_less_for_questions_in_another_language() {
        assert_eq!(rrf_text_weight(true, 1.0), RRF_TEXT_WEIGHT);
        assert_eq!(rrf_text_weight(true, 0.5), RRF_TEXT_WEIGHT);
        // Detected as a language no document is in.
        assert_eq!(rrf_text_weight(false, 1.0), RRF_TEXT_WEIGHT_OTHER_LANGUAGE);
        // Not detected, but most of its words are unknown to the index.
        assert_eq!(rrf_text_weight(true, 0.25), RRF_TEXT_WEIGHT_OTHER_LANGUAGE);
    }

    #[test]
    fn citation_reads_like_a_reference() {
        assert_eq!(
            citation(
                "faq.md",
                2,
                &["Shipping".into(), "Chile".into()],
                &Location::lines(12, 14)
            ),
            "faq.md v2 \u{203a} Shipping \u{203a} Chile (lines 12-14)"
        );
        assert_eq!(citation("note", 1, &[], &Location::default()), "note v1");
    }
}
