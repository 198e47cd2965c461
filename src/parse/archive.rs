//! Zip containers (DOCX, XLSX, XLSB, ODS) opened under limits.
//!
//! A few kilobytes of zip can declare or hold gigabytes: a deflate stream of zeros
//! compresses about 1000:1, and nested or overlapping entries multiply that. lore parses
//! uploads from anyone, so every zip-based parser opens its input through [`Archive`], which
//! refuses the container before decompressing anything when the central directory already
//! breaks a limit (entry count, total declared size, per-entry ratio), and which reads each
//! entry through a size-capped reader, because the declared sizes are written by whoever made
//! the file and can lie. Every refusal is [`Reason::ZipBomb`] with a message naming the limit.

use crate::error::{Error, Reason, Result};
use std::io::{Cursor, Read};
use zip::result::ZipError;
use zip::ZipArchive;

/// Limits for one zip container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most entries (files and folders) in the central directory.
    pub max_entries: usize,
    /// Most bytes all entries may declare (and yield) uncompressed, together.
    pub max_total_uncompressed: u64,
    /// Highest uncompressed:compressed ratio of one entry larger than `ratio_min_size`.
    pub max_ratio: u64,
    /// Entries up to this uncompressed size are exempt from the ratio limit: tiny XML parts
    /// of mostly-repeated markup legitimately compress very well.
    pub ratio_min_size: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 10_000,
            max_total_uncompressed: 512 * 1024 * 1024,
            max_ratio: 100,
            ratio_min_size: 1024 * 1024,
        }
    }
}

/// A zip container whose central directory passed the limits.
pub struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    limits: ArchiveLimits,
    /// Uncompressed bytes handed out so far by [`Archive::read`], against the total limit.
    read_total: u64,
}

impl std::fmt::Debug for Archive<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("entries", &self.zip.len())
            .field("read_total", &self.read_total)
            .finish()
    }
}

impl<'a> Archive<'a> {
    /// Opens `bytes` as a zip and checks its central directory against `limits`.
    ///
    /// Errors: [`Reason::Corrupted`] when there is no readable central directory,
    /// [`Reason::ZipBomb`] when a limit is broken.
    pub fn open(bytes: &'a [u8], limits: ArchiveLimits) -> Result<Self> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(&e, "archive"))?;
        check_directory(&mut zip, &limits)?;
        Ok(Archive {
            zip,
            limits,
            read_total: 0,
        })
    }

    /// Names of all entries, in central-directory order (undecodable names lossily).
    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names_raw()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// True when the archive has an entry called exactly `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// The declared uncompressed size of entry `name`, if there is one.
    pub fn size(&mut self, name: &str) -> Option<u64> {
        let index = self.zip.index_for_name(name)?;
        self.zip.by_index_raw(index).ok().map(|e| e.size())
    }

    /// The uncompressed content of entry `name`, or `None` when there is no such entry.
    ///
    /// Reads at most the declared size (the zip reader also fails on more) and at most what
    /// is left of the total budget, so a lying header cannot make it allocate more.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        let budget = self
            .limits
            .max_total_uncompressed
            .saturating_sub(self.read_total);
        let mut entry = self.zip.by_index(index).map_err(|e| zip_error(&e, name))?;
        if entry.encrypted() {
            return Err(Error::rejected(
                Reason::PasswordProtected,
                format!("archive entry {name} is encrypted"),
            ));
        }
        let declared = entry.size();
        let cap = declared.min(budget);
        let mut out = Vec::with_capacity(usize::try_from(cap.min(64 << 20)).unwrap_or(0));
        // One byte more than allowed tells "exactly at the cap" from "over it".
        let got = (&mut entry)
            .take(cap.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| io_error(&e, name))?;
        let got = got as u64;
        if got > declared {
            return Err(lying_size(name, declared));
        }
        if got > budget {
            return Err(total_exceeded(&self.limits));
        }
        self.read_total += got;
        Ok(Some(out))
    }

    /// Like [`Archive::read`], but a missing entry is [`Reason::Malformed`].
    pub fn read_required(&mut self, name: &str, what: &str) -> Result<Vec<u8>> {
        self.read(name)?
            .ok_or_else(|| Error::rejected(Reason::Malformed, format!("{what} has no {name} part")))
    }
}

/// Checks a zip's central directory against the limits without decompressing anything; the
/// zip-based spreadsheet formats call it before handing the bytes to calamine (which opens
/// the zip itself and reads through the zip crate's declared-size check).
pub fn check(bytes: &[u8], limits: ArchiveLimits) -> Result<()> {
    Archive::open(bytes, limits).map(|_| ())
}

fn check_directory(zip: &mut ZipArchive<Cursor<&[u8]>>, limits: &ArchiveLimits) -> Result<()> {
    if zip.len() > limits.max_entries {
        return Err(Error::rejected(
            Reason::ZipBomb,
            format!(
                "archive has {} entries, over the limit of {} (max entries)",
                zip.len(),
                limits.max_entries
            ),
        ));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        // `by_index_raw` reads the header only: nothing is decompressed here.
        let entry = zip.by_index_raw(i).map_err(|e| zip_error(&e, "archive"))?;
        let size = entry.size();
        let compressed = entry.compressed_size().max(1);
        total = total.saturating_add(size);
        if total > limits.max_total_uncompressed {
            return Err(total_exceeded(limits));
        }
        if size > limits.ratio_min_size && size / compressed > limits.max_ratio {
            return Err(Error::rejected(
                Reason::ZipBomb,
                format!(
                    "archive entry {} expands {}:1, over the limit of {}:1 (max compression ratio)",
                    String::from_utf8_lossy(entry.name_raw()),
                    size / compressed,
                    limits.max_ratio
                ),
            ));
        }
    }
    Ok(())
}

fn total_exceeded(limits: &ArchiveLimits) -> Error {
    Error::rejected(
        Reason::ZipBomb,
        format!(
            "archive expands to more than {} MiB, the limit (max uncompressed size)",
            limits.max_total_uncompressed / (1024 * 1024)
        ),
    )
}

fn lying_size(name: &str, declared: u64) -> Error {
    Error::rejected(
        Reason::ZipBomb,
        format!(
            "archive entry {name} holds more than its declared {declared} bytes (declared size)"
        ),
    )
}

/// The zip crate's message when an entry yields more than its header declared.
const OVERSIZE_MESSAGE: &str = "larger than its declared uncompressed size";

/// True when an error (of calamine, which wraps the zip crate's) says an entry held more
/// than its declared size: a zip bomb, not mere corruption.
pub fn is_oversize_error(message: &str) -> bool {
    message.contains(OVERSIZE_MESSAGE)
}

fn io_error(e: &std::io::Error, name: &str) -> Error {
    if is_oversize_error(&e.to_string()) {
        return Error::rejected(
            Reason::ZipBomb,
            format!("archive entry {name} holds more than its declared size (declared size)"),
        );
    }
    Error::rejected(
        Reason::Corrupted,
        format!("archive entry {name} cannot be decompressed: {e}"),
    )
}

fn zip_error(e: &ZipError, what: &str) -> Error {
    match e {
        ZipError::Io(io) => io_error(io, what),
        ZipError::UnsupportedArchive(msg) if msg.contains("assword") => {
            Error::rejected(Reason::PasswordProtected, format!("{what} is encrypted"))
        }
        ZipError::UnsupportedArchive(msg) => Error::rejected(
            Reason::UnsupportedFormat,
            format!("{what} uses an unsupported zip feature: {msg}"),
        ),
        _ => Error::rejected(Reason::Corrupted, format!("zip {what} is corrupted: {e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    /// Builds a zip in memory from `(name, content)` pairs, deflated.
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, content) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn reason_and_message(bytes: &[u8], limits: ArchiveLimits) -> (Reason, String) {
        let e = Archive::open(bytes, limits)
            .and_then(|mut a| {
                for n in a.names() {
                    a.read(&n)?;
                }
                Ok(())
            })
            .expect_err("expected a refusal");
        (e.reason().expect("user fault"), e.to_string())
    }

    #[test]
    fn reads_entries_and_reports_missing_ones() {
        let bytes = zip_of(&[("a.xml", b"<a/>"), ("dir/b.txt", b"hello")]);
        let mut a = Archive::open(&bytes, ArchiveLimits::default()).unwrap();
        assert_eq!(
            a.names(),
            vec!["a.xml".to_string(), "dir/b.txt".to_string()]
        );
        assert!(a.contains("dir/b.txt"));
        assert_eq!(a.read("dir/b.txt").unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(a.read("nope").unwrap(), None);
        let e = a.read_required("nope", "test file").unwrap_err();
        assert_eq!(e.to_string(), "malformed: test file has no nope part");
    }

    #[test]
    fn highly_compressible_entry_is_a_zip_bomb() {
        // 8 MiB of zeros deflates to about 8 KiB: ~1000:1.
        let zeros = vec![0u8; 8 << 20];
        let bytes = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        assert!(bytes.len() < 64 * 1024);
        let (reason, msg) = reason_and_message(&bytes, ArchiveLimits::default());
        assert_eq!(reason, Reason::ZipBomb);
        assert!(msg.contains("max compression ratio"), "{msg}");
        assert!(msg.contains("xl/worksheets/sheet1.xml"), "{msg}");
    }

    #[test]
    fn small_compressible_entries_are_exempt_from_the_ratio() {
        let zeros = vec![0u8; 512 * 1024];
        let bytes = zip_of(&[("a", &zeros)]);
        let mut a = Archive::open(&bytes, ArchiveLimits::default()).unwrap();
        assert_eq!(a.read("a").unwrap().unwrap().len(), 512 * 1024);
    }

    #[test]
    fn too_many_entries_is_a_zip_bomb() {
        let names: Vec<String> = (0..10_001).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let bytes = zip_of(&entries);
        let (reason, msg) = reason_and_message(&bytes, ArchiveLimits::default());
        assert_eq!(reason, Reason::ZipBomb);
        assert_eq!(
            msg,
            "zip-bomb: archive has 10001 entries, over the limit of 10000 (max entries)"
        );
    }

    #[test]
    fn total_declared_size_is_limited() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let bytes = zip_of(&[("a", &data), ("b", &data)]);
        let limits = ArchiveLimits {
            max_total_uncompressed: 1024 * 1024,
            ..ArchiveLimits::default()
        };
        let (reason, msg) = reason_and_message(&bytes, limits);
        assert_eq!(reason, Reason::ZipBomb);
        assert!(msg.contains("max uncompressed size"), "{msg}");
    }

    /// Rewrites the uncompressed-size field of every local and central header to `size`.
    pub(crate) fn patch_declared_size(bytes: &mut [u8], size: u32) {
        let mut i = 0;
        while i + 46 <= bytes.len() {
            match &bytes[i..i + 4] {
                b"PK\x03\x04" => bytes[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
                b"PK\x01\x02" => bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
                _ => {}
            }
            i += 1;
        }
    }

    #[test]
    fn a_lying_size_header_is_caught_while_reading() {
        // 4 MiB of zeros that claim to be 1,000 bytes: the directory looks harmless (ratio
        // 1000 bytes / 4 KiB) and only reading reveals the truth.
        let zeros = vec![0u8; 4 << 20];
        let mut bytes = zip_of(&[("word/document.xml", &zeros)]);
        patch_declared_size(&mut bytes, 1000);
        let mut a = Archive::open(&bytes, ArchiveLimits::default()).unwrap();
        let e = a.read("word/document.xml").unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ZipBomb), "{e}");
        assert!(e.to_string().contains("declared"), "{e}");
    }

    #[test]
    fn garbage_after_the_signature_is_corrupted() {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend_from_slice(&[7u8; 300]);
        let e = Archive::open(&bytes, ArchiveLimits::default()).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Corrupted), "{e}");
        // A truncated real zip: no central directory left.
        let full = zip_of(&[("a", b"hello world")]);
        let e = Archive::open(&full[..full.len() / 2], ArchiveLimits::default()).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Corrupted), "{e}");
    }
}
