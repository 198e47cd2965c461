//! Format detection: which parser gets a file.
//!
//! The content decides, not the name: users rename files, download `.html` pages saved as
//! `.txt`, and upload PDFs called `policy.txt`. Magic numbers identify binary formats (and
//! refuse them with a message that says what the file is, so the admin knows what to do),
//! markup sniffing identifies HTML, and the file name only breaks the tie between text
//! formats whose content is ambiguous (a `.md` file is Markdown even if it uses no syntax).

use super::archive::{Archive, ArchiveLimits};
use super::decode::looks_binary;
use super::{ole, sheet, Format};
use crate::error::{Error, Reason, Result};
use std::borrow::Cow;

/// A file signature: byte strings at fixed offsets, all of which must match.
type Signature = &'static [(usize, &'static [u8])];

/// Binary formats recognised by their signature: every part `(offset, bytes)` must match.
/// The first matching entry names the format, so specific entries (WebP) come before the
/// general ones they refine (RIFF).
///
/// Formats lore will parse later (PDF, …) move from here to a parser; until then they are
/// refused as unsupported rather than as unreadable binary. Zip and OLE2 containers are not
/// here: what they are depends on what is inside ([`zip_format`], [`ole_format`]).
const MAGIC: &[(Signature, &str)] = &[
    (&[(0, b"\x89PNG\r\n\x1a\n")], "png image"),
    (&[(0, b"\xFF\xD8\xFF")], "jpeg image"),
    (&[(0, b"GIF87a")], "gif image"),
    (&[(0, b"GIF89a")], "gif image"),
    (&[(0, b"\x1F\x8B")], "gzip archive"),
    (&[(0, b"7z\xBC\xAF\x27\x1C")], "7z archive"),
    (&[(0, b"Rar!\x1A\x07")], "rar archive"),
    (&[(0, b"\x7FELF")], "elf executable"),
    (&[(0, b"RIFF"), (8, b"WEBP")], "webp image"),
    (&[(0, b"RIFF"), (8, b"WAVE")], "wav audio"),
    (&[(0, b"RIFF"), (8, b"AVI ")], "avi video"),
    (&[(0, b"RIFF")], "riff media file"),
    (&[(0, b"ID3")], "mp3 audio"),
    (&[(0, b"\xFF\xFB")], "mp3 audio"),
    (&[(4, b"ftyp")], "mp4/quicktime media"),
    (&[(0, b"SQLite format 3\0")], "sqlite database"),
];

/// How far into the file a PDF header may start. Readers accept junk before `%PDF-` (mail
/// headers, a BOM, a print spooler's preamble) within the first kilobyte.
const PDF_HEADER_WINDOW: usize = 1024;

/// How much decoded text the sniffers look at.
const SNIFF_LEN: usize = 64 * 1024;

/// How far into the document `<html>`, `<head>` or `<body>` must appear to count.
const HTML_TAG_WINDOW: usize = 1024;

/// Detects the format of `bytes`; `file_name` (a bare name or a path) only breaks ties
/// between text formats.
///
/// Errors: [`Reason::Empty`] for no content or only whitespace,
/// [`Reason::UnsupportedFormat`] for a recognised binary format, [`Reason::Binary`] for
/// other binary data.
pub fn detect(bytes: &[u8], file_name: Option<&str>) -> Result<Format> {
    if is_pdf(bytes) {
        tracing::debug!(?file_name, "detected format pdf");
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zip_format(bytes);
    }
    if bytes.starts_with(ole::MAGIC) {
        return ole_format(bytes);
    }
    if let Some(name) = binary_format(bytes) {
        return Err(Error::rejected(
            Reason::UnsupportedFormat,
            format!("file is a {name}, which lore cannot parse yet"),
        ));
    }
    if looks_binary(bytes) {
        return Err(Error::rejected(
            Reason::Binary,
            "file is binary data, not text",
        ));
    }
    let text = sniff_text(bytes);
    if is_blank(bytes, &text) {
        return Err(Error::rejected(
            Reason::Empty,
            "file is empty or contains only whitespace",
        ));
    }
    let hint = NameHint::of(file_name);
    let format = match html_signal(&text) {
        HtmlSignal::Decisive => Format::Html,
        HtmlSignal::Likely if hint != NameHint::Markdown => Format::Html,
        HtmlSignal::Markup if hint == NameHint::Html => Format::Html,
        _ => match hint {
            NameHint::Markdown => Format::Markdown,
            NameHint::Text => Format::Text,
            NameHint::Csv => Format::Csv,
            NameHint::Html | NameHint::None if looks_like_markdown(&text) => Format::Markdown,
            NameHint::None if sheet::looks_like_csv(&text) => Format::Csv,
            NameHint::Html | NameHint::None => Format::Text,
        },
    };
    tracing::debug!(?file_name, %format, "detected format");
    Ok(format)
}

/// True when `%PDF-` starts the file or appears within its first [`PDF_HEADER_WINDOW`]
/// bytes after a line break or a binary byte (so that text merely quoting the marker in a
/// sentence is still text).
fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(PDF_HEADER_WINDOW + 5)];
    head.windows(5).enumerate().any(|(i, w)| {
        w == b"%PDF-"
            && (i == 0 || {
                let prev = head[i - 1];
                prev == b'\n' || prev == b'\r' || (prev < 0x20 && prev != b'\t') || prev >= 0x80
            })
    })
}

/// What a zip container is, by its entries: the OOXML main parts (`xl/workbook.xml`,
/// `xl/workbook.bin`, `word/document.xml`) or the OpenDocument `mimetype` entry.
///
/// Opening the central directory already applies the archive limits, so a zip bomb is
/// named as one here, before any parser runs; a zip without a readable central directory is
/// [`Reason::Corrupted`].
fn zip_format(bytes: &[u8]) -> Result<Format> {
    let mut archive = Archive::open(bytes, ArchiveLimits::default())?;
    let unsupported = |what: &str| {
        Err(Error::rejected(
            Reason::UnsupportedFormat,
            format!("file is a {what}, which lore cannot parse yet"),
        ))
    };
    if archive.contains("xl/workbook.xml") {
        return Ok(Format::Xlsx);
    }
    if archive.contains("xl/workbook.bin") {
        return Ok(Format::Xlsb);
    }
    if archive.contains("word/document.xml") {
        return Ok(Format::Docx);
    }
    // The OpenDocument mimetype entry is a few dozen bytes; anything big is not one.
    if archive.size("mimetype").is_some_and(|n| n <= 256) {
        let mime = archive.read("mimetype")?.unwrap_or_default();
        let mime = String::from_utf8_lossy(&mime);
        match mime.trim() {
            "application/vnd.oasis.opendocument.spreadsheet" => return Ok(Format::Ods),
            "application/vnd.oasis.opendocument.text" => {
                return unsupported("opendocument text (odt)")
            }
            "application/vnd.oasis.opendocument.presentation" => {
                return unsupported("opendocument presentation (odp)")
            }
            "application/epub+zip" => return unsupported("epub book"),
            _ => {}
        }
    }
    if archive.contains("ppt/presentation.xml") {
        return unsupported("powerpoint presentation (pptx)");
    }
    unsupported("zip archive")
}

/// What an OLE2 compound file is, by its stream names: an encrypted OOXML package
/// (`EncryptionInfo`), an Excel 97-2003 workbook (`Workbook`, or `Book` for Excel 5), or a
/// legacy format lore does not parse.
fn ole_format(bytes: &[u8]) -> Result<Format> {
    let names = ole::stream_names(bytes)?;
    let has = |n: &str| names.iter().any(|s| s.eq_ignore_ascii_case(n));
    if has("EncryptionInfo") || has("EncryptedPackage") {
        return Err(Error::rejected(
            Reason::PasswordProtected,
            "file is an office document encrypted with a password",
        ));
    }
    if has("Workbook") || has("Book") {
        return Ok(Format::Xls);
    }
    let what = if has("WordDocument") {
        "legacy word document (doc)"
    } else if has("PowerPoint Document") {
        "legacy powerpoint presentation (ppt)"
    } else {
        "legacy office document (ole2 container)"
    };
    Err(Error::rejected(
        Reason::UnsupportedFormat,
        format!("file is a {what}, which lore cannot parse yet"),
    ))
}

/// The name of the binary format `bytes` start with, if any.
fn binary_format(bytes: &[u8]) -> Option<&'static str> {
    MAGIC
        .iter()
        .find(|(parts, _)| {
            parts.iter().all(|&(offset, magic)| {
                bytes
                    .get(offset..offset + magic.len())
                    .is_some_and(|b| b == magic)
            })
        })
        .map(|&(_, name)| name)
}

/// A lossy decoding of the start of the content, good enough for sniffing: the markers
/// looked for are ASCII, which reads the same in every ASCII-compatible encoding, so only a
/// UTF-16 BOM needs a real decoder.
fn sniff_text(bytes: &[u8]) -> Cow<'_, str> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => {
            let body = bytes.get(bom_len..).unwrap_or_default();
            let end = body.len().min(SNIFF_LEN * 2);
            let (text, _) = encoding.decode_without_bom_handling(&body[..end]);
            text
        }
        None => String::from_utf8_lossy(&bytes[..bytes.len().min(SNIFF_LEN)]),
    }
}

/// True when there is nothing but whitespace. Checks all of an ASCII-compatible content
/// (cheap, and whitespace can go on for longer than the sniffed prefix); for UTF-16 the
/// sniffed text stands in for the whole.
fn is_blank(bytes: &[u8], text: &str) -> bool {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, _)) if encoding != encoding_rs::UTF_8 => text.trim().is_empty(),
        Some((_, bom_len)) => bytes
            .get(bom_len..)
            .unwrap_or_default()
            .iter()
            .all(u8::is_ascii_whitespace),
        None => bytes.iter().all(u8::is_ascii_whitespace),
    }
}

/// What the file name says about a text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameHint {
    None,
    Text,
    Markdown,
    Html,
    Csv,
}

impl NameHint {
    fn of(file_name: Option<&str>) -> Self {
        let Some(name) = file_name else {
            return NameHint::None;
        };
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let Some((_, ext)) = base.rsplit_once('.') else {
            return NameHint::None;
        };
        match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mdown" | "mkd" => NameHint::Markdown,
            "html" | "htm" | "xhtml" => NameHint::Html,
            "txt" | "text" => NameHint::Text,
            "csv" | "tsv" | "tab" => NameHint::Csv,
            _ => NameHint::None,
        }
    }
}

/// How strongly the content says "HTML".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HtmlSignal {
    /// Starts with `<!doctype html` or `<html`: HTML whatever the name says.
    Decisive,
    /// Starts with a tag and has `<html>`, `<head>` or `<body>` near the start: HTML unless
    /// the name says Markdown (which may legitimately embed such tags).
    Likely,
    /// Starts with a tag but nothing page-like: HTML only if the name says so.
    Markup,
    None,
}

fn html_signal(text: &str) -> HtmlSignal {
    let rest = skip_prologue(text);
    let lower: String = rest
        .chars()
        .take(HTML_TAG_WINDOW)
        .collect::<String>()
        .to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || starts_with_tag(&lower, "html") {
        HtmlSignal::Decisive
    } else if !lower.starts_with('<') {
        HtmlSignal::None
    } else if ["html", "head", "body"]
        .iter()
        .any(|tag| contains_tag(&lower, tag))
    {
        HtmlSignal::Likely
    } else {
        HtmlSignal::Markup
    }
}

/// Skips what may precede the root of an HTML document: a BOM, whitespace, comments and an
/// XML declaration.
fn skip_prologue(text: &str) -> &str {
    let mut rest = text.trim_start_matches('\u{FEFF}');
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else if let Some(decl) = rest.strip_prefix("<?") {
            rest = decl.find("?>").map_or("", |end| &decl[end + 2..]);
        } else {
            return rest;
        }
    }
}

/// True when `lower` starts with the tag `<name` (followed by `>`, `/` or whitespace, so
/// that `<htmlfoo>` does not count).
fn starts_with_tag(lower: &str, name: &str) -> bool {
    lower
        .strip_prefix('<')
        .and_then(|r| r.strip_prefix(name))
        .is_some_and(|r| {
            r.is_empty() || r.starts_with(['>', '/']) || r.starts_with(char::is_whitespace)
        })
}

fn contains_tag(lower: &str, name: &str) -> bool {
    lower
        .match_indices('<')
        .any(|(i, _)| starts_with_tag(&lower[i..], name))
}

/// Conservative Markdown sniffing for files without a telling name: at least one ATX
/// heading (`# Title`) plus at least two other Markdown constructs (list items, links,
/// emphasis or inline code, code fences). A lone `#` line is common in scripts and config
/// files, so shebangs and files where most lines start with `#` do not count.
fn looks_like_markdown(text: &str) -> bool {
    if text.starts_with("#!") {
        return false;
    }
    let mut non_blank = 0usize;
    let mut hashed = 0usize;
    let mut headings = 0usize;
    let mut others = 0usize;
    let mut in_fence = false;
    for line in text.lines().take(500) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        non_blank += 1;
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            others += 1;
            continue;
        }
        if in_fence {
            continue;
        }
        if trimmed.starts_with('#') {
            hashed += 1;
        }
        if is_atx_heading(line) {
            headings += 1;
        } else if is_list_item(trimmed) {
            others += 1;
        }
        others += count_links(trimmed) + count_emphasis(trimmed);
    }
    headings > 0 && others >= 2 && hashed * 2 <= non_blank
}

/// `# Heading` … `###### Heading` at the start of a line (up to three spaces of indent).
fn is_atx_heading(line: &str) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    indent <= 3
        && (1..=6).contains(&hashes)
        && rest[hashes..].starts_with([' ', '\t'])
        && !rest[hashes..].trim().is_empty()
}

fn is_list_item(trimmed: &str) -> bool {
    if trimmed.starts_with("- ") || trimmed.starts_with("* ") || trimmed.starts_with("+ ") {
        return true;
    }
    let digits = trimmed.len()
        - trimmed
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    (1..=3).contains(&digits) && trimmed[digits..].starts_with(". ")
}

/// Occurrences of `[text](target)`.
fn count_links(line: &str) -> usize {
    line.match_indices("](")
        .filter(|&(i, _)| line[..i].contains('[') && line[i + 2..].contains(')'))
        .count()
}

/// Occurrences of `**strong**`, `__strong__` and `` `code` `` spans.
fn count_emphasis(line: &str) -> usize {
    let pairs = |delim: &str| line.matches(delim).count() / 2;
    pairs("**") + pairs("__") + line.matches('`').count() / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(bytes: &[u8]) -> Reason {
        detect(bytes, None)
            .expect_err("expected an error")
            .reason()
            .expect("user fault")
    }

    fn message(bytes: &[u8]) -> String {
        detect(bytes, None)
            .expect_err("expected an error")
            .to_string()
    }

    #[test]
    fn empty_and_whitespace_are_empty() {
        assert_eq!(reason(b""), Reason::Empty);
        assert_eq!(reason(b" \n\t\r\n  "), Reason::Empty);
        assert_eq!(reason(b"\xEF\xBB\xBF \n"), Reason::Empty);
        assert_eq!(reason(b"\xFF\xFE \0\n\0"), Reason::Empty);
    }

    #[test]
    fn every_magic_number_is_unsupported_and_named() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "png image"),
            (b"\xFF\xD8\xFF\xE0\0\x10JFIF", "jpeg image"),
            (b"GIF87a\x01\0", "gif image"),
            (b"GIF89a\x01\0", "gif image"),
            (b"\x1F\x8B\x08\0", "gzip archive"),
            (b"7z\xBC\xAF\x27\x1C\0\x04", "7z archive"),
            (b"Rar!\x1A\x07\x01\0", "rar archive"),
            (b"\x7FELF\x02\x01\x01", "elf executable"),
            (b"RIFF\x24\0\0\0WEBPVP8 ", "webp image"),
            (b"RIFF\x24\0\0\0WAVEfmt ", "wav audio"),
            (b"RIFF\x24\0\0\0AVI LIST", "avi video"),
            (b"ID3\x03\0\0\0\0\x0f\x76", "mp3 audio"),
            (b"\xFF\xFB\x90\x64\0", "mp3 audio"),
            (b"\0\0\0\x20ftypisom\0\0\x02\0", "mp4/quicktime media"),
            (b"SQLite format 3\0\x10\0", "sqlite database"),
        ];
        for (bytes, name) in cases {
            assert_eq!(reason(bytes), Reason::UnsupportedFormat, "{name}");
            assert!(message(bytes).contains(name), "{name}: {}", message(bytes));
        }
    }

    #[test]
    fn pdf_is_detected_also_after_leading_junk() {
        assert_eq!(detect(b"%PDF-1.7\n%\xE2\xE3", None).unwrap(), Format::Pdf);
        assert_eq!(
            detect(b"%PDF-1.4\n", Some("policy.txt")).unwrap(),
            Format::Pdf
        );
        let mut junk = b"From: printer\r\nX-Spool: 1\r\n".to_vec();
        junk.extend_from_slice(&[0x1B; 200]);
        junk.extend_from_slice(b"\n%PDF-1.5\n1 0 obj");
        assert_eq!(detect(&junk, None).unwrap(), Format::Pdf);
        let mut late = vec![b'\n'; 2000];
        late.extend_from_slice(b"%PDF-1.5\n");
        assert_ne!(detect(&late, None).ok(), Some(Format::Pdf));
    }

    #[test]
    fn png_header_with_random_bytes_is_unsupported() {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut x = 0x2545_F491_u32;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes.push(x as u8);
        }
        assert_eq!(
            message(&bytes),
            "unsupported-format: file is a png image, which lore cannot parse yet"
        );
    }

    #[test]
    fn unknown_binary_is_binary() {
        assert_eq!(reason(b"hello\0world"), Reason::Binary);
        assert_eq!(
            reason(&[0x01, 0x02, 0x03, 0x04, b'a', b'b', 0x05]),
            Reason::Binary
        );
        // Text that merely mentions a signature later on is text.
        assert_eq!(
            detect(b"see %PDF- for details", None).unwrap(),
            Format::Text
        );
    }

    #[test]
    fn html_is_sniffed_from_content() {
        let html = |s: &str| detect(s.as_bytes(), None).unwrap();
        assert_eq!(html("<!DOCTYPE html><title>x</title>"), Format::Html);
        assert_eq!(html("  \n<HTML lang=en><p>x"), Format::Html);
        assert_eq!(
            html("\u{FEFF}<!-- saved from url --><!doctype html>"),
            Format::Html
        );
        assert_eq!(
            html("<?xml version=\"1.0\"?>\n<html xmlns=\"x\">"),
            Format::Html
        );
        assert_eq!(
            html("<meta charset=utf-8>\n<head><title>x</title></head>"),
            Format::Html
        );
        assert_eq!(html("<htmlfoo>not a page</htmlfoo>"), Format::Text);
        assert_eq!(
            html("Put your scripts in the <head> element."),
            Format::Text
        );
        assert_eq!(html("<p>just a fragment</p>"), Format::Text);
        // A fragment is HTML when the name says so.
        assert_eq!(
            detect(b"<p>fragment</p>", Some("a.htm")).unwrap(),
            Format::Html
        );
        // Content wins over the name.
        assert_eq!(
            detect(b"<!doctype html><p>x", Some("notes.txt")).unwrap(),
            Format::Html
        );
        assert_eq!(
            detect(b"<!doctype html><p>x", Some("notes.md")).unwrap(),
            Format::Html
        );
    }

    #[test]
    fn utf16_html_is_sniffed() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<!-- x -->\r\n<html><body>hi</body></html>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(detect(&bytes, None).unwrap(), Format::Html);
    }

    #[test]
    fn markdown_by_name() {
        for name in [
            "README.md",
            "a/b/notes.MARKDOWN",
            "x.mdown",
            "C:\\docs\\y.mkd",
        ] {
            assert_eq!(
                detect(b"plain words", Some(name)).unwrap(),
                Format::Markdown,
                "{name}"
            );
        }
        // Markdown may embed page-level tags; the name keeps it Markdown.
        assert_eq!(
            detect(b"<div><body>demo</body></div>\n\n# Title", Some("demo.md")).unwrap(),
            Format::Markdown
        );
    }

    #[test]
    fn markdown_by_content_is_conservative() {
        let md = "# Returns\n\nYou can return items within **30 days**.\n\n\
                  - unused items\n- with receipt\n\nSee [the policy](https://x/p).\n";
        assert_eq!(detect(md.as_bytes(), None).unwrap(), Format::Markdown);
        assert_eq!(
            detect(md.as_bytes(), Some("notes")).unwrap(),
            Format::Markdown
        );
        // A decisive text name wins over Markdown-looking content.
        assert_eq!(
            detect(md.as_bytes(), Some("notes.txt")).unwrap(),
            Format::Text
        );
        // A heading alone is not enough.
        assert_eq!(
            detect(b"# Notes\n\nJust text.\n", None).unwrap(),
            Format::Text
        );
        // Lists and links without a heading are not enough.
        assert_eq!(
            detect(b"- a [x](y)\n- b [z](w)\n", None).unwrap(),
            Format::Text
        );
        // Shell scripts and config files are full of `# comments`.
        let script = "#!/bin/sh\n# Install\n- step `a`\n- step `b`\n";
        assert_eq!(detect(script.as_bytes(), None).unwrap(), Format::Text);
        let config = "# Settings\n# more\n# more\nkey = `a` `b` `c`\n";
        assert_eq!(detect(config.as_bytes(), None).unwrap(), Format::Text);
        // Headings inside code fences do not count.
        let fenced = "```\n# not a heading\n```\nplain\n";
        assert_eq!(detect(fenced.as_bytes(), None).unwrap(), Format::Text);
    }

    #[test]
    fn plain_text_and_legacy_encodings_are_text() {
        assert_eq!(detect(b"Hello\nworld\n", None).unwrap(), Format::Text);
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode("¿Dónde está mi pedido?");
        assert_eq!(detect(&latin1, Some("faq.txt")).unwrap(), Format::Text);
    }

    #[test]
    fn zip_containers_are_told_apart_by_their_entries() {
        use crate::parse::archive::tests::zip_of;
        let fmt = |entries: &[(&str, &[u8])]| detect(&zip_of(entries), None);
        assert_eq!(fmt(&[("xl/workbook.xml", b"<x/>")]).unwrap(), Format::Xlsx);
        assert_eq!(fmt(&[("xl/workbook.bin", b"x")]).unwrap(), Format::Xlsb);
        assert_eq!(
            fmt(&[("word/document.xml", b"<x/>")]).unwrap(),
            Format::Docx
        );
        assert_eq!(
            fmt(&[(
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet"
            )])
            .unwrap(),
            Format::Ods
        );
        let unsupported = |entries: &[(&str, &[u8])]| {
            let e = fmt(entries).unwrap_err();
            assert_eq!(e.reason(), Some(Reason::UnsupportedFormat));
            e.to_string()
        };
        assert_eq!(
            unsupported(&[("mimetype", b"application/vnd.oasis.opendocument.text")]),
            "unsupported-format: file is a opendocument text (odt), which lore cannot parse yet"
        );
        assert!(unsupported(&[("ppt/presentation.xml", b"<x/>")]).contains("pptx"));
        assert_eq!(
            unsupported(&[("photos/a.jpg", b"x")]),
            "unsupported-format: file is a zip archive, which lore cannot parse yet"
        );
        // A zip signature with nothing behind it.
        assert_eq!(reason(b"PK\x03\x04\x14\0\x06\0"), Reason::Corrupted);
        // The name does not matter.
        assert_eq!(
            detect(&zip_of(&[("xl/workbook.xml", b"<x/>")]), Some("notes.txt")).unwrap(),
            Format::Xlsx
        );
    }

    #[test]
    fn ole2_containers_are_told_apart_by_their_streams() {
        use crate::parse::ole::tests::cfb_with_streams;
        let e = detect(
            &cfb_with_streams(&["EncryptionInfo", "EncryptedPackage"]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "password-protected: file is an office document encrypted with a password"
        );
        assert_eq!(
            detect(&cfb_with_streams(&["Workbook"]), None).unwrap(),
            Format::Xls
        );
        assert_eq!(
            detect(&cfb_with_streams(&["Book"]), None).unwrap(),
            Format::Xls
        );
        assert!(message(&cfb_with_streams(&["WordDocument", "1Table"])).contains("(doc)"));
        assert!(message(&cfb_with_streams(&["PowerPoint Document"])).contains("(ppt)"));
        assert_eq!(
            reason(&cfb_with_streams(&["Other"])),
            Reason::UnsupportedFormat
        );
        assert_eq!(
            reason(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"),
            Reason::Corrupted
        );
    }

    #[test]
    fn csv_by_name_or_by_consistent_fields() {
        assert_eq!(detect(b"a;b\n1;2\n", Some("x.csv")).unwrap(), Format::Csv);
        assert_eq!(detect(b"a\tb\n1\t2\n", Some("x.TSV")).unwrap(), Format::Csv);
        // Even prose is CSV when the name says so (a one-column file).
        assert_eq!(
            detect(b"Hello, world.", Some("x.csv")).unwrap(),
            Format::Csv
        );
        let data = "sku,name,price\nBK-200,Kettle,89\nHG-50,Grinder,69\nDR-02,Dripper,22\n";
        assert_eq!(detect(data.as_bytes(), None).unwrap(), Format::Csv);
        // A text name keeps it text.
        assert_eq!(
            detect(data.as_bytes(), Some("a.txt")).unwrap(),
            Format::Text
        );
        let prose = "Dear customer, thank you.\nWe ship, as promised, fast.\nRegards, the team.\n";
        assert_eq!(detect(prose.as_bytes(), None).unwrap(), Format::Text);
    }
}
