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

mod content;
mod encoding;
mod font;
mod layout;
mod lexer;

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

/// The PDF parser (with the default [`PdfLimits`]).
pub struct PdfParser;

impl Parser for PdfParser {
    fn format(&self) -> Format {
        Format::Pdf
    }

    fn parse(&self, bytes: &[u8], opts: &ParseOptions) -> Result<Document> {
        parse_with_limits(bytes, opts, &PdfLimits::default())
    }
}

/// Shared state of one document's extraction: limits, the decompression budget, the font
/// cache and the deadline.
pub(crate) struct Ctx<'d> {
    doc: &'d PdfDoc,
    limits: &'d PdfLimits,
    deadline: Instant,
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
            deadline: started + limits.timeout,
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
        if Instant::now() > self.deadline {
            return Err(Error::rejected(
                Reason::ParseTimeout,
                format!(
                    "pdf text extraction took longer than {} s",
                    self.limits.timeout.as_secs_f32()
                ),
            ));
        }
        Ok(())
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

    let mut blocks = Vec::new();
    for (i, out) in outs.into_iter().enumerate() {
        let n = i as u32 + 1;
        for text in out.blocks {
            blocks.push(Block {
                heading_path: Vec::new(),
                text,
                kind: BlockKind::Paragraph,
                location: Location {
                    page_start: Some(n),
                    page_end: Some(n),
                    ..Default::default()
                },
            });
        }
    }
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

