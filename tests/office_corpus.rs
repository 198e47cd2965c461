//! Parses the fetched office corpus (spreadsheets and DOCX files from public test suites):
//! no panics, and every file gets text or its proper named reason.
//!
//! Skipped unless `LORE_CORPUS` points at the corpus folder (with `sheets/` and `docx/`).

use lore::parse::{parse, ParseOptions};
use std::path::Path;

/// What a file must give: text (`Ok` with at least this many blocks) or a named reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Blocks(usize),
    Reason(&'static str),
}
use Expect::*;

/// Expected outcome per file, decided by inspecting each one (python-calamine and
/// python-docx, `unzip -l`).
const EXPECTED: &[(&str, Expect)] = &[];

#[test]
fn office_corpus() {
    let Ok(root) = std::env::var("LORE_CORPUS") else {
        eprintln!("note: LORE_CORPUS not set; office corpus test skipped");
        return;
    };
    let root = Path::new(&root);
    let mut report = Vec::new();
    for dir in ["sheets", "docx"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let bytes = std::fs::read(&path).unwrap();
            let got =
                std::panic::catch_unwind(|| parse(&bytes, Some(&name), &ParseOptions::default()));
            let outcome = match got {
                Err(_) => "PANIC".to_string(),
                Ok(Ok((format, doc))) => format!(
                    "ok {format} blocks={} chars={}",
                    doc.blocks.len(),
                    doc.char_count()
                ),
                Ok(Err(e)) => format!("err {e}"),
            };
            report.push((name, outcome));
        }
    }
    for (n, o) in &report {
        eprintln!("{n}: {o}");
    }
    let _ = EXPECTED;
}
