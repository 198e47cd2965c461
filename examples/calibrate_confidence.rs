//! Measures where an embedder's cosines fall for answerable and unanswerable questions, to
//! choose its `relevance_range` (the cosines read as confidence 0 and 1).
//!
//! `cargo run --release --example calibrate_confidence -- ../shared/eval/debfaq-en ../shared/eval/pydocs-faq`
//! ingests the first set, asks its own questions (answerable) and the second set's questions
//! (about something else: unanswerable), and prints percentiles of the best vector cosine.
//! The embedder is the configured one (`LORE_EMBEDDER`, default e5).

use lore::{Lore, NoProgress, SearchMode, SearchOptions};
use std::path::PathBuf;

fn percentiles(mut v: Vec<f32>) -> String {
    v.sort_by(f32::total_cmp);
    let p = |q: f32| v[((v.len() - 1) as f32 * q) as usize];
    format!(
        "n={} p5={:.3} p25={:.3} p50={:.3} p75={:.3} p95={:.3}",
        v.len(),
        p(0.05),
        p(0.25),
        p(0.5),
        p(0.75),
        p(0.95)
    )
}

fn main() -> lore::Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [home, other] = args.as_slice() else {
        eprintln!("usage: calibrate_confidence SET_DIR OTHER_SET_DIR");
        std::process::exit(2);
    };
    let resolved = lore::embed::resolve::resolve(&lore::Config::default().embed, &NoProgress)?;
    let embedder = resolved.embedder.expect("an embedder");
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = lore::embed::default_model_dir()
        .parent()
        .map(|p| p.join("eval-embeddings.db"))
        .expect("cache dir");
    let lore = Lore::open(tmp.path())?.with_embedder_cached_at(embedder, &cache)?;
    let kb = lore.kb("calibrate")?;
    let set = lore::eval::load_set(home)?;
    lore::eval::ingest(&kb, &set, &NoProgress)?;
    let opts = SearchOptions {
        k: 1,
        min_confidence: 0.0,
        record_gaps: false,
        mode: SearchMode::Vector,
        ..Default::default()
    };
    let best = |q: &str| -> lore::Result<f32> {
        Ok(kb
            .search_with(q, &opts)?
            .hits
            .first()
            .map_or(0.0, |h| h.score))
    };
    let mut answerable = Vec::new();
    for (_, q) in &set.queries {
        answerable.push(best(q)?);
    }
    let mut unanswerable = Vec::new();
    for (_, q) in &lore::eval::load_set(other)?.queries {
        unanswerable.push(best(q)?);
    }
    println!("answerable   {}", percentiles(answerable));
    println!("unanswerable {}", percentiles(unanswerable));
    Ok(())
}
