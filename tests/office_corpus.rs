//! Parses the fetched office corpus (spreadsheets and DOCX files from public test suites):
//! zero panics, and every file gets text or its proper named reason.
//!
//! Skipped unless `LORE_CORPUS` points at the corpus folder (with `sheets/` and `docx/`),
//! e.g. `LORE_CORPUS=~/.cache/lore-corpus cargo test --test office_corpus -- --nocapture`.

use lore::parse::{parse, ParseOptions};
use std::collections::BTreeMap;
use std::path::Path;

/// What a file must give: text in exactly this many blocks, or a refusal for a named reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Blocks(usize),
    Reason(&'static str),
}
use Expect::*;

/// Expected outcome per file, each decided by inspecting the file with python-calamine
/// (non-empty rows per sheet; lore has one block fewer per sheet with a header row, and skips
/// chart sheets) and python-docx (paragraph and cell texts; lore folds heading paragraphs
/// into heading paths). The refusals: `empty_file.*` are zero bytes; `password.*` are
/// encrypted (python-calamine: "Workbook is password protected"); `template.xlsx` and
/// `cloneEmptyWorksheetExample.xlsx` have no cell values; the empty DOCX files have no
/// paragraph or cell text (blank documents, empty tables, images only).
const EXPECTED: &[(&str, Expect)] = &[
    ("sheets/ColorTabs3.xlsx", Blocks(4)),
    ("sheets/any_sheets.ods", Blocks(4)),
    ("sheets/any_sheets.xls", Blocks(4)),
    ("sheets/any_sheets.xlsb", Blocks(4)),
    ("sheets/any_sheets.xlsx", Blocks(4)),
    ("sheets/base.ods", Blocks(1)),
    ("sheets/base.xls", Blocks(1)),
    ("sheets/base.xlsb", Blocks(4)),
    ("sheets/base.xlsx", Blocks(4)),
    ("sheets/clippy.xls", Blocks(6)),
    ("sheets/clippy.xlsx", Blocks(6)),
    ("sheets/cloneEmptyWorksheetExample.xlsx", Reason("empty")),
    ("sheets/cloneWorksheetExample.xlsx", Blocks(2)),
    ("sheets/datasets.xls", Blocks(1253)),
    // Its quakes sheet writes some numbers with a leading space: those cells are left out
    // with a warning, the 1,000 rows kept (the sheet was lost whole before).
    ("sheets/datasets.xlsx", Blocks(1253)),
    ("sheets/deaths.xls", Blocks(36)),
    ("sheets/deaths.xlsx", Blocks(36)),
    ("sheets/empty_file.ods", Reason("empty")),
    ("sheets/empty_file.xlsb", Reason("empty")),
    ("sheets/empty_file.xlsx", Reason("empty")),
    ("sheets/geometry.xls", Blocks(3)),
    ("sheets/geometry.xlsx", Blocks(3)),
    ("sheets/groupTest.xlsx", Blocks(3)),
    ("sheets/inlineStr.xlsx", Blocks(2)),
    ("sheets/issue139.xlsx", Blocks(1)),
    ("sheets/loadExample.xlsx", Blocks(95)),
    ("sheets/loadPivotTables.xlsx", Blocks(83)),
    ("sheets/loadThreadComment.xlsx", Blocks(1)),
    ("sheets/namedRegions.xlsx", Blocks(5)),
    ("sheets/namedRegions2.xlsx", Blocks(4)),
    ("sheets/namedRegions3.xlsx", Blocks(6)),
    ("sheets/password.ods", Reason("password-protected")),
    ("sheets/password.xls", Reason("password-protected")),
    ("sheets/password.xlsb", Reason("password-protected")),
    ("sheets/password.xlsx", Reason("password-protected")),
    ("sheets/readTest.xlsx", Blocks(2412)),
    ("sheets/read_failure_test.xlsx", Blocks(2)),
    ("sheets/table-multiple.xlsx", Blocks(17)),
    ("sheets/template.xlsx", Reason("empty")),
    ("sheets/type-me.xls", Blocks(30)),
    ("sheets/type-me.xlsx", Blocks(30)),
    ("docx/blk-containing-table.docx", Reason("empty")),
    ("docx/blk-inner-content.docx", Blocks(3)),
    ("docx/blk-paras-and-tables.docx", Blocks(3)),
    ("docx/comments-rich-para.docx", Blocks(7)),
    ("docx/default.docx", Reason("empty")),
    ("docx/doc-access-sections.docx", Blocks(3)),
    ("docx/doc-add-section.docx", Blocks(3)),
    ("docx/doc-coreprops.docx", Reason("empty")),
    ("docx/doc-default.docx", Reason("empty")),
    ("docx/doc-no-coreprops.docx", Reason("empty")),
    ("docx/doc-odd-even-hdrs.docx", Blocks(2)),
    ("docx/doc-word-default-blank.docx", Reason("empty")),
    ("docx/example.docx", Blocks(21)),
    ("docx/fnt-color.docx", Blocks(1)),
    ("docx/having-images.docx", Reason("empty")),
    ("docx/hdr-header-footer.docx", Blocks(2)),
    ("docx/landscape.docx", Reason("empty")),
    ("docx/num-having-numbering-part.docx", Blocks(1)),
    ("docx/par-alignment.docx", Blocks(5)),
    ("docx/par-hlink-frags.docx", Blocks(9)),
    ("docx/par-hyperlinks.docx", Blocks(3)),
    ("docx/par-known-paragraphs.docx", Blocks(1)),
    ("docx/par-known-styles.docx", Blocks(3)),
    ("docx/par-rendered-page-breaks.docx", Blocks(4)),
    ("docx/run-char-style.docx", Blocks(1)),
    ("docx/run-enumerated-props.docx", Blocks(1)),
    ("docx/sct-first-page-hdrftr.docx", Blocks(5)),
    ("docx/sct-inner-content.docx", Blocks(9)),
    ("docx/sct-section-props.docx", Blocks(5)),
    ("docx/set-no-settings-part.docx", Reason("empty")),
    ("docx/shp-inline-shape-access.docx", Reason("empty")),
    ("docx/sty-behav-props.docx", Reason("empty")),
    ("docx/sty-having-no-styles-part.docx", Reason("empty")),
    ("docx/sty-having-styles-part.docx", Reason("empty")),
    ("docx/sty-known-styles.docx", Blocks(3)),
    ("docx/tab-stops.docx", Blocks(3)),
    ("docx/tbl-2x2-table.docx", Reason("empty")),
    ("docx/tbl-cell-access.docx", Blocks(12)),
    ("docx/tbl-cell-props.docx", Blocks(4)),
    ("docx/tbl-col-props.docx", Reason("empty")),
    ("docx/tbl-having-applied-style.docx", Blocks(9)),
    ("docx/tbl-having-tables.docx", Reason("empty")),
    ("docx/tbl-on-off-props.docx", Reason("empty")),
    ("docx/tbl-props.docx", Blocks(5)),
    ("docx/template.docx", Reason("empty")),
    ("docx/test.docx", Blocks(1)),
    ("docx/test_out.docx", Blocks(1)),
    ("docx/txt-font-highlight-color.docx", Blocks(4)),
    ("docx/txt-font-props.docx", Blocks(6)),
];

#[test]
fn office_corpus() {
    let Ok(root) = std::env::var("LORE_CORPUS") else {
        eprintln!("note: LORE_CORPUS is not set; the office corpus test is skipped");
        return;
    };
    let root = Path::new(&root);
    let expected: BTreeMap<&str, Expect> = EXPECTED.iter().copied().collect();
    let mut seen = Vec::new();
    let mut failures = Vec::new();
    let (mut texts, mut refusals, mut panics) = (0, 0, 0);
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for dir in ["sheets", "docx"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            failures.push(format!("{dir}/ is missing under {}", root.display()));
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = format!(
                "{dir}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let bytes = std::fs::read(&path).expect("corpus file is readable");
            let result =
                std::panic::catch_unwind(|| parse(&bytes, Some(&name), &ParseOptions::default()));
            let got = match result {
                Err(_) => {
                    panics += 1;
                    failures.push(format!("{name}: panicked"));
                    continue;
                }
                Ok(Ok((_, doc))) => {
                    texts += 1;
                    assert!(
                        doc.blocks.iter().all(|b| !b.text.trim().is_empty()),
                        "{name}"
                    );
                    Blocks(doc.blocks.len())
                }
                Ok(Err(e)) => {
                    refusals += 1;
                    let reason = e.reason().map_or("ours", |r| r.as_str());
                    *by_reason.entry(reason.to_string()).or_default() += 1;
                    Reason(reason)
                }
            };
            seen.push(name.clone());
            match expected.get(name.as_str()) {
                Some(want) if *want == got => {}
                Some(want) => failures.push(format!("{name}: expected {want:?}, got {got:?}")),
                None => failures.push(format!("{name}: not in EXPECTED (got {got:?})")),
            }
        }
    }
    for (name, _) in EXPECTED {
        if !seen.iter().any(|s| s == name) {
            failures.push(format!("{name}: in EXPECTED but not in the corpus"));
        }
    }
    eprintln!(
        "office corpus: {} files, {texts} with text, {refusals} refused {by_reason:?}, {panics} panics",
        seen.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
