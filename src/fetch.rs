//! Fetch: read the bytes of a source's origin, enforcing the byte limit before reading.
//!
//! Every failure is a named user-fault reason, because a missing or unreadable origin is
//! something the admin must fix (and the source keeps serving its last good version meanwhile).

use crate::error::{Error, Reason, Result};
use crate::store::blobs::BlobStore;
use std::io::Read;
use std::path::Path;

/// Where the bytes of a version come from.
#[derive(Debug, Clone)]
pub enum Origin<'a> {
    /// A file on the local disk.
    File(&'a Path),
    /// Bytes already in the blob store (text entries, re-parses).
    Blob(&'a str),
}

/// Reads the whole origin, refusing anything over `max_bytes` with [`Reason::TooLarge`].
pub fn fetch(origin: &Origin<'_>, blobs: &BlobStore, max_bytes: u64) -> Result<Vec<u8>> {
    match origin {
        Origin::File(path) => read_file(path, max_bytes),
        Origin::Blob(hash) => {
            let bytes = blobs.get(hash)?;
            check_size(bytes.len() as u64, max_bytes)?;
            Ok(bytes)
        }
    }
}

fn check_size(len: u64, max_bytes: u64) -> Result<()> {
    if len > max_bytes {
        return Err(Error::rejected(
            Reason::TooLarge,
            format!("{len} bytes is over the limit of {max_bytes} bytes"),
        ));
    }
    Ok(())
}

fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let shown = path.display();
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::rejected(Reason::OriginMissing, format!("{shown} no longer exists"))
        }
        _ => Error::rejected(Reason::Unreadable, format!("cannot read {shown}: {e}")),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::rejected(
            Reason::Unreadable,
            format!("{shown} is a folder, not a file"),
        ));
    }
    check_size(meta.len(), max_bytes)?;
    // The file may grow between stat and read: read at most one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len() as u64, max_bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_reasons_for_each_failure() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(dir.path().join("blobs"));
        let missing = dir.path().join("nope.txt");
        let e = fetch(&Origin::File(&missing), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::OriginMissing));
        let e = fetch(&Origin::File(dir.path()), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Unreadable));
        let big = dir.path().join("big.txt");
        std::fs::write(&big, vec![b'a'; 101]).unwrap();
        let e = fetch(&Origin::File(&big), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::TooLarge));
        assert!(e.to_string().contains("101 bytes"), "{e}");
        assert_eq!(fetch(&Origin::File(&big), &blobs, 101).unwrap().len(), 101);
        let h = blobs.put(b"body").unwrap();
        assert_eq!(fetch(&Origin::Blob(&h), &blobs, 10).unwrap(), b"body");
        assert_eq!(
            fetch(&Origin::Blob(&h), &blobs, 3).unwrap_err().reason(),
            Some(Reason::TooLarge)
        );
    }
}
