//! The PDF parser on a corpus of real-world files.
//!
//! Skipped (with a note) unless `LORE_CORPUS` names a folder holding `pdf/` (ordinary
//! documents) and `edge/` (damaged, encrypted, scanned and otherwise odd files). Run it in
//! release, it parses some 270 files:
//!
//! ```sh
//! LORE_CORPUS=/root/.cache/lore-corpus cargo test --release --test pdf_corpus -- --nocapture
//! ```
//!
//! Every file is parsed with no panic allowed, and its outcome must be the one in
//! [`EXPECTED`]: `text` for every file that holds extractable text, else its named reason.
//! The table was made with poppler's `pdftotext` as the referee (a file is `text` when
//! pdftotext extracts words from it; for the others the reason says why not), so the test
//! needs no pdftotext at run time. A folder that is present but empty is skipped with a note;
//! a file of the table missing from a non-empty folder fails the test.
//!
//! Text quality: when `LORE_PDF_REF` names a folder with pdftotext's output for the `pdf/`
//! files (`<name>.txt`, made by `benches/pdf_reference.sh`), the word-level F1 of lore's text
//! against it is computed per file, and the median must be at least 0.95. Words are maximal
//! runs of letters and digits, compared case-sensitively as multisets (reading order does
//! not count); both sides get the same normalisation first: ligatures expanded and words
//! hyphenated at a line end joined (lore does that on purpose; pdftotext does not).

use lore::parse::pdf::PdfParser;
use lore::parse::{ParseOptions, Parser};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File (relative to `LORE_CORPUS`) → expected outcome: `text` or a reason name.
const EXPECTED: &[(&str, &str)] = &[];

fn corpus() -> Option<PathBuf> {
    let root = PathBuf::from(std::env::var_os("LORE_CORPUS")?);
    (root.join("pdf").is_dir() && root.join("edge").is_dir()).then_some(root)
}

/// Ligatures expanded and line-end hyphenation joined, as lore's layout does.
fn normalize(text: &str) -> String {
    let text = text
        .replace('\u{FB00}', "ff")
        .replace('\u{FB01}', "fi")
        .replace('\u{FB02}', "fl")
        .replace('\u{FB03}', "ffi")
        .replace('\u{FB04}', "ffl")
        .replace(['\u{FB05}', '\u{FB06}'], "st");
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        let next_lower = lines
            .peek()
            .and_then(|n| n.trim_start().chars().next())
            .is_some_and(char::is_lowercase);
        let hyphenated = line
            .strip_suffix('-')
            .and_then(|h| h.chars().next_back())
            .is_some_and(char::is_alphabetic);
        if hyphenated && next_lower {
            out.push_str(&line[..line.len() - 1]);
            // The next line continues the word.
            if let Some(next) = lines.peek_mut() {
                *next = next.trim_start();
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn words(text: &str) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

/// Word-level F1 of `got` against `want` (multisets of words).
fn f1(got: &str, want: &str) -> f64 {
    let (g, w) = (words(got), words(want));
    let (ng, nw): (usize, usize) = (g.values().sum(), w.values().sum());
    if ng == 0 && nw == 0 {
        return 1.0;
    }
    let common: usize = g
        .iter()
        .map(|(k, &n)| n.min(w.get(k).copied().unwrap_or(0)))
        .sum();
    if common == 0 {
        return 0.0;
    }
    let (p, r) = (common as f64 / ng as f64, common as f64 / nw as f64);
    2.0 * p * r / (p + r)
}

fn pdfs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn pdf_corpus() {
    let Some(root) = corpus() else {
        eprintln!("pdf_corpus skipped: set LORE_CORPUS to a folder with pdf/ and edge/");
        return;
    };
    let reference = std::env::var_os("LORE_PDF_REF").map(PathBuf::from);
    let expected: BTreeMap<&str, &str> = EXPECTED.iter().copied().collect();
    // No page limit, so that the text of long manuals is compared whole.
    let opts = ParseOptions {
        max_pages: u32::MAX,
        ..Default::default()
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut scores: Vec<(f64, String)> = Vec::new();
    let mut seen = Vec::new();
    for folder in ["pdf", "edge"] {
        let files = pdfs(&root.join(folder));
        if files.is_empty() {
            eprintln!("pdf_corpus: {folder}/ is empty; its files are skipped");
            continue;
        }
        for path in files {
            let name = format!(
                "{folder}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let bytes = std::fs::read(&path).expect("read corpus file");
            let result =
                std::panic::catch_unwind(|| PdfParser.parse(&bytes, &opts)).map_err(|_| ());
            let outcome = match &result {
                Err(()) => "panic".to_string(),
                Ok(Ok(doc)) if doc.char_count() > 0 => "text".to_string(),
                Ok(Ok(_)) => "no-text".to_string(),
                Ok(Err(e)) => e.reason().map_or("internal".into(), |r| r.to_string()),
            };
            *counts.entry(outcome.clone()).or_default() += 1;
            match expected.get(name.as_str()) {
                Some(want) if *want == outcome => {}
                Some(want) => failures.push(format!("{name}: expected {want}, got {outcome}")),
                None => failures.push(format!("{name}: not in EXPECTED (got {outcome})")),
            }
            seen.push(name.clone());
            if let (Some(refdir), Ok(Ok(doc)), "pdf") = (&reference, &result, folder) {
                let stem = name.trim_start_matches("pdf/").trim_end_matches(".pdf");
                if let Ok(want) = std::fs::read_to_string(refdir.join(format!("{stem}.txt"))) {
                    let got: Vec<&str> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
                    scores.push((f1(&normalize(&got.join("\n")), &normalize(&want)), name));
                }
            }
        }
    }
    for (name, _) in EXPECTED {
        let folder_present = !pdfs(&root.join(name.split('/').next().unwrap_or(""))).is_empty();
        if folder_present && !seen.iter().any(|s| s == name) {
            failures.push(format!("{name}: in EXPECTED but not in the corpus"));
        }
    }
    eprintln!("pdf_corpus outcomes: {counts:?}");
    if !scores.is_empty() {
        scores.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = scores[scores.len() / 2].0;
        let mean = scores.iter().map(|s| s.0).sum::<f64>() / scores.len() as f64;
        eprintln!(
            "pdf_corpus word F1 vs pdftotext over {} files: median {median:.4}, mean {mean:.4}",
            scores.len()
        );
        for (score, name) in scores.iter().take(10) {
            eprintln!("  lowest: {score:.3} {name}");
        }
        assert!(median >= 0.95, "median word F1 {median:.4} is below 0.95");
    }
    assert!(
        failures.is_empty(),
        "{} files differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn f1_normalises_hyphens_and_ligatures() {
    assert_eq!(normalize("the infor-\nmation \u{FB01}ne"), "the information fine\n");
    assert!((f1("a b c", "a b d") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(f1("", ""), 1.0);
}
