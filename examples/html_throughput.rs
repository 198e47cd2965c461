//! HTML parsing throughput: every `.html`/`.htm` file in a folder, parsed `rounds` times from
//! memory on one thread, as files per second, with the share of the time html5ever spends
//! building the tree (the part lore's own extraction cannot make faster).
//!
//! `cargo run --release --example html_throughput -- <folder> [rounds]`; prints one line,
//! `files=<n> seconds=<s> files_per_sec=<r> tree_share=<t>`, for `benches/peers-html.sh`.

use lore::parse::{parser_for, Format, ParseOptions};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: html_throughput <folder> [rounds]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("folder is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
        })
        .collect();
    paths.sort();
    let bodies: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("file is readable"))
        .collect();
    let opts = ParseOptions::default();
    let mut best = f64::MAX;
    let mut tree = f64::MAX;
    for _ in 0..rounds {
        let started = Instant::now();
        for b in &bodies {
            std::hint::black_box(parser_for(Format::Html).parse(b, &opts).ok());
        }
        best = best.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        for b in &bodies {
            let text = String::from_utf8_lossy(b);
            std::hint::black_box(scraper::Html::parse_document(&text));
        }
        tree = tree.min(started.elapsed().as_secs_f64());
    }
    println!(
        "files={} seconds={best:.3} files_per_sec={:.1} tree_share={:.2}",
        bodies.len(),
        bodies.len() as f64 / best,
        tree / best
    );
}
