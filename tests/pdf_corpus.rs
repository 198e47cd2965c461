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
//! pdftotext extracts words from it; for the others the reason says why not, see
//! [`EXPECTED`]), so the test needs no pdftotext at run time. A folder that is present but empty is skipped with a note;
//! a file of the table missing from a non-empty folder fails the test.
//!
//! Text quality: when `LORE_PDF_REF` names a folder with pdftotext's output for the `pdf/`
//! files (`<name>.txt`, made by `benches/pdf_reference.sh`), the word-level F1 of lore's text
//! against it is computed per file, and the median must be at least 0.95. Words are maximal
//! runs of letters and digits, compared case-sensitively as multisets (reading order does
//! not count); both sides get the same normalisation first: ligatures expanded and words
//! hyphenated at a line end joined (lore does that on purpose; pdftotext does not). lore
//! also leaves out running headers and footers and the entries of tables of contents, which
//! pdftotext keeps: that costs about 0.01 of the median.

use lore::parse::pdf::PdfParser;
use lore::parse::{ParseOptions, Parser};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File (relative to `LORE_CORPUS`) → expected outcome: `text` or a reason name.
///
/// Made with poppler 22.02 as the referee: `text` where `pdftotext` extracts at least one
/// word; `password-protected` where it asks for a password; `corrupted` where it cannot read
/// the file; for the rest (no words) `image-only` where `pdfimages -list` finds images and
/// `empty` where it finds none.
const EXPECTED: &[(&str, &str)] = &[
    ("pdf/R-FAQ.pdf", "text"),
    ("pdf/R-admin.pdf", "text"),
    ("pdf/R-data.pdf", "text"),
    ("pdf/R-exts.pdf", "text"),
    ("pdf/R-intro.pdf", "text"),
    ("pdf/R-ints.pdf", "text"),
    ("pdf/R-lang.pdf", "text"),
    ("pdf/a4.pdf", "text"),
    ("pdf/anysize.pdf", "text"),
    ("pdf/artdoc.pdf", "text"),
    ("pdf/at.pdf", "text"),
    ("pdf/attachfile2.pdf", "text"),
    ("pdf/beamerexample-conference-talk.pdf", "text"),
    ("pdf/beamerexample-lecture-beamer-version.pdf", "text"),
    ("pdf/beamerexample-lecture-logo.pdf", "text"),
    ("pdf/beamerexample-lecture-print-version.pdf", "text"),
    ("pdf/beameruserguide.pdf", "text"),
    ("pdf/bicaption.pdf", "text"),
    ("pdf/booktabs.pdf", "text"),
    ("pdf/breqn.pdf", "text"),
    ("pdf/brief-sample.pdf", "text"),
    ("pdf/brief.pdf", "text"),
    ("pdf/briefdoc.pdf", "text"),
    ("pdf/caption-light.pdf", "text"),
    ("pdf/caption.pdf", "text"),
    ("pdf/caption2.pdf", "text"),
    ("pdf/chapterbib.pdf", "text"),
    ("pdf/cite.pdf", "text"),
    ("pdf/classdoc.pdf", "text"),
    ("pdf/cmtt.pdf", "text"),
    ("pdf/count1to.pdf", "text"),
    ("pdf/crop.pdf", "text"),
    ("pdf/ctable.pdf", "text"),
    ("pdf/debian-reference.en.pdf", "text"),
    ("pdf/doafter.pdf", "text"),
    ("pdf/documentation.pdf", "text"),
    ("pdf/dummy.pdf", "text"),
    ("pdf/empheq.pdf", "text"),
    ("pdf/eso-pic.pdf", "text"),
    ("pdf/etoolbox.pdf", "text"),
    ("pdf/euenc.pdf", "text"),
    ("pdf/euler.pdf", "text"),
    ("pdf/everysel.pdf", "text"),
    ("pdf/everyshi.pdf", "text"),
    ("pdf/example-arabic.pdf", "text"),
    ("pdf/example-chinese.pdf", "text"),
    ("pdf/example-japanese.pdf", "text"),
    ("pdf/examples.pdf", "text"),
    ("pdf/extsizes.pdf", "text"),
    ("pdf/fancybox-doc.pdf", "text"),
    ("pdf/fancyref.pdf", "text"),
    ("pdf/fancyvrb-doc.pdf", "text"),
    ("pdf/filehook.pdf", "text"),
    ("pdf/flexisym.pdf", "text"),
    ("pdf/float.pdf", "text"),
    ("pdf/fnlineno.pdf", "text"),
    ("pdf/fontspec-code.pdf", "text"),
    ("pdf/fontspec.pdf", "text"),
    ("pdf/footnote.pdf", "text"),
    ("pdf/footnotehyper.pdf", "text"),
    ("pdf/fullrefman.pdf", "text"),
    ("pdf/gnuplot.pdf", "text"),
    ("pdf/grffile.pdf", "text"),
    ("pdf/hologo.pdf", "text"),
    ("pdf/hyperref-generic.pdf", "text"),
    ("pdf/index.pdf", "text"),
    ("pdf/l3backend-testphase.pdf", "text"),
    ("pdf/l3benchmark.pdf", "text"),
    ("pdf/l3bitset.pdf", "text"),
    ("pdf/l3draw-code.pdf", "text"),
    ("pdf/l3draw.pdf", "text"),
    ("pdf/l3galley.pdf", "text"),
    ("pdf/l3graphics.pdf", "text"),
    ("pdf/l3opacity.pdf", "text"),
    ("pdf/l3pdfannot.pdf", "text"),
    ("pdf/l3pdfdict.pdf", "text"),
    ("pdf/l3pdffield-action.pdf", "text"),
    ("pdf/l3pdffield-checkbox.pdf", "text"),
    ("pdf/l3pdffield-choice.pdf", "text"),
    ("pdf/l3pdffield-pushbutton.pdf", "text"),
    ("pdf/l3pdffield-radiobutton.pdf", "text"),
    ("pdf/l3pdffield-textfield.pdf", "text"),
    ("pdf/l3pdffield.pdf", "text"),
    ("pdf/l3pdffile.pdf", "text"),
    ("pdf/l3pdfmanagement.pdf", "text"),
    ("pdf/l3pdfmeta.pdf", "text"),
    ("pdf/l3pdftools.pdf", "text"),
    ("pdf/l3pdfxform.pdf", "text"),
    ("pdf/l3str-format.pdf", "text"),
    ("pdf/l3sys-shell.pdf", "text"),
    ("pdf/latexbug.pdf", "text"),
    ("pdf/lineno.pdf", "text"),
    ("pdf/linenoamsmathdemo.pdf", "text"),
    ("pdf/listings-devel.pdf", "text"),
    ("pdf/listings.pdf", "text"),
    ("pdf/lnosuppl.pdf", "text"),
    ("pdf/lstdrvrs.pdf", "text"),
    ("pdf/ltcaption.pdf", "text"),
    ("pdf/ltdocinit.pdf", "text"),
    ("pdf/lwarp.pdf", "text"),
    ("pdf/mathspec.pdf", "text"),
    ("pdf/mathstyle.pdf", "text"),
    ("pdf/mathtools.pdf", "text"),
    ("pdf/mdwlist.pdf", "text"),
    ("pdf/mdwmath.pdf", "text"),
    ("pdf/mdwtab.pdf", "text"),
    ("pdf/memman.pdf", "text"),
    ("pdf/metalogo.pdf", "text"),
    ("pdf/mhsetup.pdf", "text"),
    ("pdf/microtype-code.pdf", "text"),
    ("pdf/microtype.pdf", "text"),
    ("pdf/multitoc.pdf", "text"),
    ("pdf/newfloat.pdf", "text"),
    ("pdf/ntgclass.pdf", "text"),
    ("pdf/output-patches-tmp-ltx.pdf", "text"),
    ("pdf/parskip-code.pdf", "text"),
    ("pdf/parskip.pdf", "text"),
    ("pdf/pdfcolfoot.pdf", "text"),
    ("pdf/pdflscape.pdf", "text"),
    ("pdf/pdfmanagement-firstaid.pdf", "text"),
    ("pdf/pdfmanagement-testphase.pdf", "text"),
    ("pdf/pdfpages.pdf", "text"),
    ("pdf/pfgguide.pdf", "text"),
    ("pdf/polyglossia.pdf", "text"),
    ("pdf/ragged2e.pdf", "text"),
    ("pdf/rapdoc.pdf", "text"),
    ("pdf/rcs-conf.pdf", "text"),
    ("pdf/rcs-user.pdf", "text"),
    ("pdf/refman.pdf", "text"),
    ("pdf/sansmath.pdf", "text"),
    ("pdf/section-doc.pdf", "text"),
    ("pdf/seminar-doc.pdf", "text"),
    ("pdf/semsamp1.pdf", "text"),
    ("pdf/semsamp2.pdf", "text"),
    ("pdf/semsamp3.pdf", "text"),
    ("pdf/sepnum-doc.pdf", "text"),
    ("pdf/setpage-example.pdf", "text"),
    ("pdf/setspace-doc.pdf", "text"),
    ("pdf/subcaption.pdf", "text"),
    ("pdf/subfig.pdf", "text"),
    ("pdf/sverb.pdf", "text"),
    ("pdf/syntax.pdf", "text"),
    ("pdf/textcase.pdf", "text"),
    ("pdf/translator.pdf", "text"),
    ("pdf/typehtml.pdf", "text"),
    ("pdf/ucharcat.pdf", "text"),
    ("pdf/ulineno.pdf", "text"),
    ("pdf/underscore.pdf", "text"),
    ("pdf/unicode-math-code.pdf", "text"),
    ("pdf/unicode-math.pdf", "text"),
    ("pdf/unimath-example.pdf", "text"),
    ("pdf/unimath-symbols.pdf", "text"),
    ("pdf/xcoffins.pdf", "text"),
    ("pdf/xcolor.pdf", "text"),
    ("pdf/xcolor2.pdf", "text"),
    ("pdf/xgalley.pdf", "text"),
    ("pdf/xkeyval.pdf", "text"),
    ("pdf/xltxtra.pdf", "text"),
    ("edge/2400dpi.pdf", "image-only"),
    ("edge/3small.pdf", "image-only"),
    ("edge/AutoCad_Diagram.pdf", "text"),
    ("edge/AutoCad_Simple.pdf", "text"),
    ("edge/FormTestFromOo.pdf", "text"),
    ("edge/GeoBase_NHNC1_Data_Model_UML_EN.pdf", "text"),
    ("edge/SF424_page2.pdf", "text"),
    ("edge/Sample_Td-matrix.pdf", "text"),
    (
        "edge/Seige_of_Vicksburg_Sample_OCR-crazyones-merged.pdf",
        "text",
    ),
    ("edge/Seige_of_Vicksburg_Sample_OCR.pdf", "text"),
    ("edge/acroform.pdf", "image-only"),
    ("edge/aspect.pdf", "image-only"),
    ("edge/attachment.pdf", "text"),
    ("edge/blank.pdf", "empty"),
    ("edge/box.pdf", "image-only"),
    ("edge/bytes.pdf", "text"),
    ("edge/c03-29.pdf", "image-only"),
    ("edge/cardinal.pdf", "image-only"),
    ("edge/ccitt.pdf", "image-only"),
    ("edge/cmyk.pdf", "text"),
    ("edge/commented-xmp.pdf", "text"),
    ("edge/commented.pdf", "text"),
    ("edge/crazyones-encrypted-256.pdf", "password-protected"),
    ("edge/crazyones.pdf", "text"),
    ("edge/docinfo_latin1_key.pdf", "empty"),
    ("edge/encrypted-file.pdf", "password-protected"),
    ("edge/encrypted_doc_no_id.pdf", "image-only"),
    ("edge/enormous.pdf", "image-only"),
    ("edge/epson.pdf", "image-only"),
    ("edge/example.pdf", "text"),
    ("edge/fontsampler.pdf", "text"),
    ("edge/form.pdf", "text"),
    ("edge/form_acrobatReader.pdf", "text"),
    ("edge/form_evince.pdf", "text"),
    ("edge/formxobject.pdf", "text"),
    ("edge/francais.pdf", "image-only"),
    ("edge/git.pdf", "image-only"),
    ("edge/graph.pdf", "image-only"),
    ("edge/graph_ocred.pdf", "text"),
    ("edge/hello-world.pdf", "text"),
    ("edge/hugemono.pdf", "image-only"),
    ("edge/imagemagick-ASCII85Decode.pdf", "image-only"),
    ("edge/imagemagick-CCITTFaxDecode.pdf", "image-only"),
    ("edge/imagemagick-images.pdf", "image-only"),
    ("edge/imagemagick-lzw.pdf", "image-only"),
    ("edge/indirect-rotation.pdf", "text"),
    ("edge/inkscape-abc.pdf", "text"),
    ("edge/invalid.pdf", "corrupted"),
    ("edge/issue-297.pdf", "text"),
    ("edge/issue-301.pdf", "text"),
    ("edge/issue-3850-1bit-indexed-flate.pdf", "image-only"),
    ("edge/issue-604.pdf", "text"),
    ("edge/issue-914-xmp-data.pdf", "text"),
    ("edge/jbig2.pdf", "image-only"),
    ("edge/jbig2_baddevicen.pdf", "image-only"),
    ("edge/jpeg.pdf", "text"),
    ("edge/kcs.pdf", "image-only"),
    ("edge/labeled-edges-center-image.pdf", "text"),
    ("edge/libreoffice-form.pdf", "text"),
    ("edge/libreoffice-writer-password.pdf", "password-protected"),
    ("edge/lichtenstein.pdf", "image-only"),
    ("edge/link.pdf", "text"),
    ("edge/linn.pdf", "image-only"),
    ("edge/livecycle.pdf", "empty"),
    ("edge/masks.pdf", "image-only"),
    ("edge/meta.pdf", "empty"),
    ("edge/metadata.pdf", "text"),
    ("edge/missing_docinfo.pdf", "text"),
    ("edge/missing_info.pdf", "text"),
    ("edge/multilang.pdf", "text"),
    ("edge/multipage.pdf", "text"),
    ("edge/negzero.pdf", "text"),
    ("edge/no_contents.pdf", "empty"),
    ("edge/outline-without-title.pdf", "text"),
    ("edge/outlines-with-invalid-destinations.pdf", "text"),
    ("edge/overlay.pdf", "text"),
    ("edge/palette.pdf", "image-only"),
    ("edge/pdflatex-forms.pdf", "text"),
    ("edge/pdflatex-outline.pdf", "text"),
    ("edge/poster.pdf", "image-only"),
    ("edge/r2-empty-password.pdf", "text"),
    ("edge/r2-owner-password.pdf", "text"),
    ("edge/r2-user-password.pdf", "password-protected"),
    ("edge/r3-empty-password.pdf", "text"),
    ("edge/r3-user-password.pdf", "password-protected"),
    ("edge/r4-aes-user-password.pdf", "password-protected"),
    ("edge/r4-aes-v2-no-key-length.pdf", "text"),
    ("edge/r4-owner-password.pdf", "text"),
    ("edge/r4-user-password.pdf", "password-protected"),
    ("edge/r5-empty-password.pdf", "text"),
    ("edge/r5-owner-password.pdf", "text"),
    ("edge/r5-user-password.pdf", "text"),
    ("edge/r6-both-passwords.pdf", "password-protected"),
    ("edge/r6-cleartext-metadata.pdf", "password-protected"),
    ("edge/r6-empty-password.pdf", "text"),
    ("edge/r6-owner-password.pdf", "text"),
    ("edge/r6-user-password.pdf", "text"),
    ("edge/reportlab-inline-image.pdf", "text"),
    ("edge/rotated_skew.pdf", "image-only"),
    ("edge/selenium-pypdf-issue-177.pdf", "text"),
    ("edge/side-by-side-subfig.pdf", "text"),
    ("edge/skew.pdf", "image-only"),
    ("edge/superscript-pdftex.pdf", "text"),
    ("edge/tagged.pdf", "text"),
    ("edge/test Orient.pdf", "text"),
    ("edge/toc.pdf", "text"),
    ("edge/toy.pdf", "text"),
    ("edge/trivial.pdf", "empty"),
    ("edge/truetype_font_nomapping.pdf", "text"),
    ("edge/two-different-pages.pdf", "text"),
    ("edge/type3_font_nomapping.pdf", "empty"),
    ("edge/unencrypted.pdf", "text"),
    ("edge/vector.pdf", "empty"),
    ("edge/visitor_text_position.pdf", "text"),
];

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
                    // Headings live in the blocks' heading paths: each is written once,
                    // where it starts, as a reader of the page sees it.
                    let mut got: Vec<&str> = Vec::new();
                    let mut above: &[String] = &[];
                    for b in &doc.blocks {
                        let kept = above
                            .iter()
                            .zip(&b.heading_path)
                            .take_while(|(x, y)| x == y)
                            .count();
                        got.extend(b.heading_path[kept..].iter().map(String::as_str));
                        got.push(&b.text);
                        above = &b.heading_path;
                    }
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
    assert_eq!(
        normalize("the infor-\nmation \u{FB01}ne"),
        "the information fine\n"
    );
    assert!((f1("a b c", "a b d") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(f1("", ""), 1.0);
}
