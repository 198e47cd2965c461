//! Merged indexes: one approximate index over many small segments at once.
//!
//! A knowledge base of documents is mostly small versions (a 20-page manual is ~100 chunks),
//! each its own segment below the hnsw threshold, so a search used to scan every vector: 100k
//! chunks cost ~11 ms from memory. Segments stay immutable and per version (publish, revert
//! and gc still write nothing here); on top of them, [`super::VectorStore::compact`] builds
//! indexes (an IVF over int8 codes, see `ivf`) that each cover a *set* of small segments,
//! LSM-style:
//!
//! * at the end of an ingestion run, small segments that no index covers get a new index
//!   once they hold [`super::VectorOptions::merge_min`] vectors (fewer are scanned);
//! * indexes of the same size class (a factor of `merge_fanout` apart) are merged, i.e.
//!   rebuilt over the union of their members, once `merge_fanout` of them exist: each vector
//!   is re-indexed O(log n) times over its life, and a search visits a few indexes at most;
//! * an index whose members are mostly gone (pruned or replaced versions) is dropped and its
//!   live members covered again.
//!
//! A member is a segment *as it was* (its pair, count and checksums): a segment rewritten
//! since (same pair, other vectors) is no longer that member, and is scanned until the next
//! compaction covers it again. A search uses an index for the members that are both active
//! and unchanged, skips every other member's vectors while scanning (so an inactive version
//! never leaks), and rescores its candidates exactly from the segments' own matrices. When
//! fewer than half of an index's vectors are live for this search (an agent that sees few
//! sources), its live members are scanned exactly instead.
//!
//! Files: `m<id>.ivf` (bound to its member list by a checksum in its header) and
//! `merged.json`, the list of indexes and their members, replaced atomically and written
//! after the files it names. Readers (this process or another) reload the list when its file
//! changes.

use super::checksum::Checksum;
use super::ivf::Ivf;
use super::segment::Header;
use super::SegmentKey;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The list of merged graphs.
pub(crate) const LIST: &str = "merged.json";
const LIST_FORMAT: u32 = 1;

/// A segment as a graph covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Member {
    pub source_id: i64,
    pub version: u32,
    pub count: usize,
    pub ids_sum: u64,
    pub matrix_sum: u64,
}

impl Member {
    pub(crate) fn of(h: &Header) -> Member {
        Member {
            source_id: h.source_id,
            version: h.version,
            count: h.count,
            ids_sum: h.ids_sum,
            matrix_sum: h.matrix_sum,
        }
    }

    pub(crate) fn key(&self) -> SegmentKey {
        (self.source_id, self.version)
    }

    /// Whether `h` is the segment this member was built from.
    pub(crate) fn matches(&self, h: &Header) -> bool {
        *self == Member::of(h)
    }
}

/// One merged graph: its id (file stem `m<id>`) and members; point `p` is row
/// `p - offset(i)` of member `i`, members in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub id: u64,
    pub members: Vec<Member>,
}

impl Entry {
    pub(crate) fn points(&self) -> usize {
        self.members.iter().map(|m| m.count).sum()
    }

    pub(crate) fn stem(&self) -> String {
        stem(self.id)
    }

    /// What the index file is bound to: a checksum of the member list.
    pub(crate) fn binding(&self) -> u64 {
        let mut sum = Checksum::new();
        for m in &self.members {
            sum.update(&m.source_id.to_le_bytes());
            sum.update(&m.version.to_le_bytes());
            sum.update(&(m.count as u64).to_le_bytes());
            sum.update(&m.ids_sum.to_le_bytes());
            sum.update(&m.matrix_sum.to_le_bytes());
        }
        sum.finish()
    }

    pub(crate) fn file_name(&self) -> String {
        format!("{}.ivf", self.stem())
    }
}

pub(crate) fn stem(id: u64) -> String {
    format!("m{id}")
}

/// Whether a file name is a merged index's.
pub(crate) fn is_index_file(name: &str) -> bool {
    name.strip_suffix(".ivf")
        .and_then(|s| s.strip_prefix('m'))
        .is_some_and(|id| id.parse::<u64>().is_ok_and(|n| stem(n) == format!("m{id}")))
}

/// The content of `merged.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct List {
    pub format: u32,
    /// The id the next graph gets (ids are never reused, so a stale dump can never be taken
    /// for a new graph's).
    pub next_id: u64,
    pub graphs: Vec<Entry>,
}

impl List {
    /// Reads the list; a missing file is an empty list.
    pub(crate) fn read(dir: &Path) -> Result<List> {
        let path = dir.join(LIST);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let list: List = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::Internal(format!("{}: unreadable ({e})", path.display()))
                })?;
                if list.format != LIST_FORMAT {
                    return Err(Error::Internal(format!(
                        "{}: unknown format {}",
                        path.display(),
                        list.format
                    )));
                }
                Ok(list)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(List {
                format: LIST_FORMAT,
                ..List::default()
            }),
            Err(e) => Err(Error::storage(format!("reading {}", path.display()), e)),
        }
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let mut list = self.clone();
        list.format = LIST_FORMAT;
        let bytes = serde_json::to_vec(&list).map_err(|e| Error::Internal(e.to_string()))?;
        super::write_atomically(dir, &dir.join(LIST), &bytes)
    }
}

/// A loaded merged index.
pub(crate) struct Loaded {
    pub entry: Entry,
    pub index: Ivf,
}

impl Loaded {
    pub(crate) fn load(dir: &Path, dim: usize, entry: Entry) -> Result<Loaded> {
        let index = Ivf::open(
            &dir.join(entry.file_name()),
            dim,
            entry.points(),
            entry.binding(),
        )?;
        Ok(Loaded { entry, index })
    }

    pub(crate) fn points(&self) -> usize {
        self.entry.points()
    }
}

/// The merged graphs a store searches with, and where each segment is covered.
#[derive(Default)]
pub(crate) struct Set {
    /// Identity of the list file this was loaded from (`None`: no file).
    pub stamp: Option<Stamp>,
    pub graphs: Vec<Arc<Loaded>>,
    /// Segment → (graph, member).
    pub by_key: HashMap<SegmentKey, (usize, usize)>,
}

impl Set {
    pub(crate) fn new(stamp: Option<Stamp>, graphs: Vec<Arc<Loaded>>) -> Set {
        let mut by_key = HashMap::new();
        for (g, loaded) in graphs.iter().enumerate() {
            for (i, m) in loaded.entry.members.iter().enumerate() {
                by_key.insert(m.key(), (g, i));
            }
        }
        Set {
            stamp,
            graphs,
            by_key,
        }
    }
}

/// A file's identity: replaced by rename, the list gets a new inode and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl Stamp {
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&m),
        })
    }
}

/// Size class of a graph of `points`: graphs of one class are merged together.
pub(crate) fn class(points: usize, min: usize, fanout: usize) -> u32 {
    let mut class = 0;
    let mut bound = min.max(1).saturating_mul(fanout);
    while points >= bound && bound != usize::MAX {
        class += 1;
        bound = bound.saturating_mul(fanout);
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_grow_by_the_fanout() {
        assert_eq!(class(4096, 4096, 4), 0);
        assert_eq!(class(16383, 4096, 4), 0);
        assert_eq!(class(16384, 4096, 4), 1);
        assert_eq!(class(70000, 4096, 4), 2);
        assert!(class(usize::MAX, 4096, 4) > 20);
    }

    #[test]
    fn index_file_names() {
        assert!(is_index_file("m3.ivf"));
        assert!(is_index_file("m12.ivf"));
        assert!(!is_index_file("m03.ivf"));
        assert!(!is_index_file("s1-v2.vec"));
        assert!(!is_index_file("merged.json"));
    }
}
