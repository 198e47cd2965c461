//! The segment file: the vectors of one `(source, version)`, written once and never changed.
//!
//! Layout, all integers little-endian:
//!
//! ```text
//! offset  size  field
//!      0     8  magic "LOREVEC\0"
//!      8     4  format version (1)
//!     12     4  dim
//!     16     8  count
//!     24     8  source id (i64)
//!     32     4  version (u32)
//!     36     4  flags (0)
//!     40     8  checksum of the chunk ids
//!     48     8  checksum of the matrix
//!     56     8  checksum of bytes 0..56
//!     64  8·n   chunk ids (i64), in row order
//!      …        zero padding to a multiple of 64
//!      …  4·n·d the matrix: n rows of d f32, row i is the vector of chunk id i
//! ```
//!
//! The matrix starts on a 64-byte boundary so that, memory-mapped (a page-aligned base), it can
//! be used in place as a `&[f32]` with cache-line-aligned rows whenever `d` is a multiple of
//! 16. The file length is exactly determined by the header, so truncation is detected before
//! anything is read; the checksums catch corruption inside.

use super::checksum::Checksum;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"LOREVEC\0";
const FORMAT: u32 = 1;
pub(crate) const HEADER_LEN: usize = 64;

/// The parsed header of a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub dim: usize,
    pub count: usize,
    pub source_id: i64,
    pub version: u32,
    pub ids_sum: u64,
    pub matrix_sum: u64,
}

impl Header {
    fn matrix_offset(count: usize) -> Option<usize> {
        let end_of_ids = count.checked_mul(8)?.checked_add(HEADER_LEN)?;
        end_of_ids.checked_next_multiple_of(64)
    }

    /// Total file length the header implies, or `None` when it overflows (a corrupt header).
    fn file_len(&self) -> Option<usize> {
        let matrix = self.count.checked_mul(self.dim)?.checked_mul(4)?;
        Self::matrix_offset(self.count)?.checked_add(matrix)
    }

    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        h[12..16].copy_from_slice(&(self.dim as u32).to_le_bytes());
        h[16..24].copy_from_slice(&(self.count as u64).to_le_bytes());
        h[24..32].copy_from_slice(&self.source_id.to_le_bytes());
        h[32..36].copy_from_slice(&self.version.to_le_bytes());
        // 36..40: flags, zero.
        h[40..48].copy_from_slice(&self.ids_sum.to_le_bytes());
        h[48..56].copy_from_slice(&self.matrix_sum.to_le_bytes());
        let sum = Checksum::of(&h[..56]);
        h[56..64].copy_from_slice(&sum.to_le_bytes());
        h
    }

    /// Parses and checks a header; the error text is completed by the caller with the path.
    fn decode(b: &[u8]) -> std::result::Result<Header, String> {
        if b.len() < HEADER_LEN {
            return Err(format!(
                "truncated: {} bytes, shorter than the {HEADER_LEN}-byte header",
                b.len()
            ));
        }
        if &b[0..8] != MAGIC {
            return Err("not a lore vector segment (bad magic)".into());
        }
        if Checksum::of(&b[..56]) != le_u64(b, 56) {
            return Err("corrupt header (checksum mismatch)".into());
        }
        let format = le_u32(b, 8);
        if format != FORMAT {
            return Err(format!(
                "format version {format}, this lore reads version {FORMAT}"
            ));
        }
        let count = usize::try_from(le_u64(b, 16)).map_err(|_| "count too large".to_string())?;
        Ok(Header {
            dim: le_u32(b, 12) as usize,
            count,
            source_id: le_u64(b, 24) as i64,
            version: le_u32(b, 32),
            ids_sum: le_u64(b, 40),
            matrix_sum: le_u64(b, 48),
        })
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Writes a complete segment file to `file` (a temporary file the caller renames) and fsyncs
/// it. Returns the header written.
///
/// One pass: a placeholder header, the body (checksummed on the way), then the real header.
pub(crate) fn write(
    file: &File,
    source_id: i64,
    version: u32,
    dim: usize,
    chunk_ids: &[i64],
    vectors: &[Vec<f32>],
) -> std::io::Result<Header> {
    let count = chunk_ids.len();
    let offset = Header::matrix_offset(count).ok_or_else(too_large)?;
    let mut ids_sum = Checksum::new();
    let mut matrix_sum = Checksum::new();
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&[0u8; HEADER_LEN])?;
    for id in chunk_ids {
        let b = id.to_le_bytes();
        ids_sum.update(&b);
        w.write_all(&b)?;
    }
    w.write_all(&[0u8; 64][..offset - HEADER_LEN - 8 * count])?;
    let mut row = Vec::with_capacity(dim * 4);
    for v in vectors {
        row.clear();
        for x in v {
            row.extend_from_slice(&x.to_le_bytes());
        }
        matrix_sum.update(&row);
        w.write_all(&row)?;
    }
    w.flush()?;
    drop(w);
    let header = Header {
        dim,
        count,
        source_id,
        version,
        ids_sum: ids_sum.finish(),
        matrix_sum: matrix_sum.finish(),
    };
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&header.encode())?;
    file.sync_all()?;
    Ok(header)
}

fn too_large() -> std::io::Error {
    std::io::Error::other("segment too large")
}

/// A segment file opened for search: its chunk ids in memory, its matrix memory-mapped.
pub(crate) struct SegmentFile {
    pub path: PathBuf,
    pub header: Header,
    pub ids: Vec<i64>,
    matrix: Matrix,
}

/// Where the matrix lives. On little-endian machines the file's bytes are the in-memory
/// representation, so the mapping is used in place and the OS page cache is the only copy.
enum Matrix {
    #[cfg(target_endian = "little")]
    Mapped {
        map: memmap2::Mmap,
        offset: usize,
        floats: usize,
    },
    #[cfg(target_endian = "big")]
    Owned(Vec<f32>),
}

impl SegmentFile {
    /// Opens and checks a segment: the header, the exact length, the dimension and identity
    /// it is expected to have, and the checksum of the chunk ids. The matrix checksum costs a
    /// pass over the whole file, so it is left to [`SegmentFile::verify_matrix`], which the
    /// caller runs when it is about to scan the matrix anyway.
    pub fn open(path: &Path, dim: usize, key: (i64, u32)) -> Result<SegmentFile> {
        let corrupt =
            |what: String| Error::Internal(format!("vector segment {}: {what}", path.display()));
        let file = File::open(path)
            .map_err(|e| Error::storage(format!("opening {}", path.display()), e))?;
        // SAFETY: segment files are immutable: they are written under a temporary name,
        // fsynced, and renamed into place; nothing in lore writes to or truncates a file after
        // that, it is only ever unlinked (which keeps the mapping valid). Another program
        // truncating it while mapped is outside what lore can defend against.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| Error::storage(format!("mapping {}", path.display()), e))?;
        let header = Header::decode(&map).map_err(corrupt)?;
        let expected = header
            .file_len()
            .ok_or_else(|| corrupt("corrupt header (sizes overflow)".into()))?;
        if map.len() != expected {
            return Err(corrupt(format!(
                "{} bytes, the header says {expected}: {}",
                map.len(),
                if map.len() < expected {
                    "truncated"
                } else {
                    "trailing garbage"
                }
            )));
        }
        if header.dim != dim {
            return Err(corrupt(format!(
                "dimension {}, the store's is {dim}",
                header.dim
            )));
        }
        if (header.source_id, header.version) != key {
            return Err(corrupt(format!(
                "holds source {} version {}, its name says {} version {}",
                header.source_id, header.version, key.0, key.1
            )));
        }
        let ids_bytes = &map[HEADER_LEN..HEADER_LEN + 8 * header.count];
        if Checksum::of(ids_bytes) != header.ids_sum {
            return Err(corrupt("corrupt chunk ids (checksum mismatch)".into()));
        }
        let ids = ids_bytes
            .chunks_exact(8)
            .map(|b| le_u64(b, 0) as i64)
            .collect();
        let offset = expected - header.count * header.dim * 4;
        let matrix_bytes = &map[offset..];
        let floats = header.count * header.dim;
        #[cfg(target_endian = "little")]
        let matrix = {
            // SAFETY: reinterpreting initialised bytes as f32 is sound for any bit pattern;
            // `align_to` only hands out the correctly aligned middle part.
            let (pre, mid, _) = unsafe { matrix_bytes.align_to::<f32>() };
            if !pre.is_empty() || mid.len() != floats {
                return Err(corrupt("matrix is not 4-byte aligned in memory".into()));
            }
            Matrix::Mapped {
                map,
                offset,
                floats,
            }
        };
        #[cfg(target_endian = "big")]
        let matrix = Matrix::Owned(
            matrix_bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        );
        Ok(SegmentFile {
            path: path.to_path_buf(),
            header,
            ids,
            matrix,
        })
    }

    /// The matrix, `count` rows of `dim` floats.
    pub fn matrix(&self) -> &[f32] {
        match &self.matrix {
            #[cfg(target_endian = "little")]
            Matrix::Mapped {
                map,
                offset,
                floats,
            } => {
                // SAFETY: as in `open`, where alignment and length were checked.
                let (_, mid, _) = unsafe { map[*offset..].align_to::<f32>() };
                &mid[..(*floats).min(mid.len())]
            }
            #[cfg(target_endian = "big")]
            Matrix::Owned(v) => v,
        }
    }

    /// Checks the matrix checksum (when it was skipped at open).
    pub fn verify_matrix(&self) -> Result<()> {
        let sum = match &self.matrix {
            #[cfg(target_endian = "little")]
            Matrix::Mapped { map, offset, .. } => Checksum::of(&map[*offset..]),
            #[cfg(target_endian = "big")]
            Matrix::Owned(v) => {
                let mut sum = Checksum::new();
                for x in v {
                    sum.update(&x.to_le_bytes());
                }
                sum.finish()
            }
        };
        if sum != self.header.matrix_sum {
            return Err(Error::Internal(format!(
                "vector segment {}: corrupt vectors (checksum mismatch)",
                self.path.display()
            )));
        }
        Ok(())
    }
}
