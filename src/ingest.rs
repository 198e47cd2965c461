//! Ingest: run queued jobs through the pipeline and publish what they built.
//!
//! ```text
//! claim jobs ─► fetch ─► hash ─► parse ─► limit ─► chunk   (rayon, one job per task)
//!           ─► store originals + building versions ─► index documents ─► commit
//!           ─► one catalog transaction publishes every built version (active_version moves)
//! ```
//!
//! A job whose content equals its source's active version makes no version. A job that fails
//! records a failed version with its named reason; the active version is untouched, so the
//! source keeps serving and shows `stale`. Jobs run in batches so memory stays bounded on large
//! folders.

use crate::chunk::{chunk, Chunk};
use crate::config::{Config, LimitPolicy, SourceLimits};
use crate::embed::Embedder;
use crate::error::{Error, Reason, Result};
use crate::fetch::{fetch, Origin};
use crate::index::{IndexChunk, IndexWriterGuard, TextIndex};
use crate::lang::Lang;
use crate::parse::{self, Document};
use crate::progress::Progress;
use crate::store::blobs::{content_hash, BlobStore};
use crate::store::{
    Catalog, Failure, JobRow, NewChunk, PageRow, Publish, SourceKind, SourceRow, VersionStats,
};
use crate::vector::VectorStore;
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

/// What one job did to its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub source_id: i64,
    pub source_name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The outcome of one ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    /// A new version was built and is now active.
    Created {
        version: u32,
        chunks: u32,
        warnings: Vec<String>,
    },
    /// The content equals the active version's: nothing was built.
    Unchanged { version: u32 },
    /// The ingestion failed; a failed version records why. The active version (if any) still
    /// serves.
    Failed {
        version: u32,
        reason: String,
        message: String,
    },
}

/// The work of one job, done in parallel with others and without any lock.
enum Prepared {
    /// The source was removed after the job was queued.
    Gone,
    Unchanged {
        version: u32,
    },
    Failed {
        hash: Option<String>,
        bytes: u64,
        error: Error,
    },
    Built(Box<Built>),
}

struct Built {
    hash: String,
    /// The parsed format (`pdf`, `markdown`, …), or `catalog` for product catalogs.
    format: &'static str,
    title: Option<String>,
    lang: Option<Lang>,
    chunks: Vec<Chunk>,
    /// Per chunk (same order): structured fields as JSON and stock, for products.
    products: Vec<Option<(String, bool)>>,
    /// For websites: the pages the version is made of.
    pages: Vec<PageRow>,
    stats: VersionStats,
    warnings: Vec<String>,
}

/// Everything the pipeline needs from its knowledge base.
pub(crate) struct Context<'a> {
    pub kb_id: i64,
    pub catalog: &'a Catalog,
    pub index: &'a TextIndex,
    pub blobs: &'a BlobStore,
    pub config: &'a Config,
    /// The embed stage and the vector index; `None` when the engine is full-text only.
    pub semantic: Option<Semantic<'a>>,
}

/// The embedder and the knowledge base's vector store.
#[derive(Clone, Copy)]
pub(crate) struct Semantic<'a> {
    pub embedder: &'a dyn Embedder,
    pub vectors: &'a VectorStore,
}

/// The text a chunk is embedded as: its heading path gives the passage its context ("Returns ›
/// Refunds" says what "within 30 days" is about).
pub(crate) fn passage_text(heading_path: &[String], text: &str) -> String {
    if heading_path.is_empty() {
        text.to_string()
    } else {
        format!("{}\n{}", heading_path.join(" \u{203a} "), text)
    }
}

/// The texts the chunks of one version (in order, as `(heading path, text)`) are embedded as:
/// each chunk with its neighbours of the same section around it.
///
/// Why: a chunk is cut for citing and for the agent's context (1,000 characters by default),
/// which is often too little for an embedding to know what it is about — the second half of a
/// long answer rarely names its subject. Embedding the chunk together with the previous and
/// next chunk of its section (the model truncates at 512 tokens, so mostly the previous chunk,
/// the chunk, and the start of the next) raised vector nDCG@10 on the debfaq sets by 0.01–0.03
/// (mean 0.602 → 0.622; `examples/embed_dump.rs`). The stored text and citation stay the
/// chunk's own. Cost: a chunk of a multi-chunk section is embedded at up to 512 tokens instead
/// of ~250, about twice the time; one-chunk sections cost the same as before.
pub(crate) fn passage_texts(chunks: &[(&[String], &str)]) -> Vec<String> {
    (0..chunks.len())
        .map(|i| {
            let (path, text) = chunks[i];
            let same = |j: usize| chunks.get(j).filter(|(p, _)| *p == path).map(|c| c.1);
            let before = i.checked_sub(1).and_then(same);
            let after = same(i + 1);
            if before.is_none() && after.is_none() {
                return passage_text(path, text);
            }
            let mut window = String::with_capacity(text.len() * 3);
            for part in [before, Some(text), after].into_iter().flatten() {
                if !window.is_empty() {
                    window.push('\n');
                }
                window.push_str(part);
            }
            passage_text(path, &window)
        })
        .collect()
}

/// Embeds passages and writes them as the vector segment of `(source, version)`. Chunks whose
/// vector is empty (no characters to embed) are left out of the segment.
fn embed_segment(
    sem: Semantic<'_>,
    source_id: i64,
    version: u32,
    ids: &[i64],
    texts: &[String],
    progress: &dyn Progress,
) -> Result<()> {
    let mut kept_ids = Vec::with_capacity(ids.len());
    let mut kept = Vec::with_capacity(ids.len());
    // Batches keep the progress bar moving on large versions (e5 does ~20 chunks/s per core).
    for (id_batch, text_batch) in ids.chunks(EMBED_BATCH).zip(texts.chunks(EMBED_BATCH)) {
        let refs: Vec<&str> = text_batch.iter().map(String::as_str).collect();
        let vectors = sem.embedder.embed_passages(&refs)?;
        for (id, v) in id_batch.iter().zip(vectors) {
            if v.iter().map(|x| x * x).sum::<f32>() > 0.5 {
                kept_ids.push(*id);
                kept.push(v);
            }
        }
        progress.inc(id_batch.len() as u64);
    }
    sem.vectors
        .write_segment(source_id, version, &kept_ids, &kept)
}

/// Passages per embedding call (and per progress step).
const EMBED_BATCH: usize = 32;

/// Gives every served version that has no vector segment its vectors: versions built while the
/// engine had no embedder, or while the embedder failed, or for another model. Cached
/// passages cost nothing, so this is cheap after a model switch back.
fn backfill_vectors(ctx: &Context<'_>, progress: &dyn Progress) -> Result<()> {
    let Some(sem) = ctx.semantic else {
        return Ok(());
    };
    let have: std::collections::HashSet<(i64, u32)> = sem.vectors.segments()?.into_iter().collect();
    let missing: Vec<(i64, u32)> = ctx
        .catalog
        .served_pairs(ctx.kb_id)?
        .into_iter()
        .filter(|p| !have.contains(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut work = Vec::with_capacity(missing.len());
    let mut total = 0u64;
    for (source_id, version) in missing {
        let rows = ctx.catalog.chunks(source_id, version)?;
        total += rows.len() as u64;
        work.push((source_id, version, rows));
    }
    tracing::info!(
        versions = work.len(),
        chunks = total,
        "embedding versions that have no vectors yet"
    );
    progress.start(total, "embedding");
    for (source_id, version, rows) in work {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let parts: Vec<(&[String], &str)> = rows
            .iter()
            .map(|r| (r.heading_path.as_slice(), r.text.as_str()))
            .collect();
        let texts = passage_texts(&parts);
        if let Err(e) = embed_segment(sem, source_id, version, &ids, &texts, progress) {
            // Full-text search still serves the version; the next run tries again.
            tracing::warn!(source_id, version, error = %e, "could not embed a served version");
            break;
        }
    }
    progress.finish();
    Ok(())
}

/// Runs every queued job of the knowledge base. Holds the index writer (the ingest lock)
/// throughout, recovers what a crashed process left behind, and applies pending index
/// deletions at the end.
pub(crate) fn run_pending(ctx: &Context<'_>, progress: &dyn Progress) -> Result<Vec<IngestReport>> {
    let mut writer = ctx.index.writer()?;
    ctx.catalog.recover(ctx.kb_id)?;
    let total = ctx.catalog.queued_jobs(ctx.kb_id)?;
    progress.start(total as u64, "ingesting");
    let mut reports = Vec::new();
    loop {
        let jobs = ctx.catalog.claim_jobs(ctx.kb_id, ctx.config.batch_size)?;
        if jobs.is_empty() {
            break;
        }
        reports.extend(run_batch(ctx, &mut writer, &jobs, progress)?);
    }
    progress.finish();
    backfill_vectors(ctx, progress)?;
    apply_gc(ctx, &mut writer)?;
    Ok(reports)
}

/// Fills an empty index from the catalog (after a layout change, or a lost index folder).
pub(crate) fn rebuild_index(ctx: &Context<'_>) -> Result<usize> {
    let rows = ctx.catalog.index_rows(ctx.kb_id)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut writer = ctx.index.writer()?;
    for r in &rows {
        let title = match &r.title {
            Some(t) if t != &r.source_name => format!("{} {t}", r.source_name),
            _ => r.source_name.clone(),
        };
        let lang = r.language.clone().map(Lang);
        let in_stock = r.fields.as_deref().map(|json| {
            serde_json::from_str::<crate::parse::catalog::Product>(json)
                .map_or(true, |p| in_stock(&p))
        });
        writer.add(&IndexChunk {
            chunk_id: r.chunk_id,
            source_id: r.source_id,
            version: r.version,
            ord: r.ord,
            title: &title,
            lang: lang.as_ref(),
            heading_path: &r.heading_path,
            text: &r.text,
            location: &r.location,
            fields: r.fields.as_deref(),
            in_stock,
        })?;
    }
    writer.commit()?;
    tracing::info!(chunks = rows.len(), "index rebuilt from the catalog");
    Ok(rows.len())
}

/// Applies the catalog's pending index deletions, then drops blobs nothing refers to.
pub(crate) fn apply_gc(ctx: &Context<'_>, writer: &mut IndexWriterGuard<'_>) -> Result<()> {
    let pending = ctx.catalog.pending_gc(ctx.kb_id)?;
    if !pending.is_empty() {
        for (_, term) in &pending {
            writer.delete(term);
        }
        writer.commit()?;
        let ids: Vec<i64> = pending.iter().map(|(id, _)| *id).collect();
        ctx.catalog.done_gc(&ids)?;
        tracing::debug!(deleted = ids.len(), "index gc applied");
    }
    if let Some(sem) = ctx.semantic {
        // Segments of pruned, failed or removed versions (and never-published ones left by a
        // crash) go; the catalog's retained versions stay.
        let keep = ctx.catalog.retained_pairs(ctx.kb_id)?;
        let removed = sem.vectors.retain(&keep)?;
        if removed > 0 {
            tracing::debug!(removed, "vector segments removed");
        }
        // Small segments get merged graphs (see `vector::merged`). Not a reason to fail the
        // run: what was published is served either way, by the scan until this succeeds.
        if let Err(e) = sem.vectors.compact() {
            tracing::warn!(error = %e, "could not update the merged vector graphs");
        }
    }
    // Fewer, larger index segments search faster; not a reason to fail the run.
    if let Err(e) = writer.merge_small_segments() {
        tracing::warn!(error = %e, "could not merge index segments");
    }
    let live = ctx.catalog.live_blobs(ctx.kb_id)?;
    let removed = ctx.blobs.retain(&live)?;
    if removed > 0 {
        tracing::debug!(removed, "unreferenced originals removed");
    }
    Ok(())
}

fn run_batch(
    ctx: &Context<'_>,
    writer: &mut IndexWriterGuard<'_>,
    jobs: &[JobRow],
    progress: &dyn Progress,
) -> Result<Vec<IngestReport>> {
    // Sources are read before the parallel stage: the catalog connection is not shared
    // across rayon threads.
    let mut work = Vec::with_capacity(jobs.len());
    for job in jobs {
        let source = ctx.catalog.source(ctx.kb_id, job.source_id)?;
        let active_hash = match &source {
            Some(s) => ctx.catalog.active_hash(s.id)?,
            None => None,
        };
        work.push((job, source, active_hash));
    }
    let prepared: Vec<Prepared> = work
        .par_iter()
        .map(|(job, source, active_hash)| {
            let p = match source {
                None => Prepared::Gone,
                Some(s) => prepare(ctx, job, s, active_hash.as_deref()),
            };
            if let Some(s) = source {
                progress.message(&s.name);
            }
            progress.inc(1);
            p
        })
        .collect();

    // Serial: building versions and index documents.
    let mut building = Vec::new();
    let mut reports = Vec::new();
    for ((job, source, _), p) in work.iter().zip(prepared) {
        let Some(source) = source else {
            ctx.catalog.finish_job(job.id, None)?;
            continue;
        };
        match p {
            Prepared::Gone => {}
            Prepared::Unchanged { version } => {
                ctx.catalog.clear_error(source.id)?;
                ctx.catalog.finish_job(job.id, None)?;
                reports.push(report(source, Outcome::Unchanged { version }));
            }
            Prepared::Failed { hash, bytes, error } => {
                reports.push(fail(ctx, job, source, hash.as_deref(), bytes, &error)?);
            }
            Prepared::Built(built) => match write_version(ctx, writer, source, &built) {
                Ok((version_id, number, ids)) => {
                    building.push((job, source, built, version_id, number, ids))
                }
                Err(error) => reports.push(fail(
                    ctx,
                    job,
                    source,
                    Some(&built.hash),
                    built.stats.bytes,
                    &error,
                )?),
            },
        }
    }
    if building.is_empty() {
        return Ok(reports);
    }
    // The embed stage. A version is published once its vectors are written, so a hybrid
    // search never sees half of a version; meanwhile the previous version keeps serving. If
    // the embedder fails (a provider outage), the version is published anyway with a warning
    // and gets its vectors at a later run: fresh content matters more than its vectors.
    if let Some(sem) = ctx.semantic {
        let total: usize = building.iter().map(|b| b.5.len()).sum();
        progress.start(total as u64, "embedding");
        for (_, source, built, _, number, ids) in building.iter_mut() {
            let parts: Vec<(&[String], &str)> = built
                .chunks
                .iter()
                .map(|c| (c.heading_path.as_slice(), c.text.as_str()))
                .collect();
            let texts = passage_texts(&parts);
            progress.message(&source.name);
            if let Err(e) = embed_segment(sem, source.id, *number, ids, &texts, progress) {
                tracing::warn!(source = %source.name, error = %e, "published without vectors");
                built.warnings.push(format!(
                    "not embedded yet ({e}); full-text search serves it until its vectors are \
                     written at a later run"
                ));
            }
        }
        progress.finish();
    }
    // Durable in the index before the catalog points at it: a crash here leaves `building`
    // versions that the next writer marks failed and deletes.
    writer.commit()?;
    let publish: Vec<Publish> = building
        .iter()
        .map(|(_, _, b, version_id, _, _)| Publish {
            version_id: *version_id,
            stats: b.stats.clone(),
            warnings: b.warnings.clone(),
            title: b.title.clone(),
            language: b.lang.as_ref().map(|l| l.code().to_string()),
        })
        .collect();
    ctx.catalog
        .publish(ctx.kb_id, &publish, ctx.config.keep_versions)?;
    for (job, source, built, _, number, _) in building {
        ctx.catalog.finish_job(job.id, None)?;
        tracing::info!(source = %source.name, version = number, chunks = built.stats.chunks, "version published");
        reports.push(report(
            source,
            Outcome::Created {
                version: number,
                chunks: built.stats.chunks,
                warnings: built.warnings.clone(),
            },
        ));
    }
    Ok(reports)
}

fn report(source: &SourceRow, outcome: Outcome) -> IngestReport {
    IngestReport {
        source_id: source.id,
        source_name: source.name.clone(),
        outcome,
    }
}

/// Records a failed version and ends the job. A user-fault failure is a finished job (the
/// reason is on the source); our own fault marks the job failed too.
fn fail(
    ctx: &Context<'_>,
    job: &JobRow,
    source: &SourceRow,
    hash: Option<&str>,
    bytes: u64,
    error: &Error,
) -> Result<IngestReport> {
    let failure = Failure::from_error(error);
    if error.is_user_fault() {
        tracing::info!(source = %source.name, reason = %failure.reason, "ingestion refused: {}", failure.message);
    } else {
        tracing::error!(source = %source.name, "ingestion failed: {error}");
    }
    let version = ctx
        .catalog
        .record_failure(source.id, hash, bytes, &failure)?;
    let job_error = (!error.is_user_fault()).then(|| error.to_string());
    ctx.catalog.finish_job(job.id, job_error.as_deref())?;
    Ok(report(
        source,
        Outcome::Failed {
            version,
            reason: failure.reason,
            message: failure.message,
        },
    ))
}

/// Stores the original, creates the building version with its chunks, and adds the index
/// documents (not yet committed).
fn write_version(
    ctx: &Context<'_>,
    writer: &mut IndexWriterGuard<'_>,
    source: &SourceRow,
    built: &Built,
) -> Result<(i64, u32, Vec<i64>)> {
    let new_chunks: Vec<NewChunk<'_>> = built
        .chunks
        .iter()
        .zip(&built.products)
        .map(|(c, p)| NewChunk {
            ord: c.ord,
            heading_path: &c.heading_path,
            location: &c.location,
            text: &c.text,
            fields: p.as_ref().map(|(json, _)| json.as_str()),
        })
        .collect();
    let (version_id, number, ids) = ctx.catalog.begin_version(
        source.id,
        &built.hash,
        built.format,
        &new_chunks,
        &built.pages,
    )?;
    let title = match &built.title {
        Some(t) if t != &source.name => format!("{} {t}", source.name),
        _ => source.name.clone(),
    };
    for ((c, id), p) in built.chunks.iter().zip(&ids).zip(&built.products) {
        let id = *id;
        writer.add(&IndexChunk {
            chunk_id: id,
            source_id: source.id,
            version: number,
            ord: c.ord,
            title: &title,
            lang: built.lang.as_ref(),
            heading_path: &c.heading_path,
            text: &c.text,
            location: &c.location,
            fields: p.as_ref().map(|(json, _)| json.as_str()),
            in_stock: p.as_ref().map(|(_, in_stock)| *in_stock),
        })?;
    }
    Ok((version_id, number, ids))
}

/// Fetch, hash, parse, limit and chunk one job. Never panics on any input: a panic inside a
/// parser is caught and reported as a malformed file, so one bad file cannot stop a batch.
fn prepare(
    ctx: &Context<'_>,
    job: &JobRow,
    source: &SourceRow,
    active_hash: Option<&str>,
) -> Prepared {
    let limits = source.options.limits.apply(ctx.config.limits);
    if source.kind == SourceKind::Url {
        let declared = source.language.clone().map(Lang);
        return match web::build(ctx, source, active_hash, &limits, declared) {
            Ok(Some(built)) => Prepared::Built(Box::new(built)),
            Ok(None) => Prepared::Unchanged {
                version: source.active_version.unwrap_or(0),
            },
            Err(error) => Prepared::Failed {
                hash: None,
                bytes: 0,
                error,
            },
        };
    }
    let bytes = match read_origin(ctx, job, source, active_hash, &limits) {
        Ok(b) => b,
        Err(error) => {
            return Prepared::Failed {
                hash: None,
                bytes: 0,
                error,
            }
        }
    };
    let hash = content_hash(&bytes);
    if active_hash == Some(hash.as_str()) {
        return Prepared::Unchanged {
            version: source.active_version.unwrap_or(0),
        };
    }
    let name = source.name.clone();
    let declared = source.language.clone().map(Lang);
    let kind = source.kind;
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(ctx, &bytes, &name, kind, &limits, declared)
    }))
    .unwrap_or_else(|_| {
        Err(Error::rejected(
            Reason::Malformed,
            "the parser could not make sense of this file",
        ))
    });
    match parsed.and_then(|b| ctx.blobs.put(&bytes).map(|_| b)) {
        Ok(mut built) => {
            built.hash = hash;
            Prepared::Built(Box::new(built))
        }
        Err(error) => Prepared::Failed {
            hash: Some(hash),
            bytes: bytes.len() as u64,
            error,
        },
    }
}

fn read_origin(
    ctx: &Context<'_>,
    job: &JobRow,
    source: &SourceRow,
    active_hash: Option<&str>,
    limits: &SourceLimits,
) -> Result<Vec<u8>> {
    match source.kind {
        SourceKind::Url => Err(Error::Internal("a URL source is crawled, not read".into())),
        SourceKind::File | SourceKind::Catalog => match (&job.payload, &source.origin) {
            // An upload (the service): the job carries the new body as a blob.
            (Some(hash), _) => fetch(&Origin::Blob(hash), ctx.blobs, limits.max_bytes),
            (None, Some(origin)) => fetch(
                &Origin::File(Path::new(origin)),
                ctx.blobs,
                limits.max_bytes,
            ),
            // A sync of an upload re-reads what was uploaded: always "unchanged".
            (None, None) => {
                let hash = active_hash.ok_or_else(|| {
                    Error::rejected(Reason::OriginMissing, "the uploaded file has no body")
                })?;
                fetch(&Origin::Blob(hash), ctx.blobs, limits.max_bytes)
            }
        },
        SourceKind::Text => {
            // A text entry's origin is its stored body: the job's new body, else the active
            // one (a sync of a text entry is always "unchanged").
            let hash = job.payload.as_deref().or(active_hash).ok_or_else(|| {
                Error::rejected(Reason::OriginMissing, "the text entry has no body")
            })?;
            fetch(&Origin::Blob(hash), ctx.blobs, limits.max_bytes)
        }
    }
}

/// A product can be bought unless its catalog says it has no stock; a catalog without a stock
/// column does not make every product unavailable.
fn in_stock(p: &crate::parse::catalog::Product) -> bool {
    p.stock.is_none_or(|s| s > 0)
}

fn build(
    ctx: &Context<'_>,
    bytes: &[u8],
    name: &str,
    kind: SourceKind,
    limits: &SourceLimits,
    declared: Option<Lang>,
) -> Result<Built> {
    let opts = limits.parse_options();
    let mut products = Vec::new();
    let (format, doc) = if kind == SourceKind::Catalog {
        products = parse::catalog::parse_catalog(bytes, Some(name), opts.deadline())?;
        if products.is_empty() {
            return Err(Error::rejected(
                Reason::Empty,
                "the catalog lists no products",
            ));
        }
        ("catalog", parse::catalog::catalog_document(&products))
    } else {
        let (format, doc) = parse::parse(bytes, Some(name), &opts)?;
        (format.as_str(), doc)
    };
    assemble(
        ctx,
        format,
        doc,
        &products,
        bytes.len() as u64,
        limits,
        declared,
    )
}

/// Limits, chunks, links products and detects the language of a parsed document.
fn assemble(
    ctx: &Context<'_>,
    format: &'static str,
    mut doc: Document,
    products: &[crate::parse::catalog::Product],
    bytes: u64,
    limits: &SourceLimits,
    declared: Option<Lang>,
) -> Result<Built> {
    let total_chars = doc.char_count() as u64;
    let mut truncated = false;
    if total_chars > limits.max_chars {
        match limits.on_limit {
            LimitPolicy::Reject => {
                return Err(Error::rejected(
                    Reason::TooManyChars,
                    format!(
                        "{total_chars} characters is over the limit of {}",
                        limits.max_chars
                    ),
                ))
            }
            LimitPolicy::Truncate => {
                truncate(&mut doc, limits.max_chars as usize);
                truncated = true;
                doc.warnings.push(format!(
                    "truncated: kept the first {} of {total_chars} characters (limit max_chars)",
                    limits.max_chars
                ));
            }
        }
    }
    let chunks = chunk(&doc, &ctx.config.chunk);
    if chunks.is_empty() {
        return Err(Error::rejected(Reason::Empty, "no text left to index"));
    }
    // Each product is its own section, so every chunk belongs to exactly one product; the
    // product's row in the catalog links them.
    let chunk_products = chunks
        .iter()
        .map(|c| {
            let p = products.iter().find(|p| {
                p.row.is_some() && p.row == c.location.row_start
                    || p.row.is_none() && c.heading_path.first() == Some(&p.name)
            })?;
            let json = serde_json::to_string(p).ok()?;
            Some((json, in_stock(p)))
        })
        .collect();
    let lang = declared.or_else(|| {
        let sample: String = chunks
            .iter()
            .map(|c| c.text.as_str())
            .take(8)
            .collect::<Vec<_>>()
            .join("\n");
        crate::lang::detect_document(&sample)
    });
    Ok(Built {
        hash: String::new(),
        format,
        title: doc.title.clone(),
        lang,
        pages: Vec::new(),
        stats: VersionStats {
            bytes,
            chars: doc.char_count() as u64,
            chunks: chunks.len() as u32,
            pages: doc.pages,
            truncated,
        },
        chunks,
        products: chunk_products,
        warnings: doc.warnings,
    })
}

/// Keeps the first `max_chars` characters of the document, cutting the last block between
/// words where possible.
fn truncate(doc: &mut Document, max_chars: usize) {
    let mut left = max_chars;
    let mut keep = 0;
    for block in &mut doc.blocks {
        let len = block.text.chars().count();
        if len <= left {
            left -= len;
            keep += 1;
            continue;
        }
        if left > 0 {
            let cut: String = block.text.chars().take(left).collect();
            let cut = match cut.rfind(char::is_whitespace) {
                Some(i) if i > cut.len() / 2 => cut[..i].trim_end().to_string(),
                _ => cut,
            };
            block.text = cut;
            keep += 1;
        }
        break;
    }
    doc.blocks.truncate(keep);
}

/// Website sources: crawl with the previous version's validators, keep what did not change,
/// and build the version from every page's content.
mod web {
    use super::*;
    use crate::fetch::{crawl_blocking, CrawlRequest, PageOutcome, PriorPage};
    use crate::store::blobs::content_hash;
    use std::collections::HashMap;

    /// `Ok(None)` when every page is as in the active version (a re-sync of an unchanged site
    /// makes no version and parses nothing).
    pub(super) fn build(
        ctx: &Context<'_>,
        source: &SourceRow,
        active_hash: Option<&str>,
        limits: &SourceLimits,
        declared: Option<Lang>,
    ) -> Result<Option<Built>> {
        let origin = source.origin.as_deref().unwrap_or_default();
        let root = url::Url::parse(origin)
            .map_err(|e| Error::invalid(format!("{origin:?} is not a URL: {e}")))?;
        let web = source.options.web.clone().unwrap_or_default();
        let req = CrawlRequest {
            root,
            with_children: web.with_children,
            max_pages: web.max_pages,
            max_depth: web.max_depth,
            include: web.include,
            exclude: web.exclude,
        };
        let previous: Vec<PageRow> = match source.active_version {
            Some(v) => ctx.catalog.pages(source.id, v)?,
            None => Vec::new(),
        };
        let mut prior = HashMap::new();
        for p in &previous {
            let body = p
                .content_hash
                .as_deref()
                .and_then(|h| ctx.blobs.get(h).ok());
            prior.insert(
                p.url.clone(),
                PriorPage {
                    url: p.url.clone(),
                    etag: p.etag.clone(),
                    last_modified: p.last_modified.clone(),
                    body,
                },
            );
        }
        let crawl = crawl_blocking(&req, &ctx.config.web, &prior, &crate::NoProgress)?;
        let mut warnings = crawl.warnings.clone();
        let mut pages: Vec<PageRow> = Vec::new();
        for (i, page) in crawl.pages.iter().enumerate() {
            let url = page.url.to_string();
            let kept = previous.iter().find(|p| p.url == url);
            match &page.outcome {
                PageOutcome::Fetched {
                    content_type,
                    body,
                    etag,
                    last_modified,
                    ..
                } => {
                    if crate::fetch::http::is_html_type(content_type) {
                        if let Err(e) = crate::fetch::check_html_page(body) {
                            if i == 0 {
                                return Err(e);
                            }
                            warnings.push(format!("{url}: {e}"));
                            continue;
                        }
                    }
                    pages.push(PageRow {
                        url,
                        content_hash: Some(ctx.blobs.put(body)?),
                        content_type: Some(content_type.clone()),
                        etag: etag.clone(),
                        last_modified: last_modified.clone(),
                        note: None,
                    });
                }
                PageOutcome::NotModified => match kept {
                    Some(k) => pages.push(k.clone()),
                    None => warnings.push(format!("{url}: not modified, but no previous copy")),
                },
                PageOutcome::Failed { reason, message } => {
                    let note = format!("{reason}: {message}");
                    match kept {
                        Some(k) => {
                            warnings.push(format!("{url}: {note}; kept its previous content"));
                            pages.push(PageRow {
                                note: Some(format!("kept previous content ({note})")),
                                ..k.clone()
                            });
                        }
                        None => warnings.push(format!("{url}: {note}; skipped")),
                    }
                }
            }
        }
        if pages.is_empty() {
            return Err(Error::rejected(
                Reason::Empty,
                "no page of the site had content",
            ));
        }
        // The version's content hash covers every page's URL and content, so an unchanged
        // site is recognised without parsing anything.
        let mut listing: Vec<String> = pages
            .iter()
            .map(|p| format!("{}\0{}", p.url, p.content_hash.as_deref().unwrap_or("")))
            .collect();
        listing.sort();
        let hash = content_hash(listing.join("\n").as_bytes());
        if active_hash == Some(hash.as_str()) {
            return Ok(None);
        }
        let opts = limits.parse_options();
        let mut doc = Document::default();
        let mut bytes = 0u64;
        let multi = pages.len() > 1;
        for (i, p) in pages.iter().enumerate() {
            let Some(h) = &p.content_hash else { continue };
            let body = ctx.blobs.get(h)?;
            bytes += body.len() as u64;
            let name = url::Url::parse(&p.url)
                .ok()
                .and_then(|u| u.path_segments()?.next_back().map(str::to_string))
                .filter(|n| !n.is_empty());
            match parse::parse(&body, name.as_deref(), &opts) {
                Ok((_, page_doc)) => {
                    if i == 0 {
                        doc.title.clone_from(&page_doc.title);
                    }
                    for mut b in page_doc.blocks {
                        b.location.url = Some(p.url.clone());
                        // On a multi-page site the page's title says which page a passage is
                        // from when its own headings do not.
                        if multi {
                            if let Some(t) = &page_doc.title {
                                if b.heading_path.first() != Some(t) {
                                    b.heading_path.insert(0, t.clone());
                                }
                            }
                        }
                        doc.blocks.push(b);
                    }
                    doc.warnings.extend(
                        page_doc
                            .warnings
                            .into_iter()
                            .map(|w| format!("{}: {w}", p.url)),
                    );
                }
                Err(e) if i == 0 => return Err(e),
                Err(e) => warnings.push(format!("{}: {e}; skipped", p.url)),
            }
        }
        doc.pages = Some(pages.len() as u32);
        doc.warnings.extend(warnings);
        let mut built = assemble(ctx, "web", doc, &[], bytes, limits, declared)?;
        built.hash = hash;
        built.pages = pages;
        Ok(Some(built))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Block, BlockKind, Location};

    #[test]
    fn chunks_are_embedded_with_their_neighbours_in_the_same_section() {
        let faq = vec!["FAQ".to_string()];
        let other = vec!["Shipping".to_string()];
        let parts: Vec<(&[String], &str)> = vec![
            (&faq, "a1"),
            (&faq, "a2"),
            (&faq, "a3"),
            (&other, "b1"),
            (&[], "c1"),
        ];
        let texts = passage_texts(&parts);
        assert_eq!(
            texts,
            vec![
                "FAQ\na1\na2".to_string(),
                "FAQ\na1\na2\na3".to_string(),
                "FAQ\na2\na3".to_string(),
                // Alone in its section: the chunk as it is.
                "Shipping\nb1".to_string(),
                "c1".to_string(),
            ]
        );
    }

    #[test]
    fn truncate_keeps_a_prefix_within_the_limit() {
        let block = |t: &str| Block {
            heading_path: vec![],
            text: t.into(),
            kind: BlockKind::Paragraph,
            location: Location::default(),
        };
        let mut doc = Document {
            blocks: vec![
                block("one two three"),
                block("four five six seven"),
                block("eight"),
            ],
            ..Default::default()
        };
        truncate(&mut doc, 22);
        assert_eq!(doc.blocks.len(), 2);
        assert_eq!(doc.blocks[1].text, "four five");
        assert!(doc.char_count() <= 22);
    }
}
