//! PDF: text per page, with page numbers for citations.
//!
//! lopdf reads the file structure (cross-reference repair, object streams, decryption with
//! the empty user password, stream filters); lore interprets the page content streams itself
//! ([`content`]), decodes strings through each font's encoding ([`font`], [`encoding`]) and
//! turns positioned glyphs into paragraphs ([`layout`]).
//!
//! The file is loaded once; pages are then extracted in parallel with rayon, each page
//! decoding its own content streams and dropping them when done. Fonts are resolved once per
//! font object and shared by all pages.
//!
//! Every way a PDF can fail has a named reason: unreadable structure → `corrupted`; a limit of
//! [`PdfLimits`] broken → `malformed` (or `parse-timeout` for the time limit); an unknown
//! password → `password-protected`; pages that are only images → `image-only`; more pages
//! than allowed → `too-many-pages` (or truncation with a warning, per [`ParseOptions`]).

mod bookmarks;
mod content;
mod encoding;
mod font;
mod headings;
mod layout;
mod lexer;

use super::deadline::Deadline;
use super::{Block, BlockKind, Document, Format, Location, ParseOptions, Parser};
use crate::config::LimitPolicy;
use crate::error::{Error, Reason, Result};
use font::Font;
use lopdf::{Document as PdfDoc, Object, ObjectId, Stream};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Limits that protect the parser from hostile or broken files. The defaults are far above
/// what real documents need (a 2,000-page manual has some 100,000 objects and a few hundred
/// MiB of content streams at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfLimits {
    /// Most objects in the file. Checked after loading (loading itself is bounded by the
    /// source's byte limit); over it → `malformed`.
    pub max_objects: usize,
    /// Most bytes one stream may decompress to (content streams, fonts' CMaps, object
    /// streams during loading); over it → `malformed`. Stops decompression bombs.
    pub max_stream_bytes: usize,
    /// Most bytes all the streams lore decompresses for one document may add up to; over it
    /// → `malformed`.
    pub max_total_stream_bytes: usize,
    /// Deepest chain of Form XObjects drawing Form XObjects; over it → `malformed`.
    pub max_form_depth: usize,
    /// Deepest nesting of saved graphics states (`q` without `Q`); over it → `malformed`.
    pub max_nesting: usize,
    /// Time for one document, checked while interpreting pages; over it → `parse-timeout`.
    pub timeout: Duration,
}

impl Default for PdfLimits {
    fn default() -> Self {
        PdfLimits {
            max_objects: 2_000_000,
            max_stream_bytes: 64 * 1024 * 1024,
            max_total_stream_bytes: 1024 * 1024 * 1024,
            max_form_depth: 16,
            max_nesting: 1024,
            timeout: Duration::from_secs(60),
        }
    }
}

/// At most this many "page N has images but no text" warnings; the rest are summed up.
const MAX_PAGE_WARNINGS: usize = 20;

/// The PDF parser (with the default [`PdfLimits`], and the time limit of the [`ParseOptions`]).
pub struct PdfParser;

impl Parser for PdfParser {
    fn format(&self) -> Format {
        Format::Pdf
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        let limits = PdfLimits {
            timeout: opts.timeout,
            ..PdfLimits::default()
        };
        parse_with_limits(bytes, opts, &limits)
    }
}

/// Shared state of one document's extraction: limits, the decompression budget, the font
/// cache and the deadline.
pub(crate) struct Ctx<'d> {
    doc: &'d PdfDoc,
    limits: &'d PdfLimits,
    deadline: Deadline,
    /// Bytes of decompressed stream data still allowed for this document.
    budget: AtomicUsize,
    fonts: RwLock<HashMap<ObjectId, Arc<Font>>>,
    /// Set when one page failed, so the others stop early.
    stop: AtomicBool,
}

/// The error a page returns when it stops because another page failed; never reported.
fn stopped() -> Error {
    Error::Internal("stopped".into())
}

fn is_stopped(e: &Error) -> bool {
    matches!(e, Error::Internal(m) if m == "stopped")
}

impl<'d> Ctx<'d> {
    fn new(doc: &'d PdfDoc, limits: &'d PdfLimits, started: Instant) -> Self {
        Ctx {
            doc,
            limits,
            deadline: Deadline::since(started, limits.timeout),
            budget: AtomicUsize::new(limits.max_total_stream_bytes),
            fonts: RwLock::new(HashMap::new()),
            stop: AtomicBool::new(false),
        }
    }

    /// Fails when the time is up or another page already failed.
    pub(crate) fn check(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        self.deadline.check("pdf text extraction")
    }

    /// The decoded bytes of a stream, within the per-stream and per-document limits. A
    /// stream whose filter fails is read as empty (its page just has less text).
    pub(crate) fn stream_bytes<'s>(&self, s: &'s Stream) -> Result<Cow<'s, [u8]>> {
        self.check()?;
        let per_stream = self.limits.max_stream_bytes;
        let remaining = self.budget.load(Ordering::Relaxed);
        let limit = per_stream.min(remaining);
        let data: Cow<'s, [u8]> = if s.dict.has(b"Filter") {
            match s.decompressed_content_with_limit(limit) {
                Ok(d) => Cow::Owned(d),
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                })) => return Err(self.over_limit(limit == per_stream)),
                Err(e) => {
                    tracing::debug!(error = %e, "undecodable stream skipped");
                    Cow::Borrowed(&[])
                }
            }
        } else if s.content.len() > limit {
            return Err(self.over_limit(limit == per_stream));
        } else {
            Cow::Borrowed(&s.content)
        };
        let n = data.len();
        let charged = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n));
        if charged.is_err() {
            return Err(self.over_limit(false));
        }
        Ok(data)
    }

    fn over_limit(&self, per_stream: bool) -> Error {
        let mib = |b: usize| b / (1024 * 1024);
        let message = if per_stream {
            format!(
                "a stream decompresses to more than {} MiB (limit max_stream_bytes)",
                mib(self.limits.max_stream_bytes)
            )
        } else {
            format!(
                "streams decompress to more than {} MiB in total (limit max_total_stream_bytes)",
                mib(self.limits.max_total_stream_bytes)
            )
        };
        Error::rejected(Reason::Malformed, message)
    }

    /// The font object `id`, built once per document.
    pub(crate) fn font(&self, id: ObjectId, dict: &lopdf::Dictionary) -> Result<Arc<Font>> {
        if let Some(f) = self.fonts.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(f);
        }
        // Two pages may build the same font at once; the second insert is harmless.
        let font = Arc::new(Font::load(self, self.doc, dict)?);
        if let Ok(mut m) = self.fonts.write() {
            m.insert(id, Arc::clone(&font));
        }
        Ok(font)
    }
}

/// Parses a PDF with explicit limits (the [`Parser`] uses [`PdfLimits::default`]).
pub fn parse_with_limits(
    bytes: &[u8],
    opts: &ParseOptions,
    limits: &PdfLimits,
) -> Result<Document> {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let doc = load(bytes, limits, &mut warnings)?;
    if doc.objects.len() > limits.max_objects {
        return Err(Error::rejected(
            Reason::Malformed,
            format!(
                "the pdf has {} objects, over the limit of {} (limit max_objects)",
                doc.objects.len(),
                limits.max_objects
            ),
        ));
    }
    let pages: Vec<ObjectId> = guarded("reading the page tree", || Ok(doc.page_iter().collect()))?;
    if pages.is_empty() {
        return Err(Error::rejected(
            Reason::Corrupted,
            "the pdf has no readable pages",
        ));
    }
    let total = pages.len() as u32;
    let keep = if total > opts.max_pages {
        match opts.on_limit {
            LimitPolicy::Reject => {
                return Err(Error::rejected(
                    Reason::TooManyPages,
                    format!(
                        "the pdf has {total} pages, over the limit of {}",
                        opts.max_pages
                    ),
                ))
            }
            LimitPolicy::Truncate => {
                warnings.push(format!(
                    "truncated: kept the first {} of {total} pages (limit max_pages)",
                    opts.max_pages
                ));
                opts.max_pages as usize
            }
        }
    } else {
        pages.len()
    };
    let title = title(&doc);
    // A broken outline only costs the bookmarks: the font sizes then decide the headings.
    let bookmarks = catch_unwind(AssertUnwindSafe(|| bookmarks::read(&doc, &pages)))
        .unwrap_or_else(|_| {
            tracing::warn!("the pdf's outline could not be read; headings from font sizes");
            Vec::new()
        });

    let ctx = Ctx::new(&doc, limits, started);
    let results: Vec<Result<content::PageOut>> = pages[..keep]
        .par_iter()
        .enumerate()
        .map(|(i, &id)| {
            let r = match catch_unwind(AssertUnwindSafe(|| content::extract_page(&ctx, &doc, id))) {
                Ok(r) => r,
                Err(_) => Err(Error::rejected(
                    Reason::Corrupted,
                    format!("page {} could not be read (the pdf reader failed)", i + 1),
                )),
            };
            if r.is_err() {
                ctx.stop.store(true, Ordering::Relaxed);
            }
            r
        })
        .collect();
    drop(ctx);

    let mut outs = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(out) => outs.push(out),
            Err(e) if is_stopped(&e) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    let text_pages = outs.iter().filter(|o| o.chars > 0).count();
    let image_pages: Vec<usize> = outs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.chars == 0 && o.images > 0)
        .map(|(i, _)| i + 1)
        .collect();
    if text_pages == 0 && !image_pages.is_empty() {
        return Err(Error::rejected(
            Reason::ImageOnly,
            format!(
                "the pdf's {} pages hold images but no text (a scan?); lore does not do ocr",
                keep
            ),
        ));
    }
    for page in image_pages.iter().take(MAX_PAGE_WARNINGS) {
        warnings.push(format!("page {page} has images but no text (scanned?)"));
    }
    if image_pages.len() > MAX_PAGE_WARNINGS {
        warnings.push(format!(
            "… and {} more pages with images but no text",
            image_pages.len() - MAX_PAGE_WARNINGS
        ));
    }

    let dropped = drop_running_lines(&mut outs);
    let contents = drop_contents_lines(&mut outs);
    if dropped + contents > 0 {
        tracing::debug!(
            dropped,
            contents,
            "running lines and contents entries left out"
        );
    }
    let (blocks, title) = outline(outs, title, &bookmarks);
    tracing::debug!(
        pages = total,
        blocks = blocks.len(),
        ms = started.elapsed().as_millis() as u64,
        "parsed pdf"
    );
    Document {
        title,
        blocks,
        warnings,
        pages: Some(total),
    }
    .non_empty("the pdf")
}

/// Blocks this close to the top or the bottom of a page can be running headers or footers.
const RUNNING_EDGE: usize = 2;
/// Running headers and footers are a line or two; a longer block repeated at page edges is
/// content (a notice the author chose to repeat).
const RUNNING_MAX_CHARS: usize = 160;
/// A text at a page's edge on at least this share of the pages (and on 3 pages at least) is a
/// running header or footer.
const RUNNING_SHARE: f32 = 0.5;

/// Leaves out running headers and footers ("Brewing Guide · Page 2 of 4" on every page): they
/// say nothing about the page they are on, and repeated in every chunk they would make every
/// chunk match the document's name. A block is one when, with its digits masked (page
/// numbers), the same text sits among the first or last [`RUNNING_EDGE`] blocks of at least
/// half of the pages. Returns how many blocks were dropped.
fn drop_running_lines(outs: &mut [content::PageOut]) -> usize {
    let pages = outs.len();
    if pages < 3 {
        return 0;
    }
    // Page numbers masked: digits, and front matter's roman numerals ("Guide iv").
    let mask = |t: &str| -> String {
        t.to_lowercase()
            .split(' ')
            .map(|w| {
                if !w.is_empty() && w.len() <= 6 && w.chars().all(|c| "ivxlcdm".contains(c)) {
                    "#".to_string()
                } else {
                    w.chars()
                        .map(|c| if c.is_ascii_digit() { '#' } else { c })
                        .collect()
                }
            })
            .collect::<Vec<String>>()
            .join(" ")
    };
    let edges = |o: &content::PageOut| -> Vec<usize> {
        let n = o.blocks.len();
        let mut ix: Vec<usize> = (0..n.min(RUNNING_EDGE))
            .chain(n.saturating_sub(RUNNING_EDGE)..n)
            .collect();
        ix.dedup();
        ix
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for o in outs.iter() {
        let mut on_page: Vec<String> = edges(o)
            .iter()
            .map(|&i| &o.blocks[i].text)
            .filter(|t| t.chars().count() <= RUNNING_MAX_CHARS)
            .map(|t| mask(t))
            .collect();
        on_page.sort();
        on_page.dedup();
        for t in on_page {
            *seen.entry(t).or_default() += 1;
        }
    }
    let needed = ((pages as f32 * RUNNING_SHARE).ceil() as usize).max(3);
    let running: std::collections::HashSet<String> = seen
        .into_iter()
        .filter(|(_, n)| *n >= needed)
        .map(|(t, _)| t)
        .collect();
    if running.is_empty() {
        return 0;
    }
    let mut dropped = 0;
    for o in outs.iter_mut() {
        let drop: Vec<usize> = edges(o)
            .into_iter()
            .filter(|&i| running.contains(&mask(&o.blocks[i].text)))
            .collect();
        // A page made only of such lines keeps them: they are then its content.
        if drop.len() == o.blocks.len() {
            continue;
        }
        for i in drop.into_iter().rev() {
            o.blocks.remove(i);
            dropped += 1;
        }
    }
    dropped
}

/// A page with at least this many dot-leader lines is a table of contents (or a list of
/// figures); one such line elsewhere ("Total . . . . 45") is content.
const CONTENTS_MIN_LINES: usize = 3;

/// True for a line ending in a dot leader and a page number: `2.5 How can R be installed?
/// . . . . . . 8`.
fn is_contents_line(text: &str) -> bool {
    let text = text.trim_end();
    let Some((rest, page)) = text.rsplit_once(char::is_whitespace) else {
        return false;
    };
    let roman = |w: &str| w.len() <= 6 && w.chars().all(|c| "ivxlcdmIVXLCDM".contains(c));
    if !(page.chars().all(|c| c.is_ascii_digit()) || roman(page)) {
        return false;
    }
    let leader = rest
        .chars()
        .rev()
        .take_while(|c| matches!(c, '.' | ' ' | '·' | '…' | '\u{2024}'))
        .filter(|c| *c != ' ')
        .count();
    leader >= 4
}

/// Leaves out the entries of tables of contents: they repeat the headings (now the blocks'
/// heading paths) with page numbers, and as passages they matched every question about a
/// chapter while saying nothing of it. Returns how many blocks were dropped.
fn drop_contents_lines(outs: &mut [content::PageOut]) -> usize {
    let mut dropped = 0;
    for o in outs.iter_mut() {
        let lines = o
            .blocks
            .iter()
            .filter(|b| is_contents_line(&b.text))
            .count();
        if lines < CONTENTS_MIN_LINES {
            continue;
        }
        o.blocks.retain(|b| !is_contents_line(&b.text));
        dropped += lines;
    }
    dropped
}

/// The pages' blocks with heading paths, and the title: the document's own, else its first
/// top-level heading. Headings come from the bookmarks when most of them are found in the
/// text (see `bookmarks`), else from font sizes (see `headings`).
fn outline(
    outs: Vec<content::PageOut>,
    mut title: Option<String>,
    bookmarks: &[bookmarks::Entry],
) -> (Vec<Block>, Option<String>) {
    let mut all: Vec<(u32, layout::TextBlock)> = outs
        .into_iter()
        .enumerate()
        .flat_map(|(i, o)| o.blocks.into_iter().map(move |b| (i as u32 + 1, b)))
        .collect();
    let paged: Vec<(u32, &layout::TextBlock)> = all.iter().map(|(p, b)| (*p, b)).collect();
    let by_size = headings::levels(&paged.iter().map(|(_, b)| *b).collect::<Vec<_>>());
    // The title is the largest heading, whatever the bookmarks say: their first entry is
    // often "Preface" or "Contents".
    if title.is_none() {
        title = (0..all.len())
            .find(|&i| by_size[i] == Some(1) && has_body(&by_size, i))
            .map(|i| all[i].1.text.clone());
    }
    let levels = match bookmarks::headings_from(bookmarks, &paged) {
        Some(found) => split_headings(&mut all, found),
        None => by_size,
    };
    let mut path: Vec<(u8, String)> = Vec::new();
    let mut blocks = Vec::with_capacity(all.len());
    for (i, (page, b)) in all.into_iter().enumerate() {
        if let Some(level) = levels[i] {
            if has_body(&levels, i) {
                while path.last().is_some_and(|(l, _)| *l >= level) {
                    path.pop();
                }
                path.push((level, b.text));
                continue;
            }
        }
        blocks.push(Block {
            heading_path: path.iter().map(|(_, t)| t.clone()).collect(),
            text: b.text,
            kind: BlockKind::Paragraph,
            location: Location {
                page_start: Some(page),
                page_end: Some(page),
                ..Default::default()
            },
        });
    }
    (blocks, title)
}

/// Heading levels for the bookmarks' headings, splitting a block whose heading runs into its
/// first paragraph into the heading and the paragraph.
fn split_headings(
    all: &mut Vec<(u32, layout::TextBlock)>,
    found: Vec<Option<bookmarks::Heading>>,
) -> Vec<Option<u8>> {
    let mut levels = Vec::with_capacity(found.len());
    let mut out = Vec::with_capacity(all.len());
    for ((page, block), heading) in std::mem::take(all).into_iter().zip(found) {
        match heading {
            None => {
                out.push((page, block));
                levels.push(None);
            }
            Some(bookmarks::Heading::Whole(level)) => {
                out.push((page, block));
                levels.push(Some(level));
            }
            Some(bookmarks::Heading::Leading { level, end }) => {
                let rest = layout::TextBlock {
                    text: block.text[end..].trim_start().to_string(),
                    ..block
                };
                let head = layout::TextBlock {
                    text: block.text[..end].to_string(),
                    ..rest.clone()
                };
                out.push((page, head));
                levels.push(Some(level));
                out.push((page, rest));
                levels.push(None);
            }
        }
    }
    *all = out;
    levels
}

/// Whether the heading at `i` has text under it before the next heading of its level or above.
/// One without stays a paragraph, so its text is not lost.
fn has_body(levels: &[Option<u8>], i: usize) -> bool {
    let Some(level) = levels[i] else {
        return false;
    };
    levels[i + 1..]
        .iter()
        .find_map(|l| match l {
            None => Some(true),
            Some(n) if *n <= level => Some(false),
            Some(_) => None,
        })
        .unwrap_or(false)
}

/// Runs `f`, turning a panic inside lopdf (or lore) into a `corrupted` error: no input may
/// take the process down.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::rejected(
            Reason::Corrupted,
            format!("the pdf reader failed while {what}"),
        ))
    })
}

/// Loads the document: lenient parsing (lopdf rebuilds a broken cross-reference table by
/// scanning for `N G obj`), decryption with the empty user password, and a second attempt
/// with a forced rebuild when the first finds no pages.
fn load(bytes: &[u8], limits: &PdfLimits, warnings: &mut Vec<String>) -> Result<PdfDoc> {
    let options = |force_reconstruct| lopdf::LoadOptions {
        max_decompressed_size: Some(limits.max_stream_bytes),
        force_reconstruct,
        ..Default::default()
    };
    let first = guarded("loading the file", || {
        PdfDoc::load_mem_with_options(bytes, options(false)).map_err(load_error)
    });
    let doc = match first {
        Ok(doc) if has_pages(&doc) || is_locked(&doc) => doc,
        first => {
            // No pages (or no file at all): scan the whole file for objects and retry.
            match guarded("rebuilding the file", || {
                PdfDoc::load_mem_with_options(bytes, options(true)).map_err(load_error)
            }) {
                Ok(doc) if has_pages(&doc) => doc,
                _ => return first,
            }
        }
    };
    let doc = if is_locked(&doc) && !doc.trailer.has(b"ID") {
        // Key derivation needs the file `/ID`; readers take an empty one when it is missing.
        let retry = with_empty_id(bytes).and_then(|patched| {
            guarded("loading the file", || {
                PdfDoc::load_mem_with_options(&patched, options(false)).map_err(load_error)
            })
            .ok()
        });
        match retry {
            Some(d) if !is_locked(&d) && has_pages(&d) => d,
            _ => doc,
        }
    } else {
        doc
    };
    if is_locked(&doc) {
        return Err(Error::rejected(
            Reason::PasswordProtected,
            "the pdf is encrypted with a password lore does not have",
        ));
    }
    if doc.xref_recovery.is_some() {
        warnings.push("the pdf is damaged; its structure was rebuilt to read it".into());
    }
    Ok(doc)
}

/// The file with `/ID [<> <>]` added to its last trailer dictionary (the one `startxref`
/// points at, a classic trailer or a cross-reference stream's dictionary). Inserting there
/// moves no object that an offset points to.
fn with_empty_id(bytes: &[u8]) -> Option<Vec<u8>> {
    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
    let tail = bytes.len().saturating_sub(4096);
    let at = bytes[tail..].windows(9).rposition(|w| w == b"startxref")? + tail + 9;
    let digits: String = bytes[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    let offset: usize = digits.parse().ok()?;
    let section = bytes.get(offset..)?;
    let dict = if section.starts_with(b"xref") {
        let t = find(section, b"trailer")?;
        t + find(&section[t..], b"<<")?
    } else {
        find(&section[..section.len().min(256)], b"<<")?
    };
    let insert = offset + dict + 2;
    let mut out = Vec::with_capacity(bytes.len() + 16);
    out.extend_from_slice(&bytes[..insert]);
    out.extend_from_slice(b" /ID [<> <>] ");
    out.extend_from_slice(&bytes[insert..]);
    Some(out)
}

/// Encrypted, and the empty password did not open it.
fn is_locked(doc: &PdfDoc) -> bool {
    doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none()
}

fn has_pages(doc: &PdfDoc) -> bool {
    catch_unwind(AssertUnwindSafe(|| doc.page_iter().next().is_some())).unwrap_or(false)
}

fn load_error(e: lopdf::Error) -> Error {
    match e {
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { limit }) => {
            Error::rejected(
                Reason::Malformed,
                format!(
                    "a stream decompresses to more than {} MiB (limit max_stream_bytes)",
                    limit / (1024 * 1024)
                ),
            )
        }
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => Error::rejected(
            Reason::PasswordProtected,
            "the pdf is encrypted with a password lore does not have",
        ),
        lopdf::Error::UnsupportedSecurityHandler(_) => Error::rejected(
            Reason::PasswordProtected,
            "the pdf is encrypted with a security handler lore does not support",
        ),
        other => Error::rejected(
            Reason::Corrupted,
            format!("the pdf cannot be read: {other}"),
        ),
    }
}

/// The Info dictionary's `/Title`, if it says something.
fn title(doc: &PdfDoc) -> Option<String> {
    let info = font::deref(doc, doc.trailer.get(b"Info").ok())?;
    let Object::Dictionary(info) = info else {
        return None;
    };
    let Some(Object::String(bytes, _)) = font::deref(doc, info.get(b"Title").ok()) else {
        return None;
    };
    let title = super::normalize_ws(&encoding::decode_text_string(bytes));
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Dictionary, Stream};

    /// Builds small PDFs with lopdf's writer: pages share one resource dictionary on the page
    /// tree root (so resource inheritance is exercised too).
    struct Pdf {
        doc: PdfDoc,
        pages: ObjectId,
        kids: Vec<Object>,
        fonts: Dictionary,
        xobjects: Dictionary,
        info: Option<Dictionary>,
    }

    /// Helvetica's widths as a `/Widths` array for codes 32–126.
    fn helvetica_widths() -> Vec<Object> {
        font::HELVETICA_WIDTHS
            .iter()
            .map(|&w| Object::Integer(i64::from(w)))
            .collect()
    }

    impl Pdf {
        fn new() -> Self {
            let mut doc = PdfDoc::with_version("1.7");
            let pages = doc.new_object_id();
            Pdf {
                doc,
                pages,
                kids: Vec::new(),
                fonts: Dictionary::new(),
                xobjects: Dictionary::new(),
                info: None,
            }
        }

        fn font(&mut self, name: &str, dict: Dictionary) -> &mut Self {
            let id = self.doc.add_object(dict);
            self.fonts.set(name, id);
            self
        }

        /// `/F1`: Helvetica, WinAnsiEncoding, with widths.
        fn helvetica(&mut self) -> &mut Self {
            self.font(
                "F1",
                dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type1",
                    "BaseFont" => "Helvetica",
                    "Encoding" => "WinAnsiEncoding",
                    "FirstChar" => 32,
                    "Widths" => helvetica_widths(),
                },
            )
        }

        fn xobject(&mut self, name: &str, stream: Stream) -> ObjectId {
            let id = self.doc.add_object(stream);
            self.xobjects.set(name, id);
            id
        }

        fn page(&mut self, content: &[u8]) -> &mut Self {
            let content = self
                .doc
                .add_object(Stream::new(Dictionary::new(), content.to_vec()));
            let page = self.doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => self.pages,
                "Contents" => content,
            });
            self.kids.push(page.into());
            self
        }

        fn title(&mut self, title: &str) -> &mut Self {
            self.info = Some(dictionary! { "Title" => Object::string_literal(title) });
            self
        }

        fn build(&mut self) -> PdfDoc {
            let mut doc = std::mem::take(&mut self.doc);
            let pages = dictionary! {
                "Type" => "Pages",
                "Kids" => self.kids.clone(),
                "Count" => self.kids.len() as i64,
                "Resources" => dictionary! {
                    "Font" => self.fonts.clone(),
                    "XObject" => self.xobjects.clone(),
                },
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            };
            doc.objects.insert(self.pages, Object::Dictionary(pages));
            let catalog =
                doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => self.pages });
            doc.trailer.set("Root", catalog);
            if let Some(info) = self.info.take() {
                let info = doc.add_object(info);
                doc.trailer.set("Info", info);
            }
            doc
        }

        fn bytes(&mut self) -> Vec<u8> {
            save(self.build())
        }
    }

    fn save(mut doc: PdfDoc) -> Vec<u8> {
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("save pdf");
        out
    }

    fn parse(bytes: &[u8]) -> Result<Document> {
        PdfParser.parse(bytes, &ParseOptions::default())
    }

    fn texts(doc: &Document) -> Vec<&str> {
        doc.blocks.iter().map(|b| b.text.as_str()).collect()
    }

    fn reason(r: Result<Document>) -> Reason {
        r.expect_err("expected a rejection")
            .reason()
            .expect("a user-fault reason")
    }

    fn text_page(words: &str) -> Vec<u8> {
        format!("BT /F1 12 Tf 72 720 Td ({words}) Tj ET").into_bytes()
    }

    /// Lines in one font size, 40 units apart (one block each).
    fn lines_page(lines: &[&str]) -> Vec<u8> {
        let body: String = lines
            .iter()
            .map(|l| format!("({l}) Tj 0 -40 Td "))
            .collect();
        format!("BT /F1 12 Tf 72 720 Td {body}ET").into_bytes()
    }

    /// A two-page PDF in one font size, with (`Some(looping)`) or without an outline:
    /// "Returns" (an explicit destination) holding "Refund timing" (a named one, through the
    /// `/Names` tree), then "Shipping by sea" (a `GoTo` action) run into its paragraph. A
    /// looping outline's last item links back to the first.
    fn outlined_pdf(outline: Option<bool>) -> Vec<u8> {
        let mut pdf = Pdf::new();
        pdf.helvetica()
            .page(&lines_page(&[
                "Returns",
                "Items can be sent back within thirty days.",
                "Refund timing",
                "Refunds reach your card in five days.",
            ]))
            .page(&lines_page(&[
                "1.2 Shipping by sea Parcels travel by boat for weeks.",
            ]));
        let page_ids: Vec<ObjectId> = pdf.kids.iter().map(|k| k.as_reference().unwrap()).collect();
        let mut doc = pdf.build();
        let Some(looping) = outline else {
            return save(doc);
        };
        let (a, b, c) = (
            doc.new_object_id(),
            doc.new_object_id(),
            doc.new_object_id(),
        );
        let root = doc.new_object_id();
        let dest = |page: ObjectId| -> Object {
            vec![
                page.into(),
                "XYZ".into(),
                Object::Null,
                Object::Null,
                Object::Null,
            ]
            .into()
        };
        let mut item_b = dictionary! {
            "Title" => Object::string_literal("Shipping by sea"),
            "Parent" => root,
            "Prev" => a,
            "A" => dictionary! { "S" => "GoTo", "D" => dest(page_ids[1]) },
        };
        if looping {
            item_b.set("Next", a);
        }
        doc.objects.insert(b, Object::Dictionary(item_b));
        doc.objects.insert(
            a,
            Object::Dictionary(dictionary! {
                "Title" => Object::string_literal("Returns"),
                "Parent" => root, "Next" => b, "First" => c, "Last" => c,
                "Dest" => dest(page_ids[0]),
            }),
        );
        doc.objects.insert(
            c,
            Object::Dictionary(dictionary! {
                "Title" => Object::string_literal("Refund timing"),
                "Parent" => a,
                "Dest" => Object::string_literal("refunds"),
            }),
        );
        doc.objects.insert(
            root,
            Object::Dictionary(dictionary! { "Type" => "Outlines", "First" => a, "Last" => b }),
        );
        let names = doc.add_object(dictionary! {
            "Names" => vec![Object::string_literal("refunds"), dest(page_ids[0])],
        });
        let catalog = doc.catalog_mut().unwrap();
        catalog.set("Outlines", root);
        catalog.set("Names", dictionary! { "Dests" => names });
        save(doc)
    }

    #[test]
    fn bookmarks_give_the_headings_when_font_sizes_cannot() {
        let paths = |bytes: Vec<u8>| -> Vec<(String, String)> {
            parse(&bytes)
                .unwrap()
                .blocks
                .iter()
                .map(|b| (b.heading_path.join(" > "), b.text.clone()))
                .collect()
        };
        // One font size: no headings without bookmarks.
        assert!(paths(outlined_pdf(None)).iter().all(|(p, _)| p.is_empty()));
        let expected = vec![
            (
                "Returns".to_string(),
                "Items can be sent back within thirty days.".to_string(),
            ),
            (
                "Returns > Refund timing".into(),
                "Refunds reach your card in five days.".into(),
            ),
            (
                "1.2 Shipping by sea".into(),
                "Parcels travel by boat for weeks.".into(),
            ),
        ];
        assert_eq!(paths(outlined_pdf(Some(false))), expected);
        // An outline whose last item links back to the first is read once, not forever.
        assert_eq!(paths(outlined_pdf(Some(true))), expected);
    }

    #[test]
    fn larger_short_lines_become_heading_paths_and_running_footers_go() {
        // Three pages: a 20 pt title, 14 pt section headings each over two 10 pt paragraphs,
        // and a 10 pt footer with the page number at the bottom of each page.
        let body = |head: &str, i: u32| {
            format!("For {head} rinse the filter {i} times and discard the water.")
        };
        let page = |heads: &[(&str, u32)], n: u32| {
            let mut c = String::from("BT ");
            let mut y = 740;
            for (text, size) in heads {
                c += &format!("/F1 {size} Tf 1 0 0 1 72 {y} Tm ({text}) Tj ");
                y -= 30;
                if *size == 14 {
                    for i in 1..=2 {
                        c += &format!("/F1 10 Tf 1 0 0 1 72 {y} Tm ({}) Tj ", body(text, i));
                        y -= 30;
                    }
                }
            }
            // Page numbers in digits and in roman numerals, as front matter has them.
            let roman = ["i", "ii", "iii"][n as usize - 1];
            c += &format!("/F1 10 Tf 1 0 0 1 72 40 Tm (Brisa Guide {roman} - Page {n} of 3) Tj ET");
            c.into_bytes()
        };
        let bytes = Pdf::new()
            .helvetica()
            .page(&page(&[("Brewing Guide", 20), ("Pour-over", 14)], 1))
            .page(&page(&[("Espresso", 14)], 2))
            .page(&page(&[("Care", 14), ("Water", 14)], 3))
            .bytes();
        let doc = parse(&bytes).unwrap();
        let got: Vec<(Vec<&str>, &str, u32)> = doc
            .blocks
            .iter()
            .map(|b| {
                (
                    b.heading_path.iter().map(String::as_str).collect(),
                    b.text.as_str(),
                    b.location.page_start.unwrap(),
                )
            })
            .collect();
        let g = "Brewing Guide";
        let mut want = Vec::new();
        for (head, page) in [("Pour-over", 1), ("Espresso", 2), ("Care", 3), ("Water", 3)] {
            for i in 1..=2 {
                want.push((vec![g, head], body(head, i), page));
            }
        }
        let want: Vec<(Vec<&str>, &str, u32)> = want
            .iter()
            .map(|(p, t, n)| (p.clone(), t.as_str(), *n))
            .collect();
        assert_eq!(got, want, "headings in paths, footers gone");
        assert_eq!(
            doc.title.as_deref(),
            Some(g),
            "no Info title: the first heading"
        );
    }

    #[test]
    fn contents_entries_are_recognised_by_their_dot_leaders() {
        assert!(is_contents_line(
            "2.5 How can R be installed? . . . . . . . . 8"
        ));
        assert!(is_contents_line("4 R Web Interfaces. . . . . . . . 20"));
        assert!(is_contents_line("Preface ............ xiii"));
        assert!(!is_contents_line("Prices start at 8"));
        assert!(!is_contents_line("Wait... 3"));
        assert!(!is_contents_line("Total . . . . . . . . forty"));
    }

    #[test]
    fn a_bold_line_at_the_body_size_heads_what_follows() {
        let bytes = Pdf::new()
            .helvetica()
            .font(
                "F2",
                dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type1",
                    "BaseFont" => "ABCDEF+Helvetica-Bold",
                    "Encoding" => "WinAnsiEncoding",
                    "FirstChar" => 32,
                    "Widths" => helvetica_widths(),
                },
            )
            .page(
                b"BT /F2 10 Tf 1 0 0 1 72 720 Tm (Refunds) Tj \
                  /F1 10 Tf 1 0 0 1 72 690 Tm (Refunds reach your card within five days.) Tj \
                  1 0 0 1 72 660 Tm (Keep the receipt until the refund arrives.) Tj ET",
            )
            .bytes();
        let doc = parse(&bytes).unwrap();
        assert_eq!(doc.blocks.len(), 2, "{:?}", texts(&doc));
        assert!(doc.blocks.iter().all(|b| b.heading_path == vec!["Refunds"]));
    }

    #[test]
    fn a_table_of_contents_page_loses_its_entries_and_keeps_its_prose() {
        let lines = |items: &[&str]| {
            let mut c = String::from("BT /F1 10 Tf ");
            for (i, t) in items.iter().enumerate() {
                c += &format!("1 0 0 1 72 {} Tm ({t}) Tj ", 720 - 40 * i);
            }
            c += "ET";
            c.into_bytes()
        };
        let bytes = Pdf::new()
            .helvetica()
            .page(&lines(&[
                "1 Brewing . . . . . . . . . . 2",
                "2 Descaling . . . . . . . . . 3",
                "3 Warranty . . . . . . . . . . 4",
                "Read the safety notes first",
            ]))
            .page(&lines(&["Total . . . . . . . . 45", "Descale monthly"]))
            .bytes();
        let doc = parse(&bytes).unwrap();
        assert_eq!(
            texts(&doc),
            vec![
                "Read the safety notes first",
                "Total . . . . . . . . 45",
                "Descale monthly"
            ]
        );
    }

    #[test]
    fn standard_font_with_winansi_and_info_title() {
        let bytes = Pdf::new()
            .helvetica()
            .title("Brewing Guide")
            .page(
                b"BT /F1 12 Tf 72 720 Td (Caf\\351 na\\357ve \\223quoted\\224 \\226 50\\200) Tj ET",
            )
            .bytes();
        let doc = parse(&bytes).unwrap();
        assert_eq!(texts(&doc), vec!["Café naïve “quoted” – 50€"]);
        assert_eq!(doc.title.as_deref(), Some("Brewing Guide"));
        assert_eq!(doc.pages, Some(1));
        assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
        // Routed by content, whatever the name says.
        let (format, _) =
            crate::parse::parse(&bytes, Some("notes.txt"), &Default::default()).unwrap();
        assert_eq!(format, Format::Pdf);
    }

    #[test]
    fn differences_array_maps_glyph_names() {
        let bytes = Pdf::new()
            .font(
                "F1",
                dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type1",
                    "BaseFont" => "Custom",
                    "Encoding" => dictionary! {
                        "Type" => "Encoding",
                        "BaseEncoding" => "WinAnsiEncoding",
                        "Differences" => vec![
                            120.into(), "eacute".into(), "fi".into(),
                            "quotedblleft".into(), "quotedblright".into(),
                            126.into(), "uni20AC".into(),
                        ],
                    },
                },
            )
            .page(&text_page("Cafx yne zgood{ 5~"))
            .bytes();
        assert_eq!(texts(&parse(&bytes).unwrap()), vec!["Café fine “good” 5€"]);
    }

    fn to_unicode_cmap() -> Vec<u8> {
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Test-UCS def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
9 beginbfchar
<0001> <0048> <0002> <0065> <0003> <006C> <0004> <006F> <0005> <0020>
<0015> <0064> <0016> <006E> <0030> <65E5> <0031> <672C>
endbfchar
3 beginbfrange
<0010> <0012> [<0077> <006F> <0072>]
<0013> <0014> <006C>
<0020> <0020> <FB01>
endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end"
            .to_vec()
    }

    fn type0_font(pdf: &mut Pdf) -> &mut Pdf {
        let cmap = pdf
            .doc
            .add_object(Stream::new(Dictionary::new(), to_unicode_cmap()));
        let descendant = pdf.doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => "NotoSans",
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::string_literal("Adobe"),
                "Ordering" => Object::string_literal("Identity"),
                "Supplement" => 0,
            },
            "DW" => 1000,
            "W" => vec![1.into(), vec![722.into(), 556.into(), 222.into(), 556.into(), 278.into()].into(),
                        16.into(), 21.into(), 556.into()],
        });
        pdf.font(
            "F2",
            dictionary! {
                "Type" => "Font",
                "Subtype" => "Type0",
                "BaseFont" => "NotoSans",
                "Encoding" => "Identity-H",
                "DescendantFonts" => vec![descendant.into()],
                "ToUnicode" => cmap,
            },
        )
    }

    #[test]
    fn type0_identity_h_font_with_to_unicode() {
        let mut pdf = Pdf::new();
        type0_font(&mut pdf).page(
            b"BT /F2 12 Tf 72 720 Td <00010002000300030004000500100011001200130015> Tj \
              0 -14 Td <002000160002> Tj <0005> Tj <00300031> Tj ET",
        );
        assert_eq!(
            texts(&parse(&pdf.bytes()).unwrap()),
            vec!["Hello world fine 日本"]
        );
    }

    #[test]
    fn predefined_unicode_cmap_needs_no_to_unicode() {
        let bytes = Pdf::new()
            .font(
                "F1",
                dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type0",
                    "BaseFont" => "KozMinPro-Regular",
                    "Encoding" => "UniJIS-UCS2-H",
                    "DescendantFonts" => vec![dictionary! {
                        "Type" => "Font", "Subtype" => "CIDFontType0", "BaseFont" => "KozMinPro-Regular",
                    }.into()],
                },
            )
            .page(b"BT /F1 12 Tf 72 720 Td <65E5672C8A9E> Tj ET")
            .bytes();
        assert_eq!(texts(&parse(&bytes).unwrap()), vec!["日本語"]);
    }

    #[test]
    fn type1_builtin_encoding_is_read_from_the_font_program() {
        let program = b"%!PS-AdobeFont-1.0: Test\n/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n\
            dup 65 /Aacute put\ndup 66 /ffi put\ndup 67 /c put\nreadonly def\ncurrentfile eexec\n\x80\x81binary";
        let mut pdf = Pdf::new();
        let file = pdf.doc.add_object(Stream::new(
            dictionary! { "Length1" => (program.len() - 8) as i64, "Length2" => 8, "Length3" => 0 },
            program.to_vec(),
        ));
        let descriptor = pdf.doc.add_object(dictionary! {
            "Type" => "FontDescriptor", "FontName" => "Test", "Flags" => 4, "FontFile" => file,
        });
        pdf.font(
            "F1",
            dictionary! {
                "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Test",
                "FontDescriptor" => descriptor,
            },
        )
        .page(&text_page("ABC"));
        assert_eq!(texts(&parse(&pdf.bytes()).unwrap()), vec!["Áffic"]);
    }

    #[test]
    fn word_spacing_from_tj_offsets_and_glyph_positions() {
        let bytes = Pdf::new()
            .helvetica()
            .page(
                // TJ: a wide adjustment is a space, kerning is not.
                b"BT /F1 12 Tf 72 720 Td [(Hello)-333(world)] TJ [( K)-60(erning)] TJ \
                  0 -20 Td (Two) Tj 40 0 Td (parts) Tj \
                  0 -20 Td (sepa) Tj 26.016 0 Td (rate) Tj \
                  0 -20 Td 4 Tw (a b) Tj 0 Tw 2 Tc ( spaced) Tj 0 Tc ET",
            )
            .bytes();
        assert_eq!(
            texts(&parse(&bytes).unwrap()),
            vec!["Hello world Kerning Two parts separate a b spaced"]
        );
    }

    #[test]
    fn actual_text_replaces_the_glyphs_it_spans() {
        let bytes = Pdf::new()
            .helvetica()
            .page(
                b"BT /F1 12 Tf 72 720 Td (Typeset with ) Tj \
                  /Span <</Lang (en) /ActualText <FEFF005400650058>>> BDC \
                  (T) Tj -3 Ts (E) Tj 0 Ts (X) Tj EMC (, of course.) Tj ET",
            )
            .bytes();
        assert_eq!(
            texts(&parse(&bytes).unwrap()),
            vec!["Typeset with TeX, of course."]
        );
    }

    #[test]
    fn hyphenated_line_ends_are_joined_and_gaps_split_paragraphs() {
        let bytes = Pdf::new()
            .helvetica()
            .page(
                b"BT /F1 12 Tf 14 TL 72 720 Td (The infor-) Tj T* (mation is here.) Tj \
                  T* (A well-) Tj T* (Known name.) Tj \
                  0 -40 Td (Second paragraph) Tj (, same line.) ' ET",
            )
            .bytes();
        assert_eq!(
            texts(&parse(&bytes).unwrap()),
            vec![
                "The information is here. A well- Known name.",
                "Second paragraph , same line."
            ]
        );
    }

    #[test]
    fn a_change_of_font_size_starts_a_block() {
        let bytes = Pdf::new()
            .helvetica()
            .page(
                b"BT /F1 14 Tf 72 720 Td (Warranty) Tj /F1 11 Tf 0 -20 Td (Two years on grinders.) Tj \
                  0 -15 Td (Kettles too.) Tj ET",
            )
            .bytes();
        assert_eq!(
            texts(&parse(&bytes).unwrap()),
            vec!["Warranty", "Two years on grinders. Kettles too."]
        );
    }

    #[test]
    fn the_sample_brewing_guide_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-sources/brewing-guide.pdf");
        let doc = parse(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(doc.pages, Some(4));
        assert_eq!(
            doc.title.as_deref(),
            Some("Brisa Coffee Co. Brewing Guide & Equipment Care")
        );
        let find = |needle: &str| {
            doc.blocks
                .iter()
                .find(|b| b.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} not found"))
        };
        assert_eq!(
            find("15 g of coffee to 250 g of water at 94 °C")
                .location
                .page_start,
            Some(2)
        );
        assert_eq!(
            find("temperature control from 40–100 °C")
                .location
                .page_start,
            Some(1)
        );
        assert_eq!(
            find("once a month with citric acid").location.page_start,
            Some(3)
        );
        assert_eq!(find("2-year limited warranty").location.page_start, Some(4));
        assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    }

    #[test]
    fn pages_carry_their_numbers() {
        let bytes = Pdf::new()
            .helvetica()
            .page(&text_page("First page"))
            .page(&text_page("Second page"))
            .page(&text_page("Third page"))
            .bytes();
        let doc = parse(&bytes).unwrap();
        assert_eq!(doc.pages, Some(3));
        assert_eq!(texts(&doc), vec!["First page", "Second page", "Third page"]);
        for (i, b) in doc.blocks.iter().enumerate() {
            let n = i as u32 + 1;
            assert_eq!(
                (b.location.page_start, b.location.page_end),
                (Some(n), Some(n))
            );
            assert_eq!(b.location.to_string(), format!("p. {n}"));
        }
    }

    #[test]
    fn page_limit_rejects_or_truncates() {
        let bytes = Pdf::new()
            .helvetica()
            .page(&text_page("one"))
            .page(&text_page("two"))
            .page(&text_page("three"))
            .bytes();
        let reject = ParseOptions {
            max_pages: 2,
            on_limit: LimitPolicy::Reject,
            ..ParseOptions::default()
        };
        let err = PdfParser.parse(&bytes, &reject).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::TooManyPages));
        assert_eq!(
            err.to_string(),
            "too-many-pages: the pdf has 3 pages, over the limit of 2"
        );
        let truncate = ParseOptions {
            max_pages: 2,
            on_limit: LimitPolicy::Truncate,
            ..ParseOptions::default()
        };
        let doc = PdfParser.parse(&bytes, &truncate).unwrap();
        assert_eq!(texts(&doc), vec!["one", "two"]);
        assert_eq!(doc.pages, Some(3));
        assert_eq!(
            doc.warnings,
            vec!["truncated: kept the first 2 of 3 pages (limit max_pages)"]
        );
    }

    fn image() -> Stream {
        Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => 1, "Height" => 1,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            vec![0x80],
        )
    }

    #[test]
    fn image_pages_warn_and_image_only_files_are_refused() {
        let mut pdf = Pdf::new();
        pdf.helvetica();
        pdf.xobject("Im1", image());
        let bytes = pdf
            .page(&text_page("Cover letter"))
            .page(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
            .page(b"q 10 0 0 10 0 0 cm BI /W 1 /H 1 /CS /G /BPC 8 ID \x80 EI Q")
            .bytes();
        let doc = parse(&bytes).unwrap();
        assert_eq!(texts(&doc), vec!["Cover letter"]);
        assert_eq!(
            doc.warnings,
            vec![
                "page 2 has images but no text (scanned?)",
                "page 3 has images but no text (scanned?)"
            ]
        );

        let mut scan = Pdf::new();
        scan.xobject("Im1", image());
        let bytes = scan
            .page(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
            .page(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
            .bytes();
        let err = parse(&bytes).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::ImageOnly), "{err}");
        // No text and no images at all is simply empty.
        let bytes = Pdf::new().page(b"0 0 m 100 100 l S").bytes();
        assert_eq!(reason(parse(&bytes)), Reason::Empty);
    }

    #[test]
    fn form_xobjects_are_followed_and_cycles_skipped() {
        let mut pdf = Pdf::new();
        pdf.helvetica();
        // The form draws itself: the cycle must not recurse.
        let form = pdf.doc.new_object_id();
        let stream = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
                "Matrix" => vec![1.into(), 0.into(), 0.into(), 1.into(), 0.into(), (-100).into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "Fm1" => form } , "Font" => pdf.fonts.clone() },
            },
            b"BT /F1 12 Tf 72 720 Td (Inside the form) Tj ET /Fm1 Do".to_vec(),
        );
        pdf.doc.objects.insert(form, Object::Stream(stream));
        pdf.xobjects.set("Fm1", form);
        let bytes = pdf
            .page(b"BT /F1 12 Tf 72 720 Td (Before) Tj ET q /Fm1 Do Q")
            .bytes();
        assert_eq!(
            texts(&parse(&bytes).unwrap()),
            vec!["Before", "Inside the form"]
        );
    }

    fn with_limits(bytes: &[u8], f: impl FnOnce(&mut PdfLimits)) -> Result<Document> {
        let mut limits = PdfLimits::default();
        f(&mut limits);
        parse_with_limits(bytes, &ParseOptions::default(), &limits)
    }

    #[test]
    fn limits_give_named_reasons() {
        let mut pdf = Pdf::new();
        pdf.helvetica();
        let mut big = Stream::new(Dictionary::new(), text_page(&"many words ".repeat(2000)));
        big.compress().unwrap();
        let content = pdf.doc.add_object(big);
        let page = pdf.doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pdf.pages, "Contents" => content,
        });
        pdf.kids.push(page.into());
        let bytes = pdf.bytes();
        assert!(parse(&bytes).is_ok());

        let err = with_limits(&bytes, |l| l.max_objects = 3).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Malformed));
        assert!(err.to_string().contains("objects"), "{err}");

        let err = with_limits(&bytes, |l| l.max_stream_bytes = 1000).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Malformed));
        assert!(err.to_string().contains("max_stream_bytes"), "{err}");

        let err = with_limits(&bytes, |l| l.max_total_stream_bytes = 1000).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Malformed));
        assert!(err.to_string().contains("max_total_stream_bytes"), "{err}");

        let err = with_limits(&bytes, |l| l.timeout = Duration::ZERO).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::ParseTimeout), "{err}");

        let deep = Pdf::new().helvetica().page(&b"q ".repeat(50)).bytes();
        let err = with_limits(&deep, |l| l.max_nesting = 40).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Malformed));
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn form_nesting_deeper_than_the_limit_is_malformed() {
        let mut pdf = Pdf::new();
        pdf.helvetica();
        let mut inner: Option<ObjectId> = None;
        for level in 0..20 {
            let mut resources = dictionary! { "Font" => pdf.fonts.clone() };
            let content = match inner {
                Some(id) => {
                    resources.set("XObject", dictionary! { "Inner" => id });
                    b"/Inner Do".to_vec()
                }
                None => text_page(&format!("level {level}")),
            };
            let id = pdf.doc.add_object(Stream::new(
                dictionary! { "Type" => "XObject", "Subtype" => "Form", "Resources" => resources },
                content,
            ));
            inner = Some(id);
        }
        pdf.xobjects.set("Outer", inner.unwrap());
        let bytes = pdf.page(b"/Outer Do").bytes();
        let err = parse(&bytes).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::Malformed));
        assert_eq!(
            err.to_string(),
            "malformed: form xobjects nested deeper than 16 levels"
        );
        let doc = with_limits(&bytes, |l| l.max_form_depth = 32).unwrap();
        assert_eq!(texts(&doc), vec!["level 0"]);
    }

    fn encrypted(user_password: &str) -> Vec<u8> {
        let mut pdf = Pdf::new();
        pdf.helvetica().page(&text_page("Secret recipe"));
        let mut doc = pdf.build();
        doc.trailer.set(
            "ID",
            vec![
                Object::string_literal(b"0123456789abcdef".to_vec()),
                Object::string_literal(b"0123456789abcdef".to_vec()),
            ],
        );
        let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner-secret",
            user_password,
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        })
        .expect("encryption state");
        doc.encrypt(&state).expect("encrypt");
        save(doc)
    }

    #[test]
    fn encryption_with_empty_user_password_is_read_else_refused() {
        let open = encrypted("");
        assert!(String::from_utf8_lossy(&open).contains("/Encrypt"));
        assert_eq!(texts(&parse(&open).unwrap()), vec!["Secret recipe"]);
        let locked = encrypted("asdfzxcv");
        let err = parse(&locked).unwrap_err();
        assert_eq!(err.reason(), Some(Reason::PasswordProtected), "{err}");
    }

    #[test]
    fn truncated_and_garbage_files_are_corrupted() {
        assert_eq!(
            reason(parse(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")),
            Reason::Corrupted
        );
        let mut junk = b"%PDF-1.4\n".to_vec();
        let mut x = 0x9E37_79B9_u32;
        for _ in 0..8192 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk.push(x as u8);
        }
        assert_eq!(reason(parse(&junk)), Reason::Corrupted);

        // A file cut before its cross-reference table is rebuilt by scanning objects.
        let bytes = Pdf::new()
            .helvetica()
            .page(&text_page("Survives truncation"))
            .bytes();
        let xref = String::from_utf8_lossy(&bytes).rfind("xref").unwrap();
        let doc = parse(&bytes[..xref]).unwrap();
        assert_eq!(texts(&doc), vec!["Survives truncation"]);
        assert!(
            doc.warnings.iter().any(|w| w.contains("damaged")),
            "{:?}",
            doc.warnings
        );
    }

    #[test]
    fn mutated_files_never_panic() {
        let mut pdf = Pdf::new();
        type0_font(pdf.helvetica());
        pdf.xobject("Im1", image());
        let mut big = Stream::new(Dictionary::new(), text_page("compressed words here"));
        big.compress().unwrap();
        let content = pdf.doc.add_object(big);
        let page = pdf.doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pdf.pages, "Contents" => content,
        });
        pdf.kids.push(page.into());
        let seeds = vec![
            pdf.page(&text_page("plain words"))
                .page(b"BT /F2 10 Tf [<00010002> -300 <0003>] TJ ET /Im1 Do")
                .bytes(),
            encrypted(""),
            outlined_pdf(Some(true)),
        ];
        let mut x = 0x2545_F491_u32;
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize % n.max(1)
        };
        let mut outcomes: HashMap<String, usize> = HashMap::new();
        // More rounds for a longer run: LORE_FUZZ_ROUNDS=5000 cargo test --release …
        let rounds: usize = std::env::var("LORE_FUZZ_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(150);
        for seed in &seeds {
            for round in 0..rounds {
                let mut bytes = seed.clone();
                match round % 3 {
                    0 => bytes.truncate(rnd(bytes.len())),
                    1 => {
                        for _ in 0..1 + rnd(8) {
                            let i = rnd(bytes.len());
                            bytes[i] ^= 1 << rnd(8);
                        }
                    }
                    _ => {
                        let i = rnd(bytes.len());
                        let n = rnd(64);
                        bytes.splice(i..i, std::iter::repeat_n(b'(', n));
                    }
                }
                let outcome = match parse(&bytes) {
                    Ok(_) => "text".to_string(),
                    Err(e) => e.reason().map_or("internal".into(), |r| r.to_string()),
                };
                *outcomes.entry(outcome).or_default() += 1;
            }
        }
        assert!(!outcomes.contains_key("internal"), "{outcomes:?}");
        assert!(
            outcomes.get("text").copied().unwrap_or(0) > 0,
            "{outcomes:?}"
        );
    }
}
