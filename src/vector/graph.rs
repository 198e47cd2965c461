//! The approximate index of a large segment: an hnsw_rs graph, built when the segment is
//! written and dumped next to it, so a restart reloads it instead of rebuilding.
//!
//! Files of segment `s1-v2` (hnsw_rs names the first two from a base name):
//!
//! ```text
//! s1-v2.hnsw.graph   hnsw_rs graph dump
//! s1-v2.hnsw.data    hnsw_rs data dump (the vectors again, memory-mapped on reload)
//! s1-v2.hnsw.sum     lore's manifest: lengths and checksums of both, and the checksums of
//!                    the segment they were built from; written last, so it is the commit mark
//! ```
//!
//! hnsw_rs's loader trusts its input: on a damaged or vanishing file it may panic, or even
//! call `process::exit`. So a dump is only handed to it after the manifest matched, on private
//! hard links that no other lore process will delete underneath it, and inside
//! `catch_unwind`. Any failure makes the caller fall back to the flat scan.

use super::checksum::Checksum;
use super::kernel::Kernel;
use super::segment::Header;
use super::TMP_PREFIX;
use crate::error::{Error, Result};
use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo, ReloadOptions};
use std::fs::File;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Layers of the graph (hnsw_rs's maximum); levels are drawn so that few points reach past 4.
const MAX_LAYERS: usize = 16;

const SUM_MAGIC: &[u8; 8] = b"LOREHNS\0";
const SUM_FORMAT: u32 = 1;
const SUM_LEN: usize = 96;

/// Cosine distance for normalised vectors, `1 - a·b`, with lore's SIMD kernel.
///
/// hnsw_rs's own `DistDot` sums sequentially (no SIMD) and asserts the result is not
/// negative, which rounding breaks for near-identical unit vectors; hnsw_rs also requires
/// distances ≥ 0 and never NaN, so the value is clamped (`max` also maps NaN to 0).
///
/// The type's name is stored in every dump and checked on reload: renaming it makes old dumps
/// unloadable (they then fall back to the flat scan until rewritten).
#[derive(Debug, Default, Clone, Copy)]
pub struct LoreDot;

impl Distance<f32> for LoreDot {
    #[inline]
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - Kernel::best().dot(a, b)).max(0.0)
    }
}

/// Graph construction parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// Neighbours kept per point and layer (layer 0 keeps twice as many in hnsw_rs).
    pub max_connections: usize,
    /// Candidate list size while inserting; higher builds slower and finds better neighbours.
    pub ef_construction: usize,
}

/// What a dump was built from, recorded in its manifest and checked on load: a segment's
/// count and checksums, or for a merged graph its point count and a checksum of its member
/// list (see `merged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding {
    pub count: usize,
    pub ids_sum: u64,
    pub matrix_sum: u64,
}

impl Binding {
    pub(crate) fn of(segment: &Header) -> Binding {
        Binding {
            count: segment.count,
            ids_sum: segment.ids_sum,
            matrix_sum: segment.matrix_sum,
        }
    }
}

/// Builds the graph of a segment's vectors; point ids are row numbers. Uses the rayon pool.
pub(crate) fn build(
    vectors: &[&[f32]],
    params: GraphParams,
) -> Result<Hnsw<'static, f32, LoreDot>> {
    catch_unwind(AssertUnwindSafe(|| {
        let hnsw = Hnsw::new(
            params.max_connections,
            vectors.len(),
            MAX_LAYERS,
            params.ef_construction,
            LoreDot,
        );
        let data: Vec<(&[f32], usize)> = vectors.iter().enumerate().map(|(i, v)| (*v, i)).collect();
        hnsw.parallel_insert_slice(&data);
        hnsw
    }))
    .map_err(|_| Error::Internal("building the hnsw graph panicked".into()))
}

/// A dump written to a temporary folder, not yet in place.
pub(crate) struct PendingDump {
    _tmp: tempfile::TempDir,
    graph: PathBuf,
    data: PathBuf,
    graph_sum: (u64, u64),
    data_sum: (u64, u64),
}

/// Dumps `hnsw` into a fresh temporary folder in `dir`, fsynced and checksummed.
pub(crate) fn dump_to_temp(hnsw: &Hnsw<'static, f32, LoreDot>, dir: &Path) -> Result<PendingDump> {
    let tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempdir_in(dir)
        .map_err(|e| {
            Error::storage(
                format!("creating a temporary folder in {}", dir.display()),
                e,
            )
        })?;
    let base = catch_unwind(AssertUnwindSafe(|| hnsw.file_dump(tmp.path(), "g")))
        .map_err(|_| Error::Internal("dumping the hnsw graph panicked".into()))?
        .map_err(|e| Error::Internal(format!("dumping the hnsw graph: {e}")))?;
    let graph = tmp.path().join(format!("{base}.hnsw.graph"));
    let data = tmp.path().join(format!("{base}.hnsw.data"));
    let graph_sum = sum_file(&graph, true)?;
    let data_sum = sum_file(&data, true)?;
    Ok(PendingDump {
        _tmp: tmp,
        graph,
        data,
        graph_sum,
        data_sum,
    })
}

impl PendingDump {
    /// Moves the dump into place as `<stem>.hnsw.*` and writes the manifest last. The caller
    /// fsyncs the folder.
    pub(crate) fn install(self, dir: &Path, stem: &str, segment: Binding) -> Result<()> {
        let (graph, data, _) = dump_paths(dir, stem);
        rename(&self.graph, &graph)?;
        rename(&self.data, &data)?;
        let manifest = Manifest {
            count: segment.count as u64,
            ids_sum: segment.ids_sum,
            matrix_sum: segment.matrix_sum,
            graph: self.graph_sum,
            data: self.data_sum,
        };
        super::write_atomically(dir, &dump_paths(dir, stem).2, &manifest.encode())
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| {
        Error::storage(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )
    })
}

/// `(graph, data, manifest)` paths of a segment's dump.
pub(crate) fn dump_paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.hnsw.graph")),
        dir.join(format!("{stem}.hnsw.data")),
        dir.join(format!("{stem}.hnsw.sum")),
    )
}

/// Length and checksum of a file, optionally fsyncing it.
fn sum_file(path: &Path, sync: bool) -> Result<(u64, u64)> {
    let err = |e| Error::storage(format!("reading {}", path.display()), e);
    let mut f = File::open(path).map_err(err)?;
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
        len += n as u64;
    }
    if sync {
        f.sync_all().map_err(err)?;
    }
    Ok((len, sum.finish()))
}

/// What the manifest records: the segment the dump belongs to, and the dump's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Manifest {
    count: u64,
    ids_sum: u64,
    matrix_sum: u64,
    /// (length, checksum)
    graph: (u64, u64),
    data: (u64, u64),
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SUM_LEN);
        b.extend_from_slice(SUM_MAGIC);
        b.extend_from_slice(&SUM_FORMAT.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for v in [
            self.count,
            self.ids_sum,
            self.matrix_sum,
            self.graph.0,
            self.graph.1,
            self.data.0,
            self.data.1,
            0,
            0,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let sum = Checksum::of(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> std::result::Result<Manifest, String> {
        if b.len() != SUM_LEN || &b[..8] != SUM_MAGIC {
            return Err("not a lore hnsw manifest".into());
        }
        let u = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[16 + 8 * i..24 + 8 * i]);
            u64::from_le_bytes(a)
        };
        if Checksum::of(&b[..SUM_LEN - 8]) != u(9) {
            return Err("corrupt manifest (checksum mismatch)".into());
        }
        let mut f = [0u8; 4];
        f.copy_from_slice(&b[8..12]);
        if u32::from_le_bytes(f) != SUM_FORMAT {
            return Err("unknown manifest format".into());
        }
        Ok(Manifest {
            count: u(0),
            ids_sum: u(1),
            matrix_sum: u(2),
            graph: (u(3), u(4)),
            data: (u(5), u(6)),
        })
    }
}

/// A loaded graph, searchable from many threads.
pub(crate) struct Graph {
    // Field order is drop order: `hnsw` borrows the memory map owned by `_io`, so it must be
    // dropped first. See `load` for why its lifetime can be `'static`.
    hnsw: Hnsw<'static, f32, LoreDot>,
    _io: Box<HnswIo>,
}

/// Why a segment has no usable graph.
#[derive(Debug)]
pub(crate) enum Unavailable {
    /// No manifest: never built (small segment) or a crash before it was written.
    Missing,
    /// Graphs are turned off ([`super::VectorOptions::load_graphs`]).
    Disabled,
    /// Present but unusable; the text says why.
    Invalid(String),
}

impl Graph {
    /// Loads the dump `stem`, which must have been built from `segment`.
    pub(crate) fn load(
        dir: &Path,
        stem: &str,
        segment: Binding,
    ) -> std::result::Result<Graph, Unavailable> {
        let (graph_path, data_path, sum_path) = dump_paths(dir, stem);
        let manifest = match std::fs::read(&sum_path) {
            Ok(b) => Manifest::decode(&b).map_err(Unavailable::Invalid)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unavailable::Missing),
            Err(e) => return Err(Unavailable::Invalid(format!("reading the manifest: {e}"))),
        };
        if (manifest.count, manifest.ids_sum, manifest.matrix_sum)
            != (segment.count as u64, segment.ids_sum, segment.matrix_sum)
        {
            return Err(Unavailable::Invalid(
                "the dump was built from other vectors than the segment's".into(),
            ));
        }
        // Private hard links: hnsw_rs opens files by name and exits the process if one
        // vanishes, and another process may garbage-collect this segment meanwhile. The links
        // live in a temporary folder that is removed when loading is done; the memory map of
        // the data keeps its inode alive after that.
        let invalid = |what: &str, e: std::io::Error| Unavailable::Invalid(format!("{what}: {e}"));
        let private = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(dir)
            .map_err(|e| invalid("creating a temporary folder", e))?;
        let base = "g";
        let (g, d, _) = dump_paths(private.path(), base);
        for (from, to) in [(&graph_path, &g), (&data_path, &d)] {
            std::fs::hard_link(from, to).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Unavailable::Missing,
                _ => invalid("linking the dump", e),
            })?;
        }
        for (path, want) in [(&g, manifest.graph), (&d, manifest.data)] {
            let got = sum_file(path, false).map_err(|e| Unavailable::Invalid(e.to_string()))?;
            if got != want {
                return Err(Unavailable::Invalid(format!(
                    "{} does not match its manifest (length or checksum)",
                    path.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
        }
        let mut io = Box::new(HnswIo::new_with_options(
            private.path(),
            base,
            ReloadOptions::default().set_mmap(true),
        ));
        let io_ref: &mut HnswIo = &mut io;
        let loaded = catch_unwind(AssertUnwindSafe(move || {
            // Moving the reference in makes the closure `FnOnce`, so the graph may borrow it.
            let io = io_ref;
            io.load_hnsw::<f32, LoreDot>()
        }))
        .map_err(|_| Unavailable::Invalid("hnsw_rs panicked while loading".into()))?
        .map_err(|e| Unavailable::Invalid(format!("hnsw_rs: {e}")))?;
        if loaded.get_nb_point() != segment.count {
            return Err(Unavailable::Invalid(format!(
                "{} points, the segment has {}",
                loaded.get_nb_point(),
                segment.count
            )));
        }
        // SAFETY: `Hnsw<'b, …>` borrows from `io` only through the memory map of the data file
        // that `io` owns (`'b` is tied to the `&mut io` borrow). We extend `'b` to `'static`
        // and keep `io` next to the graph: it is boxed, never moved out, never used again
        // (so the map is never replaced or unmapped), and it is dropped after `hnsw` (field
        // order in `Graph`). No reference with the extended lifetime escapes: `search` returns
        // owned values.
        let hnsw: Hnsw<'static, f32, LoreDot> = unsafe { std::mem::transmute(loaded) };
        Ok(Graph { hnsw, _io: io })
    }

    /// The `k` nearest rows to `query` as `(row, score)`, best first.
    pub(crate) fn search(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<(usize, f32)>> {
        let found = catch_unwind(AssertUnwindSafe(|| self.hnsw.search(query, k, ef.max(k))))
            .map_err(|_| Error::Internal("hnsw search panicked".into()))?;
        Ok(found
            .into_iter()
            .map(|n| (n.d_id, 1.0 - n.distance))
            .collect())
    }
}
