//! Turning a client's question into a full-text query.
//!
//! A question is a bag of words, not query syntax, so lore does not use tantivy's
//! `QueryParser`: each field's own analyzer cuts the whole question into terms, and every
//! distinct term becomes one BM25 clause (`Should`), boosted by its field. Two things the
//! parser got wrong for questions, measured with `lore eval`:
//!
//! * It analyses each whitespace-separated word on its own and turns a word that yields
//!   several tokens into a *phrase*. In Japanese or Chinese a "word" is a whole clause
//!   (`Debianの発音とその意味は何?` has no spaces), which the CJK analyzer cuts into
//!   overlapping bigrams; as a phrase, all of them had to occur in a row, so almost nothing
//!   matched: nDCG@10 on debfaq-ja was 0.18, 0.49 with plain bigram terms.
//! * Repeated words ("Debian … Debian") became repeated clauses, counting a term twice.
//!
//! The caller picks each field's question analyzer: for the stemmed fields it drops the
//! language's stop words (see `TextIndex::rank`).

use std::collections::HashSet;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TokenizerManager;
use tantivy::Term;

/// A searched field, the analyzer that indexed it and its weight.
pub(crate) struct Target<'a> {
    pub field: Field,
    pub analyzer: &'a str,
    pub boost: f32,
}

/// The BM25 query of `question` over `targets`: one `Should` clause per distinct term and
/// field. `None` when the question has no searchable term in any field.
pub(crate) fn bag_of_terms(
    tokenizers: &TokenizerManager,
    targets: &[Target<'_>],
    question: &str,
) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for t in targets {
        let Some(mut analyzer) = tokenizers.get(t.analyzer) else {
            tracing::warn!(
                analyzer = t.analyzer,
                "analyzer not registered; field skipped"
            );
            continue;
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut stream = analyzer.token_stream(question);
        while stream.advance() {
            let text = &stream.token().text;
            if text.is_empty() || !seen.insert(text.clone()) {
                continue;
            }
            let term = Term::from_field_text(t.field, text);
            let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
            let q: Box<dyn Query> = if (t.boost - 1.0).abs() > f32::EPSILON {
                Box::new(BoostQuery::new(q, t.boost))
            } else {
                q
            };
            clauses.push((Occur::Should, q));
        }
    }
    if clauses.is_empty() {
        None
    } else {
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}
