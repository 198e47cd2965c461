//! Throughput of the pipeline stages on the bundled sample sources: parse per format, the
//! sample PDF in pages per second, chunk, a whole ingestion, and a search. Run with
//! `cargo bench`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lore::{AddOptions, ChunkConfig, Lore, NoProgress};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-sources")
}

/// Sample files (name, bytes) of one format.
type Group = (lore::parse::Format, Vec<(String, Vec<u8>)>);

/// Every sample file with its bytes, grouped by the format lore detects.
fn files_by_format() -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(samples())
        .expect("sample-sources")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(format) = lore::parse::detect(&bytes, Some(&name)) else {
            continue;
        };
        match groups.iter_mut().find(|(f, _)| *f == format) {
            Some((_, v)) => v.push((name, bytes)),
            None => groups.push((format, vec![(name, bytes)])),
        }
    }
    groups
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (format, files) in files_by_format() {
        let total: usize = files.iter().map(|(_, b)| b.len()).sum();
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function(format.as_str(), |b| {
            b.iter(|| {
                for (name, bytes) in &files {
                    black_box(lore::parse::parse(bytes, Some(name), &Default::default()).unwrap());
                }
            })
        });
    }
    g.finish();
}

/// The sample PDF alone, reported in pages per second.
fn pdf(c: &mut Criterion) {
    use lore::parse::Parser;
    let bytes = std::fs::read(samples().join("brewing-guide.pdf")).expect("sample pdf");
    let opts = Default::default();
    let pages = lore::parse::pdf::PdfParser
        .parse(&bytes, &opts)
        .expect("sample pdf parses")
        .pages
        .unwrap_or(1);
    let mut g = c.benchmark_group("pdf");
    g.throughput(Throughput::Elements(u64::from(pages)));
    g.bench_function("brewing-guide", |b| {
        b.iter(|| black_box(lore::parse::pdf::PdfParser.parse(&bytes, &opts).unwrap()))
    });
    g.finish();
}

fn chunk(c: &mut Criterion) {
    let docs: Vec<_> = files_by_format()
        .into_iter()
        .flat_map(|(_, files)| files)
        .map(|(name, bytes)| {
            lore::parse::parse(&bytes, Some(&name), &Default::default())
                .unwrap()
                .1
        })
        .collect();
    let chars: usize = docs.iter().map(|d| d.char_count()).sum();
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(chars as u64));
    g.bench_function("samples", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(lore::chunk::chunk(d, &ChunkConfig::default()));
            }
        })
    });
    g.finish();
}

fn ingest_and_search(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.bench_function("samples-folder", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            let lore = Lore::open(dir.path()).unwrap();
            let kb = lore.kb("bench").unwrap();
            black_box(
                kb.add_paths(&[samples()], &AddOptions::default(), &NoProgress)
                    .unwrap(),
            );
        })
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let lore = Lore::open(dir.path()).unwrap();
    let kb = lore.kb("bench").unwrap();
    kb.add_paths(&[samples()], &AddOptions::default(), &NoProgress)
        .unwrap();
    let mut g = c.benchmark_group("search");
    g.bench_function("bm25-top5", |b| {
        b.iter(|| black_box(kb.search("how many days to return an item", 5).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, parse, pdf, chunk, ingest_and_search);
criterion_main!(benches);
