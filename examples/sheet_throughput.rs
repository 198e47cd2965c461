//! Spreadsheet parsing throughput: every spreadsheet in a folder (xlsx, xls, xlsb, ods,
//! csv, tsv), parsed `rounds` times from memory, as rows (blocks) per second.
//!
//! `cargo run --release --example sheet_throughput -- <folder> [rounds]`; prints one line,
//! `rows=<n> seconds=<s> rows_per_sec=<r> files=<f>`, for `benches/peers-sheets.sh`.

use lore::parse::{parse, ParseOptions};
use std::time::Instant;

const EXTENSIONS: &[&str] = &["xlsx", "xls", "xlsb", "ods", "csv", "tsv"];

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: sheet_throughput <folder> [rounds]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("folder is readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if EXTENSIONS.contains(&ext.as_str()) {
            let name = path.to_string_lossy().into_owned();
            files.push((name, std::fs::read(&path).expect("file is readable")));
        }
    }
    let opts = ParseOptions::default();
    let mut rows = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for (name, bytes) in &files {
            if let Ok((_, doc)) = parse(bytes, Some(name), &opts) {
                rows += doc.blocks.len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rows={rows} seconds={secs:.3} rows_per_sec={:.0} files={}",
        rows as f64 / secs,
        files.len()
    );
}
