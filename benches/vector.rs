//! Vector index micro-benchmarks: the dot-product kernels, the flat scan of one segment, an
//! hnsw search, and a whole search over many segments. `examples/vector_bench.rs` has the
//! latency percentiles, recall and memory figures at 10k–1M chunks.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lore::vector::synth::{Clustered, Rng};
use lore::vector::{Kernel, SegmentKey, VectorOptions, VectorStore};
use std::hint::black_box;

const DIM: usize = 384;

fn kernels(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    let a = rng.gaussian_vec(DIM);
    let b = rng.gaussian_vec(DIM);
    let mut g = c.benchmark_group("dot384");
    for k in Kernel::available() {
        g.bench_function(k.name(), |bench| {
            bench.iter(|| black_box(k.dot(black_box(&a), black_box(&b))))
        });
    }
    g.finish();
    // A block of rows, as the flat scan does it (in cache: the kernel's own speed).
    let rows: Vec<f32> = (0..DIM * 1024).map(|_| rng.gaussian()).collect();
    let mut out = vec![0f32; 1024];
    let mut g = c.benchmark_group("dots384x1024");
    g.throughput(Throughput::Elements(1024));
    for k in Kernel::available() {
        g.bench_function(k.name(), |bench| {
            bench.iter(|| k.dots(black_box(&rows), DIM, black_box(&a), &mut out))
        });
    }
    g.finish();
}

/// A store with one segment per size, clustered vectors, and queries near their topics.
fn store(
    sizes: &[usize],
    threshold: usize,
) -> (
    tempfile::TempDir,
    VectorStore,
    Vec<SegmentKey>,
    Vec<Vec<f32>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let options = VectorOptions {
        hnsw_threshold: threshold,
        ..VectorOptions::default()
    };
    let store = VectorStore::open_with(dir.path(), DIM, options).unwrap();
    let mut rng = Rng::new(2);
    let space = Clustered::new(&mut rng, DIM, 50);
    let mut keys = Vec::new();
    let mut queries = Vec::new();
    let mut next = 1;
    for (i, &n) in sizes.iter().enumerate() {
        let topics = space.topics(&mut rng, 1 + n / 100);
        let vectors = space.chunks(&mut rng, &topics, n);
        let ids: Vec<i64> = (next..next + n as i64).collect();
        next += n as i64;
        let key = (i as i64 + 1, 1);
        store.write_segment(key.0, key.1, &ids, &vectors).unwrap();
        keys.push(key);
        for _ in 0..4 {
            let anchor = &vectors[rng.below(n)];
            queries.push(space.query(&mut rng, anchor));
        }
    }
    store.preload(&keys).unwrap();
    (dir, store, keys, queries)
}

fn search(c: &mut Criterion) {
    let mut g = c.benchmark_group("vector-search-top10");
    g.sample_size(30);
    {
        let (_dir, store, keys, queries) = store(&[10_000], usize::MAX);
        let mut i = 0;
        g.bench_function("flat-10k", |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(store.search(&queries[i], &keys, 10).unwrap())
            })
        });
    }
    {
        let (_dir, store, keys, queries) = store(&[20_000], 0);
        let mut i = 0;
        g.bench_function("hnsw-20k", |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(store.search(&queries[i], &keys, 10).unwrap())
            })
        });
    }
    {
        // 100 segments, 20k chunks, skewed sizes, the default threshold.
        let sizes: Vec<usize> = (1..=100).map(|i| (3_860 / i).max(1)).collect();
        let (_dir, store, keys, queries) = store(&sizes, VectorOptions::default().hnsw_threshold);
        let mut i = 0;
        g.bench_function("100-segments-20k", |b| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(store.search(&queries[i], &keys, 10).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, search);
criterion_main!(benches);
