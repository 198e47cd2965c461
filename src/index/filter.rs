//! The active-pairs restriction as cached per-segment doc sets, and a query wrapper that applies
//! it without getting in the way of tantivy's top-k pruning.
//!
//! Every search is restricted to the `(source, version)` pairs the catalog says are active (and
//! optionally to products in stock). Expressing that as a `TermSetQuery` intersected with the
//! text query costs twice per query: the term set's automaton is built and run over every
//! segment's `sv` dictionary, and the intersection stops tantivy from using block-max WAND on
//! the text union, so every matching document is scored.
//!
//! Instead, [`Allowed`] holds, per tantivy segment, the documents that pass: usually *all* of
//! them (only active versions plus a few retained ones are indexed, and retained ones are
//! often in other segments), otherwise a bit set. It is computed once per searcher generation
//! and active set (see `TextIndex::allowed`), and [`Filtered`] applies it: a segment where
//! every live document passes runs the text query untouched (block-max WAND included); one
//! with a bit set feeds the text query's pruned iteration through a check that never raises
//! the pruning threshold for a document that does not pass, so the result is the exact top-k
//! of the allowed documents.

use std::collections::HashMap;
use std::sync::Arc;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TantivyError, TERMINATED};

/// Which documents of one segment pass.
pub(crate) enum SegmentDocs {
    /// Every live document.
    All,
    /// None: the segment is skipped.
    None,
    /// Those in the set.
    Some(Arc<BitSet>),
}

/// The documents that pass, per segment of one searcher generation.
pub(crate) struct Allowed {
    pub(crate) segments: HashMap<tantivy::index::SegmentId, SegmentDocs>,
}

impl Allowed {
    fn get(&self, reader: &SegmentReader) -> &SegmentDocs {
        // A segment the set was not built for cannot be vouched for: nothing of it passes.
        self.segments
            .get(&reader.segment_id())
            .unwrap_or(&SegmentDocs::None)
    }

    /// Whether no document passes anywhere (the search can be skipped).
    pub(crate) fn is_empty(&self) -> bool {
        self.segments
            .values()
            .all(|s| matches!(s, SegmentDocs::None))
    }
}

impl std::fmt::Debug for Allowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = self
            .segments
            .values()
            .filter(|s| matches!(s, SegmentDocs::All))
            .count();
        write!(
            f,
            "Allowed({} segments, {all} entirely)",
            self.segments.len()
        )
    }
}

/// `inner` restricted to the [`Allowed`] documents. Scores are `inner`'s.
#[derive(Debug)]
pub(crate) struct Filtered {
    inner: Box<dyn Query>,
    allowed: Arc<Allowed>,
}

impl Clone for Filtered {
    fn clone(&self) -> Filtered {
        Filtered {
            inner: self.inner.box_clone(),
            allowed: Arc::clone(&self.allowed),
        }
    }
}

impl Filtered {
    pub(crate) fn new(inner: Box<dyn Query>, allowed: Arc<Allowed>) -> Filtered {
        Filtered { inner, allowed }
    }
}

impl Query for Filtered {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(FilteredWeight {
            inner: self.inner.weight(enable_scoring)?,
            allowed: Arc::clone(&self.allowed),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a tantivy::Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct FilteredWeight {
    inner: Box<dyn Weight>,
    allowed: Arc<Allowed>,
}

impl Weight for FilteredWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.allowed.get(reader) {
            SegmentDocs::All => self.inner.scorer(reader, boost)?,
            SegmentDocs::None => Box::new(EmptyScorer),
            SegmentDocs::Some(bits) => Box::new(FilteredScorer::new(
                self.inner.scorer(reader, boost)?,
                Arc::clone(bits),
            )),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let passes = match self.allowed.get(reader) {
            SegmentDocs::All => true,
            SegmentDocs::None => false,
            SegmentDocs::Some(bits) => doc < bits.max_value() && bits.contains(doc),
        };
        if !passes {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} is not among the active versions"
            )));
        }
        self.inner.explain(reader, doc)
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        match self.allowed.get(reader) {
            // The common case: the text query's own pruning (block-max WAND), untouched.
            SegmentDocs::All => self.inner.for_each_pruning(threshold, reader, callback),
            SegmentDocs::None => Ok(()),
            SegmentDocs::Some(bits) => {
                // A document that does not pass leaves the threshold where it was, so pruning
                // only ever skips documents worse than the k-th *allowed* one.
                let mut current = threshold;
                self.inner
                    .for_each_pruning(threshold, reader, &mut |doc, score| {
                        if bits.contains(doc) {
                            current = callback(doc, score);
                        }
                        current
                    })
            }
        }
    }
}

/// A scorer that skips the documents not in `bits`.
struct FilteredScorer {
    inner: Box<dyn Scorer>,
    bits: Arc<BitSet>,
}

impl FilteredScorer {
    fn new(inner: Box<dyn Scorer>, bits: Arc<BitSet>) -> FilteredScorer {
        let mut s = FilteredScorer { inner, bits };
        s.skip_to_allowed();
        s
    }

    fn skip_to_allowed(&mut self) -> DocId {
        let mut doc = self.inner.doc();
        while doc != TERMINATED && !self.bits.contains(doc) {
            doc = self.inner.advance();
        }
        doc
    }
}

impl DocSet for FilteredScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance();
        self.skip_to_allowed()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.inner.seek(target);
        self.skip_to_allowed()
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for FilteredScorer {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}
