//! Vector index benchmark: search latency (p50/p99), recall@10, build time, and bytes per
//! chunk on disk and in memory, for 384-dimensional unit vectors.
//!
//! ```text
//! cargo run --release --example vector_bench -- threshold [--uniform] [--queries N]
//!     one segment per size (1k…100k): the flat scan against hnsw at the smallest ef whose
//!     recall@10 is ≥ 0.95; where hnsw starts to win is the threshold
//! cargo run --release --example vector_bench -- scale TOTAL [--segments 100] [--threshold T]
//!     [--ef E] [--queries N] [--flat-queries N] [--uniform]
//!     TOTAL chunks over skewed segments (Zipf: the largest holds ~19% with 100 segments, the
//!     smallest ~0.2%), all active: exact (flat everywhere) against the store's default mode
//! ```
//!
//! Data is clustered by default (see `lore::vector::synth`): real embeddings have topics, and
//! the uniform sphere (`--uniform`) is a pessimistic case no embedder produces.
//!
//! Queries run one at a time on one thread. Each latency is measured twice: wall time, and
//! this thread's CPU time — on a machine shared with other work the wall figure includes
//! waiting for a core, the CPU figure does not.

use lore::vector::synth::{self, Clustered, Rng};
use lore::vector::{VectorHit, VectorOptions, VectorStore};
use std::path::Path;
use std::time::{Duration, Instant};

const DIM: usize = 384;
const K: usize = 10;
const EFS: [usize; 12] = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.replace('_', "").parse().expect("a number"))
            .unwrap_or(default)
    };
    let uniform = flag("--uniform");
    println!(
        "kernel {}, dim {DIM}, k {K}, {} data",
        lore::vector::Kernel::best().name(),
        if uniform { "uniform" } else { "clustered" }
    );
    match args.first().map(String::as_str) {
        Some("threshold") => {
            let sizes = args
                .iter()
                .position(|a| a == "--sizes")
                .and_then(|i| args.get(i + 1))
                .map(|v| v.split(',').map(|n| n.parse().expect("sizes")).collect())
                .unwrap_or_else(|| vec![1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]);
            threshold(uniform, value("--queries", 200), sizes)
        }
        Some("scale") => {
            let total = args
                .get(1)
                .and_then(|v| v.replace('_', "").parse().ok())
                .expect("scale TOTAL");
            let defaults = VectorOptions::default();
            scale(
                total,
                value("--segments", 100),
                value("--threshold", defaults.hnsw_threshold),
                value("--ef", 0),
                value("--queries", 500),
                value("--flat-queries", 200),
                uniform,
            )
        }
        _ => eprintln!("usage: vector_bench threshold | scale TOTAL [options] (see the source)"),
    }
}

/// A generated source: its chunk ids, vectors, and a few of its vectors that queries are
/// asked about.
struct Source {
    ids: Vec<i64>,
    vectors: Vec<Vec<f32>>,
    anchors: Vec<Vec<f32>>,
}

struct Data {
    rng: Rng,
    space: Clustered,
    uniform: bool,
}

impl Data {
    fn new(seed: u64, uniform: bool) -> Data {
        let mut rng = Rng::new(seed);
        let space = Clustered::new(&mut rng, DIM, 50);
        Data {
            rng,
            space,
            uniform,
        }
    }

    /// A source of `n` chunks: about one topic per 100 chunks (a section's worth).
    fn source(&mut self, first_id: i64, n: usize) -> Source {
        let topics = self.space.topics(&mut self.rng, 1 + n / 100);
        let vectors = if self.uniform {
            synth::uniform(&mut self.rng, n, DIM)
        } else {
            self.space.chunks(&mut self.rng, &topics, n)
        };
        let anchors = (0..20)
            .map(|_| vectors[self.rng.below(n)].clone())
            .collect();
        Source {
            ids: (first_id..first_id + n as i64).collect(),
            vectors,
            anchors,
        }
    }

    /// A query about a passage of one of `sources`, picked in proportion to their sizes.
    fn query(&mut self, sources: &[(usize, Vec<Vec<f32>>)]) -> Vec<f32> {
        if self.uniform {
            return synth::uniform(&mut self.rng, 1, DIM).remove(0);
        }
        let total: usize = sources.iter().map(|s| s.0).sum();
        let mut pick = self.rng.below(total);
        for (n, anchors) in sources {
            if pick < *n {
                let anchor = &anchors[self.rng.below(anchors.len())];
                return self.space.query(&mut self.rng, anchor);
            }
            pick -= n;
        }
        unreachable!()
    }
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of this thread.
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (all threads: the graph build runs on rayon's).
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Latencies of a query run.
#[derive(Default)]
struct Latency {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Latency {
    fn pct(v: &[Duration], p: f64) -> f64 {
        let mut v = v.to_vec();
        v.sort();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1e3
    }

    fn show(&self) -> String {
        format!(
            "p50 {:>8.3} p99 {:>8.3} ms (cpu p50 {:>8.3} p99 {:>8.3})",
            Self::pct(&self.wall, 0.5),
            Self::pct(&self.wall, 0.99),
            Self::pct(&self.cpu, 0.5),
            Self::pct(&self.cpu, 0.99)
        )
    }

    fn cpu_p50(&self) -> f64 {
        Self::pct(&self.cpu, 0.5)
    }
}

/// Runs every query (after a few warm-up ones) and returns the hits and latencies.
fn run(
    queries: &[Vec<f32>],
    search: impl Fn(&[f32]) -> Vec<VectorHit>,
) -> (Vec<Vec<VectorHit>>, Latency) {
    for q in queries.iter().take(10) {
        std::hint::black_box(search(q));
    }
    let mut lat = Latency::default();
    let mut hits = Vec::with_capacity(queries.len());
    for q in queries {
        let (w, c) = (Instant::now(), thread_cpu());
        let h = std::hint::black_box(search(q));
        lat.cpu.push(thread_cpu().saturating_sub(c));
        lat.wall.push(w.elapsed());
        hits.push(h);
    }
    (hits, lat)
}

fn recall(got: &[Vec<VectorHit>], exact: &[Vec<VectorHit>]) -> f64 {
    let mut found = 0;
    let mut total = 0;
    for (g, e) in got.iter().zip(exact) {
        total += e.len();
        found += e
            .iter()
            .filter(|h| g.iter().any(|x| x.chunk_id == h.chunk_id))
            .count();
    }
    found as f64 / total.max(1) as f64
}

fn options(threshold: usize, load_graphs: bool) -> VectorOptions {
    VectorOptions {
        hnsw_threshold: threshold,
        load_graphs,
        ..VectorOptions::default()
    }
}

/// Bytes of the files in `dir` whose names end with one of `suffixes`.
fn bytes_on_disk(dir: &Path, suffixes: &[&str]) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            suffixes.iter().any(|s| name.ends_with(s))
        })
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// (anonymous, file-backed) resident memory of this process, in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn threshold(uniform: bool, queries: usize, sizes: Vec<usize>) {
    println!("\n== flat scan vs hnsw, one segment, {queries} queries, recall target 0.95 ==");
    let defaults = VectorOptions::default().graph;
    println!(
        "graph: M {} ef_construction {}; build on {} rayon threads",
        defaults.max_connections,
        defaults.ef_construction,
        rayon_threads()
    );
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let mut data = Data::new(n as u64, uniform);
        let src = data.source(1, n);
        let store = VectorStore::open_with(dir.path(), DIM, options(0, true)).unwrap();
        let (t, c) = (Instant::now(), process_cpu());
        store.write_segment(1, 1, &src.ids, &src.vectors).unwrap();
        let (build, build_cpu) = (t.elapsed(), process_cpu() - c);
        let topics = vec![(n, src.anchors.clone())];
        let qs: Vec<Vec<f32>> = (0..queries).map(|_| data.query(&topics)).collect();
        drop(src);
        let exact_store = VectorStore::open_with(dir.path(), DIM, options(0, false)).unwrap();
        let t = Instant::now();
        store.preload(&[(1, 1)]).unwrap();
        let load = t.elapsed();
        exact_store.preload(&[(1, 1)]).unwrap();
        let (exact, flat) = run(&qs, |q| exact_store.search(q, &[(1, 1)], K).unwrap());
        println!(
            "n {n:>7}: build {:>7.2} s (cpu {:>7.2} s), reload {:>6.3} s | flat {}",
            build.as_secs_f64(),
            build_cpu.as_secs_f64(),
            load.as_secs_f64(),
            flat.show()
        );
        let mut chosen = None;
        for ef in EFS {
            let (got, lat) = run(&qs, |q| store.search_ef(q, &[(1, 1)], K, ef).unwrap());
            let r = recall(&got, &exact);
            println!("    ef {ef:>3}: recall {r:.3} | hnsw {}", lat.show());
            if r >= 0.95 && chosen.is_none() {
                chosen = Some((ef, lat.cpu_p50()));
            }
            if r >= 0.99 {
                break;
            }
        }
        match chosen {
            Some((ef, p50)) => println!(
                "  => n {n}: hnsw at ef {ef} is {:.1}x the flat scan's speed (cpu p50)",
                flat.cpu_p50() / p50
            ),
            None => println!("  => n {n}: no ef reached recall 0.95"),
        }
    }
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Zipf-like sizes (s = 1) summing to `total`, each at least 1.
fn skewed_sizes(total: usize, segments: usize) -> Vec<usize> {
    let h: f64 = (1..=segments).map(|i| 1.0 / i as f64).sum();
    let mut sizes: Vec<usize> = (1..=segments)
        .map(|i| ((total as f64 / (i as f64 * h)).round() as usize).max(1))
        .collect();
    let sum: usize = sizes.iter().sum();
    if sum > total {
        sizes[0] -= (sum - total).min(sizes[0] - 1);
    } else {
        sizes[0] += total - sum;
    }
    sizes
}

fn scale(
    total: usize,
    segments: usize,
    threshold: usize,
    ef: usize,
    queries: usize,
    flat_queries: usize,
    uniform: bool,
) {
    let sizes = skewed_sizes(total, segments);
    let graphs = sizes.iter().filter(|&&n| n > threshold).count();
    let in_graphs: usize = sizes.iter().filter(|&&n| n > threshold).sum();
    println!(
        "\n== {total} chunks in {segments} segments (largest {}, smallest {}), threshold \
         {threshold}: {graphs} segments with a graph hold {in_graphs} chunks; ef {} ==",
        sizes[0],
        sizes[sizes.len() - 1],
        if ef == 0 {
            "default".to_string()
        } else {
            ef.to_string()
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let mut data = Data::new(total as u64, uniform);
    let mut topics = Vec::new();
    let mut active = Vec::new();
    let (mut t_flat, mut t_graph, mut t_gen) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut cpu_graph = Duration::ZERO;
    {
        let store = VectorStore::open_with(dir.path(), DIM, options(threshold, true)).unwrap();
        let mut next_id = 1;
        for (i, &n) in sizes.iter().enumerate() {
            let key = (i as i64 + 1, 1);
            let t = Instant::now();
            let src = data.source(next_id, n);
            t_gen += t.elapsed();
            next_id += n as i64;
            let (t, c) = (Instant::now(), process_cpu());
            store
                .write_segment(key.0, key.1, &src.ids, &src.vectors)
                .unwrap();
            if n > threshold {
                t_graph += t.elapsed();
                cpu_graph += process_cpu() - c;
            } else {
                t_flat += t.elapsed();
            }
            topics.push((n, src.anchors));
            active.push(key);
        }
    }
    println!(
        "write: {:.2} s for flat segments ({:.2} µs/chunk), {:.2} s for graph segments \
         ({:.1} µs/chunk wall, {:.1} µs/chunk cpu, graph build on {} threads); data \
         generation {:.1} s",
        t_flat.as_secs_f64(),
        t_flat.as_secs_f64() * 1e6 / (total - in_graphs).max(1) as f64,
        t_graph.as_secs_f64(),
        t_graph.as_secs_f64() * 1e6 / in_graphs.max(1) as f64,
        cpu_graph.as_secs_f64() * 1e6 / in_graphs.max(1) as f64,
        rayon_threads(),
        t_gen.as_secs_f64()
    );
    let seg_bytes = bytes_on_disk(dir.path(), &[".vec"]);
    let graph_bytes = bytes_on_disk(dir.path(), &[".hnsw.graph", ".hnsw.sum"]);
    let data_bytes = bytes_on_disk(dir.path(), &[".hnsw.data"]);
    println!(
        "disk: segments {:.0} B/chunk; hnsw graph {:.0} B and hnsw data {:.0} B per graph \
         chunk; all files {:.0} B/chunk",
        seg_bytes as f64 / total as f64,
        graph_bytes as f64 / in_graphs.max(1) as f64,
        data_bytes as f64 / in_graphs.max(1) as f64,
        (seg_bytes + graph_bytes + data_bytes) as f64 / total as f64
    );
    let qs: Vec<Vec<f32>> = (0..queries).map(|_| data.query(&topics)).collect();
    drop(topics);

    // The store as configured.
    let (anon0, file0) = rss();
    let store = VectorStore::open_with(dir.path(), DIM, options(threshold, true)).unwrap();
    let t = Instant::now();
    store.preload(&active).unwrap();
    let load = t.elapsed();
    let (anon1, file1) = rss();
    let (got, lat) = run(&qs, |q| {
        if ef == 0 {
            store.search(q, &active, K).unwrap()
        } else {
            store.search_ef(q, &active, K, ef).unwrap()
        }
    });
    let (anon2, file2) = rss();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "load {:.2} s; memory after load: heap +{:.0} MiB ({:.0} B/chunk), mapped +{:.0} MiB; \
         after queries: heap +{:.0} MiB, mapped +{:.0} MiB ({:.0} B/chunk)",
        load.as_secs_f64(),
        mib(anon1.saturating_sub(anon0)),
        anon1.saturating_sub(anon0) as f64 / total as f64,
        mib(file1.saturating_sub(file0)),
        mib(anon2.saturating_sub(anon0)),
        mib(file2.saturating_sub(file0)),
        file2.saturating_sub(file0) as f64 / total as f64,
    );
    // Exact reference: every segment scanned.
    let exact_store = VectorStore::open_with(dir.path(), DIM, options(threshold, false)).unwrap();
    exact_store.preload(&active).unwrap();
    let n_flat = flat_queries.min(qs.len());
    let (exact, flat) = run(&qs[..n_flat], |q| {
        exact_store.search(q, &active, K).unwrap()
    });
    println!("all flat  ({n_flat:>4} queries): {}", flat.show());
    println!(
        "threshold ({:>4} queries): {} recall@{K} {:.3}",
        qs.len(),
        lat.show(),
        recall(&got[..n_flat], &exact)
    );
}
