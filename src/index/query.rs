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
//!
//! In the unstemmed fields stop words are kept but *deferred*: they are left out of the query
//! that ranks the whole index and added afterwards to the scores of its best candidates (see
//! [`Question`]).

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
    /// Which question words (as written, lowercased) this field defers to the rescoring of
    /// the best candidates instead of ranking the whole index by them.
    pub defer: Option<&'a dyn Fn(&str) -> bool>,
    /// Which question words this field leaves out altogether.
    pub skip: Option<&'a dyn Fn(&str) -> bool>,
}

/// The BM25 query of a question, in two parts whose scores add up to the score of the whole.
///
/// Words such as "the", "is" and "how" occur in most passages: in a union of term queries
/// they keep block-max WAND from skipping anything, and they made BM25 three times slower
/// (hybrid p50 at 100k chunks: 4.2 ms with them in the ranking query, 2.7 ms without). They
/// cannot simply be dropped from the unstemmed fields: text nDCG@10 on pydocs-faq falls from
/// 0.70 to 0.61 without them (in Python's FAQ "is", "with" and "in" are the subject). So the
/// index is ranked by the content words, and the deferred words' scores are added to the
/// best candidates only; a passage whose only match is stop words could not rank high.
#[derive(Debug)]
pub(crate) struct Question {
    /// Ranks the whole index.
    pub ranking: Box<dyn Query>,
    /// Added to the scores of the ranking's best candidates, one clause each.
    pub deferred: Vec<Box<dyn Query>>,
    /// See `TextRanking::known_share`.
    pub known_share: f32,
}

impl Question {
    /// Both parts as one union: the query whose top the two-step ranking reproduces.
    #[cfg(test)]
    pub fn whole(self) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, self.ranking)];
        clauses.extend(self.deferred.into_iter().map(|q| (Occur::Should, q)));
        Box::new(BooleanQuery::new(clauses))
    }
}

/// The BM25 query of `question` over `targets`: one `Should` clause per distinct term and
/// field, deferred where the target says so. `None` when the question has no searchable term
/// in any field; when every term is deferred (a question of stop words only), none is.
pub(crate) fn bag_of_terms(
    tokenizers: &TokenizerManager,
    targets: &[Target<'_>],
    question: &str,
) -> Option<Question> {
    let mut ranking: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut deferred: Vec<Box<dyn Query>> = Vec::new();
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
            let token = stream.token();
            if token.text.is_empty() || !seen.insert(token.text.clone()) {
                continue;
            }
            let term = Term::from_field_text(t.field, &token.text);
            let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
            let q: Box<dyn Query> = if (t.boost - 1.0).abs() > f32::EPSILON {
                Box::new(BoostQuery::new(q, t.boost))
            } else {
                q
            };
            let word = question
                .get(token.offset_from..token.offset_to)
                .map(str::to_lowercase);
            let says = |rule: Option<&dyn Fn(&str) -> bool>| {
                rule.is_some_and(|rule| word.as_deref().is_some_and(rule))
            };
            if says(t.skip) {
                continue;
            }
            if says(t.defer) {
                deferred.push(q);
            } else {
                ranking.push((Occur::Should, q));
            }
        }
    }
    if ranking.is_empty() {
        ranking = deferred.drain(..).map(|q| (Occur::Should, q)).collect();
    }
    if ranking.is_empty() {
        None
    } else {
        Some(Question {
            ranking: Box::new(BooleanQuery::new(ranking)),
            deferred,
            known_share: 1.0,
        })
    }
}
