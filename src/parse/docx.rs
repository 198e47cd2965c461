//! DOCX: the paragraphs, headings, lists, tables and notes of a Word document.
//!
//! A `.docx` is a zip of XML parts; the text is in `word/document.xml` as paragraphs
//! (`w:p`) of runs (`w:r`) of text (`w:t`). What makes the text useful for retrieval is the
//! structure around it, so this parser recovers:
//! * **headings** from paragraph styles. Style ids are localized (`Überschrift1`, `Titre1`,
//!   `Ttulo1`), so a style counts as a heading by its id (`Heading1`…`Heading9`, `Title`), by
//!   its canonical `w:name` in `word/styles.xml` (`heading 1`, which Word keeps in English in
//!   every language), or by its outline level, following `w:basedOn` chains;
//! * **list items** from numbering (`w:numPr`) on the paragraph or its style;
//! * **tables** as `Header: value; …` rows when the first row is a header (marked as a
//!   repeating header row, bold, or looking like column labels), else `a | b | c`;
//! * **footnotes and endnotes**: the reference becomes a marker (`[1]`, `[i]`) in the text and
//!   the note itself a block at the end under a `Footnotes` / `Endnotes` heading.
//!
//! Tracked deletions, moved-from text, field codes and the fallback copies of drawings are
//! skipped, so text appears once and as the author last left it.

use super::archive::{Archive, ArchiveLimits};
use super::deadline::Deadline;
use super::html::render_row;
use super::sheet::{self, Cell, CellKind, Row};
use super::{normalize_ws, Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::error::{Error, Reason, Result};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest `w:basedOn` chain followed (Word allows cycles in broken files).
const MAX_STYLE_DEPTH: usize = 16;

/// Longest first-row cell (in characters) of a table that still counts as a column label.
const MAX_LABEL_CHARS: usize = 60;

/// Elements whose whole subtree holds no current text: tracked-change history, moved-from
/// text, field instructions, and the fallback copy of content a newer Word also stores.
const SKIPPED: &[&str] = &[
    "Fallback",
    "moveFrom",
    "instrText",
    "delText",
    "pPrChange",
    "rPrChange",
    "tblPrChange",
    "trPrChange",
    "tcPrChange",
    "sectPrChange",
    "numberingChange",
];

/// Parser for DOCX documents.
pub struct DocxParser;

impl Parser for DocxParser {
    fn format(&self) -> Format {
        Format::Docx
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        parse_docx(bytes, opts.deadline())
    }
}

/// Parses a DOCX file (opened under the archive limits, walked within `deadline`).
pub fn parse_docx(bytes: &[u8], deadline: Deadline) -> Result<Document> {
    let mut archive = Archive::open(bytes, ArchiveLimits::default())?;
    let main = main_part(&mut archive)?;
    let body = archive.read_required(&main, "docx document")?;
    let styles = match archive.read("word/styles.xml")? {
        Some(b) => Styles::parse(&xml_text(&b)),
        None => Styles::default(),
    };
    let footnotes = match archive.read("word/footnotes.xml")? {
        Some(b) => parse_notes(&xml_text(&b), "footnote"),
        None => HashMap::new(),
    };
    let endnotes = match archive.read("word/endnotes.xml")? {
        Some(b) => parse_notes(&xml_text(&b), "endnote"),
        None => HashMap::new(),
    };
    let mut walker = Walker::new(&styles);
    let result = match walker.run(&xml_text(&body), deadline) {
        Err(Stop::Time(e)) => return Err(e),
        Err(Stop::Xml(e)) => Err(e),
        Ok(()) => Ok(()),
    };
    let mut doc = walker.finish(&footnotes, &endnotes);
    if let Err(e) = result {
        if doc.blocks.is_empty() {
            return Err(Error::rejected(
                Reason::Malformed,
                format!("docx {main} is not well-formed xml: {e}"),
            ));
        }
        tracing::debug!(error = %e, "docx xml error; keeping the text before it");
        doc.warnings
            .push(format!("docx {main} is damaged after some text: {e}"));
    }
    doc.non_empty("docx document")
}

/// The main document part: the target of the `officeDocument` relationship in
/// `_rels/.rels`, else the conventional `word/document.xml`.
fn main_part(archive: &mut Archive<'_>) -> Result<String> {
    const DEFAULT: &str = "word/document.xml";
    let Some(rels) = archive.read("_rels/.rels")? else {
        return Ok(DEFAULT.into());
    };
    let text = xml_text(&rels);
    let mut reader = Reader::from_str(&text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                let is_main = attr(&e, "Type").is_some_and(|t| t.ends_with("/officeDocument"));
                if let Some(target) = attr(&e, "Target").filter(|_| is_main) {
                    let target = target.trim_start_matches('/').to_string();
                    if archive.contains(&target) {
                        return Ok(target);
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return Ok(DEFAULT.into()),
            _ => {}
        }
    }
}

/// XML bytes as text: UTF-8 (BOM stripped) or UTF-16 with a BOM; invalid bytes replaced.
fn xml_text(bytes: &[u8]) -> Cow<'_, str> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((enc, bom)) => {
            let (text, _) = enc.decode_without_bom_handling(&bytes[bom..]);
            text
        }
        None => String::from_utf8_lossy(bytes),
    }
}

/// The value of attribute `local` (any prefix), entity references resolved.
fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_or_else(|_| a.value.to_string(), Cow::into_owned)
        })
    })
}

/// A toggle property such as `<w:b/>`, `<w:b w:val="0"/>`, `<w:tblHeader w:val="true"/>`.
fn on(e: &BytesStart<'_>) -> bool {
    !matches!(
        attr(e, "val").as_deref(),
        Some("0" | "false" | "off" | "none")
    )
}

/// The text of an entity or character reference (`&amp;`, `&#233;`).
fn resolve_ref(r: &BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    let name: &str = r.as_ref();
    resolve_predefined_entity(name).map(str::to_string)
}

/// What `word/styles.xml` says about paragraph styles.
#[derive(Debug, Default)]
struct Styles {
    by_id: HashMap<String, Style>,
}

#[derive(Debug, Default, Clone)]
struct Style {
    name: String,
    based_on: Option<String>,
    outline: Option<u8>,
    numbered: bool,
}

impl Styles {
    fn parse(xml: &str) -> Self {
        let mut by_id = HashMap::new();
        let mut reader = Reader::from_str(xml);
        let mut current: Option<(String, Style)> = None;
        let mut in_ppr = false;
        loop {
            let (e, empty) = match reader.read_event() {
                Ok(Event::Start(e)) => (e, false),
                Ok(Event::Empty(e)) => (e, true),
                Ok(Event::End(e)) => {
                    match e.local_name().as_ref() {
                        "style" => {
                            if let Some((id, s)) = current.take() {
                                by_id.insert(id, s);
                            }
                        }
                        "pPr" => in_ppr = false,
                        _ => {}
                    }
                    continue;
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => continue,
            };
            match e.local_name().as_ref() {
                "style" if !empty => {
                    let is_para = attr(&e, "type").is_none_or(|t| t == "paragraph");
                    current = match (is_para, attr(&e, "styleId")) {
                        (true, Some(id)) => Some((id, Style::default())),
                        _ => None,
                    };
                }
                "name" => {
                    if let (Some((_, s)), Some(v)) = (current.as_mut(), attr(&e, "val")) {
                        s.name = v;
                    }
                }
                "basedOn" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.based_on = attr(&e, "val");
                    }
                }
                "pPr" if !empty => in_ppr = true,
                "outlineLvl" if in_ppr => {
                    if let Some((_, s)) = current.as_mut() {
                        s.outline = attr(&e, "val").and_then(|v| v.parse().ok());
                    }
                }
                "numId" if in_ppr => {
                    if let Some((_, s)) = current.as_mut() {
                        s.numbered = attr(&e, "val").is_some_and(|v| v != "0");
                    }
                }
                _ => {}
            }
        }
        Styles { by_id }
    }

    /// The heading level of a paragraph style: 0 for a title, 1–9 for headings.
    fn heading_level(&self, id: &str) -> Option<u8> {
        let mut id = id.to_string();
        for _ in 0..MAX_STYLE_DEPTH {
            if let Some(level) = level_from_name(&id) {
                return Some(level);
            }
            let style = self.by_id.get(&id)?;
            if let Some(level) = level_from_name(&style.name) {
                return Some(level);
            }
            if let Some(outline) = style.outline {
                return (outline < 9).then_some(outline + 1);
            }
            id = style.based_on.clone()?;
        }
        None
    }

    /// True when a paragraph style carries list numbering (`List Bullet`, `List Number`).
    fn numbered(&self, id: &str) -> bool {
        let mut id = id;
        for _ in 0..MAX_STYLE_DEPTH {
            let Some(style) = self.by_id.get(id) else {
                return false;
            };
            if style.numbered {
                return true;
            }
            let Some(parent) = style.based_on.as_deref() else {
                return false;
            };
            id = parent;
        }
        false
    }
}

/// `Title` → 0, `Heading3` / `heading 3` → 3; case and spaces ignored.
fn level_from_name(name: &str) -> Option<u8> {
    let key: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if key == "title" {
        return Some(0);
    }
    let n = key.strip_prefix("heading")?;
    match n.parse::<u8>() {
        Ok(level @ 1..=9) => Some(level),
        _ => None,
    }
}

/// The text of each footnote or endnote by id, separators left out.
fn parse_notes(xml: &str, element: &str) -> HashMap<String, String> {
    let mut notes = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<(String, String)> = None;
    let mut in_t = 0usize;
    let mut skip = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name();
                let name = name.as_ref();
                if skip > 0 || SKIPPED.contains(&name) {
                    skip += 1;
                } else if name == element {
                    let kind = attr(&e, "type");
                    current = match (kind.as_deref(), attr(&e, "id")) {
                        (None | Some("normal"), Some(id)) => Some((id, String::new())),
                        _ => None,
                    };
                } else if name == "t" {
                    in_t += 1;
                } else if name == "p" {
                    if let Some((_, text)) = current.as_mut() {
                        text.push(' ');
                    }
                }
            }
            Ok(Event::Empty(e)) if skip == 0 => {
                if let ("tab" | "br" | "cr", Some((_, text))) =
                    (e.local_name().as_ref(), current.as_mut())
                {
                    text.push(' ');
                }
            }
            Ok(Event::End(e)) => {
                let name = e.local_name();
                if skip > 0 {
                    skip -= 1;
                } else if name.as_ref() == element {
                    if let Some((id, text)) = current.take() {
                        let text = normalize_ws(&text);
                        if !text.is_empty() {
                            notes.insert(id, text);
                        }
                    }
                } else if name.as_ref() == "t" {
                    in_t = in_t.saturating_sub(1);
                }
            }
            Ok(Event::Text(t)) if in_t > 0 && skip == 0 => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) if in_t > 0 && skip == 0 => {
                if let (Some((_, text)), Some(s)) = (current.as_mut(), resolve_ref(&r)) {
                    text.push_str(&s);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    notes
}

/// A paragraph being read.
#[derive(Debug, Default)]
struct Para {
    text: String,
    style: Option<String>,
    numbered: bool,
    outline: Option<u8>,
    /// Every run with text so far was bold (for header-row detection in tables).
    all_bold: bool,
    has_text: bool,
}

/// A table being read.
#[derive(Debug, Default)]
struct Table {
    rows: Vec<TableRow>,
}

#[derive(Debug, Default)]
struct TableRow {
    cells: Vec<TableCell>,
    /// Marked as a header row repeated on each page (`w:tblHeader`).
    header: bool,
}

#[derive(Debug, Default)]
struct TableCell {
    text: String,
    all_bold: bool,
    has_text: bool,
    /// Grid columns the cell spans (`w:gridSpan`), at least 1.
    span: usize,
    /// Continues a vertical merge (`w:vMerge` without `restart`): shows the text above.
    merged: bool,
}

/// A note referenced from the body, in order of first reference.
#[derive(Debug)]
struct NoteRef {
    marker: String,
    id: String,
}

/// Walks `word/document.xml` and builds blocks.
struct Walker<'s> {
    styles: &'s Styles,
    doc: Document,
    headings: Vec<(u8, String)>,
    paras: Vec<Para>,
    tables: Vec<Table>,
    /// Depth inside `w:t` (text runs); only there is character data text.
    in_t: usize,
    /// Depth inside `w:pPr` of the innermost paragraph.
    in_ppr: usize,
    /// Depth inside a skipped subtree.
    skip: usize,
    /// The current run is bold.
    run_bold: bool,
    in_rpr: bool,
    footnotes: Vec<NoteRef>,
    endnotes: Vec<NoteRef>,
}

/// Why [`Walker::run`] stopped before the end of the document.
enum Stop {
    /// The XML is broken here; the text before it is kept.
    Xml(quick_xml::Error),
    /// The parse ran out of time; the file is refused.
    Time(Error),
}

impl<'s> Walker<'s> {
    fn new(styles: &'s Styles) -> Self {
        Walker {
            styles,
            doc: Document::default(),
            headings: Vec::new(),
            paras: Vec::new(),
            tables: Vec::new(),
            in_t: 0,
            in_ppr: 0,
            skip: 0,
            run_bold: false,
            in_rpr: false,
            footnotes: Vec::new(),
            endnotes: Vec::new(),
        }
    }

    fn run(&mut self, xml: &str, deadline: Deadline) -> std::result::Result<(), Stop> {
        let mut reader = Reader::from_str(xml);
        let mut ticker = deadline.ticker("docx text extraction");
        loop {
            ticker.tick().map_err(Stop::Time)?;
            match reader.read_event().map_err(Stop::Xml)? {
                Event::Start(e) => {
                    if self.skip > 0 || SKIPPED.contains(&e.local_name().as_ref()) {
                        self.skip += 1;
                    } else {
                        self.start(&e, false);
                    }
                }
                Event::Empty(e) if self.skip == 0 => {
                    self.start(&e, true);
                    self.end(e.local_name().as_ref());
                }
                Event::End(e) => {
                    if self.skip > 0 {
                        self.skip -= 1;
                    } else {
                        self.end(e.local_name().as_ref());
                    }
                }
                Event::Text(t) if self.in_t > 0 && self.skip == 0 => {
                    self.push_text(&t.xml10_content());
                }
                Event::CData(t) if self.in_t > 0 && self.skip == 0 => {
                    self.push_text(&t.xml10_content());
                }
                Event::GeneralRef(r) if self.in_t > 0 && self.skip == 0 => {
                    if let Some(s) = resolve_ref(&r) {
                        self.push_text(&s);
                    }
                }
                Event::Eof => return Ok(()),
                _ => {}
            }
        }
    }

    fn push_text(&mut self, s: &str) {
        let bold = self.run_bold;
        if let Some(p) = self.paras.last_mut() {
            if !s.trim().is_empty() {
                p.all_bold = if p.has_text { p.all_bold && bold } else { bold };
                p.has_text = true;
            }
            p.text.push_str(s);
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        match e.local_name().as_ref() {
            "p" => self.paras.push(Para::default()),
            "pPr" if !empty && !self.paras.is_empty() => self.in_ppr += 1,
            "pStyle" if self.in_ppr > 0 => {
                if let Some(p) = self.paras.last_mut() {
                    p.style = attr(e, "val");
                }
            }
            "numId" if self.in_ppr > 0 => {
                if let Some(p) = self.paras.last_mut() {
                    p.numbered = attr(e, "val").is_some_and(|v| v != "0");
                }
            }
            "outlineLvl" if self.in_ppr > 0 => {
                if let Some(p) = self.paras.last_mut() {
                    p.outline = attr(e, "val").and_then(|v| v.parse().ok());
                }
            }
            "r" => self.run_bold = false,
            "rPr" if !empty && self.in_ppr == 0 => self.in_rpr = true,
            "b" if self.in_rpr => self.run_bold = on(e),
            "t" if !empty => self.in_t += 1,
            "tab" | "br" | "cr" if self.in_ppr == 0 && !self.in_rpr => self.push_text(" "),
            "noBreakHyphen" => self.push_text("-"),
            "footnoteReference" => self.note_ref(e, false),
            "endnoteReference" => self.note_ref(e, true),
            "tbl" => self.tables.push(Table::default()),
            "tr" => {
                if let Some(t) = self.tables.last_mut() {
                    t.rows.push(TableRow::default());
                }
            }
            "tblHeader" => {
                if let Some(row) = self.tables.last_mut().and_then(|t| t.rows.last_mut()) {
                    row.header = on(e);
                }
            }
            "tc" => {
                if let Some(row) = self.tables.last_mut().and_then(|t| t.rows.last_mut()) {
                    row.cells.push(TableCell {
                        span: 1,
                        ..TableCell::default()
                    });
                }
            }
            "gridSpan" => {
                let span = attr(e, "val").and_then(|v| v.parse::<usize>().ok());
                if let (Some(cell), Some(span)) = (self.cell(), span) {
                    cell.span = span.clamp(1, 64);
                }
            }
            "vMerge" => {
                let restart = attr(e, "val").is_some_and(|v| v == "restart");
                if let Some(cell) = self.cell() {
                    cell.merged = !restart;
                }
            }
            // Conditional formatting of the table style for its first row: Word's own mark
            // of a header row.
            "cnfStyle" => {
                if let Some(t) = self.tables.last_mut() {
                    if t.rows.len() == 1 && attr(e, "firstRow").as_deref() == Some("1") {
                        if let Some(row) = t.rows.last_mut() {
                            row.header = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        match name {
            "p" => {
                if let Some(p) = self.paras.pop() {
                    self.paragraph(p);
                }
            }
            "pPr" => self.in_ppr = self.in_ppr.saturating_sub(1),
            "rPr" => self.in_rpr = false,
            "t" => self.in_t = self.in_t.saturating_sub(1),
            "tbl" => {
                if let Some(t) = self.tables.pop() {
                    self.table(t);
                }
            }
            _ => {}
        }
    }

    fn note_ref(&mut self, e: &BytesStart<'_>, endnote: bool) {
        let Some(id) = attr(e, "id") else {
            return;
        };
        let list = if endnote {
            &mut self.endnotes
        } else {
            &mut self.footnotes
        };
        let marker = match list.iter().find(|n| n.id == id) {
            Some(n) => n.marker.clone(),
            None => {
                let n = list.len() + 1;
                let marker = if endnote { roman(n) } else { n.to_string() };
                list.push(NoteRef {
                    marker: marker.clone(),
                    id,
                });
                marker
            }
        };
        self.push_text(&format!("[{marker}]"));
    }

    /// The current cell of the innermost table, if a paragraph is inside one.
    fn cell(&mut self) -> Option<&mut TableCell> {
        self.tables
            .last_mut()
            .and_then(|t| t.rows.last_mut())
            .and_then(|r| r.cells.last_mut())
    }

    fn paragraph(&mut self, p: Para) {
        let text = normalize_ws(&p.text);
        if text.is_empty() {
            return;
        }
        if let Some(cell) = self.cell() {
            if !cell.text.is_empty() {
                cell.text.push(' ');
            }
            cell.all_bold = if cell.has_text {
                cell.all_bold && p.all_bold
            } else {
                p.all_bold
            };
            cell.has_text = true;
            cell.text.push_str(&text);
            return;
        }
        let style = p.style.as_deref();
        let level = style
            .and_then(|s| self.styles.heading_level(s))
            .or(p.outline.filter(|&l| l < 9).map(|l| l + 1));
        if let Some(level) = level {
            if self.doc.title.is_none() && level <= 1 {
                self.doc.title = Some(text.clone());
            }
            while self.headings.last().is_some_and(|(l, _)| *l >= level) {
                self.headings.pop();
            }
            self.headings.push((level, text));
            return;
        }
        let numbered = p.numbered || style.is_some_and(|s| self.styles.numbered(s));
        let kind = if numbered {
            BlockKind::ListItem
        } else {
            BlockKind::Paragraph
        };
        self.push(text, kind);
    }

    fn push(&mut self, text: String, kind: BlockKind) {
        self.doc.blocks.push(Block {
            heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
            text,
            kind,
            location: Location::default(),
        });
    }

    fn table(&mut self, table: Table) {
        let rows: Vec<TableRow> = table
            .rows
            .into_iter()
            .filter(|r| r.cells.iter().any(|c| !c.text.is_empty()))
            .collect();
        let rendered = render_table(&rows);
        // A table inside a table cell becomes part of that cell's text.
        if let Some(cell) = self.cell() {
            if !cell.text.is_empty() && !rendered.is_empty() {
                cell.text.push(' ');
            }
            cell.has_text |= !rendered.is_empty();
            cell.text.push_str(
                &rendered
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            return;
        }
        for (text, kind) in rendered {
            self.push(text, kind);
        }
    }

    fn finish(
        mut self,
        footnotes: &HashMap<String, String>,
        endnotes: &HashMap<String, String>,
    ) -> Document {
        // Unclosed elements (a truncated document): keep what was read.
        while let Some(p) = self.paras.pop() {
            self.paragraph(p);
        }
        while let Some(t) = self.tables.pop() {
            self.table(t);
        }
        for (refs, notes, heading) in [
            (&self.footnotes, footnotes, "Footnotes"),
            (&self.endnotes, endnotes, "Endnotes"),
        ] {
            for r in refs {
                if let Some(text) = notes.get(&r.id) {
                    self.doc.blocks.push(Block {
                        heading_path: vec![heading.to_string()],
                        text: format!("[{}] {text}", r.marker),
                        kind: BlockKind::Paragraph,
                        location: Location::default(),
                    });
                }
            }
        }
        self.doc
    }
}

/// Table rows as blocks: `Header: value; …` when the first row is a header, `a | b` when
/// not; a one-column table (a layout box, a callout) as plain paragraphs.
///
/// Cells are placed on the table grid first, so a header spanning two columns names both
/// and a vertically merged cell shows its text in every row it covers.
fn render_table(rows: &[TableRow]) -> Vec<(String, BlockKind)> {
    let grid = grid_rows(rows);
    let width = grid.iter().map(Vec::len).max().unwrap_or(0);
    let used = (0..width)
        .filter(|&c| grid.iter().any(|r| r.get(c).is_some_and(|t| !t.is_empty())))
        .count();
    if used <= 1 {
        return grid
            .iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .map(|t| (t.clone(), BlockKind::Paragraph))
            .collect();
    }
    let header = (rows.len() >= 2 && is_header_row(rows)).then(|| {
        // A spanning header cell names every column it covers.
        let mut names = vec![String::new(); width];
        let mut col = 0;
        for cell in &rows[0].cells {
            for name in names.iter_mut().skip(col).take(cell.span) {
                name.clone_from(&cell.text);
            }
            col += cell.span;
        }
        names
    });
    let skip = usize::from(header.is_some());
    let header = header.unwrap_or_default();
    grid[skip..]
        .iter()
        .map(|cells| (render_row(&header, cells), BlockKind::TableRow))
        .filter(|(t, _)| !t.is_empty())
        .collect()
}

/// Each row's cell texts by grid column: a spanning cell at its first column (the others
/// empty), a vertically merged cell with the text of the cell above.
fn grid_rows(rows: &[TableRow]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::new();
        for cell in &row.cells {
            let col = cells.len();
            let text = if cell.merged && cell.text.is_empty() {
                out.last()
                    .and_then(|above: &Vec<String>| above.get(col))
                    .cloned()
                    .unwrap_or_default()
            } else {
                cell.text.clone()
            };
            cells.push(text);
            cells.extend(std::iter::repeat_n(String::new(), cell.span - 1));
        }
        out.push(cells);
    }
    out
}

/// The first row is a header when Word marks it as one, when it is short labels all in bold,
/// or when it passes the spreadsheet header test (labels over values of another type, or
/// distinct labels that never recur below).
fn is_header_row(rows: &[TableRow]) -> bool {
    let first = &rows[0];
    if first.header {
        return true;
    }
    let labels = first
        .cells
        .iter()
        .filter(|c| !c.text.is_empty())
        .collect::<Vec<_>>();
    let short = labels.len() * 2 >= first.cells.len()
        && labels
            .iter()
            .all(|c| c.text.chars().count() <= MAX_LABEL_CHARS);
    if !short {
        return false;
    }
    let body_bold = rows[1..]
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| c.has_text)
        .all(|c| c.all_bold);
    if labels.iter().all(|c| c.all_bold) && !body_bold {
        return true;
    }
    // Unmarked, a label with a digit ("2 years") is more likely the value of a key/value
    // table than a column name.
    if labels
        .iter()
        .any(|c| c.text.chars().any(|ch| ch.is_ascii_digit()))
    {
        return false;
    }
    let as_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Row {
            number: i as u32 + 1,
            cells: r
                .cells
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.text.is_empty())
                .map(|(j, c)| {
                    let (kind, number) = sheet::infer_kind(&c.text);
                    Cell {
                        col: j as u32,
                        text: c.text.clone(),
                        kind,
                        number,
                    }
                })
                .collect(),
        })
        .filter(|r: &Row| !r.cells.is_empty())
        .collect();
    as_rows.first().is_some_and(|r| r.number == 1)
        && as_rows[0].cells.iter().all(|c| c.kind == CellKind::Text)
        && sheet::detect_header(&as_rows).row == Some(0)
}

/// Lower-case roman numerals, as Word numbers endnotes.
fn roman(mut n: usize) -> String {
    const TABLE: [(usize, &str); 13] = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut out = String::new();
    for (value, digits) in TABLE {
        while n >= value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The DOCX parser with a time limit no test reaches.
    fn parse_docx(bytes: &[u8]) -> Result<Document> {
        super::parse_docx(bytes, Deadline::after(std::time::Duration::from_secs(600)))
    }
    use crate::parse::archive::tests::zip_of;

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006""#;

    /// A DOCX from the XML of the body's children, plus styles and footnotes parts.
    pub(crate) fn docx_of(body: &str, styles: Option<&str>, footnotes: Option<&str>) -> Vec<u8> {
        let document = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W}><w:body>{body}<w:sectPr/></w:body></w:document>"#
        );
        let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
        let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#;
        let styles =
            styles.map(|s| format!(r#"<?xml version="1.0"?><w:styles {W}>{s}</w:styles>"#));
        let footnotes = footnotes
            .map(|s| format!(r#"<?xml version="1.0"?><w:footnotes {W}>{s}</w:footnotes>"#));
        let mut entries: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", types.as_bytes()),
            ("_rels/.rels", rels.as_bytes()),
            ("word/document.xml", document.as_bytes()),
        ];
        if let Some(s) = &styles {
            entries.push(("word/styles.xml", s.as_bytes()));
        }
        if let Some(f) = &footnotes {
            entries.push(("word/footnotes.xml", f.as_bytes()));
        }
        zip_of(&entries)
    }

    pub(crate) fn p(style: Option<&str>, text: &str) -> String {
        let ppr = style.map_or(String::new(), |s| {
            format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)
        });
        format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
    }

    fn li(text: &str) -> String {
        format!(
            r#"<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"#
        )
    }

    fn tr(cells: &[&str], header: bool) -> String {
        let trpr = if header {
            "<w:trPr><w:tblHeader/></w:trPr>"
        } else {
            ""
        };
        let tcs: String = cells
            .iter()
            .map(|c| format!("<w:tc><w:tcPr/>{}</w:tc>", p(None, c)))
            .collect();
        format!("<w:tr>{trpr}{tcs}</w:tr>")
    }

    fn blocks(doc: &Document) -> Vec<(String, BlockKind, String)> {
        doc.blocks
            .iter()
            .map(|b| (b.heading_path.join(" > "), b.kind, b.text.clone()))
            .collect()
    }

    fn b(path: &str, kind: BlockKind, text: &str) -> (String, BlockKind, String) {
        (path.to_string(), kind, text.to_string())
    }

    #[test]
    fn headings_lists_tables_and_footnotes() {
        let body = [
            p(Some("Title"), "Warranty Terms"),
            p(None, "Brisa Coffee Co. stands behind its equipment."),
            p(Some("Heading1"), "Coverage"),
            r#"<w:p><w:r><w:t>Two years on the kettle</w:t></w:r><w:r><w:footnoteReference w:id="2"/></w:r><w:r><w:tab/><w:t>and grinder&amp;co.</w:t></w:r></w:p>"#.to_string(),
            li("Heating element"),
            li("Burrs and motor"),
            p(Some("Heading2"), "Models"),
            format!(
                "<w:tbl><w:tblPr/>{}{}{}</w:tbl>",
                tr(&["Model", "Period"], true),
                tr(&["BK-200", "2 years"], false),
                tr(&["HG-50", ""], false)
            ),
            p(Some("Heading1"), "Claims"),
            r#"<w:p><w:hyperlink r:id="rId9" xmlns:r="r"><w:r><w:t>Write to support</w:t></w:r></w:hyperlink><w:r><w:br/><w:t>with the receipt.</w:t></w:r><w:r><w:delText>deleted words</w:delText></w:r><w:r><w:instrText> HYPERLINK x </w:instrText></w:r></w:p>"#.to_string(),
        ]
        .concat();
        let footnotes = r#"<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote><w:footnote w:id="2"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> From the date of purchase.</w:t></w:r></w:p></w:footnote>"#;
        let bytes = docx_of(&body, None, Some(footnotes));
        assert_eq!(crate::parse::detect(&bytes, None).unwrap(), Format::Docx);
        let doc = parse_docx(&bytes).unwrap();
        use BlockKind::*;
        assert_eq!(doc.title.as_deref(), Some("Warranty Terms"));
        assert_eq!(
            blocks(&doc),
            vec![
                b(
                    "Warranty Terms",
                    Paragraph,
                    "Brisa Coffee Co. stands behind its equipment."
                ),
                b(
                    "Warranty Terms > Coverage",
                    Paragraph,
                    "Two years on the kettle[1] and grinder&co."
                ),
                b("Warranty Terms > Coverage", ListItem, "Heating element"),
                b("Warranty Terms > Coverage", ListItem, "Burrs and motor"),
                b(
                    "Warranty Terms > Coverage > Models",
                    TableRow,
                    "Model: BK-200; Period: 2 years"
                ),
                b(
                    "Warranty Terms > Coverage > Models",
                    TableRow,
                    "Model: HG-50"
                ),
                b(
                    "Warranty Terms > Claims",
                    Paragraph,
                    "Write to support with the receipt."
                ),
                b("Footnotes", Paragraph, "[1] From the date of purchase."),
            ]
        );
    }

    #[test]
    fn localized_styles_resolve_through_styles_xml() {
        let styles = r#"
            <w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:basedOn w:val="Standard"/></w:style>
            <w:style w:type="paragraph" w:styleId="MeinKapitel"><w:name w:val="Mein Kapitel"/><w:basedOn w:val="berschrift1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Gliederung"><w:name w:val="Gliederung"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Aufzhlung"><w:name w:val="List Bullet"/><w:pPr><w:numPr><w:numId w:val="7"/></w:numPr></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Loop1"><w:name w:val="Loop"/><w:basedOn w:val="Loop2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Loop2"><w:name w:val="Loop"/><w:basedOn w:val="Loop1"/></w:style>"#;
        let body = [
            p(Some("berschrift1"), "Garantie"),
            p(Some("Gliederung"), "Umfang"),
            p(Some("Aufzhlung"), "Heizelement"),
            p(Some("MeinKapitel"), "Ansprüche"),
            p(Some("Loop1"), "Text im Kreis"),
            r#"<w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>Direkt</w:t></w:r></w:p>"#
                .to_string(),
            p(None, "Unter direkt"),
        ]
        .concat();
        let doc = parse_docx(&docx_of(&body, Some(styles), None)).unwrap();
        use BlockKind::*;
        assert_eq!(
            blocks(&doc),
            vec![
                b("Garantie > Umfang", ListItem, "Heizelement"),
                b("Ansprüche", Paragraph, "Text im Kreis"),
                b("Ansprüche > Direkt", Paragraph, "Unter direkt"),
            ]
        );
    }

    #[test]
    fn tables_without_header_bold_headers_nested_and_fallbacks() {
        let bold = |t: &str| {
            format!(r#"<w:tc><w:p><w:r><w:rPr><w:b/></w:rPr><w:t>{t}</w:t></w:r></w:p></w:tc>"#)
        };
        let plain = |t: &str| format!("<w:tc>{}</w:tc>", p(None, t));
        let body = [
            // Key/value table in plain text: no header.
            format!("<w:tbl>{}{}</w:tbl>", tr(&["Warranty period", "2 years"], false), tr(&["Claims", "By email"], false)),
            // Bold first row: header.
            format!(
                "<w:tbl><w:tr>{}{}</w:tr><w:tr>{}{}</w:tr></w:tbl>",
                bold("Part"),
                bold("Covered"),
                plain("Burrs"),
                plain("Yes")
            ),
            // One-column table: paragraphs; nested table joins its cell.
            format!(
                "<w:tbl><w:tr><w:tc>{}<w:tbl>{}</w:tbl></w:tc></w:tr></w:tbl>",
                p(None, "Note:"),
                tr(&["a", "b"], false)
            ),
            // The fallback copy of a text box is skipped.
            r#"<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>Boxed</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>Boxed</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>Outer</w:t></w:r></w:p>"#.to_string(),
        ]
        .concat();
        let doc = parse_docx(&docx_of(&body, None, None)).unwrap();
        use BlockKind::*;
        assert_eq!(
            blocks(&doc),
            vec![
                b("", TableRow, "Warranty period | 2 years"),
                b("", TableRow, "Claims | By email"),
                b("", TableRow, "Part: Burrs; Covered: Yes"),
                b("", Paragraph, "Note: a | b"),
                b("", Paragraph, "Boxed"),
                b("", Paragraph, "Outer"),
            ]
        );
    }

    #[test]
    fn spanning_headers_and_merged_cells() {
        let cell =
            |t: &str, props: &str| format!("<w:tc><w:tcPr>{props}</w:tcPr>{}</w:tc>", p(None, t));
        let span2 = r#"<w:gridSpan w:val="2"/>"#;
        let body = format!(
            r#"<w:tbl><w:tr><w:trPr><w:cnfStyle w:val="100000000000" w:firstRow="1"/></w:trPr>{}{}</w:tr><w:tr>{}{}{}</w:tr><w:tr>{}{}{}</w:tr></w:tbl>"#,
            cell("Model", ""),
            cell("Coverage", span2),
            cell("BK-200", r#"<w:vMerge w:val="restart"/>"#),
            cell("Parts", ""),
            cell("2 years", ""),
            cell("", "<w:vMerge/>"),
            cell("Labour", ""),
            cell("1 year", ""),
        );
        let doc = parse_docx(&docx_of(&body, None, None)).unwrap();
        use BlockKind::*;
        assert_eq!(
            blocks(&doc),
            vec![
                b(
                    "",
                    TableRow,
                    "Model: BK-200; Coverage: Parts; Coverage: 2 years"
                ),
                b(
                    "",
                    TableRow,
                    "Model: BK-200; Coverage: Labour; Coverage: 1 year"
                ),
            ]
        );
    }

    #[test]
    fn broken_and_empty_documents() {
        let e = parse_docx(&docx_of("", None, None)).unwrap_err();
        assert_eq!(e.to_string(), "empty: docx document contains no text");
        let e = parse_docx(&docx_of("<w:p></w:r><w:t>x</w:t></w:p>", None, None)).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Malformed), "{e}");
        // Damage after some text keeps the text with a warning.
        let doc = parse_docx(&docx_of(
            &format!("{}<w:p><w:r><w:t>y</w:r></w:p>", p(None, "kept")),
            None,
            None,
        ))
        .unwrap();
        assert_eq!(doc.blocks[0].text, "kept");
        assert_eq!(doc.warnings.len(), 1);
        let no_doc = zip_of(&[("word/other.xml", b"<x/>")]);
        assert_eq!(
            parse_docx(&no_doc).unwrap_err().reason(),
            Some(Reason::Malformed)
        );
        assert_eq!(
            parse_docx(b"PK\x03\x04 truncated").unwrap_err().reason(),
            Some(Reason::Corrupted)
        );
    }

    #[test]
    fn zip_bomb_docx_is_refused() {
        let mut body = String::new();
        while body.len() < 4 << 20 {
            body.push_str(&p(None, "same words again"));
        }
        let bytes = docx_of(&body, None, None);
        let e = parse_docx(&bytes).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ZipBomb), "{e}");
        assert!(e.to_string().contains("word/document.xml"), "{e}");
    }

    #[test]
    fn mutated_documents_never_panic() {
        let body = [
            p(Some("Heading1"), "Coverage"),
            li("Kettle"),
            format!(
                "<w:tbl>{}{}</w:tbl>",
                tr(&["A", "B"], true),
                tr(&["1", "2"], false)
            ),
            r#"<w:p><w:r><w:t>x</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>"#
                .to_string(),
        ]
        .concat();
        let mut x = 0x2545_F491_u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize
        };
        for round in 0..200 {
            let mut xml = body.clone().into_bytes();
            if round % 4 == 0 {
                xml.truncate(next() % xml.len());
            } else {
                for _ in 0..3 {
                    let at = next() % xml.len();
                    let alphabet = b"<>\"/=&;x0 -";
                    xml[at] = alphabet[next() % alphabet.len()];
                }
            }
            let xml = String::from_utf8_lossy(&xml);
            let _ = parse_docx(&docx_of(
                &xml,
                Some("<w:style w:styleId=\"x\"/>"),
                Some("<w:footnote w:id=\"1\"><w:p/></w:footnote>"),
            ));
        }
    }

    #[test]
    fn roman_numerals() {
        assert_eq!(roman(1), "i");
        assert_eq!(roman(4), "iv");
        assert_eq!(roman(14), "xiv");
    }
}
