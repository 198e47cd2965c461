//! Parse: turn the bytes of one origin into a [`Document`] — a flat list of text [`Block`]s,
//! each with the heading path above it and where it came from.
//!
//! Every format has its own [`Parser`]; [`detect`] picks one by looking at the content (magic
//! bytes, markup sniffing), with the file name only as a tie-breaker between text formats.
//! Parsers never return an empty document: no text is the named error [`Reason::Empty`].

pub mod archive;
pub mod catalog;
pub mod deadline;
pub mod decode;
pub mod detect;
pub mod docx;
pub mod html;
pub mod markdown;
pub mod ole;
pub mod pdf;
pub mod sheet;
pub mod sheet_extent;
pub mod text;

use crate::config::LimitPolicy;
use crate::error::{Error, Reason, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use detect::detect;

/// The formats lore can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Markdown,
    Html,
    /// Office Open XML workbook.
    Xlsx,
    /// Legacy Excel 97-2003 workbook (BIFF8 in an OLE2 container).
    Xls,
    /// Excel binary workbook.
    Xlsb,
    /// OpenDocument spreadsheet.
    Ods,
    /// Comma-, semicolon-, tab- or pipe-separated values (TSV included).
    Csv,
    /// Office Open XML word-processing document.
    Docx,
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Xlsb => "xlsb",
            Format::Ods => "ods",
            Format::Csv => "csv",
            Format::Docx => "docx",
            Format::Pdf => "pdf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a piece of text sits in its origin: what a citation points at.
///
/// All fields are optional because each format knows different things (a text file knows
/// lines, a PDF pages, a spreadsheet sheets and rows, a web page its URL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_start: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_end: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_start: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_end: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_start: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_end: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Location {
    /// A location spanning lines `start..=end` (1-based).
    pub fn lines(start: u32, end: u32) -> Self {
        Location {
            line_start: Some(start),
            line_end: Some(end),
            ..Default::default()
        }
    }

    /// Widens `self` so that it also covers `other` (used when blocks merge into one chunk).
    pub fn extend(&mut self, other: &Location) {
        fn lo(a: &mut Option<u32>, b: Option<u32>) {
            *a = match (*a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            }
        }
        fn hi(a: &mut Option<u32>, b: Option<u32>) {
            *a = match (*a, b) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            }
        }
        lo(&mut self.line_start, other.line_start);
        hi(&mut self.line_end, other.line_end);
        lo(&mut self.page_start, other.page_start);
        hi(&mut self.page_end, other.page_end);
        lo(&mut self.row_start, other.row_start);
        hi(&mut self.row_end, other.row_end);
        if self.sheet.is_none() {
            self.sheet.clone_from(&other.sheet);
        }
        if self.url.is_none() {
            self.url.clone_from(&other.url);
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Location::default()
    }
}

impl fmt::Display for Location {
    /// A short human form: `lines 3-9`, `p. 4`, `sheet Prices rows 2-40`, a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn range(f: &mut fmt::Formatter<'_>, one: &str, many: &str, a: u32, b: u32) -> fmt::Result {
            if a == b {
                write!(f, "{one} {a}")
            } else {
                write!(f, "{many} {a}-{b}")
            }
        }
        let mut parts = 0;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            parts += 1;
            if parts > 1 {
                f.write_str(", ")
            } else {
                Ok(())
            }
        };
        if let Some(url) = &self.url {
            sep(f)?;
            f.write_str(url)?;
        }
        if let Some(p) = self.page_start {
            sep(f)?;
            range(f, "p.", "pp.", p, self.page_end.unwrap_or(p))?;
        }
        if let Some(sheet) = &self.sheet {
            sep(f)?;
            write!(f, "sheet {sheet}")?;
        }
        if let Some(r) = self.row_start {
            sep(f)?;
            range(f, "row", "rows", r, self.row_end.unwrap_or(r))?;
        }
        if let Some(l) = self.line_start {
            sep(f)?;
            range(f, "line", "lines", l, self.line_end.unwrap_or(l))?;
        }
        Ok(())
    }
}

/// What kind of text a block holds; the chunker keeps list items and table rows together and
/// never splits a code block across sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    Paragraph,
    ListItem,
    TableRow,
    Code,
    Quote,
}

/// One unit of text: a paragraph, a list item, a table row rendered as `Header: value; …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The headings above this block, outermost first (`["Returns", "Refunds"]`).
    pub heading_path: Vec<String>,
    /// The text, whitespace-normalised, never empty.
    pub text: String,
    pub kind: BlockKind,
    pub location: Location,
}

/// The parsed form of one origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The document's own title (`<title>`, the first `# heading`), if it has one.
    pub title: Option<String>,
    /// Blocks in reading order; never empty in a successful parse.
    pub blocks: Vec<Block>,
    /// Things the admin should know that did not stop the parse (replaced bytes, …).
    pub warnings: Vec<String>,
    /// Page count, for paged formats.
    pub pages: Option<u32>,
}

impl Document {
    /// Total characters of text in all blocks.
    pub fn char_count(&self) -> usize {
        self.blocks.iter().map(|b| b.text.chars().count()).sum()
    }

    /// Fails with [`Reason::Empty`] when the parse found no text; parsers end with this so
    /// that no format can produce a silently empty source.
    pub fn non_empty(self, what: &str) -> Result<Self> {
        if self.blocks.iter().all(|b| b.text.trim().is_empty()) {
            return Err(Error::rejected(
                Reason::Empty,
                format!("{what} contains no text"),
            ));
        }
        Ok(self)
    }
}

/// Limits a parser enforces while it reads. The byte limit (before reading) and the
/// character limit (after parsing) are enforced around the parser by the ingest stage; these
/// are the ones only a parser can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Most pages (PDF) kept.
    pub max_pages: u32,
    /// Over `max_pages`: refuse with `too-many-pages`, or keep the first pages with a warning.
    pub on_limit: LimitPolicy,
    /// Time one document's parse may take; over it → `parse-timeout` (see [`deadline`]).
    pub timeout: std::time::Duration,
}

impl ParseOptions {
    /// The deadline of a parse that starts now.
    pub fn deadline(&self) -> deadline::Deadline {
        deadline::Deadline::after(self.timeout)
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_pages: 2000,
            on_limit: LimitPolicy::Truncate,
            timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// One format's parser. Implementations are stateless and shared across rayon threads.
pub trait Parser: Send + Sync {
    fn format(&self) -> Format;
    /// Parses the whole content. Errors are user-fault [`Error::Rejected`] with a named reason.
    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document>;
}

/// The parser for a format.
pub fn parser_for(format: Format) -> &'static dyn Parser {
    match format {
        Format::Text => &text::TextParser,
        Format::Markdown => &markdown::MarkdownParser,
        Format::Html => &html::HtmlParser,
        Format::Xlsx => &sheet::XLSX,
        Format::Xls => &sheet::XLS,
        Format::Xlsb => &sheet::XLSB,
        Format::Ods => &sheet::ODS,
        Format::Csv => &sheet::CSV,
        Format::Docx => &docx::DocxParser,
        Format::Pdf => &pdf::PdfParser,
    }
}

/// Detects the format of `bytes` and parses them. `file_name` only breaks ties between text
/// formats (a `.md` file that looks like plain text is still Markdown).
pub fn parse(
    bytes: &[u8],
    file_name: Option<&str>,
    opts: &ParseOptions,
) -> Result<(Format, Document)> {
    let format = detect(bytes, file_name)?;
    let doc = match (format, file_name) {
        // A spreadsheet application names a CSV's only sheet after the file; so do we.
        (Format::Csv, Some(name)) => {
            sheet::parse_csv(bytes, &sheet::csv_sheet_name(name), opts.deadline())?
        }
        _ => parser_for(format).parse(bytes, opts)?,
    };
    Ok((format, doc))
}

/// Collapses runs of whitespace into single spaces and trims; parsers use it on every block.
pub fn normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_extends_and_displays() {
        let mut a = Location::lines(3, 5);
        a.extend(&Location::lines(7, 9));
        assert_eq!(a.to_string(), "lines 3-9");
        let p = Location {
            page_start: Some(4),
            page_end: Some(4),
            ..Default::default()
        };
        assert_eq!(p.to_string(), "p. 4");
        let s = Location {
            sheet: Some("Prices".into()),
            row_start: Some(2),
            row_end: Some(40),
            ..Default::default()
        };
        assert_eq!(s.to_string(), "sheet Prices, rows 2-40");
        assert!(Location::default().is_empty());
    }

    /// Each structured format stops with `parse-timeout` once its time is up, and parses the
    /// same file within the default limit. (Plain text is only decoded: no loop to stop.)
    #[test]
    fn every_structured_format_is_refused_when_its_parse_runs_out_of_time() {
        let samples: [(&str, &[u8]); 6] = [
            (
                "warranty-terms.docx",
                include_bytes!("../../sample-sources/warranty-terms.docx"),
            ),
            (
                "price-list.xlsx",
                include_bytes!("../../sample-sources/price-list.xlsx"),
            ),
            (
                "brewing-guide.pdf",
                include_bytes!("../../sample-sources/brewing-guide.pdf"),
            ),
            ("faq.md", include_bytes!("../../sample-sources/faq.md")),
            (
                "shipping.html",
                include_bytes!("../../sample-sources/shipping.html"),
            ),
            (
                "products.csv",
                include_bytes!("../../sample-sources/catalog/products.csv"),
            ),
        ];
        let no_time = ParseOptions {
            timeout: std::time::Duration::ZERO,
            ..ParseOptions::default()
        };
        for (name, bytes) in samples {
            let (format, doc) = parse(bytes, Some(name), &ParseOptions::default()).unwrap();
            assert!(!doc.blocks.is_empty(), "{name}");
            let e = parse(bytes, Some(name), &no_time).unwrap_err();
            assert_eq!(
                e.reason(),
                Some(crate::error::Reason::ParseTimeout),
                "{name}: {e}"
            );
            assert!(e.is_user_fault(), "{name}");
            assert!(e.to_string().contains("parse time limit"), "{format}: {e}");
        }
    }

    #[test]
    fn normalize_ws_collapses() {
        assert_eq!(normalize_ws("  a \n\t b  "), "a b");
    }
}
