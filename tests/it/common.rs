//! Helpers shared by the integration tests.

use lore::{AddOptions, IngestReport, KnowledgeBase, Lore, NoProgress, Outcome};
use std::path::{Path, PathBuf};

/// A data folder and a folder of origin files, both temporary.
pub struct Env {
    pub data: tempfile::TempDir,
    pub files: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            data: tempfile::tempdir().unwrap(),
            files: tempfile::tempdir().unwrap(),
        }
    }

    pub fn lore(&self) -> Lore {
        Lore::open(self.data.path()).unwrap()
    }

    /// Writes an origin file and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.files.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

pub fn add(kb: &KnowledgeBase<'_>, path: &Path) -> IngestReport {
    let mut r = kb
        .add_paths(&[path.to_path_buf()], &AddOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    r.pop().unwrap()
}

pub fn sync(kb: &KnowledgeBase<'_>, key: &str) -> IngestReport {
    let mut r = kb.sync(&[key.to_string()], &NoProgress).unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    r.pop().unwrap()
}

/// The version a report created, or a panic naming what happened instead.
pub fn created(r: &IngestReport) -> u32 {
    match &r.outcome {
        Outcome::Created { version, .. } => *version,
        other => panic!("expected a new version, got {other:?}"),
    }
}

/// The reason of a failed report.
pub fn failed_reason(r: &IngestReport) -> String {
    match &r.outcome {
        Outcome::Failed { reason, .. } => reason.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Texts of the hits of a search.
pub fn hit_texts(kb: &KnowledgeBase<'_>, q: &str) -> Vec<String> {
    kb.search(q, 10)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.text)
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift), binary enough to be refused as text.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
