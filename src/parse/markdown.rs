//! Markdown (CommonMark with GitHub tables, strikethrough and footnotes) via pulldown-cmark.
//!
//! The event stream is folded into blocks: headings maintain the heading path, paragraphs,
//! list items, quotes and code blocks become blocks, and each table body row becomes one
//! `Header: value; …` block so that a row found by search carries its column names. Line
//! numbers come from the source offsets pulldown-cmark reports for every event.

use super::deadline::Deadline;
use super::decode::decode_text;
use super::html::{fragment_text, render_row};
use super::{normalize_ws, Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::error::Result;
use pulldown_cmark::{CodeBlockKind, Event, Options, Tag, TagEnd};
use std::ops::Range;

/// Parser for Markdown files.
pub struct MarkdownParser;

impl Parser for MarkdownParser {
    fn format(&self) -> Format {
        Format::Markdown
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        let decoded = decode_text(bytes)?;
        let mut doc = parse_markdown(&decoded.text, opts.deadline())?;
        doc.warnings = decoded.warnings();
        doc.non_empty("markdown file")
    }
}

fn parse_markdown(text: &str, deadline: Deadline) -> Result<Document> {
    let (body_start, skipped_lines) = front_matter_end(text);
    let body = &text[body_start..];
    // Task lists too, so that `- [x] done` reads "done" rather than "[x] done".
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS;
    let mut folder = Folder::new(body, skipped_lines);
    let mut ticker = deadline.ticker("markdown parsing");
    for (event, range) in pulldown_cmark::Parser::new_ext(body, options).into_offset_iter() {
        ticker.tick()?;
        folder.event(event, range);
    }
    Ok(folder.finish())
}

/// Where a leading YAML front-matter block (`---` … `---` or `...`) ends: its byte length and
/// line count. Like pulldown-cmark's own rule, the line after the opening `---` must not be
/// blank, so a document that merely starts with a thematic break keeps it.
fn front_matter_end(text: &str) -> (usize, u32) {
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return (0, 0);
    }
    let mut offset = text.find('\n').map_or(text.len(), |i| i + 1);
    let mut count = 1u32;
    for (i, line) in lines.enumerate() {
        offset += line.len();
        count += 1;
        let trimmed = line.trim_end();
        if i == 0 && trimmed.is_empty() {
            return (0, 0);
        }
        if i > 0 && (trimmed == "---" || trimmed == "...") {
            return (offset, count);
        }
    }
    (0, 0)
}

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
    /// Lines before the parsed text (front matter).
    base: u32,
}

impl LineIndex {
    fn new(text: &str, base: u32) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts, base }
    }

    fn line(&self, offset: usize) -> u32 {
        let n = self.starts.partition_point(|&s| s <= offset);
        u32::try_from(n)
            .unwrap_or(u32::MAX)
            .saturating_add(self.base)
    }

    /// The lines a byte range covers (its end is exclusive).
    fn location(&self, span: &Range<usize>) -> Location {
        let last = if span.end > span.start {
            span.end - 1
        } else {
            span.start
        };
        Location::lines(self.line(span.start), self.line(last))
    }
}

/// Text being gathered for one block, with the source span it came from.
#[derive(Default)]
struct Acc {
    text: String,
    span: Option<Range<usize>>,
}

impl Acc {
    fn push(&mut self, s: &str, range: Range<usize>) {
        self.text.push_str(s);
        self.cover(range);
    }

    fn cover(&mut self, range: Range<usize>) {
        self.span = Some(match self.span.take() {
            Some(span) => span.start.min(range.start)..span.end.max(range.end),
            None => range,
        });
    }

    fn space(&mut self) {
        self.text.push(' ');
    }

    fn absorb(&mut self, other: Acc) {
        self.space();
        self.text.push_str(&other.text);
        if let Some(span) = other.span {
            self.cover(span);
        }
    }
}

/// The block elements text can be gathered in.
enum Leaf {
    Paragraph(Acc),
    Heading(u8, Acc),
    Code(Acc),
    Html(Acc),
}

/// Containers that decide what kind of block their paragraphs become.
enum Container {
    /// A list item's own text: its tight text and paragraphs, but not its nested lists.
    Item(Acc),
    Quote,
    Other,
}

#[derive(Default)]
struct Table {
    header: Vec<String>,
    row: Vec<String>,
    cell: Option<Acc>,
    row_span: Option<Range<usize>>,
}

/// Folds pulldown-cmark events into a [`Document`].
struct Folder {
    lines: LineIndex,
    doc: Document,
    headings: Vec<(u8, String)>,
    containers: Vec<Container>,
    leaf: Option<Leaf>,
    table: Option<Table>,
    /// Text outside any known block; flushed as a paragraph at the next boundary.
    stray: Acc,
}

impl Folder {
    fn new(text: &str, base: u32) -> Self {
        Folder {
            lines: LineIndex::new(text, base),
            doc: Document::default(),
            headings: Vec::new(),
            containers: Vec::new(),
            leaf: None,
            table: None,
            stray: Acc::default(),
        }
    }

    fn finish(mut self) -> Document {
        self.flush_stray();
        self.doc
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Code(t) => self.text(&t, range),
            Event::Html(html) => match &mut self.leaf {
                Some(Leaf::Html(acc)) => acc.push(&html, range),
                _ => {
                    let text = fragment_text(&html);
                    self.text(&text, range);
                }
            },
            Event::SoftBreak | Event::HardBreak => self.text(" ", range),
            // Inline tags are dropped; only a line break separates words.
            Event::InlineHtml(tag)
                if tag.get(..3).is_some_and(|t| t.eq_ignore_ascii_case("<br")) =>
            {
                self.text(" ", range)
            }
            Event::InlineHtml(_) => {}
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t, range),
            Event::FootnoteReference(_) | Event::Rule | Event::TaskListMarker(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>, range: Range<usize>) {
        match tag {
            Tag::Paragraph => self.open_leaf(Leaf::Paragraph(Acc::default())),
            Tag::Heading { level, .. } => {
                self.open_leaf(Leaf::Heading(level as u8, Acc::default()))
            }
            Tag::CodeBlock(kind) => {
                // Indented code has no fences: its span is its text. Fenced code is cited
                // with its fences.
                let mut acc = Acc::default();
                if matches!(kind, CodeBlockKind::Fenced(_)) {
                    acc.cover(range);
                }
                self.flush_item();
                self.open_leaf(Leaf::Code(acc));
            }
            Tag::HtmlBlock => self.open_leaf(Leaf::Html(Acc::default())),
            Tag::List(_) => {
                // The outer item's text so far is its own block; the nested items follow.
                self.flush_item();
                self.flush_stray();
            }
            Tag::Item => {
                self.flush_stray();
                self.containers.push(Container::Item(Acc::default()));
            }
            Tag::BlockQuote(_) => {
                self.flush_stray();
                self.containers.push(Container::Quote);
            }
            Tag::FootnoteDefinition(_) | Tag::DefinitionList => {
                self.flush_stray();
                self.containers.push(Container::Other);
            }
            Tag::Table(_) => {
                self.flush_item();
                self.flush_stray();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.row.clear();
                    table.row_span = Some(range);
                }
            }
            Tag::TableCell => {
                if let Some(table) = &mut self.table {
                    table.cell = Some(Acc::default());
                }
            }
            Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::HtmlBlock => {
                self.close_leaf()
            }
            TagEnd::Item => {
                if let Some(Container::Item(acc)) = self.containers.pop() {
                    self.push_block(acc, BlockKind::ListItem);
                }
            }
            TagEnd::BlockQuote(_) | TagEnd::FootnoteDefinition | TagEnd::DefinitionList => {
                self.flush_stray();
                self.containers.pop();
            }
            TagEnd::TableCell => {
                if let Some(table) = &mut self.table {
                    let cell = table.cell.take().unwrap_or_default();
                    table.row.push(normalize_ws(&cell.text));
                }
            }
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.header = std::mem::take(&mut table.row);
                    if table.header.iter().all(String::is_empty) {
                        table.header.clear();
                    }
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    let text = render_row(&table.header, &table.row);
                    let span = table.row_span.take();
                    if !text.is_empty() {
                        let location = span.map(|s| self.lines.location(&s)).unwrap_or_default();
                        let heading_path = self.heading_path();
                        self.doc.blocks.push(Block {
                            heading_path,
                            text,
                            kind: BlockKind::TableRow,
                            location,
                        });
                    }
                }
            }
            TagEnd::Table => self.table = None,
            TagEnd::List(_)
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// Routes inline text to the innermost thing gathering it.
    fn text(&mut self, s: &str, range: Range<usize>) {
        if let Some(cell) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            cell.push(s, range);
            return;
        }
        match &mut self.leaf {
            Some(
                Leaf::Paragraph(acc) | Leaf::Heading(_, acc) | Leaf::Code(acc) | Leaf::Html(acc),
            ) => acc.push(s, range),
            None => match self.containers.last_mut() {
                Some(Container::Item(acc)) => acc.push(s, range),
                _ => self.stray.push(s, range),
            },
        }
    }

    fn open_leaf(&mut self, leaf: Leaf) {
        self.flush_stray();
        // Leaves do not nest in Markdown; close a dangling one rather than lose its text.
        if self.leaf.is_some() {
            self.close_leaf();
        }
        self.leaf = Some(leaf);
    }

    fn close_leaf(&mut self) {
        match self.leaf.take() {
            Some(Leaf::Heading(level, acc)) => {
                let text = normalize_ws(&acc.text);
                if text.is_empty() {
                    return;
                }
                if level == 1 && self.doc.title.is_none() {
                    self.doc.title = Some(text.clone());
                }
                while self.headings.last().is_some_and(|(l, _)| *l >= level) {
                    self.headings.pop();
                }
                self.headings.push((level, text));
            }
            Some(Leaf::Code(acc)) => {
                let code = acc.text.trim_end().trim_start_matches(['\n', '\r']);
                if code.trim().is_empty() {
                    return;
                }
                let location = acc
                    .span
                    .map(|s| self.lines.location(&s))
                    .unwrap_or_default();
                self.doc.blocks.push(Block {
                    heading_path: self.heading_path(),
                    text: code.to_owned(),
                    kind: BlockKind::Code,
                    location,
                });
            }
            Some(Leaf::Html(acc)) => {
                let text = Acc {
                    text: fragment_text(&acc.text),
                    span: acc.span,
                };
                self.paragraph(text);
            }
            Some(Leaf::Paragraph(acc)) => self.paragraph(acc),
            None => {}
        }
    }

    /// A finished paragraph: part of the enclosing list item, a quote, or its own block.
    fn paragraph(&mut self, acc: Acc) {
        match self.containers.last_mut() {
            Some(Container::Item(item)) => item.absorb(acc),
            Some(Container::Quote) => self.push_block(acc, BlockKind::Quote),
            _ => self.push_block(acc, BlockKind::Paragraph),
        }
    }

    /// Emits the innermost list item's text gathered so far (before a nested list, table or
    /// code block) so that the item's blocks stay in reading order.
    fn flush_item(&mut self) {
        if let Some(Container::Item(acc)) = self.containers.last_mut() {
            let acc = std::mem::take(acc);
            self.push_block(acc, BlockKind::ListItem);
        }
    }

    fn flush_stray(&mut self) {
        let acc = std::mem::take(&mut self.stray);
        self.push_block(acc, BlockKind::Paragraph);
    }

    fn push_block(&mut self, acc: Acc, kind: BlockKind) {
        let text = normalize_ws(&acc.text);
        if text.is_empty() {
            return;
        }
        let location = acc
            .span
            .map(|s| self.lines.location(&s))
            .unwrap_or_default();
        self.doc.blocks.push(Block {
            heading_path: self.heading_path(),
            text,
            kind,
            location,
        });
    }

    fn heading_path(&self) -> Vec<String> {
        self.headings.iter().map(|(_, h)| h.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;
    use BlockKind::*;

    fn parse(s: &str) -> Document {
        MarkdownParser
            .parse(s.as_bytes(), &ParseOptions::default())
            .unwrap()
    }

    /// (heading path joined with " > ", text, kind, first line, last line)
    fn summary(doc: &Document) -> Vec<(String, &str, BlockKind, u32, u32)> {
        doc.blocks
            .iter()
            .map(|b| {
                (
                    b.heading_path.join(" > "),
                    b.text.as_str(),
                    b.kind,
                    b.location.line_start.unwrap_or(0),
                    b.location.line_end.unwrap_or(0),
                )
            })
            .collect()
    }

    #[test]
    fn headings_paragraphs_and_lines() {
        let doc = parse(
            "---\n\
             title: ignored\n\
             ---\n\
             # Help Center\n\
             \n\
             Welcome to *our* [help](https://example.com) pages,\n\
             with `inline code` and ![a map](map.png).\n\
             \n\
             ## Shipping\n\
             \n\
             We ship ~~never~~ daily.\n\
             \n\
             ### Express\n\
             \n\
             Next day.\n\
             \n\
             Returns\n\
             -------\n\
             \n\
             > Keep the receipt.\n\
             > Always.\n",
        );
        assert_eq!(doc.title.as_deref(), Some("Help Center"));
        assert_eq!(
            summary(&doc),
            vec![
                (
                    "Help Center".into(),
                    "Welcome to our help pages, with inline code and a map.",
                    Paragraph,
                    6,
                    7
                ),
                (
                    "Help Center > Shipping".into(),
                    "We ship never daily.",
                    Paragraph,
                    11,
                    11
                ),
                (
                    "Help Center > Shipping > Express".into(),
                    "Next day.",
                    Paragraph,
                    15,
                    15
                ),
                (
                    "Help Center > Returns".into(),
                    "Keep the receipt. Always.",
                    Quote,
                    20,
                    21
                ),
            ]
        );
    }

    #[test]
    fn nested_lists_do_not_duplicate_text() {
        let doc = parse(
            "- Fruit\n  - Apples\n  - [x] Pears\n- Bread\n\n1. Loose item\n\n   second para\n\n2. Two\n",
        );
        assert_eq!(
            summary(&doc),
            vec![
                ("".into(), "Fruit", ListItem, 1, 1),
                ("".into(), "Apples", ListItem, 2, 2),
                ("".into(), "Pears", ListItem, 3, 3),
                ("".into(), "Bread", ListItem, 4, 4),
                ("".into(), "Loose item second para", ListItem, 6, 8),
                ("".into(), "Two", ListItem, 10, 10),
            ]
        );
    }

    #[test]
    fn code_blocks_keep_line_breaks() {
        let doc =
            parse("# Setup\n\n```sh\ncargo build\n  cargo   test\n```\n\n    indented\n    code\n");
        let s = summary(&doc);
        assert_eq!(
            s[0],
            ("Setup".into(), "cargo build\n  cargo   test", Code, 3, 6)
        );
        assert_eq!(s[1], ("Setup".into(), "indented\ncode", Code, 8, 9));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn tables_render_rows_with_headers() {
        let doc = parse(
            "## Prices\n\n| Plan | Price | Notes |\n|---|---|---|\n| Basic | 5 € | |\n| Pro | **20 €** | [yearly](x) |\n\nAfter.\n",
        );
        assert_eq!(
            summary(&doc),
            vec![
                ("Prices".into(), "Plan: Basic; Price: 5 €", TableRow, 5, 5),
                (
                    "Prices".into(),
                    "Plan: Pro; Price: 20 €; Notes: yearly",
                    TableRow,
                    6,
                    6
                ),
                ("Prices".into(), "After.", Paragraph, 8, 8),
            ]
        );
        assert_eq!(doc.title, None);
    }

    #[test]
    fn html_blocks_keep_text_and_footnotes_are_paragraphs() {
        let doc = parse(
            "<div align=\"center\">\n  <b>Bold</b> &amp; plain\n</div>\n\n<!-- a comment -->\n\nText[^1] with <br> break.\n\n[^1]: The note.\n",
        );
        let texts: Vec<_> = doc
            .blocks
            .iter()
            .map(|b| (b.text.as_str(), b.kind))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("Bold & plain", Paragraph),
                ("Text with break.", Paragraph),
                ("The note.", Paragraph),
            ]
        );
        assert_eq!(doc.blocks[0].location, Location::lines(1, 3));
    }

    #[test]
    fn heading_stack_pops_deeper_levels() {
        let doc = parse("# A\n## B\n### C\nc\n## D\nd\n# E\ne\n");
        let paths: Vec<_> = doc
            .blocks
            .iter()
            .map(|b| b.heading_path.join(" > "))
            .collect();
        assert_eq!(paths, vec!["A > B > C", "A > D", "E"]);
        assert_eq!(doc.title.as_deref(), Some("A"));
    }

    #[test]
    fn thematic_break_at_start_is_not_front_matter() {
        let doc = parse("---\n\nHello\n\n---\n");
        assert_eq!(summary(&doc), vec![("".into(), "Hello", Paragraph, 3, 3)]);
        assert_eq!(front_matter_end("---\nno end\n"), (0, 0));
        assert_eq!(front_matter_end("---\na: 1\n...\nx"), (13, 3));
    }

    #[test]
    fn latin1_markdown_is_decoded() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252
            .encode("# Envíos\n\n¿Dónde está mi pedido? Envío rápido a España.\n");
        let doc = MarkdownParser
            .parse(&bytes, &ParseOptions::default())
            .unwrap();
        assert_eq!(doc.title.as_deref(), Some("Envíos"));
        assert_eq!(
            doc.blocks[0].text,
            "¿Dónde está mi pedido? Envío rápido a España."
        );
        assert_eq!(
            doc.warnings,
            vec!["text is not utf-8: decoded as windows-1252"]
        );
    }

    #[test]
    fn empty_markdown_is_rejected() {
        let reason = |s: &str| {
            MarkdownParser
                .parse(s.as_bytes(), &ParseOptions::default())
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(""), Some(Reason::Empty));
        assert_eq!(reason("# Only a heading\n\n---\n"), Some(Reason::Empty));
        assert_eq!(reason("<!-- nothing -->\n"), Some(Reason::Empty));
        assert_eq!(
            MarkdownParser
                .parse(b"   \n", &ParseOptions::default())
                .unwrap_err()
                .to_string(),
            "empty: markdown file contains no text"
        );
    }
}
