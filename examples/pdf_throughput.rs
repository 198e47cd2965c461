//! PDF parse throughput on a folder: `cargo run --release --example pdf_throughput -- FOLDER`.
//!
//! Reads every `*.pdf` of FOLDER into memory first (so disk time is not counted), then parses
//! them one after the other with [`lore::parse::pdf::PdfParser`] (each document's pages in
//! parallel, no page limit) and prints files, pages, seconds and pages/s. Pages count those
//! of documents that parsed.
//!
//! Options: `--dump DIR` writes each file's text to `DIR/<name>.txt` (blocks separated by
//! blank lines) and its outcome (`text` or the reason) to `DIR/<name>.outcome`;
//! `--repeat N` parses the folder N times and reports the best run; `--verbose` prints one
//! line per file.
//!
//! Besides wall time it prints the CPU time the run used (from `/proc/self/stat`, Linux
//! only), because on a shared machine wall time mostly measures the neighbours.

use lore::parse::pdf::PdfParser;
use lore::parse::{ParseOptions, Parser};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut folder = None;
    let mut dump: Option<PathBuf> = None;
    let mut repeat = 1usize;
    let mut verbose = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dump" => dump = args.next().map(PathBuf::from),
            "--repeat" => repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            "--verbose" => verbose = true,
            _ => folder = Some(PathBuf::from(a)),
        }
    }
    let Some(folder) = folder else {
        eprintln!("usage: pdf_throughput FOLDER [--dump DIR] [--repeat N] [--verbose]");
        std::process::exit(2);
    };
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .expect("read folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read file"))
        })
        .collect();
    files.sort();
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).expect("create dump folder");
    }
    // Every page counts: no page limit.
    let opts = ParseOptions {
        max_pages: u32::MAX,
        ..Default::default()
    };
    let mut best: Option<(f64, u64, usize, f64)> = None;
    for _ in 0..repeat {
        let mut pages = 0u64;
        let mut ok = 0usize;
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        for (name, bytes) in &files {
            let t = Instant::now();
            let r = PdfParser.parse(bytes, &opts);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let outcome = match &r {
                Ok(doc) => {
                    pages += u64::from(doc.pages.unwrap_or(0));
                    ok += 1;
                    "text".to_string()
                }
                Err(e) => e.reason().map_or("internal".into(), |r| r.to_string()),
            };
            if verbose {
                println!("{name}\t{outcome}\t{ms:.1} ms");
            }
            if let Some(d) = &dump {
                let stem = name.trim_end_matches(".pdf");
                let text = match &r {
                    Ok(doc) => doc
                        .blocks
                        .iter()
                        .map(|b| b.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n\n"),
                    Err(e) => format!("{e}"),
                };
                std::fs::write(d.join(format!("{stem}.txt")), text).expect("write text");
                std::fs::write(d.join(format!("{stem}.outcome")), &outcome).expect("write");
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_start;
        if best.is_none_or(|(s, ..)| secs < s) {
            best = Some((secs, pages, ok, cpu));
        }
    }
    let (secs, pages, ok, cpu) = best.unwrap_or_default();
    println!(
        "lore: files {} (parsed {ok}), pages {pages}, seconds {secs:.3}, pages/s {:.0}, \
         cpu seconds {cpu:.3}, pages per cpu-second {:.0}",
        files.len(),
        pages as f64 / secs.max(1e-9),
        pages as f64 / cpu.max(1e-9)
    );
}

/// User + system CPU time of this process so far, in seconds (0 where `/proc` is missing).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces):
    // utime and stime are the 12th and 13th, in clock ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
