use super::synth::{self, Rng};
use super::*;

/// Small dimension keeps the debug-build tests fast; nothing in the store depends on it.
const DIM: usize = 32;

fn options(threshold: usize) -> VectorOptions {
    VectorOptions {
        hnsw_threshold: threshold,
        ..VectorOptions::default()
    }
}

fn ids(start: i64, n: usize) -> Vec<i64> {
    (start..start + n as i64).collect()
}

/// A segment's pair, chunk ids and vectors.
type TestSegment = (SegmentKey, Vec<i64>, Vec<Vec<f32>>);

/// The exact top-k by brute force in f64, the reference every search is checked against.
fn naive(
    query: &[f32],
    segments: &[TestSegment],
    active: &[SegmentKey],
    k: usize,
) -> Vec<(i64, f64)> {
    let mut all: Vec<(i64, f64)> = segments
        .iter()
        .filter(|(key, _, _)| active.contains(key))
        .flat_map(|(_, ids, vs)| {
            ids.iter().zip(vs).map(|(id, v)| {
                let dot: f64 = v
                    .iter()
                    .zip(query)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum();
                (*id, dot)
            })
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

/// Random segments of the given sizes, chunk ids unique across them.
fn random_segments(rng: &mut Rng, sizes: &[usize]) -> Vec<TestSegment> {
    let mut next_id = 1;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let seg = ((i as i64 / 2) + 1, (i as u32 % 2) + 1);
            let v = synth::uniform(rng, n, DIM);
            let ids = ids(next_id, n);
            next_id += n as i64;
            (seg, ids, v)
        })
        .collect()
}

fn write_all(store: &VectorStore, segs: &[TestSegment]) {
    for ((s, v), ids, vectors) in segs {
        store.write_segment(*s, *v, ids, vectors).unwrap();
    }
}

fn chunk_ids(hits: &[VectorHit]) -> Vec<i64> {
    hits.iter().map(|h| h.chunk_id).collect()
}

#[test]
fn exact_search_equals_a_naive_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(usize::MAX)).unwrap();
    let mut rng = Rng::new(1);
    let segs = random_segments(&mut rng, &[300, 1, 0, 57, 129, 640]);
    write_all(&store, &segs);
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).collect();
    for k in [1, 10, 50, 2000] {
        for _ in 0..10 {
            let q = synth::uniform(&mut rng, 1, DIM).remove(0);
            let hits = store.search(&q, &active, k).unwrap();
            let want = naive(&q, &segs, &active, k);
            assert_eq!(hits.len(), want.len());
            assert_eq!(
                chunk_ids(&hits),
                want.iter().map(|w| w.0).collect::<Vec<_>>()
            );
            for (h, w) in hits.iter().zip(&want) {
                assert!((h.score as f64 - w.1).abs() < 1e-5);
            }
            let seg = segs
                .iter()
                .find(|s| s.1.contains(&hits[0].chunk_id))
                .unwrap();
            assert_eq!((hits[0].source_id, hits[0].version), seg.0);
        }
    }
}

#[test]
fn search_sees_only_the_active_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(100)).unwrap();
    let mut rng = Rng::new(2);
    // (1,1) flat, (1,2) graph, (2,1) flat, (2,2) graph.
    let segs = random_segments(&mut rng, &[50, 300, 80, 200]);
    write_all(&store, &segs);
    let active = [(1, 2), (2, 1)];
    for _ in 0..20 {
        let q = synth::uniform(&mut rng, 1, DIM).remove(0);
        let hits = store.search(&q, &active, 1000).unwrap();
        assert!(!hits.is_empty());
        assert!(hits
            .iter()
            .all(|h| active.contains(&(h.source_id, h.version))));
    }
    // A query equal to a stored vector of an inactive segment does not find it.
    let q = &segs[0].2[0];
    let hits = store.search(q, &active, 5).unwrap();
    assert!(!chunk_ids(&hits).contains(&segs[0].1[0]));
    let hits = store.search(q, &[(1, 1)], 5).unwrap();
    assert_eq!(hits[0].chunk_id, segs[0].1[0]);
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    // Nothing active, k = 0, or pairs without a segment: no hits, no error.
    assert!(store.search(q, &[], 5).unwrap().is_empty());
    assert!(store.search(q, &active, 0).unwrap().is_empty());
    assert!(store.search(q, &[(9, 9)], 5).unwrap().is_empty());
    // Duplicated pairs do not duplicate hits.
    let hits = store.search(q, &[(1, 1), (1, 1)], 3).unwrap();
    assert_eq!(hits.len(), 3);
    assert_ne!(hits[0].chunk_id, hits[1].chunk_id);
}

#[test]
fn results_survive_a_restart_and_graphs_are_reloaded_not_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    let segs = random_segments(&mut rng, &[120, 700, 40]);
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).collect();
    let queries = synth::uniform(&mut rng, 20, DIM);
    let before: Vec<Vec<VectorHit>> = {
        let store = VectorStore::open_with(dir.path(), DIM, options(500)).unwrap();
        write_all(&store, &segs);
        queries
            .iter()
            .map(|q| store.search(q, &active, 10).unwrap())
            .collect()
    };
    let store = VectorStore::open_with(dir.path(), DIM, options(500)).unwrap();
    assert_eq!(store.segments().unwrap(), {
        let mut a = active.clone();
        a.sort();
        a
    });
    for (q, want) in queries.iter().zip(&before) {
        assert_eq!(&store.search(q, &active, 10).unwrap(), want);
    }
    let loaded = store.loaded();
    assert_eq!(loaded.len(), 3);
    let big = loaded.iter().find(|s| s.count == 700).unwrap();
    assert!(big.graph, "the dumped graph was loaded");
    assert!(loaded.iter().filter(|s| s.count != 700).all(|s| !s.graph));
}

#[test]
fn hnsw_recall_at_10_is_at_least_95_percent() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(4);
    let n = 3000;
    let vectors = synth::uniform(&mut rng, n, DIM);
    let segs = vec![((1, 1), ids(1, n), vectors)];
    // The default graph and search parameters. (Test builds optimise lore a little, see
    // Cargo.toml: hnsw_rs's generic code is compiled in lore, and unoptimised it is ten times
    // slower.)
    let options = options(1000);
    let store = VectorStore::open_with(dir.path(), DIM, options).unwrap();
    write_all(&store, &segs);
    assert!(store.search(&segs[0].2[0], &[(1, 1)], 1).is_ok());
    assert!(store.loaded()[0].graph);
    let queries = 100;
    let mut found = 0;
    for _ in 0..queries {
        let q = synth::uniform(&mut rng, 1, DIM).remove(0);
        let got = chunk_ids(&store.search(&q, &[(1, 1)], 10).unwrap());
        let want = naive(&q, &segs, &[(1, 1)], 10);
        found += want.iter().filter(|w| got.contains(&w.0)).count();
    }
    let recall = found as f64 / (queries * 10) as f64;
    assert!(recall >= 0.95, "recall@10 = {recall}");
}

#[test]
fn concurrent_searches_from_several_threads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    let segs = random_segments(&mut rng, &[400, 60, 900, 10]);
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).collect();
    let queries = synth::uniform(&mut rng, 30, DIM);
    let want: Vec<Vec<VectorHit>> = {
        let store = VectorStore::open_with(dir.path(), DIM, options(500)).unwrap();
        write_all(&store, &segs);
        queries
            .iter()
            .map(|q| store.search(q, &active, 10).unwrap())
            .collect()
    };
    // A fresh store: the threads race to load the segments too.
    let store = Arc::new(VectorStore::open_with(dir.path(), DIM, options(500)).unwrap());
    let queries = Arc::new(queries);
    let want = Arc::new(want);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (store, queries, want, active) =
                (store.clone(), queries.clone(), want.clone(), active.clone());
            std::thread::spawn(move || {
                for round in 0..5 {
                    for i in 0..queries.len() {
                        let i = (i + t + round) % queries.len();
                        let hits = store.search(&queries[i], &active, 10).unwrap();
                        assert_eq!(hits, want[i]);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.loaded().len(), 4);
}

fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{suffix}");
    found.remove(0)
}

fn assert_internal_naming(err: Error, file: &Path, what: &str) {
    let text = err.to_string();
    assert!(matches!(err, Error::Internal(_)), "{text}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains(&name), "{text}");
    assert!(text.contains(what), "{text} should say {what}");
}

#[test]
fn a_corrupt_or_truncated_segment_is_an_internal_error_naming_the_file() {
    let mut rng = Rng::new(6);
    let segs = random_segments(&mut rng, &[100]);
    let q = synth::uniform(&mut rng, 1, DIM).remove(0);
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage); 7] = [
        ("truncated", |b| b.truncate(b.len() - 7)),
        ("truncated", |b| b.truncate(20)),
        ("trailing garbage", |b| b.extend_from_slice(b"xx")),
        ("bad magic", |b| b[0] ^= 1),
        ("corrupt header", |b| b[16] ^= 1),
        ("corrupt chunk ids", |b| b[70] ^= 1),
        ("corrupt vectors", |b| {
            let n = b.len();
            b[n - 3] ^= 0x40
        }),
    ];
    for (what, damage) in cases {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open_with(dir.path(), DIM, options(usize::MAX)).unwrap();
        write_all(&store, &segs);
        let path = only_file(dir.path(), ".vec");
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let err = store.search(&q, &[(1, 1)], 5).unwrap_err();
        assert_internal_naming(err, &path, what);
    }
    // A segment of another dimension, or renamed to another pair.
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(usize::MAX)).unwrap();
    write_all(&store, &segs);
    let other = VectorStore::open_with(dir.path(), DIM * 2, options(usize::MAX)).unwrap();
    let path = only_file(dir.path(), ".vec");
    let q2 = synth::uniform(&mut rng, 1, DIM * 2).remove(0);
    assert_internal_naming(
        other.search(&q2, &[(1, 1)], 5).unwrap_err(),
        &path,
        "dimension",
    );
    let renamed = dir.path().join("s7-v1.vec");
    std::fs::rename(&path, &renamed).unwrap();
    assert_internal_naming(
        store.search(&q, &[(7, 1)], 5).unwrap_err(),
        &renamed,
        "its name",
    );
}

#[test]
fn a_missing_or_damaged_graph_falls_back_to_the_exact_scan() {
    let mut rng = Rng::new(7);
    let segs = random_segments(&mut rng, &[600]);
    let queries = synth::uniform(&mut rng, 10, DIM);
    for victim in [".hnsw.sum", ".hnsw.graph", ".hnsw.data"] {
        for remove in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let store = VectorStore::open_with(dir.path(), DIM, options(500)).unwrap();
            write_all(&store, &segs);
            let path = only_file(dir.path(), victim);
            if remove {
                std::fs::remove_file(&path).unwrap();
            } else {
                let mut b = std::fs::read(&path).unwrap();
                let mid = b.len() / 2;
                b[mid] ^= 0x5a;
                std::fs::write(&path, &b).unwrap();
            }
            let store = VectorStore::open_with(dir.path(), DIM, options(500)).unwrap();
            for q in &queries {
                let hits = store.search(q, &[(1, 1)], 10).unwrap();
                let want = naive(q, &segs, &[(1, 1)], 10);
                assert_eq!(
                    chunk_ids(&hits),
                    want.iter().map(|w| w.0).collect::<Vec<_>>()
                );
            }
            assert!(!store.loaded()[0].graph, "{victim} removed: {remove}");
        }
    }
}

#[test]
fn retain_deletes_what_is_not_kept_and_stale_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(200)).unwrap();
    let mut rng = Rng::new(8);
    let segs = random_segments(&mut rng, &[10, 300, 20, 250]);
    write_all(&store, &segs);
    assert_eq!(
        store.segments().unwrap(),
        vec![(1, 1), (1, 2), (2, 1), (2, 2)]
    );
    let q = synth::uniform(&mut rng, 1, DIM).remove(0);
    store
        .search(&q, &[(1, 1), (1, 2), (2, 1), (2, 2)], 3)
        .unwrap();
    // A crash's leftovers (old) and a write in flight (new).
    let stale = dir.path().join(".tmp-crashed");
    std::fs::write(&stale, b"half a segment").unwrap();
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let stale_dir = dir.path().join(".tmp-dump");
    std::fs::create_dir(&stale_dir).unwrap();
    std::fs::write(stale_dir.join("g.hnsw.graph"), b"x").unwrap();
    std::fs::File::open(&stale_dir)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let fresh = dir.path().join(".tmp-writing");
    std::fs::write(&fresh, b"in flight").unwrap();
    let foreign = dir.path().join("README");
    std::fs::write(&foreign, b"not ours").unwrap();

    let keep: HashSet<SegmentKey> = [(1, 2), (2, 1)].into_iter().collect();
    assert_eq!(store.retain(&keep).unwrap(), 2);
    assert_eq!(store.segments().unwrap(), vec![(1, 2), (2, 1)]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ".tmp-writing",
            "README",
            "s1-v2.hnsw.data",
            "s1-v2.hnsw.graph",
            "s1-v2.hnsw.sum",
            "s1-v2.vec",
            "s2-v1.vec"
        ]
    );
    // Unloaded, and searches of the kept ones still work.
    assert_eq!(store.loaded().len(), 2);
    let hits = store
        .search(&q, &[(1, 1), (1, 2), (2, 1), (2, 2)], 1000)
        .unwrap();
    assert_eq!(hits.len(), 320);
    assert_eq!(store.retain(&keep).unwrap(), 0);
}

#[test]
fn delete_and_rewrite_replace_what_searches_see() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(100)).unwrap();
    let mut rng = Rng::new(9);
    let a = synth::uniform(&mut rng, 150, DIM);
    store.write_segment(1, 1, &ids(1, 150), &a).unwrap();
    let hits = store.search(&a[3], &[(1, 1)], 1).unwrap();
    assert_eq!(hits[0].chunk_id, 4);
    // Rewritten smaller (no graph): the old graph files go, the cache is refreshed.
    let b = synth::uniform(&mut rng, 20, DIM);
    store.write_segment(1, 1, &ids(1000, 20), &b).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 1);
    let hits = store.search(&b[5], &[(1, 1)], 1).unwrap();
    assert_eq!(hits[0].chunk_id, 1005);
    store.delete_segment(1, 1).unwrap();
    store.delete_segment(1, 1).unwrap();
    assert!(store.segments().unwrap().is_empty());
    assert!(store.search(&b[5], &[(1, 1)], 1).unwrap().is_empty());
    assert!(store.loaded().is_empty());
}

#[test]
fn bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open(dir.path(), DIM).unwrap();
    let mut rng = Rng::new(10);
    let v = synth::uniform(&mut rng, 3, DIM);
    let refused = |r: Result<()>, what: &str| {
        let e = r.unwrap_err();
        assert!(
            matches!(e, Error::Internal(_)) && e.to_string().contains(what),
            "{e}"
        );
    };
    refused(
        store.write_segment(1, 1, &[1, 2], &v),
        "2 chunk ids for 3 vectors",
    );
    let mut long = v.clone();
    long[1].push(0.0);
    refused(store.write_segment(1, 1, &[1, 2, 3], &long), "dimensions");
    let mut unnormalised = v.clone();
    unnormalised[2][0] += 1.0;
    refused(
        store.write_segment(1, 1, &[1, 2, 3], &unnormalised),
        "not L2-normalised",
    );
    let mut nan = v.clone();
    nan[0][0] = f32::NAN;
    refused(store.write_segment(1, 1, &[1, 2, 3], &nan), "NaN");
    assert!(store.segments().unwrap().is_empty());
    assert!(store.search(&v[0][1..], &[(1, 1)], 1).is_err());
    assert!(store.search(&nan[0], &[(1, 1)], 1).is_err());
    assert!(VectorStore::open(dir.path(), 0).is_err());
}

#[test]
fn file_names_round_trip() {
    for key in [(1, 1), (123, 4_000_000_000), (-5, 0), (i64::MAX, u32::MAX)] {
        assert_eq!(
            parse_name(&format!("{}.vec", stem(key))),
            Some((key, FileKind::Segment))
        );
        assert_eq!(
            parse_name(&format!("{}.hnsw.sum", stem(key))),
            Some((key, FileKind::Graph))
        );
    }
    for name in [
        "s1-v1.vec.bak",
        "s01-v1.vec",
        "x1-v1.vec",
        "s1-v.vec",
        ".tmp-s1-v1.vec",
        "s1.vec",
    ] {
        assert_eq!(parse_name(name), None, "{name}");
    }
}

#[test]
fn ties_are_broken_by_pair_and_chunk() {
    let mut top = TopK::new(2);
    for (chunk_id, source_id) in [(5, 2), (9, 1), (3, 2), (4, 1)] {
        top.push(VectorHit {
            chunk_id,
            source_id,
            version: 1,
            score: 0.5,
        });
    }
    let got: Vec<(i64, i64)> = top
        .into_sorted()
        .iter()
        .map(|h| (h.source_id, h.chunk_id))
        .collect();
    assert_eq!(got, vec![(1, 4), (1, 9)]);
}

/// Options that merge small segments early: indexes of at least `min` vectors, two per class.
fn merging(min: usize) -> VectorOptions {
    VectorOptions {
        merge_min: min,
        merge_fanout: 2,
        ..VectorOptions::default()
    }
}

fn merged_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".ivf"))
        .collect();
    names.sort();
    names
}

#[test]
fn merged_indexes_serve_only_active_unchanged_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, merging(200)).unwrap();
    let mut rng = Rng::new(11);
    // Versions 1 and 2 of sources 1..=4, 100 vectors each.
    let segs = random_segments(&mut rng, &[100; 8]);
    write_all(&store, &segs);
    assert_eq!(store.compact().unwrap(), 800);
    assert_eq!(merged_files(dir.path()), vec!["m0.ivf"]);
    // Nothing new to cover: a second compaction does nothing.
    assert_eq!(store.compact().unwrap(), 0);
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).filter(|k| k.1 == 2).collect();
    for _ in 0..30 {
        let q = synth::uniform(&mut rng, 1, DIM).remove(0);
        let hits = store.search(&q, &active, 10).unwrap();
        assert_eq!(hits.len(), 10);
        assert!(hits
            .iter()
            .all(|h| active.contains(&(h.source_id, h.version))));
        // Scores are exact cosines, as the scan's.
        let want = naive(&q, &segs, &active, 10);
        for h in &hits {
            let exact = want.iter().find(|w| w.0 == h.chunk_id).map(|w| w.1);
            if let Some(exact) = exact {
                assert!((h.score as f64 - exact).abs() < 1e-5);
            }
        }
    }
    // A vector of an inactive version is never found, even by itself.
    let inactive = &segs[0];
    assert_eq!(inactive.0 .1, 1);
    let hits = store.search(&inactive.2[0], &active, 10).unwrap();
    assert!(!chunk_ids(&hits).contains(&inactive.1[0]));
    // A segment rewritten since the index was built is served from its new file.
    let (key, old_ids, old_vectors) = &segs[1];
    let new_vectors = synth::uniform(&mut rng, 100, DIM);
    let new_ids = ids(10_000, 100);
    store
        .write_segment(key.0, key.1, &new_ids, &new_vectors)
        .unwrap();
    let hits = store.search(&new_vectors[5], &active, 3).unwrap();
    assert_eq!(hits[0].chunk_id, new_ids[5]);
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    let hits = store.search(&old_vectors[5], &active, 10).unwrap();
    assert!(!chunk_ids(&hits).iter().any(|id| old_ids.contains(id)));
    // A deleted segment's vectors are gone although the index still holds them.
    let (key, gone_ids, gone_vectors) = &segs[3];
    store.delete_segment(key.0, key.1).unwrap();
    let hits = store.search(&gone_vectors[0], &active, 10).unwrap();
    assert!(!chunk_ids(&hits).iter().any(|id| gone_ids.contains(id)));
    // A restart reads the list and serves the same.
    let again = VectorStore::open_with(dir.path(), DIM, merging(200)).unwrap();
    let q = synth::uniform(&mut rng, 1, DIM).remove(0);
    assert_eq!(
        again.search(&q, &active, 10).unwrap(),
        store.search(&q, &active, 10).unwrap()
    );
}

#[test]
fn compaction_merges_size_classes_and_removes_what_it_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, merging(200)).unwrap();
    let mut rng = Rng::new(12);
    let segs = random_segments(&mut rng, &[100; 8]);
    write_all(&store, &segs[..2]);
    assert_eq!(store.compact().unwrap(), 200);
    write_all(&store, &segs[2..4]);
    // A second index of the same class: the two become one of 400.
    assert_eq!(store.compact().unwrap(), 200 + 400);
    assert_eq!(merged_files(dir.path()), vec!["m2.ivf"]);
    // Most of its members gone: the index is dropped, the rest is scanned (below the minimum).
    let keep: HashSet<SegmentKey> = [segs[0].0].into_iter().collect();
    store.retain(&keep).unwrap();
    assert_eq!(store.compact().unwrap(), 0);
    assert!(merged_files(dir.path()).is_empty());
    let q = &segs[0].2[7];
    assert_eq!(
        store.search(q, &[segs[0].0], 1).unwrap()[0].chunk_id,
        segs[0].1[7]
    );
}

#[test]
fn a_damaged_merged_index_falls_back_to_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, merging(200)).unwrap();
    let mut rng = Rng::new(13);
    let segs = random_segments(&mut rng, &[100; 4]);
    write_all(&store, &segs);
    store.compact().unwrap();
    let path = dir.path().join("m0.ivf");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, merging(200)).unwrap();
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).collect();
    for _ in 0..10 {
        let q = synth::uniform(&mut rng, 1, DIM).remove(0);
        let hits = store.search(&q, &active, 10).unwrap();
        let want = naive(&q, &segs, &active, 10);
        assert_eq!(
            chunk_ids(&hits),
            want.iter().map(|w| w.0).collect::<Vec<_>>()
        );
    }
}

#[test]
fn merged_index_recall_at_10_against_the_exact_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(14);
    let world = synth::Clustered::new(&mut rng, DIM, 30);
    let mut segs = Vec::new();
    let mut next = 1;
    for s in 0..60 {
        let topics = world.topics(&mut rng, 3);
        let v = world.chunks(&mut rng, &topics, 100);
        segs.push(((s + 1, 1), ids(next, 100), v));
        next += 100;
    }
    let store = VectorStore::open_with(dir.path(), DIM, merging(1000)).unwrap();
    write_all(&store, &segs);
    assert_eq!(store.compact().unwrap(), 6000);
    let active: Vec<SegmentKey> = segs.iter().map(|s| s.0).collect();
    let queries = 100;
    let mut found = 0;
    for _ in 0..queries {
        let seg = &segs[rng.below(segs.len())];
        let row = rng.below(100);
        let q = world.query(&mut rng, &seg.2[row]);
        let got = chunk_ids(&store.search(&q, &active, 10).unwrap());
        let want = naive(&q, &segs, &active, 10);
        found += want.iter().filter(|w| got.contains(&w.0)).count();
    }
    let recall = found as f64 / (queries * 10) as f64;
    assert!(recall >= 0.9, "recall@10 = {recall}");
}

#[test]
fn a_segment_another_process_writes_later_is_found_by_the_next_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = VectorStore::open_with(dir.path(), DIM, options(1000)).unwrap();
    let mut rng = Rng::new(14);
    let a = synth::uniform(&mut rng, 10, DIM);
    store.write_segment(1, 1, &ids(1, 10), &a).unwrap();
    // (2, 1) is active but has no vectors yet (published text-only, backfilled later).
    let active = [(1, 1), (2, 1)];
    let b = synth::uniform(&mut rng, 10, DIM);
    assert_ne!(store.search(&b[4], &active, 1).unwrap()[0].chunk_id, 105);
    let other = VectorStore::open_with(dir.path(), DIM, options(1000)).unwrap();
    other.write_segment(2, 1, &ids(101, 10), &b).unwrap();
    assert_eq!(store.search(&b[4], &active, 1).unwrap()[0].chunk_id, 105);
}
