//! Retrieval evaluation on BEIR-format sets, end to end through the real ingestion and search.
//!
//! A set is a folder with `corpus.jsonl` (`{"_id", "title", "text"}` per line),
//! `queries.jsonl` (`{"_id", "text"}`) and `qrels/test.tsv` (`query-id corpus-id score`, with a
//! header line). Every corpus document becomes a text source named by its id; every query with
//! judgements is searched; the ranked chunks are folded into a ranked list of distinct
//! documents, and nDCG@10, Recall@10 and MRR@10 are averaged over the queries.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::retrieve::{Fusion, SearchMode, SearchOptions};
use crate::{AddOptions, KnowledgeBase};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Cut-off of the metrics.
pub const AT: usize = 10;
/// Chunks fetched per query before folding into documents (a document may hold several of the
/// top chunks).
const CHUNKS_PER_QUERY: usize = 50;

/// One loaded evaluation set.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub name: String,
    /// `(id, title + text)`.
    pub corpus: Vec<(String, String)>,
    /// `(id, text)` of queries that have judgements.
    pub queries: Vec<(String, String)>,
    /// query id → (document id → relevance grade).
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

#[derive(Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// Reads a BEIR-format folder.
pub fn load_set(dir: &Path) -> Result<EvalSet> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let read = |rel: &str| -> Result<String> {
        let p = dir.join(rel);
        std::fs::read_to_string(&p).map_err(|e| Error::invalid(format!("{}: {e}", p.display())))
    };
    let mut corpus = Vec::new();
    for (i, line) in read("corpus.jsonl")?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: CorpusLine = serde_json::from_str(line)
            .map_err(|e| Error::invalid(format!("corpus.jsonl line {}: {e}", i + 1)))?;
        let body = if c.title.trim().is_empty() {
            c.text
        } else {
            format!("{}\n\n{}", c.title, c.text)
        };
        corpus.push((c.id, body));
    }
    let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for (i, line) in read("qrels/test.tsv")?.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 && cols.first().is_some_and(|c| c.contains("query")) {
            continue;
        }
        if cols.len() < 3 {
            continue;
        }
        let grade: u32 = cols[2].trim().parse().unwrap_or(0);
        if grade > 0 {
            qrels
                .entry(cols[0].to_string())
                .or_default()
                .insert(cols[1].to_string(), grade);
        }
    }
    let mut queries = Vec::new();
    for (i, line) in read("queries.jsonl")?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: QueryLine = serde_json::from_str(line)
            .map_err(|e| Error::invalid(format!("queries.jsonl line {}: {e}", i + 1)))?;
        if qrels.contains_key(&q.id) {
            queries.push((q.id, q.text));
        }
    }
    if corpus.is_empty() || queries.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no documents or no judged queries",
            dir.display()
        )));
    }
    Ok(EvalSet {
        name,
        corpus,
        queries,
        qrels,
    })
}

/// Metrics of one ranked list against its judgements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub ndcg: f64,
    pub recall: f64,
    pub rr: f64,
}

/// nDCG@10 (gain = grade), Recall@10 and reciprocal rank within 10 for one query.
pub fn metrics(ranked: &[String], relevant: &HashMap<String, u32>) -> Metrics {
    if relevant.is_empty() {
        return Metrics::default();
    }
    let top = &ranked[..ranked.len().min(AT)];
    let dcg: f64 = top
        .iter()
        .enumerate()
        .map(|(i, d)| f64::from(*relevant.get(d).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut grades: Vec<u32> = relevant.values().copied().collect();
    grades.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = grades
        .iter()
        .take(AT)
        .enumerate()
        .map(|(i, g)| f64::from(*g) / (i as f64 + 2.0).log2())
        .sum();
    let found = top.iter().filter(|d| relevant.contains_key(*d)).count();
    let rr = top
        .iter()
        .position(|d| relevant.contains_key(d))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0));
    Metrics {
        ndcg: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        recall: found as f64 / relevant.len() as f64,
        rr,
    }
}

/// The figures of one set in one mode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalResult {
    pub set: String,
    pub mode: String,
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    pub queries: usize,
}

/// Ingests the set's corpus into `kb` (which should be empty) as text sources named by
/// document id.
pub fn ingest(kb: &KnowledgeBase<'_>, set: &EvalSet, progress: &dyn Progress) -> Result<()> {
    let reports = kb.add_texts(&set.corpus, &AddOptions::default(), progress)?;
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, crate::Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        tracing::warn!(set = %set.name, failed, "some corpus documents were refused");
    }
    Ok(())
}

/// Searches every judged query and averages the metrics.
pub fn evaluate(
    kb: &KnowledgeBase<'_>,
    set: &EvalSet,
    mode: SearchMode,
    fusion: Fusion,
    progress: &dyn Progress,
) -> Result<EvalResult> {
    progress.start(set.queries.len() as u64, "searching");
    let mut sum = Metrics::default();
    let opts = SearchOptions {
        k: CHUNKS_PER_QUERY,
        min_confidence: 0.0,
        record_gaps: false,
        mode,
        fusion,
        ..Default::default()
    };
    for (qid, text) in &set.queries {
        let hits = kb.search_with(text, &opts)?.hits;
        let mut ranked: Vec<String> = Vec::with_capacity(AT);
        for h in hits {
            if !ranked.contains(&h.source_name) {
                ranked.push(h.source_name);
                if ranked.len() == AT {
                    break;
                }
            }
        }
        let m = metrics(&ranked, &set.qrels[qid]);
        sum.ndcg += m.ndcg;
        sum.recall += m.recall;
        sum.rr += m.rr;
        progress.inc(1);
    }
    progress.finish();
    let n = set.queries.len() as f64;
    Ok(EvalResult {
        set: set.name.clone(),
        mode: mode.as_str().to_string(),
        ndcg_at_10: sum.ndcg / n,
        recall_at_10: sum.recall / n,
        mrr_at_10: sum.rr / n,
        queries: set.queries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_a_hand_computed_example() {
        // Relevant: a (grade 1) and b (grade 1). Ranking: x, a, y, b.
        // DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
        // IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093 = 1.63093
        // nDCG = 0.65092; recall = 1; RR = 1/2.
        let m = metrics(&ranked(&["x", "a", "y", "b"]), &rel(&[("a", 1), ("b", 1)]));
        assert!((m.ndcg - 0.650_92).abs() < 1e-4, "{}", m.ndcg);
        assert_eq!(m.recall, 1.0);
        assert_eq!(m.rr, 0.5);
        // Perfect ranking.
        let m = metrics(&ranked(&["a", "b"]), &rel(&[("a", 1), ("b", 1)]));
        assert!((m.ndcg - 1.0).abs() < 1e-12);
        // Nothing relevant in the top 10: a relevant document at rank 11 does not count.
        let mut long: Vec<&str> = vec!["n"; 10];
        long.push("a");
        let m = metrics(&ranked(&long), &rel(&[("a", 1)]));
        assert_eq!(m, Metrics::default());
        // Graded: grade 2 at rank 2, grade 1 at rank 1. DCG = 1 + 2/log2(3) = 2.26186;
        // IDCG = 2 + 1/log2(3) = 2.63093; nDCG = 0.85972.
        let m = metrics(&ranked(&["b", "a"]), &rel(&[("a", 2), ("b", 1)]));
        assert!((m.ndcg - 0.859_72).abs() < 1e-4, "{}", m.ndcg);
    }

    #[test]
    fn a_beir_folder_loads_and_evaluates_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("tiny");
        std::fs::create_dir_all(set.join("qrels")).unwrap();
        std::fs::write(
            set.join("corpus.jsonl"),
            concat!(
                r#"{"_id": "ret", "title": "Returns", "text": "Items can be returned within thirty days of delivery."}"#, "\n",
                r#"{"_id": "ship", "title": "Shipping", "text": "We ship parcels to Chile and Brazil."}"#, "\n",
                r#"{"_id": "pay", "title": "Payment", "text": "Cards and bank transfers are accepted."}"#, "\n",
            ),
        )
        .unwrap();
        std::fs::write(
            set.join("queries.jsonl"),
            concat!(
                r#"{"_id": "q1", "text": "how many days to return an item"}"#,
                "\n",
                r#"{"_id": "q2", "text": "do you ship to chile"}"#,
                "\n",
                r#"{"_id": "q3", "text": "unjudged question"}"#,
                "\n",
            ),
        )
        .unwrap();
        std::fs::write(
            set.join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\nq1\tret\t1\nq2\tship\t1\n",
        )
        .unwrap();
        let loaded = load_set(&set).unwrap();
        assert_eq!(loaded.corpus.len(), 3);
        assert_eq!(loaded.queries.len(), 2, "only judged queries are kept");
        let data = tempfile::tempdir().unwrap();
        let lore = crate::Lore::open(data.path()).unwrap();
        let kb = lore.kb("eval").unwrap();
        ingest(&kb, &loaded, &crate::NoProgress).unwrap();
        let r = evaluate(
            &kb,
            &loaded,
            SearchMode::Text,
            Fusion::Rrf,
            &crate::NoProgress,
        )
        .unwrap();
        assert_eq!(r.queries, 2);
        assert!((r.ndcg_at_10 - 1.0).abs() < 1e-9, "{r:?}");
        assert!((r.mrr_at_10 - 1.0).abs() < 1e-9);
        assert!(
            load_set(dir.path()).is_err(),
            "a folder without the files is refused"
        );
    }
}
