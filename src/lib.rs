//! lore — a knowledge-source ingestion and retrieval engine.
//!
//! Admins give an AI agent its knowledge as *sources* (files, text entries, …); lore fetches,
//! parses and chunks them into immutable *versions*, indexes the chunks, and answers questions
//! with ranked, cited passages. The catalog decides which version of each source is served, so
//! a failed update never removes the last good version.
//!
//! The pipeline has one module per stage, named after its verb: [`fetch`], [`parse`],
//! [`chunk`], [`index`], [`store`], [`ingest`] (runs the stages and publishes) and
//! [`retrieve`]. Start with [`Lore::open`] and [`Lore::kb`].

pub mod bench;
pub mod chunk;
pub mod config;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fetch;
pub mod index;
pub mod ingest;
pub mod lang;
pub mod mcp;
pub mod parse;
pub mod progress;
pub mod retrieve;
pub mod serve;
pub mod store;
pub mod vector;

pub use config::{ChunkConfig, Config, LimitOverrides, LimitPolicy, SourceLimits};
pub use error::{Error, Reason, Result};
pub use ingest::{IngestReport, Outcome};
pub use progress::{NoProgress, Progress};
pub use retrieve::{Fusion, Hit, SearchMode, SearchOptions, SearchResults};
pub use store::{
    AgentRow, SourceFilter, SourceKind, SourceRow, SourceStatus, VersionRow, VersionState,
};

use embed::Embedder;
use index::TextIndex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use store::blobs::BlobStore;
use store::{Catalog, KbRow, SourceOptions};
use vector::VectorStore;

/// An engine over one data folder: the catalog, and one index and blob store per knowledge
/// base.
///
/// Layout of the data folder:
/// ```text
/// catalog.db            SQLite catalog (WAL)
/// lore.toml             optional configuration
/// kbs/<id>/index/       tantivy index of the knowledge base
/// kbs/<id>/blobs/       originals by SHA-256
/// ```
pub struct Lore {
    root: PathBuf,
    config: Config,
    catalog: Catalog,
    indexes: Mutex<HashMap<i64, Arc<TextIndex>>>,
    /// The embedder of semantic search, behind the persistent cache; `None`: full-text only.
    embedder: Option<Arc<dyn Embedder>>,
    vectors: Mutex<HashMap<i64, Arc<VectorStore>>>,
}

impl Lore {
    /// Opens the data folder (creating it if needed) with its `lore.toml` configuration.
    pub fn open(root: impl AsRef<Path>) -> Result<Lore> {
        let root = root.as_ref();
        std::fs::create_dir_all(root)
            .map_err(|e| Error::storage(format!("creating {}", root.display()), e))?;
        let config = Config::load(root)?;
        Self::open_with(root, config)
    }

    /// Opens the data folder with an explicit configuration (tests, embedding applications).
    pub fn open_with(root: impl AsRef<Path>, config: Config) -> Result<Lore> {
        config.validate()?;
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::storage(format!("creating {}", root.display()), e))?;
        let catalog = Catalog::open(&root.join("catalog.db"))?;
        Ok(Lore {
            root,
            config,
            catalog,
            indexes: Mutex::new(HashMap::new()),
            embedder: None,
            vectors: Mutex::new(HashMap::new()),
        })
    }

    /// Turns on semantic (vector and hybrid) search with `embedder`. Passage vectors are cached
    /// in `embeddings.db` by (model, text), so re-embedding unchanged chunks costs nothing.
    /// Versions built without vectors (before an embedder was set, or while it failed) get
    /// theirs at the next ingestion run of their knowledge base.
    pub fn with_embedder(self, embedder: Arc<dyn Embedder>) -> Result<Lore> {
        let path = self.root.join("embeddings.db");
        self.with_embedder_cached_at(embedder, &path)
    }

    /// [`Lore::with_embedder`] with the passage cache in another file (shared by throwaway
    /// data folders, such as `lore eval`'s, so reruns embed nothing).
    pub fn with_embedder_cached_at(
        mut self,
        embedder: Arc<dyn Embedder>,
        cache: &Path,
    ) -> Result<Lore> {
        let cache = embed::EmbeddingCache::open(cache)?;
        self.embedder = Some(Arc::new(embed::CachedEmbedder::new(embedder, cache)));
        self.vectors = Mutex::new(HashMap::new());
        Ok(self)
    }

    /// The embedder in use, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// The knowledge base `name`, created on first use.
    pub fn kb(&self, name: &str) -> Result<KnowledgeBase<'_>> {
        validate_kb_name(name)?;
        let row = match self.catalog.kb(name)? {
            Some(row) => row,
            None => self.catalog.kb_create(name)?,
        };
        self.open_kb(row)
    }

    /// The knowledge base `name` if it exists. The service uses this: a request must never
    /// create a knowledge base by naming it.
    pub fn existing_kb(&self, name: &str) -> Result<Option<KnowledgeBase<'_>>> {
        match self.catalog.kb(name)? {
            Some(row) => self.open_kb(row).map(Some),
            None => Ok(None),
        }
    }

    /// Creates the knowledge base `name`; refuses a name that is taken.
    pub fn create_kb(&self, name: &str) -> Result<KnowledgeBase<'_>> {
        validate_kb_name(name)?;
        if self.catalog.kb(name)?.is_some() {
            return Err(Error::rejected(
                Reason::AlreadyExists,
                format!("knowledge base {name:?} already exists"),
            ));
        }
        let row = self.catalog.kb_create(name)?;
        self.open_kb(row)
    }

    fn open_kb(&self, row: KbRow) -> Result<KnowledgeBase<'_>> {
        let dir = self.root.join("kbs").join(row.id.to_string());
        let blobs = BlobStore::new(dir.join("blobs"));
        let vectors = match &self.embedder {
            None => None,
            Some(e) => {
                let mut map = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
                match map.get(&row.id) {
                    Some(v) => Some(v.clone()),
                    None => {
                        // One folder per model: vectors of different models never mix, and
                        // switching back to a model finds its vectors still there.
                        let folder = dir.join("vectors").join(model_folder(e.model_id()));
                        let store = Arc::new(VectorStore::open(folder, e.dim())?);
                        map.insert(row.id, store.clone());
                        Some(store)
                    }
                }
            }
        };
        let mut map = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = map.get(&row.id) {
            return Ok(KnowledgeBase {
                lore: self,
                row,
                index: index.clone(),
                vectors,
                blobs,
            });
        }
        let (index, fresh) = TextIndex::open(&dir.join("index"))?;
        let kb = KnowledgeBase {
            lore: self,
            row,
            index: Arc::new(index),
            vectors,
            blobs,
        };
        if fresh {
            ingest::rebuild_index(&kb.ctx())?;
        }
        map.insert(kb.row.id, kb.index.clone());
        Ok(kb)
    }
}

/// A file-system-safe folder name for a model id (`http:text-embedding-3-small`).
fn model_folder(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Knowledge base names become part of URLs and paths: keep them plain.
fn validate_kb_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "knowledge base name {name:?} must be 1-64 letters, digits, '-' or '_'"
        )))
    }
}

/// Options for adding sources.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Limits for these sources, overriding the configuration's defaults.
    pub limits: LimitOverrides,
    /// The files are product catalogs ([`SourceKind::Catalog`]).
    pub catalog: bool,
    /// How URLs are crawled (children, limits, patterns); the defaults when `None`.
    pub web: Option<store::WebOptions>,
    /// Re-sync these sources automatically at this interval (`sync --due`).
    pub sync_every_secs: Option<u64>,
    /// Topic tags given to the sources (replacing earlier ones when not empty).
    pub tags: Vec<String>,
    /// The sources' declared language (otherwise detected).
    pub language: Option<String>,
}

/// A source with its versions, as `lore show` presents it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceDetail {
    #[serde(flatten)]
    pub source: SourceRow,
    pub status: SourceStatus,
    pub versions: Vec<VersionRow>,
    /// For websites: the pages of the active version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<store::PageRow>,
}

/// `(source name, score)` per chunk, best first (see [`KnowledgeBase::raw_rankings`]).
pub type RawRanking = Vec<(String, f32)>;

/// One knowledge base: the unit of isolation. Every operation is scoped to it.
pub struct KnowledgeBase<'a> {
    lore: &'a Lore,
    row: KbRow,
    index: Arc<TextIndex>,
    /// `None` when the engine has no embedder.
    vectors: Option<Arc<VectorStore>>,
    blobs: BlobStore,
}

impl KnowledgeBase<'_> {
    pub fn id(&self) -> i64 {
        self.row.id
    }

    pub fn name(&self) -> &str {
        &self.row.name
    }

    /// The catalog, for what has no method here (the service's keys, quotas and jobs).
    pub fn catalog(&self) -> &Catalog {
        &self.lore.catalog
    }

    fn ctx(&self) -> ingest::Context<'_> {
        ingest::Context {
            kb_id: self.row.id,
            catalog: &self.lore.catalog,
            index: &self.index,
            blobs: &self.blobs,
            config: &self.lore.config,
            semantic: match (&self.lore.embedder, &self.vectors) {
                (Some(e), Some(v)) => Some(ingest::Semantic {
                    embedder: e.as_ref(),
                    vectors: v,
                }),
                _ => None,
            },
        }
    }

    /// Adds files and folders (recursively; hidden files are skipped) and ingests them.
    /// A path already added is synced instead. Paths that do not exist are refused before
    /// anything is queued.
    pub fn add_paths(
        &self,
        paths: &[PathBuf],
        opts: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<IngestReport>> {
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        let mut urls: Vec<String> = Vec::new();
        for p in paths {
            let text = p.to_string_lossy();
            if text.starts_with("http://") || text.starts_with("https://") {
                let url = url::Url::parse(&text)
                    .map_err(|e| Error::invalid(format!("{text:?} is not a URL: {e}")))?;
                urls.push(url.to_string());
                continue;
            }
            let abs = std::fs::canonicalize(p).map_err(|e| {
                Error::rejected(Reason::OriginMissing, format!("{}: {e}", p.display()))
            })?;
            if abs.is_dir() {
                for entry in walkdir::WalkDir::new(&abs)
                    .follow_links(false)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()))
                {
                    let entry = entry.map_err(|e| {
                        Error::rejected(
                            Reason::Unreadable,
                            format!("walking {}: {e}", abs.display()),
                        )
                    })?;
                    if entry.file_type().is_file() {
                        let rel = entry
                            .path()
                            .strip_prefix(&abs)
                            .unwrap_or(entry.path())
                            .to_string_lossy()
                            .into_owned();
                        files.push((entry.path().to_path_buf(), rel));
                    }
                }
            } else {
                let name = abs
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| abs.to_string_lossy().into_owned());
                files.push((abs, name));
            }
        }
        let catalog = &self.lore.catalog;
        let options = SourceOptions {
            limits: opts.limits,
            web: None,
            sync_every_secs: opts.sync_every_secs,
        };
        let url_options = SourceOptions {
            web: Some(opts.web.clone().unwrap_or_default()),
            ..options.clone()
        };
        for url in &urls {
            let id = match catalog.source_by_origin(self.row.id, SourceKind::Url, url)? {
                Some(s) => {
                    catalog.source_set_options(s.id, &url_options)?;
                    s.id
                }
                None => catalog.source_insert(
                    self.row.id,
                    SourceKind::Url,
                    url,
                    Some(url),
                    &url_options,
                )?,
            };
            self.apply_labels(id, opts)?;
            catalog.enqueue(self.row.id, id, None)?;
        }
        let kind = if opts.catalog {
            SourceKind::Catalog
        } else {
            SourceKind::File
        };
        for (path, name) in &files {
            let origin = path.to_string_lossy();
            let id = match catalog.source_by_origin(self.row.id, kind, &origin)? {
                Some(s) => {
                    if opts.limits != LimitOverrides::default() || opts.sync_every_secs.is_some() {
                        catalog.source_set_options(s.id, &options)?;
                    }
                    s.id
                }
                None => catalog.source_insert(self.row.id, kind, name, Some(&origin), &options)?,
            };
            self.apply_labels(id, opts)?;
            catalog.enqueue(self.row.id, id, None)?;
        }
        tracing::info!(kb = %self.row.name, files = files.len(), "queued files");
        self.run_pending(progress)
    }

    /// Adds a text entry, or updates the text entry with the same title.
    pub fn add_text(
        &self,
        title: &str,
        body: &str,
        opts: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<IngestReport> {
        let id = self.queue_text(title, body, opts)?;
        let reports = self.run_pending(progress)?;
        reports
            .into_iter()
            .rev()
            .find(|r| r.source_id == id)
            .ok_or_else(|| Error::Internal("the text entry's job did not run".into()))
    }

    /// Adds or updates many `(title, body)` text entries in one ingestion run (one index commit
    /// per batch rather than per entry).
    pub fn add_texts(
        &self,
        entries: &[(String, String)],
        opts: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<IngestReport>> {
        for (title, body) in entries {
            self.queue_text(title, body, opts)?;
        }
        self.run_pending(progress)
    }

    /// Stores the body and queues the ingestion of the text entry titled `title`.
    pub fn queue_text(&self, title: &str, body: &str, opts: &AddOptions) -> Result<i64> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::invalid("a text entry needs a title"));
        }
        let catalog = &self.lore.catalog;
        let existing: Vec<SourceRow> = catalog
            .sources_by_name(self.row.id, title)?
            .into_iter()
            .filter(|s| s.kind == SourceKind::Text)
            .collect();
        let options = SourceOptions {
            limits: opts.limits,
            ..SourceOptions::default()
        };
        let id = match existing.as_slice() {
            [s] => s.id,
            [] => catalog.source_insert(self.row.id, SourceKind::Text, title, None, &options)?,
            _ => {
                return Err(Error::invalid(format!(
                    "several text entries are titled {title:?}"
                )))
            }
        };
        self.apply_labels(id, opts)?;
        let hash = self.blobs.put(body.as_bytes())?;
        catalog.enqueue(self.row.id, id, Some(&hash))?;
        Ok(id)
    }

    /// Stores an uploaded file and queues its ingestion without running it (the service's
    /// workers run the queue). A file uploaded again under the same name updates that source.
    /// Uploads have no origin on disk: their body is a blob, like a text entry's.
    pub fn queue_upload(&self, name: &str, bytes: &[u8], opts: &AddOptions) -> Result<i64> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("an uploaded file needs a name"));
        }
        let kind = if opts.catalog {
            SourceKind::Catalog
        } else {
            SourceKind::File
        };
        let catalog = &self.lore.catalog;
        let existing: Vec<SourceRow> = catalog
            .sources_by_name(self.row.id, name)?
            .into_iter()
            .filter(|s| s.kind == kind && s.origin.is_none())
            .collect();
        let options = SourceOptions {
            limits: opts.limits,
            ..SourceOptions::default()
        };
        let id = match existing.as_slice() {
            [s] => s.id,
            [] => catalog.source_insert(self.row.id, kind, name, None, &options)?,
            _ => {
                return Err(Error::invalid(format!(
                    "several uploaded files are named {name:?}"
                )))
            }
        };
        self.apply_labels(id, opts)?;
        let hash = self.blobs.put(bytes)?;
        catalog.enqueue(self.row.id, id, Some(&hash))?;
        Ok(id)
    }

    /// Adds (or updates the options of) a URL source and queues its crawl without running it.
    pub fn queue_url(&self, url: &str, opts: &AddOptions) -> Result<i64> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::invalid(format!("{url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::invalid(format!("{url:?} is not an http(s) URL")));
        }
        let url = parsed.to_string();
        let catalog = &self.lore.catalog;
        let options = SourceOptions {
            limits: opts.limits,
            web: Some(opts.web.clone().unwrap_or_default()),
            sync_every_secs: opts.sync_every_secs,
        };
        let id = match catalog.source_by_origin(self.row.id, SourceKind::Url, &url)? {
            Some(s) => {
                catalog.source_set_options(s.id, &options)?;
                s.id
            }
            None => {
                catalog.source_insert(self.row.id, SourceKind::Url, &url, Some(&url), &options)?
            }
        };
        self.apply_labels(id, opts)?;
        catalog.enqueue(self.row.id, id, None)?;
        Ok(id)
    }

    /// Queues a re-read of one source without running it.
    pub fn queue_sync(&self, key: &str) -> Result<i64> {
        let id = self.source(key)?.id;
        self.lore.catalog.enqueue(self.row.id, id, None)?;
        Ok(id)
    }

    /// Bytes of stored originals (what the storage quota measures).
    pub fn storage_bytes(&self) -> Result<u64> {
        self.blobs.total_bytes()
    }

    /// Gives a source the tags and language of `opts`, when they name any.
    fn apply_labels(&self, source_id: i64, opts: &AddOptions) -> Result<()> {
        if !opts.tags.is_empty() {
            self.lore.catalog.set_tags(source_id, &opts.tags)?;
        }
        if let Some(l) = &opts.language {
            self.lore.catalog.set_language(source_id, Some(l))?;
        }
        Ok(())
    }

    /// Replaces a source's topic tags.
    pub fn set_tags(&self, key: &str, tags: &[String]) -> Result<SourceRow> {
        let source = self.source(key)?;
        self.lore.catalog.set_tags(source.id, tags)?;
        self.source(&source.id.to_string())
    }

    /// Declares a source's language (`None`: go back to the detected one).
    pub fn set_language(&self, key: &str, language: Option<&str>) -> Result<SourceRow> {
        let source = self.source(key)?;
        self.lore.catalog.set_language(source.id, language)?;
        self.source(&source.id.to_string())
    }

    /// Creates an agent: a consumer that sees only the sources linked to it.
    pub fn create_agent(&self, name: &str) -> Result<AgentRow> {
        self.lore.catalog.agent_create(self.row.id, name)
    }

    pub fn agents(&self) -> Result<Vec<AgentRow>> {
        self.lore.catalog.agents(self.row.id)
    }

    /// An agent by id or name.
    pub fn agent(&self, key: &str) -> Result<AgentRow> {
        self.lore.catalog.resolve_agent(self.row.id, key)
    }

    /// Renames an agent; its links and keys stay with it.
    pub fn rename_agent(&self, key: &str, name: &str) -> Result<AgentRow> {
        let a = self.agent(key)?;
        self.lore.catalog.agent_rename(self.row.id, a.id, name)?;
        self.agent(&a.id.to_string())
    }

    /// Deletes an agent, its links and its API keys; the sources stay in the library.
    /// Returns the deleted agent and how many keys were revoked.
    pub fn delete_agent(&self, key: &str) -> Result<(AgentRow, usize)> {
        let a = self.agent(key)?;
        let keys = self.lore.catalog.agent_delete(self.row.id, a.id)?;
        tracing::info!(agent = a.id, name = %a.name, keys, "agent deleted");
        Ok((a, keys))
    }

    /// Links a source to an agent (a source can serve many agents).
    pub fn link(&self, agent: &str, source: &str) -> Result<AgentRow> {
        self.set_link(agent, source, true)
    }

    /// Unlinks a source from an agent; the source stays in the library.
    pub fn unlink(&self, agent: &str, source: &str) -> Result<AgentRow> {
        self.set_link(agent, source, false)
    }

    fn set_link(&self, agent: &str, source: &str, linked: bool) -> Result<AgentRow> {
        let a = self.agent(agent)?;
        let s = self.source(source)?;
        self.lore.catalog.agent_link(a.id, s.id, linked)?;
        self.agent(&a.id.to_string())
    }

    /// Re-reads the origins of the given sources and ingests what changed.
    pub fn sync(&self, keys: &[String], progress: &dyn Progress) -> Result<Vec<IngestReport>> {
        let mut ids = Vec::new();
        for key in keys {
            ids.push(self.source(key)?.id);
        }
        for id in ids {
            self.lore.catalog.enqueue(self.row.id, id, None)?;
        }
        self.run_pending(progress)
    }

    /// Re-reads every source of the knowledge base.
    pub fn sync_all(&self, progress: &dyn Progress) -> Result<Vec<IngestReport>> {
        for s in self.sources()? {
            self.lore.catalog.enqueue(self.row.id, s.id, None)?;
        }
        self.run_pending(progress)
    }

    /// Re-syncs the sources whose automatic re-sync interval has passed.
    pub fn sync_due(&self, progress: &dyn Progress) -> Result<Vec<IngestReport>> {
        for id in self.lore.catalog.due_sources(self.row.id, store::now())? {
            self.lore.catalog.enqueue(self.row.id, id, None)?;
        }
        self.run_pending(progress)
    }

    /// The pages of a website source's version (the active one when `version` is `None`).
    pub fn pages(&self, key: &str, version: Option<u32>) -> Result<Vec<store::PageRow>> {
        let source = self.source(key)?;
        let Some(v) = version.or(source.active_version) else {
            return Ok(Vec::new());
        };
        self.lore.catalog.pages(source.id, v)
    }

    /// Runs queued jobs (including those left by a process that stopped).
    pub fn run_pending(&self, progress: &dyn Progress) -> Result<Vec<IngestReport>> {
        let reports = ingest::run_pending(&self.ctx(), progress)?;
        self.meter_ingestion(&reports)?;
        Ok(reports)
    }

    /// Counts what ingestion did in today's usage (billing and capacity planning).
    fn meter_ingestion(&self, reports: &[IngestReport]) -> Result<()> {
        let usage = self.ingestion_usage(reports)?;
        self.lore.catalog.usage_add(self.row.id, &usage)
    }

    /// What ingestion runs did, as usage: every job that parsed (built or failed a version),
    /// the pages and chunks of built versions.
    pub fn ingestion_usage(&self, reports: &[IngestReport]) -> Result<store::access::Usage> {
        let mut usage = store::access::Usage::default();
        for r in reports {
            match &r.outcome {
                Outcome::Created {
                    version, chunks, ..
                } => {
                    usage.parses += 1;
                    usage.chunks += u64::from(*chunks);
                    // Every chunk of a built version is given a vector when the engine has
                    // an embedder (cache hits included: the count is of passages embedded
                    // for the knowledge base, not of model calls).
                    if self.has_vectors() {
                        usage.embeddings += u64::from(*chunks);
                    }
                    let pages = self
                        .lore
                        .catalog
                        .versions(r.source_id)?
                        .into_iter()
                        .find(|v| v.number == *version)
                        .and_then(|v| v.stats.pages);
                    usage.pages += u64::from(pages.unwrap_or(0));
                }
                Outcome::Failed { .. } => usage.parses += 1,
                Outcome::Unchanged { .. } => {}
            }
        }
        Ok(usage)
    }

    /// Usage of the last `days` days, newest first.
    pub fn usage(&self, days: u32) -> Result<Vec<store::access::UsageDay>> {
        self.lore.catalog.usage(self.row.id, days)
    }

    pub fn sources(&self) -> Result<Vec<SourceRow>> {
        self.lore.catalog.sources(self.row.id)
    }

    /// A source by id or unique name.
    pub fn source(&self, key: &str) -> Result<SourceRow> {
        self.lore.catalog.resolve_source(self.row.id, key)
    }

    /// A source with all its versions.
    pub fn show(&self, key: &str) -> Result<SourceDetail> {
        let source = self.source(key)?;
        let versions = self.lore.catalog.versions(source.id)?;
        let pages = match source.active_version {
            Some(v) if source.kind == SourceKind::Url => self.lore.catalog.pages(source.id, v)?,
            _ => Vec::new(),
        };
        Ok(SourceDetail {
            status: source.status(),
            source,
            versions,
            pages,
        })
    }

    /// The chunks of a version of a source (the active one when `version` is `None`).
    pub fn chunks(&self, key: &str, version: Option<u32>) -> Result<Vec<store::ChunkRow>> {
        let source = self.source(key)?;
        let Some(v) = version.or(source.active_version) else {
            return Ok(Vec::new());
        };
        self.lore.catalog.chunks(source.id, v)
    }

    /// Serves an earlier (retained, ready) version.
    pub fn revert(&self, key: &str, version: u32) -> Result<SourceRow> {
        let source = self.source(key)?;
        self.lore.catalog.set_active(source.id, version)?;
        tracing::info!(source = %source.name, version, "reverted");
        self.source(&source.id.to_string())
    }

    /// Turns a source on or off for search; its versions are kept either way.
    pub fn set_enabled(&self, key: &str, enabled: bool) -> Result<SourceRow> {
        let source = self.source(key)?;
        self.lore.catalog.set_enabled(source.id, enabled)?;
        self.source(&source.id.to_string())
    }

    /// Deletes a source, its versions, its chunks in the index and its originals.
    pub fn remove(&self, key: &str) -> Result<SourceRow> {
        let source = self.source(key)?;
        self.lore.catalog.source_delete(self.row.id, source.id)?;
        // The catalog no longer serves it; deleting the documents is cleanup, done now so that
        // `remove` frees the space, and retried by the next writer if this process stops.
        let mut writer = self.index.writer()?;
        ingest::apply_gc(&self.ctx(), &mut writer)?;
        tracing::info!(source = %source.name, "removed");
        Ok(source)
    }

    /// Ranked passages for `query` from the served versions, with citations.
    pub fn search(&self, query: &str, k: usize) -> Result<SearchResults> {
        self.search_with(
            query,
            &SearchOptions {
                k,
                ..Default::default()
            },
        )
    }

    /// [`KnowledgeBase::search`] with filters.
    pub fn search_with(&self, query: &str, opts: &SearchOptions) -> Result<SearchResults> {
        self.index.reload()?;
        let semantic = match (&self.lore.embedder, &self.vectors) {
            (Some(e), Some(v)) => Some(ingest::Semantic {
                embedder: e.as_ref(),
                vectors: v,
            }),
            _ => None,
        };
        let results = retrieve::search(
            &retrieve::Searcher {
                catalog: &self.lore.catalog,
                index: &self.index,
                semantic,
                kb_id: self.row.id,
            },
            query,
            opts,
        )?;
        self.lore.catalog.usage_add(
            self.row.id,
            &store::access::Usage {
                searches: 1,
                ..Default::default()
            },
        )?;
        Ok(results)
    }

    /// The two raw rankings of a question (full-text BM25 and vector cosine), each as
    /// `(source name, score)` per chunk, best first, `depth` deep: for studying fusion
    /// offline (`examples/fusion_dump.rs`), not for serving.
    #[doc(hidden)]
    pub fn raw_rankings(&self, query: &str, depth: usize) -> Result<(RawRanking, RawRanking)> {
        self.index.reload()?;
        let active = self
            .lore
            .catalog
            .active_pairs(self.row.id, &SourceFilter::default())?;
        let lang = lang::detect_query(query);
        let text = self.index.search(
            query,
            lang.as_ref(),
            &active,
            index::IndexFilter::default(),
            depth,
        )?;
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut name = |id: i64| -> Result<String> {
            if let Some(n) = names.get(&id) {
                return Ok(n.clone());
            }
            let n = self
                .lore
                .catalog
                .source(self.row.id, id)?
                .map(|s| s.name)
                .unwrap_or_default();
            names.insert(id, n.clone());
            Ok(n)
        };
        let mut t = Vec::new();
        for h in &text {
            t.push((name(h.source_id)?, h.score));
        }
        let mut v = Vec::new();
        if let (Some(e), Some(vs)) = (&self.lore.embedder, &self.vectors) {
            let q = e.embed_query(query)?;
            let near = vs.search(&q, &active, depth)?;
            let ids: Vec<i64> = near.iter().map(|h| h.chunk_id).collect();
            let docs: HashMap<i64, i64> = self
                .index
                .by_chunk_ids(&ids, &active, index::IndexFilter::default())?
                .into_iter()
                .map(|h| (h.chunk_id, h.source_id))
                .collect();
            for h in &near {
                if let Some(sid) = docs.get(&h.chunk_id) {
                    v.push((name(*sid)?, h.score));
                }
            }
        }
        Ok((t, v))
    }

    /// Whether vector and hybrid search are available.
    pub fn has_vectors(&self) -> bool {
        self.vectors.is_some()
    }

    /// Questions that found nothing relevant, most asked first.
    pub fn gaps(&self) -> Result<Vec<store::GapRow>> {
        self.lore.catalog.gaps(self.row.id)
    }

    /// Documents in this knowledge base's index, across all retained versions.
    pub fn indexed_chunks(&self) -> Result<u64> {
        self.index.reload()?;
        Ok(self.index.num_docs())
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}
