//! Plain text: paragraphs separated by blank lines, with the structure a human typist uses
//! recovered where it is unambiguous.
//!
//! Plain-text policies and FAQs still have sections — a numbered line (`1. What we
//! collect`), a line in capitals (`SHIPPING`), a line underlined with `====` or `----`.
//! Recovering them as headings gives every block the context a search result needs
//! ("Shipping › International"). The heuristics are deliberately conservative: a wrong
//! heading mislabels every following paragraph, while a missed one only costs context.

use super::decode::decode_text;
use super::{normalize_ws, Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::error::Result;

/// Longest line (in characters) that can be a heading.
const MAX_HEADING_CHARS: usize = 80;

/// Most words a heading without numbering or underline can have.
const MAX_PLAIN_HEADING_WORDS: usize = 12;

/// Parser for plain text files.
pub struct TextParser;

impl Parser for TextParser {
    fn format(&self) -> Format {
        Format::Text
    }

    fn parse(&self, bytes: &[u8], _opts: &ParseOptions) -> Result<Document> {
        let decoded = decode_text(bytes)?;
        let warnings = decoded.warnings();
        let mut doc = parse_text(&decoded.text);
        doc.warnings = warnings;
        doc.non_empty("text file")
    }
}

/// One line with its 1-based number.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    number: u32,
    text: &'a str,
}

/// A run of lines between boundaries (blank lines, separators, headings, list markers).
#[derive(Debug)]
enum Segment<'a> {
    Paragraph(Vec<Line<'a>>),
    ListItem(Vec<Line<'a>>),
    /// A heading made decisive by an underline; `level` is 1 for `=`, 2 for `-`.
    Underlined {
        line: Line<'a>,
        level: u8,
    },
}

impl Segment<'_> {
    /// The single line of a one-line paragraph: the only kind of segment that can turn out
    /// to be a heading by position alone.
    fn lone_line(&self) -> Option<&str> {
        match self {
            Segment::Paragraph(lines) if lines.len() == 1 => Some(lines[0].text.trim()),
            _ => None,
        }
    }
}

fn parse_text(text: &str) -> Document {
    // Files from classic Mac OS end lines with a lone CR; `str::lines` only knows LF/CRLF.
    let text = if text.contains('\r') && !text.contains('\n') {
        std::borrow::Cow::Owned(text.replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let lines: Vec<Line<'_>> = text
        .lines()
        .zip(1u32..)
        .map(|(text, number)| Line { number, text })
        .collect();
    let segments = segment(&lines);
    build(&segments)
}

/// Splits lines into segments.
fn segment<'a>(lines: &[Line<'a>]) -> Vec<Segment<'a>> {
    let mut segments = Vec::new();
    let mut current: Option<Segment<'a>> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.text.trim();
        if trimmed.is_empty() {
            segments.extend(current.take());
            i += 1;
            continue;
        }
        if let Some(level) = lines.get(i + 1).and_then(|next| underline_level(next.text)) {
            if !is_separator(trimmed) && looks_like_heading(trimmed) {
                segments.extend(current.take());
                segments.push(Segment::Underlined { line, level });
                i += 2;
                continue;
            }
        }
        if is_separator(trimmed) {
            segments.extend(current.take());
            i += 1;
            continue;
        }
        if let Some(item) = strip_bullet(trimmed) {
            segments.extend(current.take());
            current = Some(Segment::ListItem(vec![Line {
                number: line.number,
                text: item,
            }]));
            i += 1;
            continue;
        }
        match &mut current {
            // A line after a list item continues it, as wrapped items do in plain text.
            Some(Segment::Paragraph(ls) | Segment::ListItem(ls)) => ls.push(line),
            _ => current = Some(Segment::Paragraph(vec![line])),
        }
        i += 1;
    }
    segments.extend(current);
    segments
}

/// Turns segments into blocks and headings.
fn build(segments: &[Segment<'_>]) -> Document {
    let mut doc = Document::default();
    // (level, text); the title, if any, sits at level 0 above everything.
    let mut headings: Vec<(u8, String)> = Vec::new();
    // The level of the last numbered or underlined heading: a plain heading after it is
    // taken as its subsection.
    let mut explicit_level = 0u8;
    // The level of the previous segment if it was a numbered line kept as a paragraph:
    // `2. Eggs` after `1. Milk` continues a list written with blank lines.
    let mut numbered_paragraph: Option<u8> = None;

    for (i, seg) in segments.iter().enumerate() {
        let after_numbered = numbered_paragraph.take();
        let next = segments.get(i + 1);
        if i == 0 {
            if let Some(title) = title_of(seg, next) {
                headings.push((0, title.clone()));
                doc.title = Some(title);
                continue;
            }
        }
        match seg {
            Segment::Underlined { line, level } => {
                explicit_level = *level;
                push_heading(&mut headings, *level, normalize_ws(line.text));
            }
            Segment::Paragraph(lines) => {
                let candidate = heading_level(seg, explicit_level);
                let is_heading = candidate.is_some_and(|(level, numbered)| {
                    !(numbered && after_numbered == Some(level))
                        && next.is_some_and(|n| {
                            let next_is_last = segments.len() == i + 2;
                            opens_section_below(n, next_is_last, level, explicit_level)
                        })
                });
                match candidate {
                    Some((level, numbered)) if is_heading => {
                        if numbered {
                            explicit_level = level;
                        }
                        push_heading(&mut headings, level, normalize_ws(lines[0].text));
                        continue;
                    }
                    Some((level, true)) => numbered_paragraph = Some(level),
                    _ => {}
                }
                push_block(&mut doc, &headings, lines, BlockKind::Paragraph);
            }
            Segment::ListItem(lines) => push_block(&mut doc, &headings, lines, BlockKind::ListItem),
        }
    }
    doc
}

/// The first segment as the document title: an unnumbered heading-like first line, or an
/// underlined first line, followed by more content.
fn title_of(first: &Segment<'_>, next: Option<&Segment<'_>>) -> Option<String> {
    next?;
    match first {
        Segment::Underlined { line, .. } => Some(normalize_ws(line.text)),
        _ => {
            let line = first.lone_line()?;
            (numbering_level(line).is_none() && is_plain_heading(line)).then(|| normalize_ws(line))
        }
    }
}

/// The level of a one-line paragraph if it could be a heading, and whether it is numbered.
fn heading_level(seg: &Segment<'_>, explicit_level: u8) -> Option<(u8, bool)> {
    let line = seg.lone_line()?;
    if let Some(level) = numbering_level(line) {
        return looks_like_heading(line).then_some((level, true));
    }
    is_plain_heading(line).then_some(((explicit_level + 1).min(6), false))
}

/// True when `next` is content for a heading at `level` rather than a competing heading at
/// the same or a shallower level. This keeps `1. Milk` / `2. Eggs` (a list written with
/// blank lines) and runs of short lines as paragraphs. A plain short line that ends the
/// document cannot be a heading itself, so it does not compete (`Contact` / `Email us`).
fn opens_section_below(next: &Segment<'_>, next_is_last: bool, level: u8, explicit: u8) -> bool {
    match next {
        Segment::Underlined { level: l, .. } => *l > level,
        _ => match heading_level(next, explicit) {
            None => true,
            Some((l, numbered)) => l > level || (next_is_last && !numbered),
        },
    }
}

fn push_heading(headings: &mut Vec<(u8, String)>, level: u8, text: String) {
    while headings.last().is_some_and(|(l, _)| *l >= level) {
        headings.pop();
    }
    headings.push((level, text));
}

fn push_block(doc: &mut Document, headings: &[(u8, String)], lines: &[Line<'_>], kind: BlockKind) {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return;
    };
    let text = normalize_ws(&lines.iter().map(|l| l.text).collect::<Vec<_>>().join(" "));
    if text.is_empty() {
        return;
    }
    doc.blocks.push(Block {
        heading_path: headings.iter().map(|(_, h)| h.clone()).collect(),
        text,
        kind,
        location: Location::lines(first.number, last.number),
    });
}

/// Basic shape of any heading: short, has a letter, no sentence-ending punctuation (a `?`
/// is allowed: FAQ questions are headings), not a list item.
fn looks_like_heading(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() <= MAX_HEADING_CHARS
        && line.chars().any(char::is_alphabetic)
        && !line.ends_with(['.', ',', ';', ':', '!', '…'])
        && strip_bullet(line).is_none()
}

/// A heading with neither numbering nor underline: additionally at most a dozen words and
/// starting with a capital (or a digit-free non-cased script), which rules out wrapped
/// sentence fragments.
fn is_plain_heading(line: &str) -> bool {
    looks_like_heading(line)
        && line.split_whitespace().count() <= MAX_PLAIN_HEADING_WORDS
        && line
            .chars()
            .find(|c| c.is_alphabetic())
            .is_some_and(|c| !c.is_lowercase())
        && line.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// The level of a numbered heading: `1. Title` → 1, `1.2 Title` or `1.2. Title` → 2, …
/// A bare number without a dot (`2024 was a good year`) is not numbering.
fn numbering_level(line: &str) -> Option<u8> {
    let (number, rest) = line.split_once(char::is_whitespace)?;
    if rest.trim().is_empty() {
        return None;
    }
    let parts: Vec<&str> = number
        .strip_suffix('.')
        .unwrap_or(number)
        .split('.')
        .collect();
    let numeric = parts
        .iter()
        .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let dotted = number.contains('.');
    if !numeric || !dotted || parts.len() > 6 {
        return None;
    }
    u8::try_from(parts.len()).ok()
}

/// The setext level a line underlines with: 1 for `===`, 2 for `---` (three or more).
fn underline_level(line: &str) -> Option<u8> {
    let t = line.trim();
    if t.len() < 3 {
        None
    } else if t.bytes().all(|b| b == b'=') {
        Some(1)
    } else if t.bytes().all(|b| b == b'-') {
        Some(2)
    } else {
        None
    }
}

/// A line of one repeated punctuation character (`-----`, `*****`, `=====`): a visual
/// separator, not text.
fn is_separator(trimmed: &str) -> bool {
    let mut chars = trimmed.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    trimmed.chars().count() >= 3
        && matches!(first, '-' | '=' | '*' | '_' | '~' | '#' | '+')
        && chars.all(|c| c == first)
}

/// The text of a bulleted line (`- `, `* `, `• `), without the bullet.
fn strip_bullet(trimmed: &str) -> Option<&str> {
    ["- ", "* ", "• "]
        .iter()
        .find_map(|b| trimmed.strip_prefix(b))
        .map(str::trim_start)
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;

    fn parse(s: &str) -> Document {
        TextParser
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
                    b.location.line_start.unwrap(),
                    b.location.line_end.unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn policy_with_title_and_numbered_sections() {
        let doc = parse(
            "Privacy Policy\n\
             \n\
             This policy explains what we do.\n\
             It applies to all our shops.\n\
             \n\
             1. What we collect\n\
             \n\
             We collect your name and address.\n\
             \n\
             1.1 Cookies\n\
             \n\
             We use session cookies only.\n\
             \n\
             2. How long we keep it\n\
             \n\
             - orders: ten years\n\
             - support emails: two years\n  (longer if disputed)\n",
        );
        assert_eq!(doc.title.as_deref(), Some("Privacy Policy"));
        use BlockKind::*;
        assert_eq!(
            summary(&doc),
            vec![
                (
                    "Privacy Policy".into(),
                    "This policy explains what we do. It applies to all our shops.",
                    Paragraph,
                    3,
                    4
                ),
                (
                    "Privacy Policy > 1. What we collect".into(),
                    "We collect your name and address.",
                    Paragraph,
                    8,
                    8
                ),
                (
                    "Privacy Policy > 1. What we collect > 1.1 Cookies".into(),
                    "We use session cookies only.",
                    Paragraph,
                    12,
                    12
                ),
                (
                    "Privacy Policy > 2. How long we keep it".into(),
                    "orders: ten years",
                    ListItem,
                    16,
                    16
                ),
                (
                    "Privacy Policy > 2. How long we keep it".into(),
                    "support emails: two years (longer if disputed)",
                    ListItem,
                    17,
                    18
                ),
            ]
        );
        assert!(doc.warnings.is_empty());
    }

    #[test]
    fn underlined_and_capitalised_headings() {
        let doc = parse(
            "Store Help\n\
             ==========\n\
             \n\
             Shipping\n\
             --------\n\
             We ship worldwide.\n\
             \n\
             Express delivery\n\
             \n\
             Next-day in most cities.\n\
             \n\
             Returns\n\
             -------\n\
             Send it back within 30 days.\n",
        );
        assert_eq!(doc.title.as_deref(), Some("Store Help"));
        let paths: Vec<_> = summary(&doc)
            .into_iter()
            .map(|(p, t, _, s, _)| (p, t, s))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("Store Help > Shipping".into(), "We ship worldwide.", 6),
                // A plain heading after an explicit level-2 one is its subsection.
                (
                    "Store Help > Shipping > Express delivery".into(),
                    "Next-day in most cities.",
                    10
                ),
                (
                    "Store Help > Returns".into(),
                    "Send it back within 30 days.",
                    14
                ),
            ]
        );
    }

    #[test]
    fn capitalised_headings_under_a_title() {
        let doc = parse(
            "Acme FAQ\n\nSHIPPING\n\nWe ship worldwide.\n\nRETURNS\n\nWithin 30 days.\n\n\
             Where is my order?\n\nCheck the tracking link.\n",
        );
        assert_eq!(doc.title.as_deref(), Some("Acme FAQ"));
        let paths: Vec<_> = summary(&doc).into_iter().map(|(p, t, ..)| (p, t)).collect();
        assert_eq!(
            paths,
            vec![
                ("Acme FAQ > SHIPPING".into(), "We ship worldwide."),
                ("Acme FAQ > RETURNS".into(), "Within 30 days."),
                (
                    "Acme FAQ > Where is my order?".into(),
                    "Check the tracking link."
                ),
            ]
        );
    }

    #[test]
    fn short_paragraphs_are_not_all_headings() {
        let doc = parse(
            "we met on monday\n\
             \n\
             Thanks for your order.\n\
             \n\
             We accept:\n\
             \n\
             1. Milk\n\
             \n\
             2. Eggs\n\
             \n\
             - a one-line item\n\
             \n\
             Kind regards\n",
        );
        assert_eq!(doc.title, None);
        assert!(doc.blocks.iter().all(|b| b.heading_path.is_empty()));
        let texts: Vec<_> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "we met on monday",
                "Thanks for your order.",
                "We accept:",
                "1. Milk",
                "2. Eggs",
                "a one-line item",
                "Kind regards"
            ]
        );
        assert_eq!(doc.blocks[5].kind, BlockKind::ListItem);
    }

    #[test]
    fn short_last_line_does_not_compete_with_a_heading() {
        let doc = parse("Terms\n\n1. Use\n\nBe nice.\n\nContact\n\nEmail us at help@acme.test\n");
        let paths: Vec<_> = summary(&doc).into_iter().map(|(p, t, ..)| (p, t)).collect();
        assert_eq!(
            paths,
            vec![
                ("Terms > 1. Use".into(), "Be nice."),
                (
                    "Terms > 1. Use > Contact".into(),
                    "Email us at help@acme.test"
                ),
            ]
        );
        // A numbered sibling does compete, even at the end: it is a list.
        let doc = parse("Shopping\n\n1. Milk\n\n2. Eggs\n");
        let texts: Vec<_> = summary(&doc).into_iter().map(|(p, t, ..)| (p, t)).collect();
        assert_eq!(
            texts,
            vec![
                ("Shopping".into(), "1. Milk"),
                ("Shopping".into(), "2. Eggs")
            ]
        );
    }

    #[test]
    fn first_line_is_not_a_title_when_it_is_a_sentence_or_numbered() {
        let doc = parse("1. Scope\n\nThis covers everything.\n");
        assert_eq!(doc.title, None);
        assert_eq!(doc.blocks[0].heading_path, vec!["1. Scope"]);
        let doc = parse("Hello there.\n\nSecond paragraph.\n");
        assert_eq!(doc.title, None);
        assert_eq!(doc.blocks.len(), 2);
    }

    #[test]
    fn separators_and_bullets() {
        let doc = parse("• first\n* second\n-----\nafter the rule\n");
        let s = summary(&doc);
        assert_eq!(s[0].1, "first");
        assert_eq!(s[0].2, BlockKind::ListItem);
        assert_eq!(s[1].1, "second");
        assert_eq!(
            (s[2].1, s[2].2, s[2].3),
            ("after the rule", BlockKind::Paragraph, 4)
        );
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let doc = parse("Title Here\r\n\r\nBody line one\r\nline two\r\n");
        assert_eq!(doc.title.as_deref(), Some("Title Here"));
        assert_eq!(doc.blocks[0].location, Location::lines(3, 4));
        let doc = parse("one\rtwo\r\rthree");
        assert_eq!(doc.blocks[1].text, "three");
        assert_eq!(doc.blocks[1].location, Location::lines(4, 4));
    }

    #[test]
    fn windows_1252_text_warns_with_encoding() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1252.encode("¿Dónde está mi pedido? Envío rápido a España.");
        let doc = TextParser.parse(&bytes, &ParseOptions::default()).unwrap();
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
    fn windows_1251_russian() {
        let text = "Доставка\n\nМы доставляем заказы по всей России за три дня.\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let doc = TextParser.parse(&bytes, &ParseOptions::default()).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Доставка"));
        assert_eq!(
            doc.blocks[0].text,
            "Мы доставляем заказы по всей России за три дня."
        );
        assert_eq!(
            doc.warnings,
            vec!["text is not utf-8: decoded as windows-1251"]
        );
    }

    #[test]
    fn replaced_bytes_are_warned() {
        let mut bytes = "Crème brûlée, déjà vu, naïve café, señor niño. "
            .repeat(4)
            .into_bytes();
        bytes.push(0xFF);
        let doc = TextParser.parse(&bytes, &ParseOptions::default()).unwrap();
        assert!(doc.blocks[0].text.ends_with("niño. \u{FFFD}"));
        assert_eq!(
            doc.warnings,
            vec!["1 invalid byte sequence replaced (decoded as UTF-8)"]
        );
    }

    #[test]
    fn utf16_and_bom() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in "Hola\n\nQué tal".encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        for bytes in [le, be] {
            let doc = TextParser.parse(&bytes, &ParseOptions::default()).unwrap();
            assert_eq!(doc.title.as_deref(), Some("Hola"));
            assert_eq!(doc.blocks[0].text, "Qué tal");
            assert_eq!(doc.blocks[0].location, Location::lines(3, 3));
        }
        let doc = TextParser
            .parse(b"\xEF\xBB\xBFplain words", &ParseOptions::default())
            .unwrap();
        assert_eq!(doc.blocks[0].text, "plain words");
        assert!(doc.warnings.is_empty());
    }

    #[test]
    fn bad_input() {
        let reason = |b: &[u8]| {
            TextParser
                .parse(b, &ParseOptions::default())
                .unwrap_err()
                .reason()
                .unwrap()
        };
        assert_eq!(reason(b""), Reason::Empty);
        assert_eq!(reason(b"  \n\n \t"), Reason::Empty);
        assert_eq!(reason(b"-----\n=====\n"), Reason::Empty);
        assert_eq!(reason(b"text\0with nul"), Reason::Binary);
        assert_eq!(
            TextParser
                .parse(b"", &ParseOptions::default())
                .unwrap_err()
                .to_string(),
            "empty: text file contains no text"
        );
    }

    #[test]
    fn numbering_levels() {
        assert_eq!(numbering_level("1. What we collect"), Some(1));
        assert_eq!(numbering_level("1.2 Cookies"), Some(2));
        assert_eq!(numbering_level("1.2. Cookies"), Some(2));
        assert_eq!(numbering_level("3.1.4 Deep"), Some(3));
        assert_eq!(numbering_level("2024 was good"), None);
        assert_eq!(numbering_level("1."), None);
        assert_eq!(numbering_level("v1.2 Release"), None);
        assert_eq!(numbering_level("1000. Too big"), None);
    }
}
