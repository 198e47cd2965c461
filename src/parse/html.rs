//! HTML pages via scraper (html5ever): the readable content of a page, without its chrome.
//!
//! A saved web page is mostly not content: navigation, cookie banners, footers, scripts.
//! Indexing that text would make every page of a site match "privacy" and "cart". So the
//! parser picks the page's main element (`<main>`, `[role=main]`, `<article>`, `#content`,
//! `.content`, else `<body>`), drops chrome and invisible subtrees, and walks what remains
//! in document order: headings build the heading path, block elements become blocks, and
//! data tables become one `Header: value; …` row per block.

use super::deadline::Deadline;
use super::decode::decode_html;
use super::{normalize_ws, Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::error::{Error, Reason, Result};
use scraper::{ElementRef, Html, Node};
use std::ops::Deref;

/// A node of scraper's tree (ego-tree's `NodeRef`, which scraper does not re-export).
type NodeRef<'a> = <ElementRef<'a> as Deref>::Target;

/// Parser for HTML pages.
pub struct HtmlParser;

impl Parser for HtmlParser {
    fn format(&self) -> Format {
        Format::Html
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        let deadline = opts.deadline();
        let decoded = decode_html(bytes)?;
        let html = Html::parse_document(&decoded.text);
        let mut doc = extract(&html, deadline)?;
        if doc.blocks.is_empty() {
            return Err(Error::rejected(
                Reason::Empty,
                "html file contains no text (only markup or scripts)",
            ));
        }
        doc.warnings = decoded.warnings();
        doc.non_empty("html file")
    }
}

/// The text of an HTML fragment (used for HTML blocks inside Markdown): everything visible,
/// whitespace-normalised, with block elements separating words.
pub(super) fn fragment_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    plain_text(fragment.root_element(), Rules::FRAGMENT)
}

/// Renders a table row for search: `Header: value; Header2: value2` when there is a header
/// row (empty cells skipped, cells without a header stand alone), else the non-empty cells
/// joined with ` | `.
pub(super) fn render_row(header: &[String], cells: &[String]) -> String {
    let filled = cells.iter().enumerate().filter(|(_, c)| !c.is_empty());
    if header.iter().all(String::is_empty) {
        return filled
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
    }
    filled
        .map(|(i, c)| match header.get(i).filter(|h| !h.is_empty()) {
            Some(h) => format!("{h}: {c}"),
            None => c.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The page's title and content blocks. The tree is built by then; each walk over it is
/// linear, so the deadline is checked before each one.
fn extract(html: &Html, deadline: Deadline) -> Result<Document> {
    let root = html.root_element();
    let body = root
        .descendent_elements()
        .find(|e| e.value().name() == "body")
        .unwrap_or(root);
    let main = find_main(body);
    let attempts = main
        .map(|m| (m, Rules::MAIN))
        .into_iter()
        .chain([(body, Rules::BODY), (body, Rules::BODY_WITH_FORMS)]);
    let mut doc = Document {
        title: title(root),
        ..Document::default()
    };
    for (scope, rules) in attempts {
        deadline.check("html text extraction")?;
        let mut walker = Walker::new(rules);
        walker.walk(scope);
        if !walker.blocks.is_empty() {
            if rules == Rules::BODY_WITH_FORMS {
                tracing::debug!("html content found only inside a <form>; kept forms");
            }
            doc.blocks = walker.blocks;
            break;
        }
    }
    Ok(doc)
}

/// `<title>` in `<head>` without the site's name after it, else the first `<h1>`.
fn title(root: ElementRef<'_>) -> Option<String> {
    let in_head = root
        .descendent_elements()
        .find(|e| {
            e.value().name() == "title"
                && e.parent()
                    .and_then(ElementRef::wrap)
                    .is_some_and(|p| p.value().name() == "head")
        })
        .map(|t| normalize_ws(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());
    let h1 = root
        .descendent_elements()
        .find(|e| e.value().name() == "h1")
        .map(|h1| plain_text(h1, Rules::FRAGMENT))
        .filter(|t| !t.is_empty());
    match (in_head, h1) {
        (Some(t), Some(h)) => Some(without_site_name(&t, &h).unwrap_or(t)),
        (t, h) => t.or(h),
    }
}

/// `title` is often the page's heading, a separator and the site's name ("ast — Abstract
/// Syntax Trees — Python 3.11.2 documentation", "Returns | Brisa Coffee"): then the heading
/// alone, which is what the page is about.
fn without_site_name(title: &str, h1: &str) -> Option<String> {
    let rest = title.strip_prefix(h1)?;
    [" — ", " – ", " - ", " | ", " · ", " :: "]
        .iter()
        .any(|sep| rest.starts_with(sep) && rest.len() > sep.len())
        .then(|| h1.to_string())
}

/// The element holding the page's content, by decreasing confidence.
fn find_main(body: ElementRef<'_>) -> Option<ElementRef<'_>> {
    // The tests, best first: `<main>`, `role="main"`, `<article>`, `id="content"`,
    // `class="… content …"`. One walk remembers the first element whose best test is each; the
    // best test found wins (a walk per test, asking each attribute by name, cost a sixth of the parse).
    let rank = |e: &ElementRef<'_>| -> Option<usize> {
        let el = e.value();
        let mut best = match el.name() {
            "main" => return Some(0),
            "article" => Some(2),
            _ => None,
        };
        for (name, value) in el.attrs() {
            let r = match name {
                "role" if value.eq_ignore_ascii_case("main") => 1,
                "id" if value.eq_ignore_ascii_case("content") => 3,
                "class"
                    if value
                        .split_ascii_whitespace()
                        .any(|c| c.eq_ignore_ascii_case("content")) =>
                {
                    4
                }
                _ => continue,
            };
            best = Some(best.map_or(r, |b: usize| b.min(r)));
        }
        best
    };
    let mut first: [Option<ElementRef<'_>>; 5] = [None; 5];
    for e in body
        .descendent_elements()
        .skip(1)
        .filter(|e| !Rules::MAIN.drops(*e))
    {
        // An element counts for the best test it passes: the worse ones it passes too can
        // only matter when no element passes a better one, and it does.
        if let Some(r) = rank(&e) {
            first[r].get_or_insert(e);
            if r == 0 {
                break;
            }
        }
    }
    first.into_iter().flatten().next()
}

/// Which subtrees to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rules {
    /// Navigation, asides and cookie/consent banners.
    drop_chrome: bool,
    /// `<header>` and `<footer>`: site chrome outside the main element, but an article's
    /// own header holds its title.
    drop_header_footer: bool,
    /// `<form>`: search boxes and newsletter sign-ups. Kept as a last resort because some
    /// sites (ASP.NET WebForms) wrap the whole page in one.
    drop_forms: bool,
}

impl Rules {
    const MAIN: Rules = Rules {
        drop_chrome: true,
        drop_header_footer: false,
        drop_forms: true,
    };
    const BODY: Rules = Rules {
        drop_chrome: true,
        drop_header_footer: true,
        drop_forms: true,
    };
    const BODY_WITH_FORMS: Rules = Rules {
        drop_chrome: true,
        drop_header_footer: true,
        drop_forms: false,
    };
    /// For fragments (Markdown HTML blocks, table cells, a title): only the invisible.
    const FRAGMENT: Rules = Rules {
        drop_chrome: false,
        drop_header_footer: false,
        drop_forms: false,
    };

    fn drops(self, el: ElementRef<'_>) -> bool {
        let e = el.value();
        match e.name() {
            // Never text a reader sees as content.
            "script" | "style" | "noscript" | "template" | "svg" | "math" | "iframe" | "object"
            | "embed" | "canvas" | "audio" | "video" | "button" | "select" | "textarea"
            | "head" | "title" | "meta" | "link" => return true,
            "nav" | "aside" if self.drop_chrome => return true,
            "header" | "footer" if self.drop_header_footer => return true,
            "form" if self.drop_forms => return true,
            "a" if is_permalink(el) => return true,
            _ => {}
        }
        // One pass over the attributes by name: `Element::attr` turns its argument into an
        // interned atom on every call, which cost a fifth of the whole parse.
        let mut banner_named = false;
        for (name, value) in e.attrs() {
            match name {
                "hidden" => return true,
                "aria-hidden" if value.trim().eq_ignore_ascii_case("true") => return true,
                "style" if hidden_by_style(value) => return true,
                "id" | "class" if self.drop_chrome && names_a_banner(value) => banner_named = true,
                _ => {}
            }
        }
        banner_named && !holds_main_content(el)
    }
}

/// A heading's permalink: a link to an anchor on the same page whose text is a symbol, not a
/// word (Sphinx and MkDocs `¶`, Hugo `#`, `§`, `🔗`, Docusaurus' zero-width space). Kept, it
/// ends every heading of a documentation page and its citations ("Core Language¶").
fn is_permalink(a: ElementRef<'_>) -> bool {
    if !a.value().attr("href").is_some_and(|h| h.starts_with('#')) {
        return false;
    }
    let mut text = a.text().flat_map(str::chars).filter(|c| {
        !c.is_whitespace() && !matches!(c, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}')
    });
    let first = text.next();
    first.is_none_or(|c| !c.is_alphanumeric()) && text.next().is_none()
}

/// `style="display: none"` or `visibility: hidden`.
fn hidden_by_style(style: &str) -> bool {
    let compact: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    compact.contains("display:none") || compact.contains("visibility:hidden")
}

/// A cookie/consent/banner element is named so by its class or id; it is dropped unless it is
/// or holds the page's main content (some sites put such classes on a wrapper around
/// everything, or on the `<h1>` of a "hero banner").
fn names_a_banner(value: &str) -> bool {
    ["cookie", "consent", "banner"]
        .iter()
        .any(|w| contains_ignore_ascii_case(value, w))
}

fn holds_main_content(el: ElementRef<'_>) -> bool {
    el.descendent_elements()
        .any(|d| matches!(d.value().name(), "main" | "article" | "h1"))
}

/// `needle` (lowercase ASCII) in `hay`, ignoring ASCII case, without allocating.
fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Elements that end the inline text before them (browsers start a new line).
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "li"
            | "blockquote"
            | "pre"
            | "figure"
            | "figcaption"
            | "caption"
            | "table"
            | "thead"
            | "tbody"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "address"
            | "details"
            | "summary"
            | "hr"
            | "center"
            | "fieldset"
            | "legend"
            | "form"
            | "hgroup"
            | "menu"
            | "search"
            | "dialog"
            | "body"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

/// Block elements that end a list item's text even inside it (nested lists, tables, code);
/// other blocks inside an `<li>` (paragraphs, divs) are part of the item's text.
fn is_hard_block(name: &str) -> bool {
    matches!(
        name,
        "ul" | "ol" | "dl" | "table" | "pre" | "blockquote" | "li"
    )
}

/// A table used for page layout rather than data: walked as blocks, not rendered as rows.
fn is_layout_table(table: ElementRef<'_>) -> bool {
    table
        .value()
        .attr("role")
        .is_some_and(|r| r.eq_ignore_ascii_case("presentation") || r.eq_ignore_ascii_case("none"))
        || table.descendent_elements().skip(1).any(|d| {
            let name = d.value().name();
            heading_level(name).is_some()
                || matches!(
                    name,
                    "table" | "blockquote" | "pre" | "form" | "main" | "article"
                )
        })
}

/// Receives a depth-first walk: `open` on entering a node (false skips its subtree and its
/// `close`), `close` on leaving it.
trait Visitor<'a> {
    fn open(&mut self, node: NodeRef<'a>) -> bool;
    fn close(&mut self, node: NodeRef<'a>);
}

/// Walks the descendants of `root` (not `root` itself) without recursion, so that
/// pathologically deep pages cannot overflow the stack.
fn traverse<'a>(root: ElementRef<'a>, visitor: &mut impl Visitor<'a>) {
    let root_id = root.id();
    let Some(mut node) = root.first_child() else {
        return;
    };
    let mut entered = visitor.open(node);
    loop {
        if entered {
            if let Some(child) = node.first_child() {
                node = child;
                entered = visitor.open(node);
                continue;
            }
        }
        // Leave `node`, then every ancestor whose children are all done.
        loop {
            if entered {
                visitor.close(node);
            }
            if let Some(next) = node.next_sibling() {
                node = next;
                entered = visitor.open(node);
                break;
            }
            match node.parent() {
                Some(parent) if parent.id() != root_id => {
                    node = parent;
                    entered = true;
                }
                _ => return,
            }
        }
    }
}

/// The visible text of an element's subtree, block elements separating words.
fn plain_text(root: ElementRef<'_>, rules: Rules) -> String {
    struct Collect {
        rules: Rules,
        text: String,
    }
    impl<'a> Visitor<'a> for Collect {
        fn open(&mut self, node: NodeRef<'a>) -> bool {
            match node.value() {
                Node::Text(t) => self.text.push_str(t),
                Node::Element(e) => {
                    if ElementRef::wrap(node).is_some_and(|el| self.rules.drops(el)) {
                        return false;
                    }
                    if e.name() == "br" || is_block(e.name()) {
                        self.text.push(' ');
                    }
                    return true;
                }
                _ => {}
            }
            false
        }
        fn close(&mut self, node: NodeRef<'a>) {
            if node
                .value()
                .as_element()
                .is_some_and(|e| is_block(e.name()))
            {
                self.text.push(' ');
            }
        }
    }
    let mut collect = Collect {
        rules,
        text: String::new(),
    };
    traverse(root, &mut collect);
    normalize_ws(&collect.text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Item,
    Quote,
}

/// Turns the content element's subtree into blocks.
struct Walker {
    rules: Rules,
    blocks: Vec<Block>,
    headings: Vec<(u8, String)>,
    contexts: Vec<Context>,
    /// Inline text since the last block boundary.
    inline: String,
    /// The heading being read, and how many heading elements are open (headings nested in
    /// headings are invalid but parse).
    heading: Option<(u8, String)>,
    heading_depth: usize,
    /// The `<pre>` being read, raw.
    pre: Option<String>,
    pre_depth: usize,
}

impl<'a> Visitor<'a> for Walker {
    fn open(&mut self, node: NodeRef<'a>) -> bool {
        if let Some(text) = node.value().as_text() {
            self.push_text(text);
            return false;
        }
        let Some(el) = ElementRef::wrap(node) else {
            return false; // comments, doctypes, processing instructions
        };
        if self.rules.drops(el) {
            return false;
        }
        let name = el.value().name();
        if let Some(level) = heading_level(name) {
            if self.heading_depth == 0 {
                self.flush();
                self.heading = Some((level, String::new()));
            }
            self.heading_depth += 1;
            return true;
        }
        match name {
            "pre" => {
                if self.pre_depth == 0 {
                    self.flush();
                    self.pre = Some(String::new());
                }
                self.pre_depth += 1;
            }
            "br" => self.push_text(if self.pre.is_some() { "\n" } else { " " }),
            "table" if !is_layout_table(el) => {
                self.flush();
                self.table(el);
                return false;
            }
            "li" => {
                self.flush();
                self.contexts.push(Context::Item);
            }
            "blockquote" => {
                self.flush();
                self.contexts.push(Context::Quote);
            }
            _ if is_block(name) => self.boundary(name),
            _ => {}
        }
        true
    }

    fn close(&mut self, node: NodeRef<'a>) {
        let Some(name) = node.value().as_element().map(|e| e.name()) else {
            return;
        };
        if heading_level(name).is_some() {
            self.heading_depth = self.heading_depth.saturating_sub(1);
            if self.heading_depth == 0 {
                self.finish_heading();
            }
            return;
        }
        match name {
            "pre" => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                if self.pre_depth == 0 {
                    self.finish_pre();
                }
            }
            "li" | "blockquote" => {
                self.flush();
                self.contexts.pop();
            }
            _ if is_block(name) => self.boundary(name),
            _ => {}
        }
    }
}

impl Walker {
    fn new(rules: Rules) -> Self {
        Walker {
            rules,
            blocks: Vec::new(),
            headings: Vec::new(),
            contexts: Vec::new(),
            inline: String::new(),
            heading: None,
            heading_depth: 0,
            pre: None,
            pre_depth: 0,
        }
    }

    fn walk(&mut self, scope: ElementRef<'_>) {
        traverse(scope, self);
        // Unclosed captures cannot happen with html5ever's balanced tree, but be safe.
        if self.pre.is_some() {
            self.finish_pre();
        }
        self.flush();
    }

    fn push_text(&mut self, s: &str) {
        if let Some(pre) = &mut self.pre {
            pre.push_str(s);
        } else if let Some((_, heading)) = &mut self.heading {
            heading.push_str(s);
        } else {
            self.inline.push_str(s);
        }
    }

    /// A block element starts or ends: inside a list item a paragraph is part of the item,
    /// elsewhere the inline text so far becomes a block.
    fn boundary(&mut self, name: &str) {
        if self.contexts.last() == Some(&Context::Item) && !is_hard_block(name) {
            self.inline.push(' ');
        } else {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let text = normalize_ws(&self.inline);
        self.inline.clear();
        let kind = match self.contexts.last() {
            Some(Context::Item) => BlockKind::ListItem,
            Some(Context::Quote) => BlockKind::Quote,
            None => BlockKind::Paragraph,
        };
        self.push(text, kind);
    }

    fn push(&mut self, text: String, kind: BlockKind) {
        if text.trim().is_empty() {
            return;
        }
        self.blocks.push(Block {
            heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
            text,
            kind,
            location: Location::default(),
        });
    }

    fn finish_heading(&mut self) {
        let Some((level, raw)) = self.heading.take() else {
            return;
        };
        let text = normalize_ws(&raw);
        if text.is_empty() {
            return;
        }
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, text));
    }

    fn finish_pre(&mut self) {
        let raw = self.pre.take().unwrap_or_default();
        let code = raw.trim_end().trim_start_matches(['\n', '\r']);
        self.push(code.to_owned(), BlockKind::Code);
    }

    /// A data table: one block per body row.
    fn table(&mut self, table: ElementRef<'_>) {
        let rules = self.rules;
        let mut head_rows = Vec::new();
        let mut body_rows = Vec::new();
        for child in table.child_elements().filter(|c| !rules.drops(*c)) {
            match child.value().name() {
                "caption" => {
                    let caption = plain_text(child, self.rules);
                    self.push(caption, BlockKind::Paragraph);
                }
                "thead" => head_rows.extend(rows(child, self.rules)),
                "tbody" | "tfoot" => body_rows.extend(rows(child, self.rules)),
                "tr" => body_rows.push(child),
                _ => {}
            }
        }
        let header = if let Some(first) = head_rows.first() {
            cells(*first, self.rules, true)
        } else if body_rows.first().is_some_and(|r| all_th(*r)) {
            cells(body_rows.remove(0), self.rules, true)
        } else {
            Vec::new()
        };
        for row in body_rows {
            let values = cells(row, self.rules, false);
            if !header.is_empty() && values == header {
                continue; // a header row repeated in the body
            }
            let text = render_row(&header, &values);
            self.push(text, BlockKind::TableRow);
        }
    }
}

fn rows(section: ElementRef<'_>, rules: Rules) -> impl Iterator<Item = ElementRef<'_>> {
    section
        .child_elements()
        .filter(move |r| r.value().name() == "tr" && !rules.drops(*r))
}

fn cell_elements(row: ElementRef<'_>) -> impl Iterator<Item = ElementRef<'_>> {
    row.child_elements()
        .filter(|c| matches!(c.value().name(), "td" | "th"))
}

fn all_th(row: ElementRef<'_>) -> bool {
    let mut cells = cell_elements(row).peekable();
    cells.peek().is_some() && cells.all(|c| c.value().name() == "th")
}

/// A row's cell texts, one entry per column: a header cell spanning columns names each of
/// them; a data cell spanning columns counts once, followed by empty (skipped) columns.
fn cells(row: ElementRef<'_>, rules: Rules, header: bool) -> Vec<String> {
    let mut out = Vec::new();
    for cell in cell_elements(row) {
        let text = if rules.drops(cell) {
            String::new()
        } else {
            plain_text(cell, rules)
        };
        let span = cell
            .value()
            .attr("colspan")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, 100);
        let filler = if header { text.clone() } else { String::new() };
        out.push(text);
        out.extend(std::iter::repeat_n(filler, span - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlockKind::*;

    fn parse(s: &str) -> Document {
        HtmlParser
            .parse(s.as_bytes(), &ParseOptions::default())
            .unwrap()
    }

    fn summary(doc: &Document) -> Vec<(String, &str, BlockKind)> {
        doc.blocks
            .iter()
            .map(|b| (b.heading_path.join(" > "), b.text.as_str(), b.kind))
            .collect()
    }

    const PAGE: &str = r##"<!DOCTYPE html>
<html><head><title> Acme   Help </title><style>p { color: red }</style>
<script>var tracking = "secret";</script></head>
<body>
<header class="site"><a href="/">Acme</a><nav><a href="/cart">Cart</a></nav></header>
<div id="cookie-notice">We use cookies. <button>Accept</button></div>
<main>
  <article>
    <header><h1>Shipping &amp; Returns</h1><p class="byline">Updated May</p></header>
    <nav class="toc"><a href="#a">Jump</a></nav>
    <p>We ship <b>worldwide</b>.<br>Usually in 2 days.</p>
    <h2>Costs</h2>
    <table>
      <caption>Rates</caption>
      <thead><tr><th>Zone</th><th>Price</th><th>Notes</th></tr></thead>
      <tbody>
        <tr><td>EU</td><td>5 €</td><td></td></tr>
        <tr><td>World</td><td>20 €</td><td>tracked</td></tr>
      </tbody>
    </table>
    <h3>Options</h3>
    <ul>
      <li>Standard</li>
      <li><p>Express</p><p>next day</p>
        <ul><li>Cities only</li></ul>
      </li>
    </ul>
    <h2>Returns</h2>
    <div>Send it back.<div class="consent-banner">Accept all?</div></div>
    <blockquote><p>Easy returns.</p></blockquote>
    <pre>line 1
  line 2</pre>
    <p hidden>secret</p><p style="display: none">secret</p><p aria-hidden="true">secret</p>
    <aside>Related posts</aside>
    <form><label>Newsletter</label></form>
    <footer>Article footer kept</footer>
  </article>
</main>
<footer>© Acme</footer>
</body></html>"##;

    #[test]
    fn page_content_without_chrome() {
        let doc = parse(PAGE);
        assert_eq!(doc.title.as_deref(), Some("Acme Help"));
        assert_eq!(
            summary(&doc),
            vec![
                ("Shipping & Returns".into(), "Updated May", Paragraph),
                (
                    "Shipping & Returns".into(),
                    "We ship worldwide. Usually in 2 days.",
                    Paragraph
                ),
                ("Shipping & Returns > Costs".into(), "Rates", Paragraph),
                (
                    "Shipping & Returns > Costs".into(),
                    "Zone: EU; Price: 5 €",
                    TableRow
                ),
                (
                    "Shipping & Returns > Costs".into(),
                    "Zone: World; Price: 20 €; Notes: tracked",
                    TableRow
                ),
                (
                    "Shipping & Returns > Costs > Options".into(),
                    "Standard",
                    ListItem
                ),
                (
                    "Shipping & Returns > Costs > Options".into(),
                    "Express next day",
                    ListItem
                ),
                (
                    "Shipping & Returns > Costs > Options".into(),
                    "Cities only",
                    ListItem
                ),
                (
                    "Shipping & Returns > Returns".into(),
                    "Send it back.",
                    Paragraph
                ),
                (
                    "Shipping & Returns > Returns".into(),
                    "Easy returns.",
                    Quote
                ),
                (
                    "Shipping & Returns > Returns".into(),
                    "line 1\n  line 2",
                    Code
                ),
                (
                    "Shipping & Returns > Returns".into(),
                    "Article footer kept",
                    Paragraph
                ),
            ]
        );
        assert!(doc.blocks.iter().all(|b| b.location.is_empty()));
        assert!(doc.warnings.is_empty());
    }

    #[test]
    fn the_title_leaves_out_the_site_name() {
        let page = |title: &str, h1: &str| {
            parse(&format!(
                "<html><head><title>{title}</title></head><body><h1>{h1}</h1><p>Text.</p></body></html>"
            ))
            .title
        };
        assert_eq!(
            page("Returns | Brisa Coffee", "Returns").as_deref(),
            Some("Returns")
        );
        assert_eq!(
            page(
                "ast — Abstract Syntax Trees — Python 3.11.2 documentation",
                "ast — Abstract Syntax Trees"
            )
            .as_deref(),
            Some("ast — Abstract Syntax Trees")
        );
        // A title that says more than the heading, or something else, stays.
        assert_eq!(
            page("Returns and refunds", "Returns").as_deref(),
            Some("Returns and refunds")
        );
        assert_eq!(
            page("Brisa Coffee", "Returns").as_deref(),
            Some("Brisa Coffee")
        );
    }

    #[test]
    fn heading_permalinks_are_not_part_of_headings() {
        let doc = parse(
            r##"<html><body><main>
            <h1>Programming FAQ<a class="headerlink" href="#programming-faq">¶</a></h1>
            <h2 id="core">Core Language <a class="anchor" href="#core">#</a></h2>
            <p>See <a href="#core">the core section</a>, note <a href="#fn1">1</a>.</p>
            <h3>Loops<a href="#loops" aria-label="Direct link">&#8203;</a></h3>
            <p>Use for.<a href="#fnref1">↩</a></p>
            </main></body></html>"##,
        );
        assert_eq!(
            summary(&doc),
            vec![
                (
                    "Programming FAQ > Core Language".into(),
                    "See the core section, note 1.",
                    Paragraph
                ),
                (
                    "Programming FAQ > Core Language > Loops".into(),
                    "Use for.",
                    Paragraph
                ),
            ]
        );
    }

    #[test]
    fn body_without_main_drops_header_and_footer() {
        let doc = parse(
            "<html><body><header><h1>Site</h1></header>\
             <div class=wrap>Direct text<p>Para</p>tail</div>\
             <h2>Section</h2><section>In section</section>\
             <footer>Footer</footer></body></html>",
        );
        assert_eq!(doc.title.as_deref(), Some("Site"));
        assert_eq!(
            summary(&doc),
            vec![
                ("".into(), "Direct text", Paragraph),
                ("".into(), "Para", Paragraph),
                ("".into(), "tail", Paragraph),
                ("Section".into(), "In section", Paragraph),
            ]
        );
    }

    #[test]
    fn tables_without_thead() {
        let doc = parse(
            "<html><body><table><tr><th>Name</th><th colspan=2>Phone</th></tr>\
             <tr><td>Ann</td><td>1</td><td>2</td></tr>\
             <tr><th>Name</th><th>Phone</th><th>Phone</th></tr></table>\
             <table><tr><td>a</td><td></td><td>c</td></tr><tr><td colspan=3>wide</td></tr></table>\
             </body></html>",
        );
        assert_eq!(
            summary(&doc),
            vec![
                ("".into(), "Name: Ann; Phone: 1; Phone: 2", TableRow),
                ("".into(), "a | c", TableRow),
                ("".into(), "wide", TableRow),
            ]
        );
    }

    #[test]
    fn layout_tables_are_walked_as_blocks() {
        let doc = parse(
            "<html><body><table><tr><td><h1>Old site</h1><p>Welcome.</p></td>\
             <td>Sidebar text</td></tr></table></body></html>",
        );
        assert_eq!(
            summary(&doc),
            vec![
                ("Old site".into(), "Welcome.", Paragraph),
                ("Old site".into(), "Sidebar text", Paragraph),
            ]
        );
    }

    #[test]
    fn page_wrapped_in_a_form_is_kept() {
        let doc = parse(
            "<html><body><form id=form1><h1>Policy</h1><p>Text inside a WebForms page.</p>\
             </form></body></html>",
        );
        assert_eq!(
            summary(&doc),
            vec![("Policy".into(), "Text inside a WebForms page.", Paragraph)]
        );
    }

    #[test]
    fn main_candidates_in_order() {
        let doc = parse(
            "<html><body><div>Outside</div><div role=main><p>Role main</p></div></body></html>",
        );
        assert_eq!(summary(&doc), vec![("".into(), "Role main", Paragraph)]);
        let doc = parse(
            "<html><body><div>Outside</div><div class=\"page content\"><p>By class</p></div>\
             </body></html>",
        );
        assert_eq!(summary(&doc), vec![("".into(), "By class", Paragraph)]);
        // An empty main (filled by JavaScript) falls back to the body.
        let doc = parse("<html><body><main></main><p>Body text</p></body></html>");
        assert_eq!(summary(&doc), vec![("".into(), "Body text", Paragraph)]);
        // A banner-named wrapper around the content is not dropped.
        let doc = parse(
            "<html><body><div class=cookie-wrapper><h1>T</h1><p>Kept</p></div></body></html>",
        );
        assert_eq!(summary(&doc), vec![("T".into(), "Kept", Paragraph)]);
    }

    #[test]
    fn scripts_and_navigation_only_is_empty() {
        let err = HtmlParser
            .parse(
                b"<!doctype html><html><head><title>App</title><script>render()</script></head>\
                  <body><nav><a href=/>Home</a></nav><script>app()</script>\
                  <noscript>Enable JavaScript</noscript></body></html>",
                &ParseOptions::default(),
            )
            .unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Empty));
        assert_eq!(
            err.to_string(),
            "empty: html file contains no text (only markup or scripts)"
        );
        let err = HtmlParser.parse(b"", &ParseOptions::default()).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Empty));
    }

    #[test]
    fn meta_charset_windows_1252() {
        let (body, _, _) =
            encoding_rs::WINDOWS_1252.encode("<p>¿Dónde está mi pedido? Envío rápido a España</p>");
        let mut bytes =
            b"<html><head><meta charset=\"windows-1252\"><title>Env\xEDos</title></head><body>"
                .to_vec();
        bytes.extend_from_slice(&body);
        let doc = HtmlParser.parse(&bytes, &ParseOptions::default()).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Envíos"));
        assert_eq!(
            doc.blocks[0].text,
            "¿Dónde está mi pedido? Envío rápido a España"
        );
        assert_eq!(
            doc.warnings,
            vec!["text is not utf-8: decoded as windows-1252"]
        );
    }

    #[test]
    fn binary_is_rejected() {
        let err = HtmlParser
            .parse(b"<html>\0\0\0\x01", &ParseOptions::default())
            .unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Binary));
    }

    #[test]
    fn fragments_and_rows() {
        assert_eq!(
            fragment_text("<div>a<p>b</p><script>x()</script><span>c</span>d<br>e</div>"),
            "a b cd e"
        );
        assert_eq!(fragment_text("<!-- only a comment -->"), "");
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            render_row(&h(&["A", "", "C"]), &h(&["1", "2", ""])),
            "A: 1; 2"
        );
        assert_eq!(render_row(&h(&["A"]), &h(&["1", "extra"])), "A: 1; extra");
        assert_eq!(render_row(&[], &h(&["1", "", "3"])), "1 | 3");
        assert_eq!(render_row(&h(&["", ""]), &h(&["1", "2"])), "1 | 2");
        assert_eq!(render_row(&h(&["A"]), &h(&[""])), "");
    }

    #[test]
    fn deeply_nested_markup_does_not_overflow() {
        // Built directly: html5ever itself is quadratic in nesting depth, and the point
        // here is that the walk is not recursive.
        let mut html = Html::parse_document("<html><body><div>deep text</div></body></html>");
        let div = html
            .root_element()
            .descendent_elements()
            .find(|e| e.value().name() == "div")
            .unwrap();
        let element = Node::Element(div.value().clone());
        let text = div.first_child().unwrap().value().clone();
        let mut id = div.id();
        for _ in 0..200_000 {
            id = html.tree.get_mut(id).unwrap().append(element.clone()).id();
        }
        html.tree.get_mut(id).unwrap().append(text);
        let doc = extract(&html, Deadline::after(std::time::Duration::from_secs(600))).unwrap();
        // The original div's text, then the innermost one's: the div boundary separates them.
        let texts: Vec<_> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, vec!["deep text", "deep text"]);
    }
}
