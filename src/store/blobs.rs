//! Content-addressed storage of originals.
//!
//! Every ready version keeps the exact bytes it was built from, named by their SHA-256, so a
//! revert or a re-parse with a newer parser never needs the origin again (which may be gone).
//! Identical content is stored once. Files are written to a temporary name, fsynced and renamed,
//! so a crash never leaves a half-written blob under a valid name.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Hex SHA-256 of `bytes`: the content hash of a version.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A folder of blobs, `ab/abcdef…`, one per distinct content.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn new(root: PathBuf) -> Self {
        BlobStore { root }
    }

    fn path(&self, hash: &str) -> Result<PathBuf> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Internal(format!("not a content hash: {hash:?}")));
        }
        Ok(self.root.join(&hash[..2]).join(hash))
    }

    /// Stores `bytes` and returns their hash; storing the same content twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let hash = content_hash(bytes);
        let path = self.path(&hash)?;
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::storage("creating a temporary blob", e))?;
        tmp.write_all(bytes)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::storage("writing a blob", e))?;
        tmp.persist(&path)
            .map_err(|e| Error::storage(format!("saving blob {hash}"), e.error))?;
        Ok(hash)
    }

    /// Reads a blob back; a missing blob is our fault (the catalog said it exists).
    pub fn get(&self, hash: &str) -> Result<Vec<u8>> {
        let path = self.path(hash)?;
        std::fs::read(&path).map_err(|e| Error::storage(format!("reading blob {hash}"), e))
    }

    /// Bytes of all stored blobs: what the storage quota of a knowledge base measures.
    pub fn total_bytes(&self) -> Result<u64> {
        let mut total = 0;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::storage("listing blobs", e)),
        };
        for dir in entries.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            total += files
                .flatten()
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>();
        }
        Ok(total)
    }

    /// Deletes every blob whose hash is not in `keep`; returns how many were removed.
    pub fn retain(&self, keep: &HashSet<String>) -> Result<usize> {
        let mut removed = 0;
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::storage("listing blobs", e)),
        };
        for dir in entries.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                // Temporary files of a crashed write are garbage as well.
                if !keep.contains(&name) {
                    remove_file(&file.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::storage(format!("removing {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_dedup_and_retain() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let a = store.put(b"hello").unwrap();
        assert_eq!(
            a,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.put(b"hello").unwrap(), a);
        let b = store.put(b"world").unwrap();
        assert_eq!(store.get(&a).unwrap(), b"hello");
        let keep: HashSet<String> = [a.clone()].into_iter().collect();
        assert_eq!(store.retain(&keep).unwrap(), 1);
        assert!(store.get(&b).is_err());
        assert_eq!(store.get(&a).unwrap(), b"hello");
        assert!(store.get("../etc/passwd").is_err());
    }
}
