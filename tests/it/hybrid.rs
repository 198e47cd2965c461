//! Hybrid retrieval through the real pipeline: vectors written per version, the three modes,
//! fusion, persistence, backfill, an embedder outage, and vector confidence.
//! The embedder is lore's deterministic character 3-gram hasher (no model download).

use crate::common::Env;
use lore::embed::{Embedder, HashEmbedder};
use lore::{AddOptions, Fusion, Lore, NoProgress, Outcome, SearchMode, SearchOptions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts passage embeddings and can be switched off to simulate a provider outage.
struct Probe {
    inner: HashEmbedder,
    passages: AtomicUsize,
    down: AtomicBool,
    range: Option<(f32, f32)>,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe {
            inner: HashEmbedder::default(),
            passages: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            range: None,
        })
    }
}

impl Embedder for Probe {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn embed_passages(&self, texts: &[&str]) -> lore::Result<Vec<Vec<f32>>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(lore::Error::embed("stand-in provider is down"));
        }
        self.passages.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed_passages(texts)
    }
    fn embed_query(&self, text: &str) -> lore::Result<Vec<f32>> {
        self.inner.embed_query(text)
    }
    fn relevance_range(&self) -> Option<(f32, f32)> {
        self.range
    }
}

fn open(env: &Env, e: Arc<Probe>) -> Lore {
    Lore::open(env.data.path())
        .unwrap()
        .with_embedder(e)
        .unwrap()
}

fn opts(mode: SearchMode) -> SearchOptions {
    SearchOptions {
        k: 3,
        min_confidence: 0.0,
        record_gaps: false,
        mode,
        ..Default::default()
    }
}

fn top(kb: &lore::KnowledgeBase<'_>, q: &str, mode: SearchMode) -> Option<(String, u32)> {
    kb.search_with(q, &opts(mode))
        .unwrap()
        .hits
        .first()
        .map(|h| (h.source_name.clone(), h.version))
}

fn vector_files(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(env.data.path()) {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".vec") {
            out.push(name);
        }
    }
    out.sort();
    out
}

const RETURNS: &str = "# Returns\n\nYou may return an unused item within 30 days for a refund.\n";
const SHIPPING: &str = "# Shipping\n\nParcels leave our warehouse within two business days.\n";

#[test]
fn versions_get_vectors_and_every_mode_serves_only_active_versions() {
    let env = Env::new();
    let probe = Probe::new();
    let lore = open(&env, probe.clone());
    let kb = lore.kb("shop").unwrap();
    assert!(kb.has_vectors());
    let returns = env.write("returns.md", RETURNS);
    let shipping = env.write("shipping.md", SHIPPING);
    kb.add_paths(
        &[returns.clone(), shipping],
        &AddOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(vector_files(&env), vec!["s1-v1.vec", "s2-v1.vec"]);

    // A misspelt question shares no word with the passage: BM25 finds nothing, the 3-gram
    // vectors still find it, and hybrid keeps the vector side's answer.
    let typo = "retrun polisy refnd";
    assert_eq!(top(&kb, typo, SearchMode::Text), None);
    assert_eq!(
        top(&kb, typo, SearchMode::Vector),
        Some(("returns.md".into(), 1))
    );
    assert_eq!(
        top(&kb, typo, SearchMode::Hybrid),
        Some(("returns.md".into(), 1))
    );
    let r = kb.search_with(typo, &opts(SearchMode::Hybrid)).unwrap();
    assert_eq!(r.mode, SearchMode::Hybrid);

    // A new version replaces the old one on the vector side too.
    std::fs::write(
        &returns,
        "# Returns\n\nUnused items may be sent back within 60 days for store credit.\n",
    )
    .unwrap();
    let rep = kb.sync(&["returns.md".into()], &NoProgress).unwrap();
    assert!(matches!(
        rep[0].outcome,
        Outcome::Created { version: 2, .. }
    ));
    let hits = kb
        .search_with("items sent back store credit", &opts(SearchMode::Vector))
        .unwrap()
        .hits;
    assert!(
        hits.iter()
            .all(|h| h.source_name != "returns.md" || h.version == 2),
        "{hits:?}"
    );
    assert_eq!(hits[0].version, 2);

    // A failed update keeps serving v2's vectors.
    std::fs::write(&returns, [0u8, 200, 1, 2, 0, 0, 9].repeat(50)).unwrap();
    let rep = kb.sync(&["returns.md".into()], &NoProgress).unwrap();
    assert!(matches!(rep[0].outcome, Outcome::Failed { .. }));
    assert_eq!(
        top(&kb, "items sent back store credit", SearchMode::Vector),
        Some(("returns.md".into(), 2))
    );
    // Revert brings v1's vectors back without any write.
    kb.revert("returns.md", 1).unwrap();
    assert_eq!(
        top(&kb, typo, SearchMode::Vector),
        Some(("returns.md".into(), 1))
    );
    // Disabled sources are not searched by vectors either.
    kb.set_enabled("returns.md", false).unwrap();
    assert_ne!(
        top(&kb, typo, SearchMode::Vector).map(|t| t.0),
        Some("returns.md".to_string())
    );
    // Removing deletes its segments.
    kb.remove("returns.md").unwrap();
    assert_eq!(vector_files(&env), vec!["s2-v1.vec"]);
}

#[test]
fn vectors_persist_across_restart_and_unchanged_chunks_are_never_embedded_again() {
    let env = Env::new();
    let probe = Probe::new();
    {
        let lore = open(&env, probe.clone());
        let kb = lore.kb("shop").unwrap();
        kb.add_text("Returns", RETURNS, &AddOptions::default(), &NoProgress)
            .unwrap();
    }
    let embedded = probe.passages.load(Ordering::SeqCst);
    assert!(embedded >= 1);
    let probe2 = Probe::new();
    let lore = open(&env, probe2.clone());
    let kb = lore.kb("shop").unwrap();
    assert_eq!(
        top(&kb, "retrun polisy refnd", SearchMode::Vector),
        Some(("Returns".into(), 1))
    );
    // Same text again under a new title: a new source, but its chunk is cached.
    kb.add_text(
        "Returns (copy)",
        RETURNS,
        &AddOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        probe2.passages.load(Ordering::SeqCst),
        0,
        "served from the cache"
    );
}

#[test]
fn versions_built_without_vectors_are_backfilled() {
    let env = Env::new();
    {
        // Full-text only: no vectors, and vector mode is refused with a clear error.
        let lore = Lore::open(env.data.path()).unwrap();
        let kb = lore.kb("shop").unwrap();
        kb.add_text("Returns", RETURNS, &AddOptions::default(), &NoProgress)
            .unwrap();
        assert!(!kb.has_vectors());
        let err = kb
            .search_with("returns", &opts(SearchMode::Vector))
            .unwrap_err();
        assert!(
            err.is_user_fault() && err.to_string().contains("embedder"),
            "{err}"
        );
        let r = kb.search_with("return", &opts(SearchMode::Hybrid)).unwrap();
        assert_eq!(r.mode, SearchMode::Text, "hybrid falls back to text");
        assert_eq!(r.hits.len(), 1);
    }
    assert!(vector_files(&env).is_empty());
    let lore = open(&env, Probe::new());
    let kb = lore.kb("shop").unwrap();
    kb.run_pending(&NoProgress).unwrap();
    assert_eq!(vector_files(&env), vec!["s1-v1.vec"]);
    assert_eq!(
        top(&kb, "retrun polisy refnd", SearchMode::Vector),
        Some(("Returns".into(), 1))
    );
}

#[test]
fn an_embedder_outage_publishes_text_with_a_warning_and_vectors_follow() {
    let env = Env::new();
    let probe = Probe::new();
    probe.down.store(true, Ordering::SeqCst);
    let lore = open(&env, probe.clone());
    let kb = lore.kb("shop").unwrap();
    let rep = kb
        .add_text("Returns", RETURNS, &AddOptions::default(), &NoProgress)
        .unwrap();
    match &rep.outcome {
        Outcome::Created { warnings, .. } => {
            assert!(
                warnings.iter().any(|w| w.contains("not embedded yet")),
                "{warnings:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        top(&kb, "return", SearchMode::Text),
        Some(("Returns".into(), 1))
    );
    assert_eq!(top(&kb, "retrun polisy", SearchMode::Vector), None);
    probe.down.store(false, Ordering::SeqCst);
    kb.run_pending(&NoProgress).unwrap();
    assert_eq!(
        top(&kb, "retrun polisy", SearchMode::Vector),
        Some(("Returns".into(), 1))
    );
}

#[test]
fn vector_similarity_counts_toward_confidence_when_the_model_is_calibrated() {
    let typo = "retrun polisy refnd";
    let confidence = |range: Option<(f32, f32)>| {
        let env = Env::new();
        let probe = Arc::new(Probe {
            range,
            ..Arc::into_inner(Probe::new()).unwrap()
        });
        let lore = open(&env, probe);
        let kb = lore.kb("shop").unwrap();
        kb.add_text("Returns", RETURNS, &AddOptions::default(), &NoProgress)
            .unwrap();
        let r = kb.search_with(typo, &SearchOptions::default()).unwrap();
        let gaps = kb.gaps().unwrap().len();
        (r.confidence, r.nothing_relevant, r.hits.len(), gaps)
    };
    // Uncalibrated: no word of the question is covered, so nothing relevant (and a gap).
    let (c, nothing, hits, gaps) = confidence(None);
    assert!(c < 0.35 && nothing && hits == 0 && gaps == 1, "{c}");
    // Calibrated so that this cosine reads as relevant: the passage is returned.
    let (c, nothing, hits, gaps) = confidence(Some((0.0, 0.3)));
    assert!(c >= 0.35 && !nothing && hits == 1 && gaps == 0, "{c}");
}

#[test]
fn weighted_fusion_leans_toward_the_chosen_side() {
    let env = Env::new();
    let lore = open(&env, Probe::new());
    let kb = lore.kb("shop").unwrap();
    kb.add_text("Returns", RETURNS, &AddOptions::default(), &NoProgress)
        .unwrap();
    kb.add_text("Shipping", SHIPPING, &AddOptions::default(), &NoProgress)
        .unwrap();
    // "warehouse" is a word of Shipping only (BM25 side); the misspellings are closest to
    // Returns by 3-grams (vector side).
    let q = "warehouse retrun polisy refnd unusd";
    let with = |ratio: f32| {
        let o = SearchOptions {
            fusion: Fusion::Weighted {
                semantic_ratio: ratio,
            },
            ..opts(SearchMode::Hybrid)
        };
        kb.search_with(q, &o).unwrap().hits[0].source_name.clone()
    };
    assert_eq!(with(0.0), "Shipping");
    assert_eq!(with(1.0), "Returns");
}
