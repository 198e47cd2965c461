//! Store: the catalog (SQLite, WAL) and the blob store.
//!
//! The catalog is the single source of truth for *what is served*: which knowledge bases
//! exist, their sources, every version of every source, which version is active, the chunks of
//! each version and the job queue. The full-text index only holds documents tagged with
//! `(source, version)`; whether they are visible is decided here, by `active_version` and
//! `enabled`. That is why publishing, reverting, enabling and disabling are each one catalog
//! write, and why a failed build can never hide the last good version.

pub mod access;
pub mod blobs;

use crate::config::LimitOverrides;
use crate::error::{Error, Reason, Result};
use crate::parse::Location;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Schema migrations, applied in order on open; `PRAGMA user_version` records how many ran.
/// Never edit a migration that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE kbs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE sources (
    id                  INTEGER PRIMARY KEY,
    kb_id               INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    name                TEXT NOT NULL,
    origin              TEXT,
    language            TEXT,
    enabled             INTEGER NOT NULL DEFAULT 1,
    active_version      INTEGER,
    options             TEXT NOT NULL DEFAULT '{}',
    last_error_reason   TEXT,
    last_error_message  TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX sources_by_name ON sources(kb_id, name);
CREATE UNIQUE INDEX sources_by_origin ON sources(kb_id, kind, origin) WHERE origin IS NOT NULL;
CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    number         INTEGER NOT NULL,
    state          TEXT NOT NULL,
    content_hash   TEXT,
    format         TEXT,
    bytes          INTEGER NOT NULL DEFAULT 0,
    chars          INTEGER NOT NULL DEFAULT 0,
    chunks         INTEGER NOT NULL DEFAULT 0,
    pages          INTEGER,
    truncated      INTEGER NOT NULL DEFAULT 0,
    title          TEXT,
    warnings       TEXT NOT NULL DEFAULT '[]',
    error_reason   TEXT,
    error_message  TEXT,
    pruned         INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    UNIQUE (source_id, number)
);
CREATE TABLE chunks (
    id            INTEGER PRIMARY KEY,
    version_id    INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    ord           INTEGER NOT NULL,
    heading_path  TEXT NOT NULL,
    location      TEXT NOT NULL,
    text          TEXT NOT NULL,
    UNIQUE (version_id, ord)
);
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kb_id       INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    payload     TEXT,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX jobs_by_state ON jobs(kb_id, state);
CREATE TABLE index_gc (
    id      INTEGER PRIMARY KEY,
    kb_id   INTEGER NOT NULL,
    term    TEXT NOT NULL
);
"#,
    // 2: the detected language of a version; structured fields of a chunk (product catalogs).
    r#"
ALTER TABLE versions ADD COLUMN language TEXT;
ALTER TABLE chunks ADD COLUMN fields TEXT;
"#,
    // 3: knowledge gaps — questions that found nothing relevant.
    r#"
CREATE TABLE gaps (
    id               INTEGER PRIMARY KEY,
    kb_id            INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    query_key        TEXT NOT NULL,
    query            TEXT NOT NULL,
    count            INTEGER NOT NULL,
    best_confidence  REAL NOT NULL,
    first_seen       INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    UNIQUE (kb_id, query_key)
);
"#,
    // 4: the pages of a website version, with what a conditional re-fetch needs.
    r#"
CREATE TABLE pages (
    id             INTEGER PRIMARY KEY,
    version_id     INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    content_hash   TEXT,
    content_type   TEXT,
    etag           TEXT,
    last_modified  TEXT,
    note           TEXT,
    UNIQUE (version_id, url)
);
"#,
    // 5: agents and the sources linked to them; topic tags of a source.
    r#"
ALTER TABLE sources ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE TABLE agents (
    id          INTEGER PRIMARY KEY,
    kb_id       INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (kb_id, name)
);
CREATE TABLE agent_sources (
    agent_id   INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, source_id)
);
CREATE INDEX agent_sources_by_source ON agent_sources(source_id);
"#,
    // 6: the service's API keys, quota overrides and daily usage (see `access`).
    access::MIGRATION,
];

/// Seconds since the Unix epoch; the catalog stores all times this way.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Formats catalog seconds as RFC 3339 (UTC) for people and JSON.
pub fn format_time(secs: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// One knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KbRow {
    pub id: i64,
    pub name: String,
}

/// What a source reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A file on disk; `origin` is its absolute path and `sync` reads it again.
    File,
    /// A text entry written by an admin; its body lives in the blob store.
    Text,
    /// A product catalog file (CSV, XLSX, JSON): one chunk per product, with the product's
    /// structured fields kept beside the chunk for filtering.
    Catalog,
    /// A web page, optionally with its child pages; `origin` is the URL.
    Url,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Text => "text",
            SourceKind::Catalog => "catalog",
            SourceKind::Url => "url",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "file" => Ok(SourceKind::File),
            "text" => Ok(SourceKind::Text),
            "catalog" => Ok(SourceKind::Catalog),
            "url" => Ok(SourceKind::Url),
            other => Err(Error::Internal(format!("unknown source kind {other:?}"))),
        }
    }
}

/// Restricts a search to some sources; empty lists mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFilter {
    pub source_ids: Vec<i64>,
    pub kinds: Vec<SourceKind>,
    /// Only sources carrying at least one of these topic tags.
    pub tags: Vec<String>,
    /// Only sources in one of these languages (the admin's declared language, else the one
    /// detected in the active version).
    pub languages: Vec<String>,
    /// Only the sources linked to this agent. An agent with no linked source sees nothing:
    /// unlike the lists above, `Some` with no links is not "no restriction".
    pub agent: Option<i64>,
}

impl SourceFilter {
    fn admits(&self, s: &ActiveSource) -> bool {
        (self.source_ids.is_empty() || self.source_ids.contains(&s.id))
            && (self.kinds.is_empty() || self.kinds.contains(&s.kind))
            && (self.tags.is_empty() || s.tags.iter().any(|t| self.tags.contains(t)))
            && (self.languages.is_empty()
                || s.language
                    .as_ref()
                    .is_some_and(|l| self.languages.contains(l)))
            && (self.agent.is_none() || s.linked)
    }
}

/// What [`SourceFilter::admits`] looks at.
struct ActiveSource {
    id: i64,
    kind: SourceKind,
    tags: Vec<String>,
    language: Option<String>,
    linked: bool,
}

/// An agent: a consumer of the knowledge base that sees only the sources linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    /// Ids of the linked sources.
    pub sources: Vec<i64>,
    pub created_at: i64,
}

/// An agent's name, trimmed: 1-100 characters.
fn agent_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("an agent needs a name of 1-100 characters"));
    }
    Ok(name)
}

fn agent_name_taken(name: &str) -> Error {
    Error::rejected(
        Reason::AlreadyExists,
        format!("an agent named {name:?} exists already"),
    )
}

/// Topic tags are short lowercase words (`returns`, `shipping`, `privacy`, …): they end up in
/// filters, URLs and the admin page.
pub fn normalize_tag(tag: &str) -> Result<String> {
    let t = tag.trim().to_lowercase();
    let ok = !t.is_empty()
        && t.len() <= 40
        && t.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(t)
    } else {
        Err(Error::invalid(format!(
            "tag {tag:?} must be 1-40 letters, digits, '-' or '_'"
        )))
    }
}

/// Options chosen when the source was added, re-applied on every sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOptions {
    #[serde(default)]
    pub limits: LimitOverrides,
    /// For URL sources: what to crawl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebOptions>,
    /// Re-sync automatically this many seconds after the last attempt (`lore sync --due`, and
    /// the server's scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_every_secs: Option<u64>,
}

/// How a URL source is crawled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebOptions {
    /// Also the pages under the URL (same host, same path prefix).
    pub with_children: bool,
    pub max_pages: usize,
    pub max_depth: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            with_children: false,
            max_pages: 200,
            max_depth: 2,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// One page of a website version: where its content is and how to ask whether it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRow {
    pub url: String,
    /// Blob of the page's body (absent for a page that failed and had no previous content).
    pub content_hash: Option<String>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Why the page is not fresh, when it is not (kept from the previous version, failed).
    pub note: Option<String>,
}

/// The reason the latest ingestion of a source failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// A [`Reason`] name, or `internal` for our own faults.
    pub reason: String,
    pub message: String,
}

impl Failure {
    /// Reads the `(reason, message)` column pair; no reason means no failure.
    fn from_columns(reason: Option<String>, message: Option<String>) -> Option<Failure> {
        reason.map(|reason| Failure {
            reason,
            message: message.unwrap_or_default(),
        })
    }

    /// The catalog form of an error.
    pub fn from_error(e: &Error) -> Failure {
        match e {
            Error::Rejected { reason, message } => Failure {
                reason: reason.as_str().to_string(),
                message: message.clone(),
            },
            other => Failure {
                reason: "internal".to_string(),
                message: other.to_string(),
            },
        }
    }
}

/// A source as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    pub id: i64,
    pub kb_id: i64,
    pub kind: SourceKind,
    pub name: String,
    pub origin: Option<String>,
    pub language: Option<String>,
    /// Topic tags (`returns`, `shipping`, …), usable as search filters.
    pub tags: Vec<String>,
    /// Ids of the agents this source is linked to.
    pub agents: Vec<i64>,
    pub enabled: bool,
    pub active_version: Option<u32>,
    pub options: SourceOptions,
    pub last_error: Option<Failure>,
    pub pending_jobs: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The status an admin sees, derived from the row (never stored, so it cannot drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Serving its active version; the latest ingestion succeeded.
    Ready,
    /// Still serving its active version, but the latest ingestion failed.
    Stale,
    /// Never had a good version; the latest ingestion failed.
    Failed,
    /// An ingestion is queued or running.
    Processing,
    /// Turned off: not searched.
    Disabled,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ready => "ready",
            SourceStatus::Stale => "stale",
            SourceStatus::Failed => "failed",
            SourceStatus::Processing => "processing",
            SourceStatus::Disabled => "disabled",
        }
    }
}

impl SourceRow {
    pub fn status(&self) -> SourceStatus {
        if !self.enabled {
            SourceStatus::Disabled
        } else if self.pending_jobs > 0 {
            SourceStatus::Processing
        } else if self.last_error.is_some() {
            if self.active_version.is_some() {
                SourceStatus::Stale
            } else {
                SourceStatus::Failed
            }
        } else if self.active_version.is_some() {
            SourceStatus::Ready
        } else {
            SourceStatus::Processing
        }
    }
}

/// The lifecycle of a version: `building → ready | failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    Building,
    Ready,
    Failed,
}

impl VersionState {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Building => "building",
            VersionState::Ready => "ready",
            VersionState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "building" => Ok(VersionState::Building),
            "ready" => Ok(VersionState::Ready),
            "failed" => Ok(VersionState::Failed),
            other => Err(Error::Internal(format!("unknown version state {other:?}"))),
        }
    }
}

/// What a build found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VersionStats {
    pub bytes: u64,
    pub chars: u64,
    pub chunks: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    pub truncated: bool,
}

/// One ingestion of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRow {
    #[serde(skip)]
    pub id: i64,
    pub number: u32,
    pub state: VersionState,
    pub content_hash: Option<String>,
    pub format: Option<String>,
    pub title: Option<String>,
    /// Detected (or declared) language of the content, e.g. `es`.
    pub language: Option<String>,
    pub stats: VersionStats,
    pub warnings: Vec<String>,
    pub error: Option<Failure>,
    /// Removed by retention: its chunks are gone and it can no longer be reverted to.
    pub pruned: bool,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// A chunk about to be stored with a building version.
#[derive(Debug, Clone)]
pub struct NewChunk<'a> {
    pub ord: u32,
    pub heading_path: &'a [String],
    pub location: &'a Location,
    pub text: &'a str,
    /// Structured fields (a product's name, price, stock…) as JSON.
    pub fields: Option<&'a str>,
}

/// A stored chunk, for previews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkRow {
    pub id: i64,
    pub ord: u32,
    pub heading_path: Vec<String>,
    pub location: Location,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Value>,
}

/// A queued ingestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: i64,
    pub source_id: i64,
    /// For text sources: the blob hash of the new body.
    pub payload: Option<String>,
    pub attempts: u32,
}

/// A version whose index documents were written and which is waiting to become active.
#[derive(Debug, Clone)]
pub struct Publish {
    pub version_id: i64,
    pub stats: VersionStats,
    pub warnings: Vec<String>,
    pub title: Option<String>,
    pub language: Option<String>,
}

/// A chunk of a retained version with what the index needs, for rebuilding the index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    pub chunk_id: i64,
    pub source_id: i64,
    pub source_name: String,
    pub version: u32,
    pub title: Option<String>,
    pub language: Option<String>,
    pub ord: u32,
    pub heading_path: Vec<String>,
    pub location: Location,
    pub text: String,
    pub fields: Option<String>,
}

/// The SQLite catalog. One connection behind a mutex: catalog writes are short, and the slow
/// work (parsing, indexing) happens outside of it.
pub struct Catalog {
    conn: Mutex<Connection>,
    /// Attempts a job gets before recovery fails it (see [`Catalog::set_max_attempts`]).
    max_attempts: std::sync::atomic::AtomicU32,
    /// What every search reads, kept while the catalog is unchanged (see [`ReadCache`]).
    reads: Mutex<ReadCache>,
}

/// Answers of the per-search catalog reads (active pairs, source names), valid for one state
/// of the catalog. The state is told by two counters SQLite keeps: `PRAGMA data_version`
/// moves when another connection (another process) commits, `total_changes` when this one
/// writes. Reading both costs a few microseconds; the reads they spare cost 0.1–0.3 ms per
/// search at a thousand sources.
#[derive(Default)]
struct ReadCache {
    stamp: Option<(i64, u64)>,
    active: Vec<ActiveEntry>,
    names: std::collections::HashMap<(i64, i64), String>,
    languages: std::collections::HashMap<i64, std::sync::Arc<SourceLanguages>>,
}

/// Source id → language of its served version (declared, else detected).
pub type SourceLanguages = std::collections::HashMap<i64, Option<String>>;

/// The active pairs of a knowledge base under a filter.
type ActiveEntry = ((i64, SourceFilter), Vec<(i64, u32)>);

/// Filters whose active pairs are kept (most recent first).
const ACTIVE_CACHE: usize = 32;

impl Catalog {
    /// Opens (creating if needed) the catalog and applies pending migrations.
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path)?;
        // WAL lets readers (another `lore search`) run while a writer commits; the busy timeout
        // makes a second process wait for a short write instead of failing.
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let catalog = Catalog {
            conn: Mutex::new(conn),
            max_attempts: std::sync::atomic::AtomicU32::new(access::DEFAULT_MAX_ATTEMPTS),
            reads: Mutex::new(ReadCache::default()),
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned mutex is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The read cache, emptied first if the catalog changed since it was filled; `None`
    /// inside a transaction, whose writes may still be rolled back.
    fn reads(&self, conn: &Connection) -> Result<Option<std::sync::MutexGuard<'_, ReadCache>>> {
        if !conn.is_autocommit() {
            return Ok(None);
        }
        let stamp = Self::stamp(conn)?;
        let mut cache = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        if cache.stamp != Some(stamp) {
            *cache = ReadCache {
                stamp: Some(stamp),
                ..ReadCache::default()
            };
        }
        Ok(Some(cache))
    }

    /// The state of the catalog as [`ReadCache`] tells it.
    fn stamp(conn: &Connection) -> Result<(i64, u64)> {
        let mut stmt = conn.prepare_cached("PRAGMA data_version")?;
        let data_version: i64 = stmt.query_row([], |r| r.get(0))?;
        Ok((data_version, conn.total_changes()))
    }

    /// Runs a write that changes nothing the read cache holds (usage counters, knowledge
    /// gaps: every search makes one), keeping the cache valid across it.
    pub(crate) fn write_beside_reads<T>(
        &self,
        conn: &Connection,
        write: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let before = Self::stamp(conn)?;
        let out = write(conn)?;
        let mut cache = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        if cache.stamp == Some(before) && conn.is_autocommit() {
            cache.stamp = Some(Self::stamp(conn)?);
        }
        Ok(out)
    }

    /// The name of a source (for citations), `None` if it is gone.
    pub fn source_name(&self, kb_id: i64, id: i64) -> Result<Option<String>> {
        let conn = self.lock();
        let mut cache = self.reads(&conn)?;
        if let Some(name) = cache.as_ref().and_then(|c| c.names.get(&(kb_id, id))) {
            return Ok(Some(name.clone()));
        }
        let name: Option<String> = conn
            .query_row(
                "SELECT name FROM sources WHERE kb_id = ?1 AND id = ?2",
                params![kb_id, id],
                |r| r.get(0),
            )
            .optional()?;
        if let (Some(cache), Some(name)) = (cache.as_mut(), &name) {
            cache.names.insert((kb_id, id), name.clone());
        }
        Ok(name)
    }

    /// The language of every served source of a knowledge base: the admin's declared one,
    /// else the one detected in its active version. Cached like the active pairs.
    pub fn source_languages(&self, kb_id: i64) -> Result<std::sync::Arc<SourceLanguages>> {
        let conn = self.lock();
        let mut cache = self.reads(&conn)?;
        if let Some(langs) = cache.as_ref().and_then(|c| c.languages.get(&kb_id)) {
            return Ok(langs.clone());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, COALESCE(s.language, v.language) FROM sources s
             JOIN versions v ON v.source_id = s.id AND v.number = s.active_version
             WHERE s.kb_id = ?1",
        )?;
        let langs: std::sync::Arc<SourceLanguages> = std::sync::Arc::new(
            stmt.query_map([kb_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?,
        );
        if let Some(cache) = cache.as_mut() {
            cache.languages.insert(kb_id, langs.clone());
        }
        Ok(langs)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let done = done.max(0) as usize;
        if done > MIGRATIONS.len() {
            return Err(Error::Internal(format!(
                "catalog schema {done} is newer than this lore ({}); upgrade lore",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            tracing::info!(migration = i + 1, "applying catalog migration");
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        tx.commit()?;
        Ok(())
    }

    /// The schema version (number of applied migrations).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    // ---- knowledge bases -------------------------------------------------------------

    pub fn kb(&self, name: &str) -> Result<Option<KbRow>> {
        Ok(self
            .lock()
            .query_row("SELECT id, name FROM kbs WHERE name = ?1", [name], |r| {
                Ok(KbRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })
            .optional()?)
    }

    pub fn kb_create(&self, name: &str) -> Result<KbRow> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO kbs (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, now()],
        )?;
        Ok(
            conn.query_row("SELECT id, name FROM kbs WHERE name = ?1", [name], |r| {
                Ok(KbRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?,
        )
    }

    pub fn kbs(&self) -> Result<Vec<KbRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, name FROM kbs ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(KbRow {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- sources ---------------------------------------------------------------------

    const SOURCE_COLS: &'static str = "s.id, s.kb_id, s.kind, s.name, s.origin, s.language, \
        s.enabled, s.active_version, s.options, s.last_error_reason, s.last_error_message, \
        s.created_at, s.updated_at, \
        (SELECT COUNT(*) FROM jobs j WHERE j.kb_id = s.kb_id AND j.state IN ('queued','running') \
            AND j.source_id = s.id), \
        s.tags, (SELECT group_concat(agent_id) FROM agent_sources l WHERE l.source_id = s.id)";

    fn source_from_row(r: &Row<'_>) -> rusqlite::Result<(SourceRow, String, String)> {
        let reason: Option<String> = r.get(9)?;
        let message: Option<String> = r.get(10)?;
        Ok((
            SourceRow {
                id: r.get(0)?,
                kb_id: r.get(1)?,
                kind: SourceKind::File,
                name: r.get(3)?,
                origin: r.get(4)?,
                language: r.get(5)?,
                tags: serde_json::from_str(&r.get::<_, String>(14)?).unwrap_or_default(),
                agents: {
                    let ids: Option<String> = r.get(15)?;
                    let mut ids: Vec<i64> = ids
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    ids.sort_unstable();
                    ids
                },
                enabled: r.get(6)?,
                active_version: r.get(7)?,
                options: SourceOptions::default(),
                last_error: Failure::from_columns(reason, message),
                pending_jobs: r.get(13)?,
                created_at: r.get(11)?,
                updated_at: r.get(12)?,
            },
            r.get(2)?,
            r.get(8)?,
        ))
    }

    fn finish_source(raw: (SourceRow, String, String)) -> Result<SourceRow> {
        let (mut row, kind, options) = raw;
        row.kind = SourceKind::parse(&kind)?;
        row.options = serde_json::from_str(&options)
            .map_err(|e| Error::Internal(format!("source {} options: {e}", row.id)))?;
        Ok(row)
    }

    fn query_sources(&self, where_: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<SourceRow>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {} FROM sources s WHERE {where_} ORDER BY s.id",
            Self::SOURCE_COLS
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let raw = stmt
            .query_map(args, Self::source_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter().map(Self::finish_source).collect()
    }

    pub fn sources(&self, kb_id: i64) -> Result<Vec<SourceRow>> {
        self.query_sources("s.kb_id = ?1", &[&kb_id])
    }

    pub fn source(&self, kb_id: i64, id: i64) -> Result<Option<SourceRow>> {
        Ok(self
            .query_sources("s.kb_id = ?1 AND s.id = ?2", &[&kb_id, &id])?
            .pop())
    }

    pub fn source_by_origin(
        &self,
        kb_id: i64,
        kind: SourceKind,
        origin: &str,
    ) -> Result<Option<SourceRow>> {
        Ok(self
            .query_sources(
                "s.kb_id = ?1 AND s.kind = ?2 AND s.origin = ?3",
                &[&kb_id, &kind.as_str(), &origin],
            )?
            .pop())
    }

    pub fn sources_by_name(&self, kb_id: i64, name: &str) -> Result<Vec<SourceRow>> {
        self.query_sources("s.kb_id = ?1 AND s.name = ?2", &[&kb_id, &name])
    }

    /// Finds a source by id or by unique name. Ids are tried first, so a source literally named
    /// "12" is reached by name only if no source has id 12.
    pub fn resolve_source(&self, kb_id: i64, key: &str) -> Result<SourceRow> {
        if let Ok(id) = key.parse::<i64>() {
            if let Some(s) = self.source(kb_id, id)? {
                return Ok(s);
            }
        }
        let mut found = self.sources_by_name(kb_id, key)?;
        match found.len() {
            0 => Err(Error::not_found(format!(
                "no source with id or name {key:?}"
            ))),
            1 => Ok(found.pop().expect("one")),
            _ => Err(Error::invalid(format!(
                "{} sources are named {key:?}; use an id: {}",
                found.len(),
                found
                    .iter()
                    .map(|s| s.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    pub fn source_insert(
        &self,
        kb_id: i64,
        kind: SourceKind,
        name: &str,
        origin: Option<&str>,
        options: &SourceOptions,
    ) -> Result<i64> {
        let conn = self.lock();
        let opts = serde_json::to_string(options).map_err(|e| Error::Internal(e.to_string()))?;
        let t = now();
        conn.execute(
            "INSERT INTO sources (kb_id, kind, name, origin, options, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![kb_id, kind.as_str(), name, origin, opts, t],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub fn source_set_options(&self, source_id: i64, options: &SourceOptions) -> Result<()> {
        let opts = serde_json::to_string(options).map_err(|e| Error::Internal(e.to_string()))?;
        self.lock().execute(
            "UPDATE sources SET options = ?2, updated_at = ?3 WHERE id = ?1",
            params![source_id, opts, now()],
        )?;
        Ok(())
    }

    pub fn set_enabled(&self, source_id: i64, enabled: bool) -> Result<()> {
        self.lock().execute(
            "UPDATE sources SET enabled = ?2, updated_at = ?3 WHERE id = ?1",
            params![source_id, enabled, now()],
        )?;
        Ok(())
    }

    /// Makes `number` the active version. Only a ready, unpruned version can be served.
    pub fn set_active(&self, source_id: i64, number: u32) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let v: Option<(String, bool)> = tx
            .query_row(
                "SELECT state, pruned FROM versions WHERE source_id = ?1 AND number = ?2",
                params![source_id, number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match v {
            None => return Err(Error::not_found(format!("no version {number}"))),
            Some((state, _)) if state != "ready" => {
                return Err(Error::invalid(format!(
                    "version {number} is {state}; only a ready version can be served"
                )))
            }
            Some((_, true)) => {
                return Err(Error::invalid(format!(
                    "version {number} was pruned by retention and can no longer be served"
                )))
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE sources SET active_version = ?2, updated_at = ?3 WHERE id = ?1",
            params![source_id, number, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a source and everything it owns, and queues the removal of its index documents.
    pub fn source_delete(&self, kb_id: i64, source_id: i64) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO index_gc (kb_id, term) VALUES (?1, ?2)",
            params![kb_id, format!("source:{source_id}")],
        )?;
        tx.execute(
            "DELETE FROM sources WHERE kb_id = ?1 AND id = ?2",
            params![kb_id, source_id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// `(source_id, active_version)` of every enabled source with a served version that passes
    /// `filter`.
    pub fn active_pairs(&self, kb_id: i64, filter: &SourceFilter) -> Result<Vec<(i64, u32)>> {
        let conn = self.lock();
        let mut cache = self.reads(&conn)?;
        if let Some(cache) = cache.as_mut() {
            if let Some(i) = cache
                .active
                .iter()
                .position(|((kb, f), _)| *kb == kb_id && f == filter)
            {
                let entry = cache.active.remove(i);
                let pairs = entry.1.clone();
                cache.active.insert(0, entry);
                return Ok(pairs);
            }
        }
        let pairs = Self::read_active_pairs(&conn, kb_id, filter)?;
        if let Some(cache) = cache.as_mut() {
            cache.active.truncate(ACTIVE_CACHE - 1);
            cache
                .active
                .insert(0, ((kb_id, filter.clone()), pairs.clone()));
        }
        Ok(pairs)
    }

    fn read_active_pairs(
        conn: &Connection,
        kb_id: i64,
        filter: &SourceFilter,
    ) -> Result<Vec<(i64, u32)>> {
        // Every search runs this over every source. Without kind, tag or language filters
        // (the usual case) nothing but the ids is needed: no join, no decoding per row,
        // which is most of the cost at a thousand sources.
        if filter.kinds.is_empty() && filter.tags.is_empty() && filter.languages.is_empty() {
            let mut stmt = conn.prepare_cached(
                "SELECT s.id, s.active_version FROM sources s
                 WHERE s.kb_id = ?1 AND s.enabled = 1 AND s.active_version IS NOT NULL
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM agent_sources l
                                              WHERE l.source_id = s.id AND l.agent_id = ?2))",
            )?;
            let rows = stmt.query_map(params![kb_id, filter.agent], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, version) = row?;
                if filter.source_ids.is_empty() || filter.source_ids.contains(&id) {
                    out.push((id, version));
                }
            }
            return Ok(out);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, s.active_version, s.kind, s.tags, COALESCE(s.language, v.language),
                    EXISTS (SELECT 1 FROM agent_sources l
                            WHERE l.source_id = s.id AND l.agent_id = ?2)
             FROM sources s
             LEFT JOIN versions v ON v.source_id = s.id AND v.number = s.active_version
             WHERE s.kb_id = ?1 AND s.enabled = 1 AND s.active_version IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![kb_id, filter.agent.unwrap_or(-1)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, version, kind, tags, language, linked) = row?;
            let s = ActiveSource {
                id,
                kind: SourceKind::parse(&kind)?,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                language,
                linked,
            };
            if filter.admits(&s) {
                out.push((id, version));
            }
        }
        Ok(out)
    }

    /// `(source, active_version)` of every source with a served version, enabled or not: the
    /// versions that must have vectors.
    pub fn served_pairs(&self, kb_id: i64) -> Result<Vec<(i64, u32)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, active_version FROM sources
             WHERE kb_id = ?1 AND active_version IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([kb_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every retained ready version of the knowledge base (what may be served or reverted to).
    pub fn retained_pairs(&self, kb_id: i64) -> Result<std::collections::HashSet<(i64, u32)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT v.source_id, v.number FROM versions v JOIN sources s ON s.id = v.source_id
             WHERE s.kb_id = ?1 AND v.state = 'ready' AND v.pruned = 0",
        )?;
        let rows = stmt.query_map([kb_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- agents, tags, languages -----------------------------------------------------

    pub fn agent_create(&self, kb_id: i64, name: &str) -> Result<AgentRow> {
        let name = agent_name(name)?;
        let t = now();
        let conn = self.lock();
        let inserted = conn.execute(
            "INSERT INTO agents (kb_id, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (kb_id, name) DO NOTHING",
            params![kb_id, name, t],
        )?;
        if inserted == 0 {
            return Err(agent_name_taken(name));
        }
        Ok(AgentRow {
            id: conn.last_insert_rowid(),
            name: name.to_string(),
            sources: Vec::new(),
            created_at: t,
        })
    }

    pub fn agents(&self, kb_id: i64) -> Result<Vec<AgentRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT a.id, a.name, a.created_at,
                    (SELECT group_concat(source_id) FROM
                        (SELECT source_id FROM agent_sources WHERE agent_id = a.id
                         ORDER BY source_id))
             FROM agents a WHERE a.kb_id = ?1 ORDER BY a.id",
        )?;
        let rows = stmt.query_map([kb_id], |r| {
            let ids: Option<String> = r.get(3)?;
            Ok(AgentRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                sources: ids
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|x| x.parse().ok())
                    .collect(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An agent of the knowledge base by id or unique name; another knowledge base's agent is
    /// "not found", never "forbidden", so ids reveal nothing.
    pub fn resolve_agent(&self, kb_id: i64, key: &str) -> Result<AgentRow> {
        let agents = self.agents(kb_id)?;
        let by_id = key.parse::<i64>().ok();
        agents
            .into_iter()
            .find(|a| Some(a.id) == by_id || a.name == key)
            .ok_or_else(|| Error::not_found(format!("no agent {key:?}")))
    }

    /// Renames an agent of `kb_id`. Its links and keys stay: they refer to the agent's id.
    pub fn agent_rename(&self, kb_id: i64, agent_id: i64, name: &str) -> Result<()> {
        let name = agent_name(name)?;
        let conn = self.lock();
        let taken: Option<i64> = conn
            .query_row(
                "SELECT id FROM agents WHERE kb_id = ?1 AND name = ?2",
                params![kb_id, name],
                |r| r.get(0),
            )
            .optional()?;
        match taken {
            Some(id) if id == agent_id => Ok(()),
            Some(_) => Err(agent_name_taken(name)),
            None => {
                let n = conn.execute(
                    "UPDATE agents SET name = ?3 WHERE id = ?2 AND kb_id = ?1",
                    params![kb_id, agent_id, name],
                )?;
                if n == 0 {
                    return Err(Error::not_found(format!("no agent {agent_id}")));
                }
                Ok(())
            }
        }
    }

    /// Deletes an agent of `kb_id` with its links and its API keys (a key of a deleted agent
    /// must stop working at once, not search with no sources); the sources stay in the
    /// library. Returns how many keys were revoked.
    pub fn agent_delete(&self, kb_id: i64, agent_id: i64) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let keys = tx.execute(
            "DELETE FROM api_keys WHERE kb_id = ?1 AND agent_id = ?2",
            params![kb_id, agent_id],
        )?;
        let n = tx.execute(
            "DELETE FROM agents WHERE id = ?2 AND kb_id = ?1",
            params![kb_id, agent_id],
        )?;
        if n == 0 {
            return Err(Error::not_found(format!("no agent {agent_id}")));
        }
        tx.commit()?;
        Ok(keys)
    }

    /// Links (or, with `linked` false, unlinks) a source to an agent; both must belong to
    /// `kb_id`. Unlinking keeps the source in the library.
    pub fn agent_link(&self, agent_id: i64, source_id: i64, linked: bool) -> Result<()> {
        let conn = self.lock();
        if linked {
            conn.execute(
                "INSERT OR IGNORE INTO agent_sources (agent_id, source_id) VALUES (?1, ?2)",
                params![agent_id, source_id],
            )?;
        } else {
            conn.execute(
                "DELETE FROM agent_sources WHERE agent_id = ?1 AND source_id = ?2",
                params![agent_id, source_id],
            )?;
        }
        Ok(())
    }

    /// Replaces the topic tags of a source (normalised, deduplicated, sorted).
    pub fn set_tags(&self, source_id: i64, tags: &[String]) -> Result<Vec<String>> {
        let mut clean = tags
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<Vec<_>>>()?;
        clean.sort();
        clean.dedup();
        self.lock().execute(
            "UPDATE sources SET tags = ?2, updated_at = ?3 WHERE id = ?1",
            params![source_id, to_json(&clean)?, now()],
        )?;
        Ok(clean)
    }

    /// Declares the language of a source (`None`: use the detected one).
    pub fn set_language(&self, source_id: i64, language: Option<&str>) -> Result<()> {
        let language = match language.map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) => {
                let l = l.to_lowercase();
                if !(2..=3).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_lowercase()) {
                    return Err(Error::invalid(format!(
                        "language {l:?} must be an ISO 639 code such as en, es or pt"
                    )));
                }
                Some(l)
            }
            None => None,
        };
        self.lock().execute(
            "UPDATE sources SET language = ?2, updated_at = ?3 WHERE id = ?1",
            params![source_id, language, now()],
        )?;
        Ok(())
    }

    /// The content hash of the active version, to skip unchanged content.
    pub fn active_hash(&self, source_id: i64) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT v.content_hash FROM sources s
                 JOIN versions v ON v.source_id = s.id AND v.number = s.active_version
                 WHERE s.id = ?1",
                [source_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Clears a stale mark when the origin turns out to be fine again (and unchanged).
    pub fn clear_error(&self, source_id: i64) -> Result<()> {
        self.lock().execute(
            "UPDATE sources SET last_error_reason = NULL, last_error_message = NULL WHERE id = ?1",
            [source_id],
        )?;
        Ok(())
    }

    // ---- versions --------------------------------------------------------------------

    fn next_number(tx: &Transaction<'_>, source_id: i64) -> Result<u32> {
        Ok(tx.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE source_id = ?1",
            [source_id],
            |r| r.get(0),
        )?)
    }

    /// Records a failed ingestion as a version of its own and marks the source with the
    /// reason. The active version is not touched: it keeps serving.
    pub fn record_failure(
        &self,
        source_id: i64,
        content_hash: Option<&str>,
        bytes: u64,
        failure: &Failure,
    ) -> Result<u32> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let number = Self::next_number(&tx, source_id)?;
        let t = now();
        tx.execute(
            "INSERT INTO versions (source_id, number, state, content_hash, bytes, error_reason,
                 error_message, created_at, finished_at)
             VALUES (?1, ?2, 'failed', ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                source_id,
                number,
                content_hash,
                bytes as i64,
                failure.reason,
                failure.message,
                t
            ],
        )?;
        tx.execute(
            "UPDATE sources SET last_error_reason = ?2, last_error_message = ?3, updated_at = ?4
             WHERE id = ?1",
            params![source_id, failure.reason, failure.message, t],
        )?;
        tx.commit()?;
        Ok(number)
    }

    /// Creates a `building` version with its chunks; returns (version id, number, chunk ids).
    pub fn begin_version(
        &self,
        source_id: i64,
        content_hash: &str,
        format: &str,
        chunks: &[NewChunk<'_>],
        pages: &[PageRow],
    ) -> Result<(i64, u32, Vec<i64>)> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let number = Self::next_number(&tx, source_id)?;
        tx.execute(
            "INSERT INTO versions (source_id, number, state, content_hash, format, created_at)
             VALUES (?1, ?2, 'building', ?3, ?4, ?5)",
            params![source_id, number, content_hash, format, now()],
        )?;
        let version_id = tx.last_insert_rowid();
        let mut ids = Vec::with_capacity(chunks.len());
        {
            let mut stmt = tx.prepare(
                "INSERT INTO chunks (version_id, ord, heading_path, location, text, fields)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for c in chunks {
                stmt.execute(params![
                    version_id,
                    c.ord,
                    to_json(c.heading_path)?,
                    to_json(c.location)?,
                    c.text,
                    c.fields
                ])?;
                ids.push(tx.last_insert_rowid());
            }
            let mut stmt = tx.prepare(
                "INSERT INTO pages (version_id, url, content_hash, content_type, etag,
                     last_modified, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in pages {
                stmt.execute(params![
                    version_id,
                    p.url,
                    p.content_hash,
                    p.content_type,
                    p.etag,
                    p.last_modified,
                    p.note
                ])?;
            }
        }
        tx.commit()?;
        Ok((version_id, number, ids))
    }

    /// Flips every version in `batch` to ready and active in one transaction, then prunes
    /// ready versions beyond `keep` per source. Returns the index terms to delete.
    pub fn publish(&self, kb_id: i64, batch: &[Publish], keep: u32) -> Result<Vec<String>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let t = now();
        let mut gc = Vec::new();
        for p in batch {
            let (source_id, number): (i64, u32) = tx.query_row(
                "SELECT source_id, number FROM versions WHERE id = ?1 AND state = 'building'",
                [p.version_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.execute(
                "UPDATE versions SET state = 'ready', bytes = ?2, chars = ?3, chunks = ?4,
                     pages = ?5, truncated = ?6, warnings = ?7, title = ?8, finished_at = ?9,
                     language = ?10
                 WHERE id = ?1",
                params![
                    p.version_id,
                    p.stats.bytes as i64,
                    p.stats.chars as i64,
                    p.stats.chunks,
                    p.stats.pages,
                    p.stats.truncated,
                    to_json(&p.warnings)?,
                    p.title,
                    t,
                    p.language
                ],
            )?;
            tx.execute(
                "UPDATE sources SET active_version = ?2, last_error_reason = NULL,
                     last_error_message = NULL, updated_at = ?3
                 WHERE id = ?1",
                params![source_id, number, t],
            )?;
            gc.extend(Self::prune(&tx, kb_id, source_id, keep)?);
        }
        tx.commit()?;
        Ok(gc)
    }

    /// Marks ready versions beyond the newest `keep` (never the active one) as pruned, deletes
    /// their chunk rows and queues their index documents for deletion.
    fn prune(tx: &Transaction<'_>, kb_id: i64, source_id: i64, keep: u32) -> Result<Vec<String>> {
        let active: Option<u32> = tx.query_row(
            "SELECT active_version FROM sources WHERE id = ?1",
            [source_id],
            |r| r.get(0),
        )?;
        let mut stmt = tx.prepare(
            "SELECT id, number FROM versions
             WHERE source_id = ?1 AND state = 'ready' AND pruned = 0 ORDER BY number DESC",
        )?;
        let ready: Vec<(i64, u32)> = stmt
            .query_map([source_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut kept = 0;
        let mut terms = Vec::new();
        for (id, number) in ready {
            if Some(number) == active || kept < keep.saturating_sub(u32::from(active.is_some())) {
                if Some(number) != active {
                    kept += 1;
                }
                continue;
            }
            tx.execute("UPDATE versions SET pruned = 1 WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM chunks WHERE version_id = ?1", [id])?;
            let term = version_term(source_id, number);
            tx.execute(
                "INSERT INTO index_gc (kb_id, term) VALUES (?1, ?2)",
                params![kb_id, term],
            )?;
            terms.push(term);
        }
        Ok(terms)
    }

    pub fn versions(&self, source_id: i64) -> Result<Vec<VersionRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, number, state, content_hash, format, title, bytes, chars, chunks, pages,
                    truncated, warnings, error_reason, error_message, pruned, created_at,
                    finished_at, language
             FROM versions WHERE source_id = ?1 ORDER BY number",
        )?;
        let raw = stmt
            .query_map([source_id], |r| {
                let state: String = r.get(2)?;
                let warnings: String = r.get(11)?;
                let reason: Option<String> = r.get(12)?;
                let message: Option<String> = r.get(13)?;
                Ok((
                    VersionRow {
                        id: r.get(0)?,
                        number: r.get(1)?,
                        state: VersionState::Failed,
                        content_hash: r.get(3)?,
                        format: r.get(4)?,
                        title: r.get(5)?,
                        language: r.get(17)?,
                        stats: VersionStats {
                            bytes: r.get::<_, i64>(6)? as u64,
                            chars: r.get::<_, i64>(7)? as u64,
                            chunks: r.get(8)?,
                            pages: r.get(9)?,
                            truncated: r.get(10)?,
                        },
                        warnings: Vec::new(),
                        error: Failure::from_columns(reason, message),
                        pruned: r.get(14)?,
                        created_at: r.get(15)?,
                        finished_at: r.get(16)?,
                    },
                    state,
                    warnings,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(mut v, state, warnings)| {
                v.state = VersionState::parse(&state)?;
                v.warnings = serde_json::from_str(&warnings)
                    .map_err(|e| Error::Internal(format!("version warnings: {e}")))?;
                Ok(v)
            })
            .collect()
    }

    /// The chunks of one version, in order (empty for failed and pruned versions).
    pub fn chunks(&self, source_id: i64, number: u32) -> Result<Vec<ChunkRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT c.id, c.ord, c.heading_path, c.location, c.text, c.fields FROM chunks c
             JOIN versions v ON v.id = c.version_id
             WHERE v.source_id = ?1 AND v.number = ?2 ORDER BY c.ord",
        )?;
        let raw = stmt
            .query_map(params![source_id, number], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(id, ord, hp, loc, text, fields)| {
                Ok(ChunkRow {
                    id,
                    ord,
                    heading_path: from_json(&hp)?,
                    location: from_json(&loc)?,
                    text,
                    fields: fields.as_deref().map(from_json).transpose()?,
                })
            })
            .collect()
    }

    /// The pages of one version of a website source.
    pub fn pages(&self, source_id: i64, number: u32) -> Result<Vec<PageRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT p.url, p.content_hash, p.content_type, p.etag, p.last_modified, p.note
             FROM pages p JOIN versions v ON v.id = p.version_id
             WHERE v.source_id = ?1 AND v.number = ?2 ORDER BY p.id",
        )?;
        let rows = stmt.query_map(params![source_id, number], |r| {
            Ok(PageRow {
                url: r.get(0)?,
                content_hash: r.get(1)?,
                content_type: r.get(2)?,
                etag: r.get(3)?,
                last_modified: r.get(4)?,
                note: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sources whose automatic re-sync is due at `now`: their interval has passed since the
    /// last attempt (or since they were added, when nothing was attempted yet).
    pub fn due_sources(&self, kb_id: i64, now: i64) -> Result<Vec<i64>> {
        let mut due = Vec::new();
        for s in self.sources(kb_id)? {
            let Some(every) = s.options.sync_every_secs else {
                continue;
            };
            let last: Option<i64> = self.lock().query_row(
                "SELECT MAX(created_at) FROM versions WHERE source_id = ?1",
                [s.id],
                |r| r.get(0),
            )?;
            let last = last.unwrap_or(s.created_at);
            if s.enabled && s.pending_jobs == 0 && now - last >= every as i64 {
                due.push(s.id);
            }
        }
        Ok(due)
    }

    /// Every chunk of every retained ready version of a knowledge base, in (source, version,
    /// ord) order: what a rebuilt index must contain.
    pub fn index_rows(&self, kb_id: i64) -> Result<Vec<IndexRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT c.id, s.id, s.name, v.number, v.title, v.language, c.ord, c.heading_path,
                    c.location, c.text, c.fields
             FROM chunks c JOIN versions v ON v.id = c.version_id
             JOIN sources s ON s.id = v.source_id
             WHERE s.kb_id = ?1 AND v.state = 'ready' AND v.pruned = 0
             ORDER BY s.id, v.number, c.ord",
        )?;
        let raw = stmt
            .query_map([kb_id], |r| {
                Ok((
                    IndexRow {
                        chunk_id: r.get(0)?,
                        source_id: r.get(1)?,
                        source_name: r.get(2)?,
                        version: r.get(3)?,
                        title: r.get(4)?,
                        language: r.get(5)?,
                        ord: r.get(6)?,
                        heading_path: Vec::new(),
                        location: Location::default(),
                        text: r.get(9)?,
                        fields: r.get(10)?,
                    },
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(mut row, hp, loc)| {
                row.heading_path = from_json(&hp)?;
                row.location = from_json(&loc)?;
                Ok(row)
            })
            .collect()
    }

    /// Every content hash a blob must be kept for: retained ready versions and queued jobs.
    pub fn live_blobs(&self, kb_id: i64) -> Result<std::collections::HashSet<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT v.content_hash FROM versions v JOIN sources s ON s.id = v.source_id
             WHERE s.kb_id = ?1 AND v.state IN ('ready', 'building') AND v.pruned = 0
                   AND v.content_hash IS NOT NULL
             UNION
             SELECT p.content_hash FROM pages p JOIN versions v ON v.id = p.version_id
             JOIN sources s ON s.id = v.source_id
             WHERE s.kb_id = ?1 AND v.state IN ('ready', 'building') AND v.pruned = 0
                   AND p.content_hash IS NOT NULL
             UNION
             SELECT payload FROM jobs WHERE kb_id = ?1 AND payload IS NOT NULL
                   AND state IN ('queued', 'running')",
        )?;
        let rows = stmt.query_map([kb_id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- jobs ------------------------------------------------------------------------

    /// Queues an ingestion of `source_id`. A source has at most one queued job: queuing again
    /// replaces the payload (the newest text body wins) instead of piling up work.
    pub fn enqueue(&self, kb_id: i64, source_id: i64, payload: Option<&str>) -> Result<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let t = now();
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM jobs WHERE source_id = ?1 AND state = 'queued'",
                [source_id],
                |r| r.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE jobs SET payload = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, payload, t],
                )?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO jobs (kb_id, source_id, kind, payload, state, created_at,
                         updated_at)
                     VALUES (?1, ?2, 'ingest', ?3, 'queued', ?4, ?4)",
                    params![kb_id, source_id, payload, t],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.commit()?;
        Ok(id)
    }

    /// How many jobs wait in the queue.
    pub fn queued_jobs(&self, kb_id: i64) -> Result<u32> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM jobs WHERE kb_id = ?1 AND state IN ('queued', 'running')",
            [kb_id],
            |r| r.get(0),
        )?)
    }

    /// Claims up to `limit` queued jobs (oldest first) and marks them running.
    pub fn claim_jobs(&self, kb_id: i64, limit: usize) -> Result<Vec<JobRow>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let jobs: Vec<JobRow> = {
            let mut stmt = tx.prepare(
                "SELECT id, source_id, payload, attempts FROM jobs
                 WHERE kb_id = ?1 AND state = 'queued' ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![kb_id, limit as i64], |r| {
                Ok(JobRow {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    payload: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for j in &jobs {
            tx.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?2
                 WHERE id = ?1",
                params![j.id, now()],
            )?;
        }
        tx.commit()?;
        Ok(jobs)
    }

    /// Ends a job: `error` is `None` for success (including "failed version recorded", which
    /// is a successful run of the job with a user-fault outcome).
    pub fn finish_job(&self, job_id: i64, error: Option<&str>) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
            params![
                job_id,
                if error.is_some() { "failed" } else { "done" },
                error,
                now()
            ],
        )?;
        Ok(())
    }

    /// Cleans up after a process that died mid-ingestion. Must only be called while holding
    /// the knowledge base's index writer lock, because only a lock holder builds versions:
    /// whatever is `building` or `running` then belongs to nobody.
    ///
    /// Returns the index terms of abandoned versions, to delete from the index.
    pub fn recover(&self, kb_id: i64) -> Result<Vec<String>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let abandoned: Vec<(i64, i64, u32)> = {
            let mut stmt = tx.prepare(
                "SELECT v.id, v.source_id, v.number FROM versions v
                 JOIN sources s ON s.id = v.source_id
                 WHERE s.kb_id = ?1 AND v.state = 'building'",
            )?;
            let rows = stmt.query_map([kb_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut terms = Vec::new();
        for (id, source_id, number) in abandoned {
            tracing::warn!(
                source_id,
                version = number,
                "abandoned build found; marking failed"
            );
            tx.execute(
                "UPDATE versions SET state = 'failed', error_reason = 'internal',
                     error_message = 'interrupted: the process building this version stopped',
                     finished_at = ?2
                 WHERE id = ?1",
                params![id, now()],
            )?;
            tx.execute("DELETE FROM chunks WHERE version_id = ?1", [id])?;
            let term = version_term(source_id, number);
            tx.execute(
                "INSERT INTO index_gc (kb_id, term) VALUES (?1, ?2)",
                params![kb_id, term],
            )?;
            terms.push(term);
        }
        let requeued = tx.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ?2 WHERE kb_id = ?1 AND state = 'running'",
            params![kb_id, now()],
        )?;
        if requeued > 0 {
            tracing::warn!(requeued, "re-queued jobs of a stopped process");
        }
        Self::fail_exhausted(&tx, kb_id, self.max_attempts())?;
        tx.commit()?;
        Ok(terms)
    }

    /// Index deletions still to do (from prunes, removals and recoveries).
    pub fn pending_gc(&self, kb_id: i64) -> Result<Vec<(i64, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, term FROM index_gc WHERE kb_id = ?1")?;
        let rows = stmt.query_map([kb_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets index deletions once they are committed to the index.
    pub fn done_gc(&self, ids: &[i64]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM index_gc WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A question that found nothing relevant, with how often it was asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapRow {
    pub query: String,
    pub count: u32,
    /// The best confidence any of its searches reached.
    pub best_confidence: f32,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// The form under which repeated questions are counted together: case, spacing and trailing
/// punctuation do not make a new question.
pub fn gap_key(query: &str) -> String {
    crate::parse::normalize_ws(&query.to_lowercase())
        .trim_matches(|c: char| c.is_ascii_punctuation() || c == '¿' || c == '¡')
        .to_string()
}

impl Catalog {
    /// Counts a question that found nothing relevant.
    pub fn record_gap(&self, kb_id: i64, query: &str, confidence: f32) -> Result<()> {
        let key = gap_key(query);
        if key.is_empty() {
            return Ok(());
        }
        let t = now();
        let conn = self.lock();
        self.write_beside_reads(&conn, |conn| {
            conn.execute(
                "INSERT INTO gaps (kb_id, query_key, query, count, best_confidence, first_seen,
                     last_seen)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)
                 ON CONFLICT (kb_id, query_key) DO UPDATE SET
                     count = count + 1, query = excluded.query, last_seen = excluded.last_seen,
                     best_confidence = MAX(best_confidence, excluded.best_confidence)",
                params![kb_id, key, query.trim(), f64::from(confidence), t],
            )?;
            Ok(())
        })
    }

    /// Knowledge gaps, most asked first.
    pub fn gaps(&self, kb_id: i64) -> Result<Vec<GapRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT query, count, best_confidence, first_seen, last_seen FROM gaps
             WHERE kb_id = ?1 ORDER BY count DESC, last_seen DESC",
        )?;
        let rows = stmt.query_map([kb_id], |r| {
            Ok(GapRow {
                query: r.get(0)?,
                count: r.get(1)?,
                best_confidence: r.get::<_, f64>(2)? as f32,
                first_seen: r.get(3)?,
                last_seen: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The index term naming one version's documents: `source:version`.
pub fn version_term(source_id: i64, number: u32) -> String {
    format!("{source_id}:{number}")
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("catalog json: {e}")))
}

/// Convenience for user-facing failures built outside an [`Error`].
pub fn failure(reason: Reason, message: impl Into<String>) -> Failure {
    Failure {
        reason: reason.as_str().to_string(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, c)
    }

    #[test]
    fn migrations_apply_once_and_reopen_is_idempotent() {
        let (dir, c) = open();
        assert_eq!(c.schema_version().unwrap(), MIGRATIONS.len() as u32);
        drop(c);
        let c = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        assert_eq!(c.schema_version().unwrap(), MIGRATIONS.len() as u32);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (dir, c) = open();
        c.lock().pragma_update(None, "user_version", 999).unwrap();
        drop(c);
        let err = Catalog::open(&dir.path().join("catalog.db"))
            .err()
            .expect("newer schema must be refused");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn versions_publish_prune_and_revert() {
        let (_d, c) = open();
        let kb = c.kb_create("acme").unwrap();
        assert_eq!(c.kb_create("acme").unwrap(), kb);
        let s = c
            .source_insert(
                kb.id,
                SourceKind::Text,
                "note",
                None,
                &SourceOptions::default(),
            )
            .unwrap();
        let mut numbers = Vec::new();
        for i in 0..5u8 {
            let hash = blobs::content_hash(&[i]);
            let loc = Location::default();
            let path = vec!["H".to_string()];
            let chunks = [NewChunk {
                ord: 0,
                heading_path: &path,
                location: &loc,
                text: "t",
                fields: None,
            }];
            let (vid, n, ids) = c.begin_version(s, &hash, "text", &chunks, &[]).unwrap();
            assert_eq!(ids.len(), 1);
            let gc = c
                .publish(
                    kb.id,
                    &[Publish {
                        version_id: vid,
                        stats: VersionStats::default(),
                        warnings: vec![],
                        title: None,
                        language: None,
                    }],
                    3,
                )
                .unwrap();
            numbers.push(n);
            if n > 3 {
                assert_eq!(gc, vec![version_term(s, n - 3)]);
            } else {
                assert!(gc.is_empty());
            }
        }
        assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
        let src = c.source(kb.id, s).unwrap().unwrap();
        assert_eq!(src.active_version, Some(5));
        assert_eq!(src.status(), SourceStatus::Ready);
        // v1 and v2 are pruned, v3 can be reverted to.
        assert!(c
            .set_active(s, 1)
            .unwrap_err()
            .to_string()
            .contains("pruned"));
        c.set_active(s, 3).unwrap();
        assert!(c.chunks(s, 1).unwrap().is_empty());
        assert_eq!(c.chunks(s, 3).unwrap().len(), 1);
        // A failure keeps the active version and makes the source stale.
        let n = c
            .record_failure(s, None, 0, &failure(Reason::OriginMissing, "gone"))
            .unwrap();
        assert_eq!(n, 6);
        let src = c.source(kb.id, s).unwrap().unwrap();
        assert_eq!(src.active_version, Some(3));
        assert_eq!(src.status(), SourceStatus::Stale);
        assert!(c
            .set_active(s, 6)
            .unwrap_err()
            .to_string()
            .contains("failed"));
        let all = SourceFilter::default();
        assert_eq!(c.active_pairs(kb.id, &all).unwrap(), vec![(s, 3)]);
        let files_only = SourceFilter {
            kinds: vec![SourceKind::File],
            ..Default::default()
        };
        assert!(c.active_pairs(kb.id, &files_only).unwrap().is_empty());
        let by_id = SourceFilter {
            source_ids: vec![s],
            ..Default::default()
        };
        assert_eq!(c.active_pairs(kb.id, &by_id).unwrap(), vec![(s, 3)]);
        c.set_enabled(s, false).unwrap();
        assert!(c.active_pairs(kb.id, &all).unwrap().is_empty());
    }

    #[test]
    fn cached_search_reads_see_every_change_of_this_and_other_connections() {
        let (dir, c) = open();
        let other = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        let kb = c.kb_create("acme").unwrap();
        let s = c
            .source_insert(
                kb.id,
                SourceKind::Text,
                "note",
                None,
                &SourceOptions::default(),
            )
            .unwrap();
        let all = SourceFilter::default();
        assert!(c.active_pairs(kb.id, &all).unwrap().is_empty());
        assert_eq!(c.source_name(kb.id, s).unwrap().as_deref(), Some("note"));
        let hash = blobs::content_hash(b"x");
        let (loc, path) = (Location::default(), vec!["H".to_string()]);
        let chunks = [NewChunk {
            ord: 0,
            heading_path: &path,
            location: &loc,
            text: "t",
            fields: None,
        }];
        let (vid, _, _) = c.begin_version(s, &hash, "text", &chunks, &[]).unwrap();
        let publish = Publish {
            version_id: vid,
            stats: VersionStats::default(),
            warnings: vec![],
            title: None,
            language: Some("ru".into()),
        };
        c.publish(kb.id, &[publish], 3).unwrap();
        assert_eq!(c.active_pairs(kb.id, &all).unwrap(), vec![(s, 1)]);
        let lang = |c: &Catalog| {
            c.source_languages(kb.id)
                .unwrap()
                .get(&s)
                .cloned()
                .flatten()
        };
        assert_eq!(lang(&c).as_deref(), Some("ru"), "detected");
        other.set_language(s, Some("en")).unwrap();
        assert_eq!(
            lang(&c).as_deref(),
            Some("en"),
            "declared wins, seen across processes"
        );
        // The writes every search makes keep the cache, and later changes still show.
        c.usage_add(
            kb.id,
            &access::Usage {
                searches: 1,
                ..Default::default()
            },
        )
        .unwrap();
        c.record_gap(kb.id, "anything?", 0.1).unwrap();
        assert_eq!(c.active_pairs(kb.id, &all).unwrap(), vec![(s, 1)]);
        c.set_enabled(s, false).unwrap();
        assert!(c.active_pairs(kb.id, &all).unwrap().is_empty());
        // Another connection (another process) commits: seen at the next read.
        other.set_enabled(s, true).unwrap();
        assert_eq!(c.active_pairs(kb.id, &all).unwrap(), vec![(s, 1)]);
        other.set_enabled(s, false).unwrap();
        assert!(c.active_pairs(kb.id, &all).unwrap().is_empty());
        other.source_delete(kb.id, s).unwrap();
        assert_eq!(c.source_name(kb.id, s).unwrap(), None);
    }

    #[test]
    fn resolve_by_id_or_unique_name() {
        let (_d, c) = open();
        let kb = c.kb_create("k").unwrap();
        let other = c.kb_create("other").unwrap();
        let o = SourceOptions::default();
        let a = c
            .source_insert(kb.id, SourceKind::Text, "a", None, &o)
            .unwrap();
        c.source_insert(kb.id, SourceKind::Text, "dup", None, &o)
            .unwrap();
        c.source_insert(kb.id, SourceKind::Text, "dup", None, &o)
            .unwrap();
        let foreign = c
            .source_insert(other.id, SourceKind::Text, "x", None, &o)
            .unwrap();
        assert_eq!(c.resolve_source(kb.id, "a").unwrap().id, a);
        assert_eq!(c.resolve_source(kb.id, &a.to_string()).unwrap().id, a);
        let e = c.resolve_source(kb.id, "dup").unwrap_err();
        assert_eq!(e.reason(), Some(Reason::InvalidArgument));
        let e = c.resolve_source(kb.id, &foreign.to_string()).unwrap_err();
        assert_eq!(
            e.reason(),
            Some(Reason::NotFound),
            "another kb's id must not resolve"
        );
    }

    #[test]
    fn jobs_are_claimed_once_and_recovered_after_a_crash() {
        let (_d, c) = open();
        let kb = c.kb_create("k").unwrap();
        let s = c
            .source_insert(
                kb.id,
                SourceKind::Text,
                "a",
                None,
                &SourceOptions::default(),
            )
            .unwrap();
        let j1 = c.enqueue(kb.id, s, Some("p1")).unwrap();
        let j2 = c.enqueue(kb.id, s, Some("p2")).unwrap();
        assert_eq!(j1, j2, "one queued job per source");
        let claimed = c.claim_jobs(kb.id, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].payload.as_deref(), Some("p2"));
        assert!(c.claim_jobs(kb.id, 10).unwrap().is_empty());
        assert_eq!(
            c.source(kb.id, s).unwrap().unwrap().status(),
            SourceStatus::Processing
        );
        let (_vid, n, _) = c
            .begin_version(s, &"0".repeat(64), "text", &[], &[])
            .unwrap();
        // The process dies here. The next writer recovers.
        let terms = c.recover(kb.id).unwrap();
        assert_eq!(terms, vec![version_term(s, n)]);
        let v = &c.versions(s).unwrap()[0];
        assert_eq!(v.state, VersionState::Failed);
        assert_eq!(c.claim_jobs(kb.id, 10).unwrap().len(), 1, "job re-queued");
        assert_eq!(c.pending_gc(kb.id).unwrap().len(), 1);
    }
}
