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
//!
//! Also printed: the vector store alone (its p50/p99 and recall@10 of the default, approximate
//! path against the exact scan), and memory after warm-up (resident anonymous memory, i.e.
//! heap, and resident file pages, i.e. the memory-mapped index and vectors touched).
//!
//! `LORE_BENCH_DIR=/path` keeps each size's data in `/path/<n>` and reuses it on the next run
//! (no re-ingest); `LORE_BENCH_MODES=hybrid,text` measures only those modes;
//! `LORE_BENCH_PROBE=1.5,4` also measures the vector store with those `merged_probe` factors
//! (clusters probed per √clusters of a merged index).

use lore::embed::{Embedder, HashEmbedder};
use lore::vector::{VectorOptions, VectorStore};
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
    let keep = std::env::var_os("LORE_BENCH_DIR").map(PathBuf::from);
    let modes: Vec<SearchMode> = match std::env::var("LORE_BENCH_MODES") {
        Ok(list) => list
            .split(',')
            .map(|m| m.parse().expect("a search mode"))
            .collect(),
        Err(_) => vec![SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid],
    };
    for n in sizes {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = match &keep {
            Some(dir) => dir.join(n.to_string()),
            None => tmp.path().to_path_buf(),
        };
        let mem_before = memory();
        let embedder = Arc::new(HashEmbedder::new(384));
        let lore = Lore::open(&root)?.with_embedder(embedder.clone())?;
        let kb = lore.kb("bench")?;
        if kb.indexed_chunks()? > 0 {
            let chunks = kb.indexed_chunks()?;
            let disk = dir_size(&root);
            println!(
                "{n} chunks: reusing {} ({chunks} indexed), data folder {:.1} MB ({:.0} bytes/chunk)",
                root.display(),
                disk as f64 / 1e6,
                disk as f64 / chunks.max(1) as f64
            );
            // Data from an older build: merge its index segments and bring its merged
            // vector indexes up to date, as the end of an ingestion run does.
            let (index, _) = lore::index::TextIndex::open(&root.join("kbs/1/index"))?;
            while index.writer()?.merge_small_segments()? {}
            if let Some(folder) = vector_folder(&root) {
                let started = std::time::Instant::now();
                let inserted = VectorStore::open(&folder, embedder.dim())?.compact()?;
                println!(
                    "  compaction: {inserted} vectors into merged indexes in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
        } else {
            ingest(&kb, &set, n, &root)?;
        }
        measure(&kb, &set, &modes)?;
        let chunks = kb.indexed_chunks()?.max(1) as f64;
        let mem = memory();
        println!(
            "  memory after warm-up: heap {:.0} bytes/chunk, mapped files {:.0} bytes/chunk",
            (mem.0.saturating_sub(mem_before.0)) as f64 / chunks,
            (mem.1.saturating_sub(mem_before.1)) as f64 / chunks,
        );
        vector_store_alone(&root, &set, embedder.as_ref())?;
    }
    Ok(())
}

fn ingest(
    kb: &lore::KnowledgeBase<'_>,
    set: &lore::eval::EvalSet,
    n: usize,
    root: &std::path::Path,
) -> lore::Result<()> {
    {
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
        let disk = dir_size(root);
        println!(
            "{n} chunks requested, {chunks} indexed in {} sources, ingest {ingest_s:.1} s, data folder {:.1} MB ({:.0} bytes/chunk)",
            entries.len(),
            disk as f64 / 1e6,
            disk as f64 / chunks.max(1) as f64
        );
    }
    Ok(())
}

/// Rounds over every question in every mode, interleaved, so that a slow spell of a shared
/// machine lands on all modes alike; a question's time is its median over the rounds
/// (`LORE_BENCH_ROUNDS`, default 5), and p50/p99 are taken over questions.
fn measure(
    kb: &lore::KnowledgeBase<'_>,
    set: &lore::eval::EvalSet,
    modes: &[SearchMode],
) -> lore::Result<()> {
    let rounds: usize = std::env::var("LORE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let options = |mode| SearchOptions {
        k: 8,
        min_confidence: 0.0,
        record_gaps: false,
        mode,
        ..Default::default()
    };
    // Warm-up: loads segments and index pages, as a serving process would have.
    for mode in modes {
        for (_, q) in set.queries.iter().take(20) {
            kb.search_with(q, &options(*mode))?;
        }
    }
    // times[mode][question][round]
    let mut times = vec![vec![Vec::with_capacity(rounds); set.queries.len()]; modes.len()];
    for _ in 0..rounds {
        for (m, mode) in modes.iter().enumerate() {
            let opts = options(*mode);
            for (i, (_, q)) in set.queries.iter().enumerate() {
                let t = thread_cpu();
                kb.search_with(q, &opts)?;
                times[m][i].push((thread_cpu() - t).as_secs_f64() * 1e3);
            }
        }
    }
    for (mode, per_question) in modes.iter().zip(times) {
        let medians: Vec<f64> = per_question
            .into_iter()
            .map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect();
        let n = medians.len();
        let (p50, p99) = percentiles(medians);
        println!(
            "  {:<7} p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  ({n} questions, median of {rounds} rounds each, CPU time)",
            mode.as_str(),
        );
    }
    Ok(())
}

fn percentiles(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    (p(0.5), p(0.99))
}

/// The vector store on its own, as the search opens it (graphs on) and exactly (graphs off):
/// latency of the default path and its recall@10 against the exact scan, over every segment.
fn vector_store_alone(
    root: &std::path::Path,
    set: &lore::eval::EvalSet,
    embedder: &dyn Embedder,
) -> lore::Result<()> {
    let Some(folder) = vector_folder(root) else {
        return Ok(());
    };
    let probes: Vec<f64> = std::env::var("LORE_BENCH_PROBE")
        .ok()
        .map(|l| l.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    let defaults = VectorOptions::default();
    for probe in probes.iter().copied().map(Some).chain([None]) {
        let options = VectorOptions {
            merged_probe: probe.unwrap_or(defaults.merged_probe),
            ..VectorOptions::default()
        };
        compare(&folder, options, set, embedder)?;
    }
    Ok(())
}

fn compare(
    folder: &std::path::Path,
    options: VectorOptions,
    set: &lore::eval::EvalSet,
    embedder: &dyn Embedder,
) -> lore::Result<()> {
    let probe = options.merged_probe;
    let fast = VectorStore::open_with(folder, embedder.dim(), options)?;
    let exact = VectorStore::open_with(
        folder,
        embedder.dim(),
        VectorOptions {
            load_graphs: false,
            ..VectorOptions::default()
        },
    )?;
    let active = fast.segments()?;
    let queries: Vec<Vec<f32>> = set
        .queries
        .iter()
        .map(|(_, q)| embedder.embed_query(q))
        .collect::<lore::Result<_>>()?;
    fast.preload(&active)?;
    exact.preload(&active)?;
    const K: usize = 10;
    let (mut t_fast, mut t_exact) = (Vec::new(), Vec::new());
    let (mut same_id, mut same_score, mut total) = (0usize, 0usize, 0usize);
    for q in &queries {
        let t = thread_cpu();
        let got = fast.search(q, &active, K)?;
        t_fast.push((thread_cpu() - t).as_secs_f64() * 1e3);
        let t = thread_cpu();
        let want = exact.search(q, &active, K)?;
        t_exact.push((thread_cpu() - t).as_secs_f64() * 1e3);
        // By id; and by score, since the synthetic chunks repeat texts and ties are common:
        // a hit counts when it scores at least the exact tenth (it is as near as a true one).
        let bar = want.last().map_or(f32::MIN, |h| h.score) - 1e-6;
        same_id += got
            .iter()
            .filter(|h| want.iter().any(|w| w.chunk_id == h.chunk_id))
            .count();
        same_score += got.iter().filter(|h| h.score >= bar).count();
        total += want.len();
    }
    let (f50, f99) = percentiles(t_fast);
    let (e50, e99) = percentiles(t_exact);
    let total = total.max(1) as f64;
    println!(
        "  vector store alone (merged probe {probe}): default p50 {f50:.2} ms p99 {f99:.2} ms, exact scan p50 {e50:.2} ms p99 {e99:.2} ms; recall@{K} {:.3} by id, {:.3} by score",
        same_id as f64 / total,
        same_score as f64 / total
    );
    Ok(())
}

/// The folder of the knowledge base's vector segments.
fn vector_folder(root: &std::path::Path) -> Option<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".vec"))
        .and_then(|e| e.path().parent().map(PathBuf::from))
}

/// Resident anonymous and file-backed memory of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("RssAnon:"), field("RssFile:"))
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
