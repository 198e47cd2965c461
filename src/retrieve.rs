//! Retrieve: answer a question with ranked passages, each with a citation.
//!
//! The catalog says which `(source, version)` pairs are served (active versions of enabled
//! sources); the index ranks chunks among those pairs only; the catalog then names the
//! sources. A disabled source, a failed build or a superseded version can never leak into the
//! results because they are not in the pair set.

use crate::error::Result;
use crate::index::{IndexFilter, TextIndex};
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
    /// The chunk's catalog id (stable for the life of its version).
    pub chunk_id: i64,
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
    /// A one-line human citation: `faq.md v2 › Shipping › Chile (lines 12-14)`.
    pub citation: String,
}

/// The answer to one search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub query: String,
    /// How sure lore is that the hits answer the question, from 0 to 1.
    pub confidence: f32,
    /// True when nothing relevant was found: `hits` is then empty (unless the caller asked
    /// for everything with `min_confidence` 0) and the question was counted as a gap.
    pub nothing_relevant: bool,
    pub hits: Vec<Hit>,
}

/// Below this confidence a search answers "nothing relevant" (see [`TextIndex::coverage`]).
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.35;

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
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: DEFAULT_K,
            filter: SourceFilter::default(),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            record_gaps: true,
            index_filter: IndexFilter::default(),
        }
    }
}

/// BM25 search over the served versions of a knowledge base.
pub fn search(
    catalog: &Catalog,
    index: &TextIndex,
    kb_id: i64,
    query: &str,
    opts: &SearchOptions,
) -> Result<SearchResults> {
    let k = opts.k.clamp(1, MAX_K);
    let active = catalog.active_pairs(kb_id, &opts.filter)?;
    let query_lang = crate::lang::detect_query(query);
    let raw = index.search(query, query_lang.as_ref(), &active, opts.index_filter, k)?;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut hits = Vec::with_capacity(raw.len());
    for h in raw {
        let name = match names.get(&h.source_id) {
            Some(n) => n.clone(),
            None => {
                let n = catalog
                    .source(kb_id, h.source_id)?
                    .map(|s| s.name)
                    .unwrap_or_else(|| format!("source {}", h.source_id));
                names.insert(h.source_id, n.clone());
                n
            }
        };
        hits.push(Hit {
            citation: citation(&name, h.version, &h.heading_path, &h.location),
            chunk_id: h.chunk_id,
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
        });
    }
    // Confidence: the best coverage among the first hits (the top BM25 hit is not always
    // the one that covers the question best).
    let mut confidence: f32 = 0.0;
    for h in hits.iter().take(3) {
        let passage = format!("{} {}", h.heading_path.join(" "), h.text);
        let lang = h.language.clone().map(crate::lang::Lang);
        confidence = confidence.max(index.coverage(query, &passage, lang.as_ref())?);
    }
    let nothing_relevant = hits.is_empty() || confidence < opts.min_confidence;
    if nothing_relevant {
        if opts.record_gaps {
            catalog.record_gap(kb_id, query, confidence)?;
        }
        tracing::info!(query, confidence, "nothing relevant");
        if opts.min_confidence > 0.0 {
            hits.clear();
        }
    }
    Ok(SearchResults {
        query: query.to_string(),
        confidence,
        nothing_relevant,
        hits,
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
