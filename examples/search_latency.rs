//! Query latency of the whole search path (catalog filter → BM25 and/or vectors → fusion →
//! hits with citations) per mode, on a knowledge base of N synthetic chunks.
//!
//! `cargo run --release --example search_latency -- ../shared/eval/pydocs-faq 10000 100000`
//!
//! Chunks are made from the set's corpus (sections cycled with a varying suffix so that every
//! chunk is distinct), grouped 100 per source like real documents; questions are the set's.
//! The embedder is the 384-dimension hashing one, so the time measured is the search itself
//! given a query vector (the target); e5's query embedding (≈ 4–8 ms, cached for
//! repeated questions) is measured by `examples/embed_bench.rs`. One thread, CPU time of the
//! searching thread, so a busy machine does not inflate the figures.

use lore::embed::HashEmbedder;
use lore::{AddOptions, Lore, NoProgress, SearchMode, SearchOptions};
use std::path::PathBuf;
use std::sync::Arc;

const PER_SOURCE: usize = 100;

fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() -> lore::Result<()> {
    let mut args = std::env::args().skip(1);
    let set_dir = PathBuf::from(args.next().expect("usage: search_latency SET_DIR N..."));
    let sizes: Vec<usize> = args.map(|a| a.parse().expect("a chunk count")).collect();
    let set = lore::eval::load_set(&set_dir)?;
    for n in sizes {
        let tmp = tempfile::tempdir().expect("temp dir");
        let lore = Lore::open(tmp.path())?.with_embedder(Arc::new(HashEmbedder::new(384)))?;
        let kb = lore.kb("bench")?;
        let started = std::time::Instant::now();
        let mut entries = Vec::new();
        for s in 0..n.div_ceil(PER_SOURCE) {
            let mut body = String::new();
            for c in 0..PER_SOURCE {
                let i = s * PER_SOURCE + c;
                let (_, text) = &set.corpus[i % set.corpus.len()];
                let text: String = text.chars().take(800).collect();
                // Each chunk is its own section, so the chunker keeps them apart.
                body.push_str(&format!(
                    "# Section {i}\n\n{text} (copy {})\n\n",
                    i / set.corpus.len()
                ));
            }
            entries.push((format!("doc-{s}"), body));
        }
        for batch in entries.chunks(50) {
            kb.add_texts(batch, &AddOptions::default(), &NoProgress)?;
        }
        let chunks = kb.indexed_chunks()?;
        let ingest_s = started.elapsed().as_secs_f64();
        let disk = dir_size(tmp.path());
        println!(
            "{n} chunks requested, {chunks} indexed in {} sources, ingest {ingest_s:.1} s, data folder {:.1} MB ({:.0} bytes/chunk)",
            entries.len(),
            disk as f64 / 1e6,
            disk as f64 / chunks.max(1) as f64
        );
        for mode in [SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid] {
            let opts = SearchOptions {
                k: 8,
                min_confidence: 0.0,
                record_gaps: false,
                mode,
                ..Default::default()
            };
            // Warm-up: loads segments and index pages, as a serving process would have.
            for (_, q) in set.queries.iter().take(20) {
                kb.search_with(q, &opts)?;
            }
            let mut times = Vec::new();
            for _ in 0..3 {
                for (_, q) in &set.queries {
                    let t = thread_cpu();
                    kb.search_with(q, &opts)?;
                    times.push((thread_cpu() - t).as_secs_f64() * 1e3);
                }
            }
            times.sort_by(f64::total_cmp);
            let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
            println!(
                "  {:<7} p50 {:>6.2} ms  p99 {:>6.2} ms  ({} queries, CPU time)",
                mode.as_str(),
                p(0.5),
                p(0.99),
                times.len()
            );
        }
    }
    Ok(())
}

fn dir_size(p: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
