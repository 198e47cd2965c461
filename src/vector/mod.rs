//! Vector index: the embeddings of one knowledge base, one immutable segment per
//! `(source, version)`, searched by cosine similarity over the active pairs only.
//!
//! It mirrors the full-text index's rule (see `ARCHITECTURE.md`, "versions as immutable
//! segments"): the store never decides what is visible. A search names the `(source, version)`
//! pairs the catalog says are active, so publish, revert, enable and disable need no write
//! here, and a segment written by a version that never got published is simply never asked
//! for (and later garbage-collected by [`VectorStore::retain`]).
//!
//! # Files (in `kbs/<id>/vectors/`)
//!
//! ```text
//! s<source>-v<version>.vec          the segment: chunk ids + f32 matrix (see `segment`)
//! s<source>-v<version>.hnsw.graph   hnsw graph dump, for segments above the threshold
//! s<source>-v<version>.hnsw.data    hnsw data dump (memory-mapped on reload)
//! s<source>-v<version>.hnsw.sum     manifest binding the dump to the segment; written last
//! .tmp-*                            in-flight writes; left behind only by a crash
//! ```
//!
//! Every file is written under a `.tmp-` name, fsynced and renamed, and the folder is fsynced
//! after the renames, so a crash leaves either the old state or the new one, plus temporaries
//! that `retain` removes. A segment whose graph is missing or does not match is still
//! searched, exactly, by the flat scan (with a warning).
//!
//! # Search
//!
//! Segments with at most [`VectorOptions::hnsw_threshold`] vectors are scanned exactly: a
//! SIMD dot product per row ([`Kernel`]) over the memory-mapped matrix, feeding one top-k heap
//! shared by all segments (so later segments are mostly rejected by a single comparison).
//! Larger segments are searched with their hnsw graph (`k` results each, `ef_search` wide) and
//! merged into the same heap. Ties are broken by `(source, version, chunk)` so results are
//! deterministic.
//!
//! Cost: the scan is bound by memory bandwidth (1.5 KB per 384-dim vector: ~55 ns per vector
//! in cache, ~110 ns from memory); a graph search costs 0.05–0.2 ms per segment whatever its
//! size. So a query's cost grows with the number of active segments as much as with the
//! number of chunks; `examples/vector_bench.rs` has the figures.
//!
//! # Memory and caching policy: load on first use, keep until deleted
//!
//! A segment is opened the first time a search names it, and stays loaded until
//! `delete_segment` or `retain` removes it (or the store is dropped). Only active versions are
//! searched, plus the odd reverted one, so the resident set is the active set. What "loaded"
//! costs:
//! * flat segments: the chunk ids (8 bytes per vector) on the heap; the matrix is a memory
//!   map, so its pages live in the OS page cache, shared between processes and reclaimable;
//! * hnsw segments: hnsw_rs's graph on the heap (pointer-based: about 1.1 KB per vector at 16
//!   connections, measured) and its data dump memory-mapped (the segment's own matrix is then
//!   mapped but not touched).
//!
//! No LRU: evicting an active segment would only move its load cost onto some user's query.
//! [`VectorStore::preload`] loads the active set up front (at server start).
//!
//! # Concurrency
//!
//! `search` takes `&self` and runs from any number of threads: loaded segments are shared
//! `Arc`s behind an `RwLock` held only to look them up; a segment is loaded by one thread
//! while others that need the same one wait for it. Writes (`write_segment`,
//! `delete_segment`, `retain`) are serialised by a mutex. Across processes, only the holder of
//! the knowledge base's ingest lock writes; readers in other processes are safe because files
//! are replaced by rename, never modified, and graphs are loaded from private hard links.

mod checksum;
mod graph;
mod ivf;
mod kernel;
mod merged;
mod segment;
#[doc(hidden)]
pub mod synth;

pub use graph::GraphParams;
pub use kernel::Kernel;

use crate::error::{Error, Result};
use graph::{Graph, Unavailable};
use segment::SegmentFile;
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Prefix of every temporary file or folder in the vectors folder.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Largest accepted dimension; anything above is a configuration error.
const MAX_DIM: usize = 1 << 16;

/// Tolerance on `|‖v‖² − 1|` for stored vectors: normalisation in f32 (or from f16) is off by
/// far less; a larger error means the caller forgot to normalise, and cosine would be wrong.
const NORM_TOLERANCE: f32 = 1e-2;

/// The hnsw search width is at least `count / EF_PER_VECTORS` for a segment of `count`
/// vectors (see `search_graph`).
const EF_PER_VECTORS: usize = 256;

/// A `(source_id, version)` pair.
pub type SegmentKey = (i64, u32);

/// Tuning of a [`VectorStore`]. The defaults come from `examples/vector_bench.rs` (384
/// dimensions, clustered data, one core); see `ARCHITECTURE.md`.
#[derive(Debug, Clone)]
pub struct VectorOptions {
    /// Segments with more vectors than this get an hnsw graph; smaller ones are scanned.
    pub hnsw_threshold: usize,
    /// Graph construction parameters.
    pub graph: GraphParams,
    /// Candidate list size of an hnsw search; at least `k`, and at least 1/256 of the
    /// segment's vectors are used.
    pub ef_search: usize,
    /// Load and use the hnsw graphs. `false` scans every segment exactly: the reference for
    /// measuring recall, or a way to rule the graphs out.
    pub load_graphs: bool,
    /// Temporary files younger than this are in-flight writes (maybe of another process) and
    /// are left alone by [`VectorStore::retain`].
    pub temp_grace: Duration,
    /// [`VectorStore::compact`] gives small segments that no merged index covers one once
    /// they hold this many vectors; fewer are scanned (`usize::MAX`: never merge).
    pub merge_min: usize,
    /// Merged indexes of one size class are merged into one when there are this many (at
    /// least 2).
    pub merge_fanout: usize,
    /// A merged index's search scans the `merged_probe × √clusters` clusters nearest to the
    /// query (at least 32): more finds more of the true neighbours and costs proportionally.
    pub merged_probe: f64,
    /// A merged index's candidates rescored exactly, per neighbour asked.
    pub merged_rescore: usize,
}

impl Default for VectorOptions {
    fn default() -> Self {
        VectorOptions {
            hnsw_threshold: 1_000,
            graph: GraphParams {
                max_connections: 16,
                ef_construction: 100,
            },
            ef_search: 32,
            load_graphs: true,
            temp_grace: Duration::from_secs(3600),
            // ~0.45 ms of scanning at most (110 ns per vector from memory).
            merge_min: 4096,
            merge_fanout: 4,
            // 8% of the clusters at 100k vectors (recall@10 0.96 in search_latency), 4.5% at
            // a million.
            merged_probe: 2.5,
            merged_rescore: 4,
        }
    }
}

/// One result of a vector search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VectorHit {
    pub chunk_id: i64,
    pub source_id: i64,
    pub version: u32,
    /// Cosine similarity (dot product of unit vectors), in [-1, 1].
    pub score: f32,
}

/// What a loaded segment is, for introspection and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub source_id: i64,
    pub version: u32,
    pub count: usize,
    /// Searched through its hnsw graph (else by the flat scan).
    pub graph: bool,
}

/// A loaded segment.
struct Segment {
    file: SegmentFile,
    graph: Option<Graph>,
}

/// The vector index of one knowledge base. See the module documentation.
pub struct VectorStore {
    dir: PathBuf,
    dim: usize,
    options: VectorOptions,
    kernel: Kernel,
    loaded: RwLock<HashMap<SegmentKey, Arc<Segment>>>,
    /// Per-segment locks: one loader per segment, and no load racing its own rewrite.
    key_locks: Mutex<HashMap<SegmentKey, Arc<Mutex<()>>>>,
    writer: Mutex<()>,
    /// One reloader of the merged graphs at a time.
    writer_reload: Mutex<()>,
    /// The merged graphs (see `merged`), reloaded when their list file changes.
    merged: RwLock<Arc<merged::Set>>,
    /// Bumped whenever `loaded` changes: the last resolution is only reused under the same
    /// value (see [`Resolved`]).
    loaded_generation: std::sync::atomic::AtomicU64,
    /// The last search's resolution of its active segments.
    resolved: Mutex<Option<Arc<Resolved>>>,
}

/// The active segments of a search, resolved to loaded segments, and which members of each
/// merged index they make live. Searches ask for the same active list again and again (it
/// changes when a version is published), and resolving a thousand segments cost 0.1–0.2 ms
/// a search at 100k vectors; it is reused while the list, the loaded segments and the
/// merged indexes are unchanged.
struct Resolved {
    active: Vec<SegmentKey>,
    loaded_generation: u64,
    merged: Arc<merged::Set>,
    segments: Vec<Arc<Segment>>,
    /// Per merged index: per member, its position in `segments` if it is live.
    live: Vec<Vec<Option<usize>>>,
    /// Per merged index: the live vectors.
    live_points: Vec<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these maps or unit values inconsistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VectorStore {
    /// Opens (creating if needed) the vector folder `dir` for vectors of `dim` dimensions.
    pub fn open(dir: impl AsRef<Path>, dim: usize) -> Result<VectorStore> {
        Self::open_with(dir, dim, VectorOptions::default())
    }

    pub fn open_with(
        dir: impl AsRef<Path>,
        dim: usize,
        options: VectorOptions,
    ) -> Result<VectorStore> {
        let dir = dir.as_ref().to_path_buf();
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::Internal(format!(
                "vector dimension {dim} is out of range (1..={MAX_DIM})"
            )));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
        Ok(VectorStore {
            dir,
            dim,
            options,
            kernel: Kernel::best(),
            loaded: RwLock::new(HashMap::new()),
            key_locks: Mutex::new(HashMap::new()),
            writer: Mutex::new(()),
            writer_reload: Mutex::new(()),
            merged: RwLock::new(Arc::new(merged::Set::default())),
            loaded_generation: std::sync::atomic::AtomicU64::new(0),
            resolved: Mutex::new(None),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn options(&self) -> &VectorOptions {
        &self.options
    }

    fn segment_path(&self, key: SegmentKey) -> PathBuf {
        self.dir.join(format!("{}.vec", stem(key)))
    }

    /// Writes the segment of one version: `vectors[i]` is the embedding of `chunk_ids[i]`,
    /// L2-normalised by the caller. Replaces an existing segment of the same pair. Segments
    /// above the threshold also get their hnsw graph built (on the rayon pool) and dumped.
    pub fn write_segment(
        &self,
        source_id: i64,
        version: u32,
        chunk_ids: &[i64],
        vectors: &[Vec<f32>],
    ) -> Result<()> {
        let key = (source_id, version);
        self.check_vectors(key, chunk_ids, vectors)?;
        let _writer = lock(&self.writer);
        let started = Instant::now();
        let stem = stem(key);
        let built = if vectors.len() > self.options.hnsw_threshold {
            let rows: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
            Some(graph::build(&rows, self.options.graph)?)
        } else {
            None
        };
        let build_time = started.elapsed();
        let tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| self.storage_err("creating a temporary file in", &self.dir, e))?;
        let path = self.segment_path(key);
        let header = segment::write(
            tmp.as_file(),
            source_id,
            version,
            self.dim,
            chunk_ids,
            vectors,
        )
        .map_err(|e| self.storage_err("writing", &path, e))?;
        let pending = match &built {
            Some(hnsw) => Some(graph::dump_to_temp(hnsw, &self.dir)?),
            None => None,
        };
        drop(built);

        self.with_key(key, || -> Result<()> {
            let (graph_path, data_path, sum_path) = graph::dump_paths(&self.dir, &stem);
            // The manifest goes first: an old dump must never be matched with the new segment.
            remove_if_exists(&sum_path)?;
            tmp.persist(&path)
                .map_err(|e| self.storage_err("saving", &path, e.error))?;
            match pending {
                Some(dump) => dump.install(&self.dir, &stem, graph::Binding::of(&header))?,
                None => {
                    remove_if_exists(&graph_path)?;
                    remove_if_exists(&data_path)?;
                }
            }
            sync_dir(&self.dir)?;
            self.unload(key);
            Ok(())
        })?;
        tracing::debug!(
            source_id,
            version,
            vectors = vectors.len(),
            graph = header.count > self.options.hnsw_threshold,
            graph_ms = build_time.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "vector segment written"
        );
        Ok(())
    }

    fn check_vectors(
        &self,
        key: SegmentKey,
        chunk_ids: &[i64],
        vectors: &[Vec<f32>],
    ) -> Result<()> {
        let bad = |what: String| {
            Error::Internal(format!(
                "vectors of source {} version {}: {what}",
                key.0, key.1
            ))
        };
        if chunk_ids.len() != vectors.len() {
            return Err(bad(format!(
                "{} chunk ids for {} vectors",
                chunk_ids.len(),
                vectors.len()
            )));
        }
        for (i, v) in vectors.iter().enumerate() {
            if v.len() != self.dim {
                return Err(bad(format!(
                    "vector {i} has {} dimensions, the store {}",
                    v.len(),
                    self.dim
                )));
            }
            if !v.iter().all(|x| x.is_finite()) {
                return Err(bad(format!("vector {i} has a NaN or infinite value")));
            }
            let norm2: f32 = v.iter().map(|x| x * x).sum();
            if (norm2 - 1.0).abs() > NORM_TOLERANCE {
                return Err(bad(format!(
                    "vector {i} is not L2-normalised (norm {})",
                    norm2.sqrt()
                )));
            }
        }
        Ok(())
    }

    /// Deletes the files of one segment (a no-op if it has none).
    pub fn delete_segment(&self, source_id: i64, version: u32) -> Result<()> {
        let key = (source_id, version);
        let _writer = lock(&self.writer);
        self.with_key(key, || {
            let (graph_path, data_path, sum_path) = graph::dump_paths(&self.dir, &stem(key));
            for path in [sum_path, self.segment_path(key), graph_path, data_path] {
                remove_if_exists(&path)?;
            }
            sync_dir(&self.dir)?;
            self.unload(key);
            Ok(())
        })
    }

    /// The segments on disk, sorted.
    pub fn segments(&self) -> Result<Vec<SegmentKey>> {
        let mut keys: Vec<SegmentKey> = self
            .list()?
            .into_iter()
            .filter_map(|(name, _)| match parse_name(&name) {
                Some((key, FileKind::Segment)) => Some(key),
                _ => None,
            })
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// Garbage collection: deletes every segment (with its graph) whose pair is not in `keep`,
    /// graph files without a kept segment, and temporaries older than
    /// [`VectorOptions::temp_grace`] (a crash's leftovers). Files it does not recognise are
    /// left alone. Returns how many segments were deleted.
    pub fn retain(&self, keep: &HashSet<SegmentKey>) -> Result<usize> {
        let _writer = lock(&self.writer);
        let now = SystemTime::now();
        let mut segments = 0;
        let mut removed_any = false;
        for (name, path) in self.list()? {
            if name.starts_with(TMP_PREFIX) {
                let age = std::fs::symlink_metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok());
                // An unreadable time is treated as old: it cannot belong to a live write that
                // is still writing to it.
                if age.is_none_or(|age| age >= self.options.temp_grace) {
                    tracing::debug!(file = %path.display(), "removing a stale temporary");
                    remove_any(&path)?;
                    removed_any = true;
                }
                continue;
            }
            let Some((key, kind)) = parse_name(&name) else {
                continue;
            };
            if keep.contains(&key) {
                continue;
            }
            self.with_key(key, || {
                self.unload(key);
                remove_if_exists(&path)
            })?;
            removed_any = true;
            if kind == FileKind::Segment {
                segments += 1;
            }
        }
        if removed_any {
            sync_dir(&self.dir)?;
        }
        Ok(segments)
    }

    /// Loads the given segments now, so that the first searches do not pay for it.
    pub fn preload(&self, active: &[SegmentKey]) -> Result<()> {
        self.resolve(active).map(drop)
    }

    /// The segments currently loaded.
    pub fn loaded(&self) -> Vec<SegmentInfo> {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<SegmentInfo> = loaded
            .values()
            .map(|s| SegmentInfo {
                source_id: s.file.header.source_id,
                version: s.file.header.version,
                count: s.file.header.count,
                graph: s.graph.is_some(),
            })
            .collect();
        v.sort_by_key(|s| (s.source_id, s.version));
        v
    }

    /// The `k` chunks most similar to `query` (L2-normalised, `dim` long) among the segments
    /// of the `active` pairs, best first. Pairs without a segment contribute nothing (a
    /// version indexed before embeddings were enabled, say).
    pub fn search(&self, query: &[f32], active: &[SegmentKey], k: usize) -> Result<Vec<VectorHit>> {
        self.search_inner(query, active, k, None)
    }

    /// [`VectorStore::search`] with an explicit hnsw candidate list size `ef` for every graph
    /// (at least `k` is used), instead of `ef_search` grown with the segment's size: larger is
    /// slower and finds more of the true neighbours.
    pub fn search_ef(
        &self,
        query: &[f32],
        active: &[SegmentKey],
        k: usize,
        ef: usize,
    ) -> Result<Vec<VectorHit>> {
        self.search_inner(query, active, k, Some(ef))
    }

    fn search_inner(
        &self,
        query: &[f32],
        active: &[SegmentKey],
        k: usize,
        ef: Option<usize>,
    ) -> Result<Vec<VectorHit>> {
        if query.len() != self.dim {
            return Err(Error::Internal(format!(
                "query vector has {} dimensions, the store {}",
                query.len(),
                self.dim
            )));
        }
        if !query.iter().all(|x| x.is_finite()) {
            return Err(Error::Internal(
                "query vector has a NaN or infinite value".into(),
            ));
        }
        if k == 0 || active.is_empty() {
            return Ok(Vec::new());
        }
        let resolved = self.resolved(active)?;
        let segments = &resolved.segments;
        let mut top = TopK::new(k);
        let covered = self.search_merged(&resolved, query, k, &mut top);
        // Graph segments first: their hits raise the bar that the flat scan has to clear.
        for seg in segments.iter().filter(|s| s.graph.is_some()) {
            self.search_graph(seg, query, k, ef, &mut top)?;
        }
        for (i, seg) in segments.iter().enumerate() {
            if seg.graph.is_none() && !covered.get(i).copied().unwrap_or(false) {
                self.scan(seg, query, &mut top);
            }
        }
        Ok(top.into_sorted())
    }

    /// The resolution of `active` (see [`Resolved`]): the last one if still valid.
    fn resolved(&self, active: &[SegmentKey]) -> Result<Arc<Resolved>> {
        use std::sync::atomic::Ordering::SeqCst;
        let generation = self.loaded_generation.load(SeqCst);
        let set = if self.options.load_graphs {
            self.merged_set()
        } else {
            Arc::new(merged::Set::default())
        };
        if let Some(last) = lock(&self.resolved).as_ref() {
            if last.loaded_generation == generation
                && Arc::ptr_eq(&last.merged, &set)
                && last.active == active
            {
                return Ok(Arc::clone(last));
            }
        }
        let segments = self.resolve(active)?;
        // Per graph: which of its members are live in this search, and their segment.
        let mut live: Vec<Vec<Option<usize>>> = set
            .graphs
            .iter()
            .map(|g| vec![None; g.entry.members.len()])
            .collect();
        let mut live_points = vec![0usize; set.graphs.len()];
        for (i, seg) in segments.iter().enumerate() {
            let h = &seg.file.header;
            if let Some(&(g, m)) = set.by_key.get(&(h.source_id, h.version)) {
                let member = &set.graphs[g].entry.members[m];
                if member.matches(h) {
                    live[g][m] = Some(i);
                    live_points[g] += member.count;
                }
            }
        }
        let complete = segments.len() == active.len();
        let resolved = Arc::new(Resolved {
            active: active.to_vec(),
            loaded_generation: generation,
            merged: set,
            segments,
            live,
            live_points,
        });
        // A segment not found may be written by another process later: only a complete
        // resolution is kept, so that a missing one is looked for again.
        if complete {
            *lock(&self.resolved) = Some(Arc::clone(&resolved));
        }
        Ok(resolved)
    }

    /// Searches the merged graphs for the resolved segments they cover (active and unchanged
    /// since the graph was built). Returns, per segment, whether a graph answered for it.
    fn search_merged(
        &self,
        resolved: &Resolved,
        query: &[f32],
        k: usize,
        top: &mut TopK,
    ) -> Vec<bool> {
        let segments = &resolved.segments;
        let set = &resolved.merged;
        let mut covered = vec![false; segments.len()];
        if set.graphs.is_empty() {
            return covered;
        }
        let (live, live_points) = (&resolved.live, &resolved.live_points);
        let depth = k.saturating_mul(self.options.merged_rescore.max(1)).max(k);
        for (g, index) in set.graphs.iter().enumerate() {
            // Sparse: an exact scan of the few live members costs about what probing would,
            // and is exact.
            if live_points[g] == 0 || live_points[g] * 2 < index.points() {
                continue;
            }
            let live_g = &live[g];
            let found =
                index
                    .index
                    .search(self.kernel, query, self.options.merged_probe, depth, |m| {
                        live_g.get(m as usize).is_some_and(Option::is_some)
                    });
            // Exact scores from the segment itself: the same cosine the flat scan gives.
            for c in found {
                let Some(i) = live_g.get(c.member as usize).copied().flatten() else {
                    continue;
                };
                let seg = &segments[i];
                let row = c.row as usize;
                let (Some(&chunk_id), Some(v)) = (
                    seg.file.ids.get(row),
                    seg.file.matrix().get(row * self.dim..(row + 1) * self.dim),
                ) else {
                    continue;
                };
                let score = self.kernel.dot(v, query);
                if top.admits(score) {
                    top.push(VectorHit {
                        chunk_id,
                        source_id: seg.file.header.source_id,
                        version: seg.file.header.version,
                        score,
                    });
                }
            }
            for i in live_g.iter().flatten() {
                covered[*i] = true;
            }
        }
        covered
    }

    /// The merged graphs, reloaded first if their list changed on disk (a compaction here or
    /// in another process). Graphs that cannot be loaded are left out, with a warning: their
    /// members are then scanned.
    fn merged_set(&self) -> Arc<merged::Set> {
        let stamp = merged::Stamp::of(&self.dir.join(merged::LIST));
        let current = Arc::clone(&self.merged.read().unwrap_or_else(PoisonError::into_inner));
        if current.stamp == stamp {
            return current;
        }
        let _reload = lock(&self.writer_reload);
        let current = Arc::clone(&self.merged.read().unwrap_or_else(PoisonError::into_inner));
        if current.stamp == stamp {
            return current;
        }
        let list = match merged::List::read(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "merged graph list unusable; scanning instead");
                merged::List::default()
            }
        };
        let mut graphs = Vec::with_capacity(list.graphs.len());
        for entry in list.graphs {
            if let Some(g) = current.graphs.iter().find(|g| g.entry == entry) {
                graphs.push(Arc::clone(g));
                continue;
            }
            let started = Instant::now();
            match merged::Loaded::load(&self.dir, self.dim, entry.clone()) {
                Ok(g) => {
                    tracing::debug!(
                        index = entry.id,
                        points = g.points(),
                        ms = started.elapsed().as_millis() as u64,
                        "merged index loaded"
                    );
                    graphs.push(Arc::new(g));
                }
                Err(e) => tracing::warn!(
                    index = entry.id,
                    error = %e,
                    "merged index unusable; its segments are scanned"
                ),
            }
        }
        let set = Arc::new(merged::Set::new(stamp, graphs));
        *self.merged.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&set);
        set
    }

    /// Gives the small segments merged graphs (see `merged`): covers the uncovered ones once
    /// there are [`VectorOptions::merge_min`] vectors of them, merges graphs of one size
    /// class, drops graphs whose members are mostly gone, and deletes the files of graphs no
    /// longer listed. Runs at the end of an ingestion run, under the ingest lock; searches
    /// keep using the previous graphs (or the scan) meanwhile. Returns the vectors inserted
    /// into new graphs.
    pub fn compact(&self) -> Result<usize> {
        let _writer = lock(&self.writer);
        let started = Instant::now();
        let min = self.options.merge_min.max(1);
        let fanout = self.options.merge_fanout.max(2);
        let mut list = merged::List::read(&self.dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "merged graph list unusable; rebuilding it");
            merged::List::default()
        });
        // The small segments on disk, as they are now.
        let mut small: HashMap<SegmentKey, merged::Member> = HashMap::new();
        for key in self.segments()? {
            let file = match SegmentFile::open(&self.segment_path(key), self.dim, key) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "segment left out of merged graphs");
                    continue;
                }
            };
            if file.header.count <= self.options.hnsw_threshold && file.header.count > 0 {
                small.insert(key, merged::Member::of(&file.header));
            }
        }
        let live = |m: &merged::Member| small.get(&m.key()) == Some(m);
        // Graphs whose members are mostly gone are dropped; their live members are covered
        // again below.
        let before = list.graphs.len();
        list.graphs.retain(|g| {
            let live_points: usize = g.members.iter().filter(|m| live(m)).map(|m| m.count).sum();
            live_points * 2 >= g.points() && live_points > 0
        });
        let mut changed = list.graphs.len() != before;
        let covered: HashSet<SegmentKey> = list
            .graphs
            .iter()
            .flat_map(|g| g.members.iter().filter(|m| live(m)).map(|m| m.key()))
            .collect();
        let mut uncovered: Vec<merged::Member> = small
            .values()
            .filter(|m| !covered.contains(&m.key()))
            .copied()
            .collect();
        uncovered.sort_by_key(|m| m.key());
        let mut inserted = 0;
        if uncovered.iter().map(|m| m.count).sum::<usize>() >= min {
            let entry = merged::Entry {
                id: list.next_id,
                members: uncovered,
            };
            list.next_id += 1;
            inserted += self.build_merged(&entry)?;
            list.graphs.push(entry);
            changed = true;
        }
        // Size-tiered merging: `fanout` graphs of one class become one graph of their live
        // members, until no class has that many.
        loop {
            let mut by_class: HashMap<u32, Vec<usize>> = HashMap::new();
            for (i, g) in list.graphs.iter().enumerate() {
                by_class
                    .entry(merged::class(g.points(), min, fanout))
                    .or_default()
                    .push(i);
            }
            let Some(group) = by_class
                .into_values()
                .filter(|v| v.len() >= fanout)
                .min_by_key(|v| v[0])
            else {
                break;
            };
            let group: Vec<usize> = group.into_iter().take(fanout).collect();
            let mut members: Vec<merged::Member> = group
                .iter()
                .flat_map(|&i| list.graphs[i].members.iter().filter(|m| live(m)).copied())
                .collect();
            members.sort_by_key(|m| m.key());
            let entry = merged::Entry {
                id: list.next_id,
                members,
            };
            list.next_id += 1;
            inserted += self.build_merged(&entry)?;
            let mut i = 0;
            list.graphs.retain(|_| {
                i += 1;
                !group.contains(&(i - 1))
            });
            list.graphs.push(entry);
            changed = true;
        }
        if changed {
            list.write(&self.dir)?;
            sync_dir(&self.dir)?;
        }
        // Files of indexes no longer listed (merged away, dropped, or left by a crash).
        let listed: HashSet<String> = list.graphs.iter().map(|g| g.file_name()).collect();
        let mut removed_any = false;
        for (name, path) in self.list()? {
            if merged::is_index_file(&name) && !listed.contains(&name) {
                remove_if_exists(&path)?;
                removed_any = true;
            }
        }
        if removed_any {
            sync_dir(&self.dir)?;
        }
        if changed {
            tracing::info!(
                graphs = list.graphs.len(),
                inserted,
                ms = started.elapsed().as_millis() as u64,
                "merged vector graphs updated"
            );
        }
        Ok(inserted)
    }

    /// Builds and installs the dump of one merged graph from its members' segment files.
    fn build_merged(&self, entry: &merged::Entry) -> Result<usize> {
        let started = Instant::now();
        let mut files = Vec::with_capacity(entry.members.len());
        for m in &entry.members {
            let file = SegmentFile::open(&self.segment_path(m.key()), self.dim, m.key())?;
            if !m.matches(&file.header) {
                return Err(Error::Internal(format!(
                    "segment {} changed while building a merged graph",
                    file.path.display()
                )));
            }
            // A corrupt matrix must not be baked into a graph.
            file.verify_matrix()?;
            files.push(file);
        }
        let rows: Vec<&[f32]> = files
            .iter()
            .flat_map(|f| f.matrix().chunks_exact(self.dim))
            .collect();
        let locs: Vec<(u32, u32)> = files
            .iter()
            .enumerate()
            .flat_map(|(m, f)| (0..f.header.count as u32).map(move |r| (m as u32, r)))
            .collect();
        let bytes = ivf::build(&rows, &locs, self.dim, entry.binding(), self.kernel)?;
        let path = self.dir.join(entry.file_name());
        write_atomically(&self.dir, &path, &bytes)?;
        tracing::debug!(
            graph = entry.id,
            segments = entry.members.len(),
            points = rows.len(),
            ms = started.elapsed().as_millis() as u64,
            "merged graph built"
        );
        Ok(rows.len())
    }

    /// Exact search of one segment by the flat scan.
    fn scan(&self, seg: &Segment, query: &[f32], top: &mut TopK) {
        const BLOCK: usize = 128;
        let dim = self.dim;
        let h = &seg.file.header;
        let mut scores = [0f32; BLOCK];
        let rows = seg.file.matrix().chunks(BLOCK * dim);
        for (ids, rows) in seg.file.ids.chunks(BLOCK).zip(rows) {
            let scores = &mut scores[..ids.len()];
            self.kernel.dots(rows, dim, query, scores);
            for (&chunk_id, &score) in ids.iter().zip(scores.iter()) {
                if top.admits(score) {
                    top.push(VectorHit {
                        chunk_id,
                        source_id: h.source_id,
                        version: h.version,
                        score,
                    });
                }
            }
        }
    }

    fn search_graph(
        &self,
        seg: &Segment,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        top: &mut TopK,
    ) -> Result<()> {
        let Some(graph) = &seg.graph else {
            return Ok(());
        };
        let h = &seg.file.header;
        // Large graphs need a wider search for the same recall (measured: ef 24 reaches 0.95
        // at 20k vectors, 50k needs ~190); growing ef with the segment keeps recall flat.
        let ef = ef.unwrap_or_else(|| self.options.ef_search.max(h.count / EF_PER_VECTORS));
        let found = graph
            .search(query, k, ef)
            .map_err(|e| Error::Internal(format!("{}: {e}", seg.file.path.display())))?;
        for (row, score) in found {
            if let Some(&chunk_id) = seg.file.ids.get(row) {
                top.push(VectorHit {
                    chunk_id,
                    source_id: h.source_id,
                    version: h.version,
                    score,
                });
            }
        }
        Ok(())
    }

    /// The loaded segments of `active` (deduplicated), loading the missing ones.
    fn resolve(&self, active: &[SegmentKey]) -> Result<Vec<Arc<Segment>>> {
        let mut keys = active.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let mut found = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
            for key in keys {
                match loaded.get(&key) {
                    Some(seg) => found.push(Arc::clone(seg)),
                    None => missing.push(key),
                }
            }
        }
        for key in missing {
            if let Some(seg) = self.load(key)? {
                found.push(seg);
            }
        }
        Ok(found)
    }

    fn unload(&self, key: SegmentKey) {
        self.loaded
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        self.loaded_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs `f` holding the segment's lock, then forgets the lock if nobody else holds it.
    fn with_key<R>(&self, key: SegmentKey, f: impl FnOnce() -> R) -> R {
        let key_lock = Arc::clone(lock(&self.key_locks).entry(key).or_default());
        let result = {
            let _key = lock(&key_lock);
            f()
        };
        let mut locks = lock(&self.key_locks);
        // One reference in the map, one here: no thread is waiting for it.
        if Arc::strong_count(&key_lock) == 2 {
            locks.remove(&key);
        }
        result
    }

    /// Loads one segment; `None` when it has no file.
    fn load(&self, key: SegmentKey) -> Result<Option<Arc<Segment>>> {
        self.with_key(key, || {
            let cached = self
                .loaded
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key)
                .cloned();
            if cached.is_some() {
                return Ok(cached);
            }
            let Some(seg) = self.open_segment(key)? else {
                return Ok(None);
            };
            let seg = Arc::new(seg);
            self.loaded
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, Arc::clone(&seg));
            self.loaded_generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Some(seg))
        })
    }

    fn open_segment(&self, key: SegmentKey) -> Result<Option<Segment>> {
        let started = Instant::now();
        let path = self.segment_path(key);
        let file = match SegmentFile::open(&path, self.dim, key) {
            Ok(f) => f,
            Err(Error::Storage { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(source_id = key.0, version = key.1, "no vector segment");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let loaded = if self.options.load_graphs {
            Graph::load(&self.dir, &stem(key), graph::Binding::of(&file.header))
        } else {
            Err(Unavailable::Disabled)
        };
        let graph = match loaded {
            Err(Unavailable::Disabled) => None,
            Ok(g) => Some(g),
            Err(Unavailable::Missing) => {
                if file.header.count > self.options.hnsw_threshold {
                    tracing::warn!(
                        segment = %path.display(),
                        vectors = file.header.count,
                        "hnsw dump missing; searching this segment by flat scan"
                    );
                }
                None
            }
            Err(Unavailable::Invalid(why)) => {
                tracing::warn!(
                    segment = %path.display(),
                    reason = %why,
                    "hnsw dump unusable; searching this segment by flat scan"
                );
                None
            }
        };
        if graph.is_none() {
            file.verify_matrix()?;
        }
        tracing::debug!(
            segment = %path.display(),
            vectors = file.header.count,
            graph = graph.is_some(),
            ms = started.elapsed().as_millis() as u64,
            "vector segment loaded"
        );
        Ok(Some(Segment { file, graph }))
    }

    fn list(&self) -> Result<Vec<(String, PathBuf)>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| self.storage_err("listing", &self.dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.storage_err("listing", &self.dir, e))?;
            if let Some(name) = entry.file_name().to_str() {
                out.push((name.to_string(), entry.path()));
            }
        }
        Ok(out)
    }

    fn storage_err(&self, what: &str, path: &Path, e: std::io::Error) -> Error {
        Error::storage(format!("{what} {}", path.display()), e)
    }
}

/// The base name of a segment's files.
fn stem((source_id, version): SegmentKey) -> String {
    format!("s{source_id}-v{version}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Segment,
    Graph,
}

/// Parses a file name of the vectors folder into its pair and kind.
fn parse_name(name: &str) -> Option<(SegmentKey, FileKind)> {
    let (stem, kind) = if let Some(s) = name.strip_suffix(".vec") {
        (s, FileKind::Segment)
    } else if let Some(s) = [".hnsw.graph", ".hnsw.data", ".hnsw.sum"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
    {
        (s, FileKind::Graph)
    } else {
        return None;
    };
    let (source, version) = stem.strip_prefix('s')?.rsplit_once("-v")?;
    let key = (source.parse().ok()?, version.parse().ok()?);
    // Only names this module writes: "s01-v2" or "s+1-v2" would parse but are not ours.
    (self::stem(key) == stem).then_some((key, kind))
}

/// Writes `bytes` to `path` through a temporary file in `dir`: write, fsync, rename.
pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| {
            Error::storage(format!("creating a temporary file in {}", dir.display()), e)
        })?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::storage(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::storage(format!("saving {}", path.display()), e.error))?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::storage(format!("removing {}", path.display()), e)),
    }
}

/// Removes a file or a whole folder (a crashed dump's temporary folder).
fn remove_any(path: &Path) -> Result<()> {
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let result = if is_dir {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::storage(format!("removing {}", path.display()), e)),
    }
}

/// Makes renames and deletions in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::storage(format!("syncing {}", dir.display()), e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The best `k` hits seen so far: a min-heap whose top is the worst kept hit.
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

/// A hit ordered by quality: higher score, then lower `(source, version, chunk)`.
#[derive(Clone, Copy)]
struct Ranked(VectorHit);

impl Ranked {
    fn tie_key(&self) -> (i64, u32, i64) {
        (self.0.source_id, self.0.version, self.0.chunk_id)
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .score
            .total_cmp(&other.0.score)
            .then_with(|| other.tie_key().cmp(&self.tie_key()))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Cheap pre-check: could a hit with this score enter?
    #[inline]
    fn admits(&self, score: f32) -> bool {
        self.heap.len() < self.k
            || self
                .heap
                .peek()
                .is_some_and(|Reverse(worst)| score >= worst.0.score)
    }

    fn push(&mut self, hit: VectorHit) {
        let hit = Ranked(hit);
        if self.heap.len() < self.k {
            self.heap.push(Reverse(hit));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if hit > worst.0 {
                *worst = Reverse(hit);
            }
        }
    }

    fn into_sorted(self) -> Vec<VectorHit> {
        // Ascending order of `Reverse` is best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(r)| r.0)
            .collect()
    }
}

#[cfg(test)]
mod tests;
