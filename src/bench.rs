//! Parse throughput measurement behind `lore bench parse DIR`.
//!
//! Every file under the folder goes through the same detection and parsers as ingestion. Files
//! are parsed in parallel (rayon), and each file's parse time is measured on its own thread, so
//! the per-format `seconds` are CPU-seconds of parsing and `pages_per_s` is a per-core figure
//! that does not depend on how many cores the machine has. The wall-clock time of the whole
//! run is reported beside them.

use crate::error::{Error, Result};
use crate::parse::{self, ParseOptions};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Figures for one format.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FormatStats {
    /// Files detected as this format (parsed or failed).
    pub files: u64,
    /// Pages of the files that parsed (a non-paged file counts as one page).
    pub pages: u64,
    pub bytes: u64,
    /// Sum of the per-file parse times.
    pub seconds: f64,
    pub pages_per_s: f64,
    pub mb_per_s: f64,
    /// Failures counted by reason name.
    pub failed: BTreeMap<String, u64>,
}

/// The result of a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ParseBench {
    pub dir: String,
    pub files: u64,
    pub wall_seconds: f64,
    /// Format name → figures. Files whose format could not be detected (empty, binary,
    /// unsupported) are counted under `"undetected"`, with their reasons in `failed`.
    pub formats: BTreeMap<String, FormatStats>,
    /// Parser panics caught (a bug in lore: must be zero).
    pub panics: u64,
}

struct One {
    format: String,
    bytes: u64,
    pages: u64,
    seconds: f64,
    failure: Option<String>,
    panicked: bool,
}

/// Parses every regular file under `dir` (recursively, hidden files included: a benchmark
/// folder is what it is) and reports throughput per format.
pub fn parse_dir(dir: &Path, opts: &ParseOptions) -> Result<ParseBench> {
    if !dir.is_dir() {
        return Err(Error::invalid(format!("{} is not a folder", dir.display())));
    }
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let started = Instant::now();
    let results: Vec<One> = files.par_iter().map(|p| parse_one(p, opts)).collect();
    let wall_seconds = started.elapsed().as_secs_f64();

    let mut out = ParseBench {
        dir: dir.display().to_string(),
        files: files.len() as u64,
        wall_seconds,
        ..Default::default()
    };
    for r in results {
        let f = out.formats.entry(r.format).or_default();
        f.files += 1;
        f.bytes += r.bytes;
        f.seconds += r.seconds;
        if r.panicked {
            out.panics += 1;
        }
        match r.failure {
            Some(reason) => *f.failed.entry(reason).or_default() += 1,
            None => f.pages += r.pages,
        }
    }
    for f in out.formats.values_mut() {
        if f.seconds > 0.0 {
            f.pages_per_s = f.pages as f64 / f.seconds;
            f.mb_per_s = f.bytes as f64 / 1e6 / f.seconds;
        }
    }
    Ok(out)
}

fn parse_one(path: &Path, opts: &ParseOptions) -> One {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return One {
                format: "unreadable".into(),
                bytes: 0,
                pages: 0,
                seconds: 0.0,
                failure: Some(format!("io: {}", e.kind())),
                panicked: false,
            }
        }
    };
    let format = match parse::detect(&bytes, name.as_deref()) {
        Ok(f) => f.as_str().to_string(),
        Err(_) => "undetected".to_string(),
    };
    let started = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse::parse(&bytes, name.as_deref(), opts)
    }));
    let seconds = started.elapsed().as_secs_f64();
    let (pages, failure, panicked) = match result {
        Ok(Ok((_, doc))) => (u64::from(doc.pages.unwrap_or(1)), None, false),
        Ok(Err(e)) => (
            0,
            Some(
                e.reason()
                    .map_or_else(|| "internal".to_string(), |r| r.as_str().to_string()),
            ),
            false,
        ),
        Err(_) => {
            tracing::error!(file = %path.display(), "parser panicked");
            (0, Some("panic".to_string()), true)
        }
    };
    One {
        format,
        bytes: bytes.len() as u64,
        pages,
        seconds,
        failure,
        panicked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_pages_and_failures_per_format() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello there\n").unwrap();
        std::fs::write(dir.path().join("b.md"), "# T\n\nbody text\n").unwrap();
        std::fs::write(dir.path().join("c.md"), "  \n").unwrap();
        std::fs::write(dir.path().join("d.bin"), [0u8, 1, 2, 3, 0, 0, 0, 9]).unwrap();
        let b = parse_dir(dir.path(), &ParseOptions::default()).unwrap();
        assert_eq!(b.files, 4);
        assert_eq!(b.panics, 0);
        assert_eq!(b.formats["text"].files, 1);
        assert_eq!(b.formats["text"].pages, 1);
        assert_eq!(b.formats["markdown"].files, 1);
        // Empty and binary content fail detection already.
        assert_eq!(b.formats["undetected"].files, 2);
        assert_eq!(b.formats["undetected"].failed["empty"], 1);
        assert_eq!(b.formats["undetected"].failed["binary"], 1);
        assert!(parse_dir(&dir.path().join("a.txt"), &ParseOptions::default()).is_err());
    }
}
