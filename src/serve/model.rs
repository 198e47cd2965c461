//! The JSON shapes of the API. They are separate from the library's rows on purpose: the API
//! is a contract (documented by [`super::openapi`]) and must not change when a catalog row
//! gains a field.

use crate::store::access::{JobInfo, QuotaOverrides, Quotas, Usage, UsageDay};
use crate::store::{format_time, Failure, SourceRow, VersionRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKb {
    /// 1-64 letters, digits, `-` or `_`.
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KbCreated {
    pub name: String,
    /// The first admin key of the knowledge base. Shown once; only its hash is stored.
    pub admin_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KbName {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KbList {
    pub kbs: Vec<KbName>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub kb: String,
    /// `operator`, `admin` or `agent`.
    pub role: String,
    pub agent: Option<AgentRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKey {
    /// `admin` or `agent`.
    pub role: String,
    /// The agent an agent key searches as (required for `agent`).
    #[serde(default)]
    pub agent: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    /// The secret. Shown once; only its hash is stored.
    pub key: String,
    pub role: String,
    pub agent: Option<i64>,
}

/// A source as the admin sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Source {
    pub id: i64,
    pub name: String,
    /// `file`, `text`, `catalog` or `url`.
    pub kind: String,
    /// The URL of a website source (uploads and text entries have none).
    pub origin: Option<String>,
    /// `ready`, `processing`, `stale`, `failed` or `disabled`.
    pub status: String,
    /// Why the latest ingestion failed (a stable reason name), if it did.
    pub reason: Option<String>,
    pub message: Option<String>,
    pub active_version: Option<u32>,
    /// Chunks of the active version.
    pub chunks: u32,
    /// Bytes of the active version's content.
    pub bytes: u64,
    /// Declared language, else the one detected in the active version.
    pub language: Option<String>,
    pub tags: Vec<String>,
    /// Agents the source is linked to.
    pub agents: Vec<i64>,
    /// When the latest ingestion was attempted (RFC 3339).
    pub last_sync: Option<String>,
    pub enabled: bool,
    /// Automatic re-sync interval of a website source.
    pub every_secs: Option<u64>,
}

impl Source {
    /// Builds the API view of a source from its row and its versions.
    pub fn from_row(s: &SourceRow, versions: &[VersionRow]) -> Source {
        let active = s
            .active_version
            .and_then(|n| versions.iter().find(|v| v.number == n));
        let (reason, message) = match &s.last_error {
            Some(Failure { reason, message }) => (Some(reason.clone()), Some(message.clone())),
            None => (None, None),
        };
        Source {
            id: s.id,
            name: s.name.clone(),
            kind: s.kind.as_str().to_string(),
            origin: if s.kind == crate::SourceKind::Url {
                s.origin.clone()
            } else {
                None
            },
            status: s.status().as_str().to_string(),
            reason,
            message,
            active_version: s.active_version,
            chunks: active.map_or(0, |v| v.stats.chunks),
            bytes: active.map_or(0, |v| v.stats.bytes),
            language: s
                .language
                .clone()
                .or_else(|| active.and_then(|v| v.language.clone())),
            tags: s.tags.clone(),
            agents: s.agents.clone(),
            last_sync: versions.iter().map(|v| v.created_at).max().map(format_time),
            enabled: s.enabled,
            every_secs: s.options.sync_every_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    pub sources: Vec<Source>,
}

/// Why a version failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionError {
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Version {
    pub number: u32,
    /// `building`, `ready` or `failed`.
    pub state: String,
    pub format: Option<String>,
    pub title: Option<String>,
    pub language: Option<String>,
    pub bytes: u64,
    pub chars: u64,
    pub chunks: u32,
    pub pages: Option<u32>,
    pub truncated: bool,
    pub warnings: Vec<String>,
    pub error: Option<VersionError>,
    /// Removed by retention: can no longer be reverted to.
    pub pruned: bool,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl From<&VersionRow> for Version {
    fn from(v: &VersionRow) -> Self {
        Version {
            number: v.number,
            state: v.state.as_str().to_string(),
            format: v.format.clone(),
            title: v.title.clone(),
            language: v.language.clone(),
            bytes: v.stats.bytes,
            chars: v.stats.chars,
            chunks: v.stats.chunks,
            pages: v.stats.pages,
            truncated: v.stats.truncated,
            warnings: v.warnings.clone(),
            error: v.error.as_ref().map(|f| VersionError {
                reason: f.reason.clone(),
                message: f.message.clone(),
            }),
            pruned: v.pruned,
            created_at: format_time(v.created_at),
            finished_at: v.finished_at.map(format_time),
        }
    }
}

/// One page of a website version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    pub url: String,
    pub content_type: Option<String>,
    /// Why the page is not fresh, when it is not.
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceDetail {
    #[serde(flatten)]
    pub source: Source,
    pub versions: Vec<Version>,
    pub pages: Vec<Page>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Chunk {
    pub id: i64,
    pub ord: u32,
    /// Heading path of the chunk's section.
    pub heading: Vec<String>,
    /// Where in the original: lines, pages, sheet and rows, URL.
    #[schema(value_type = Object)]
    pub location: serde_json::Value,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkList {
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChunkQuery {
    /// Version number (default: the active one).
    pub version: Option<u32>,
}

/// Changes to a source; absent fields are left alone.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchSource {
    pub tags: Option<Vec<String>>,
    /// An ISO 639 code, or `null` to go back to the detected language.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub language: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Revert {
    pub version: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddUrl {
    pub url: String,
    /// Also crawl the pages under the URL (same host, same path prefix).
    #[serde(default)]
    pub with_children: bool,
    pub max_pages: Option<usize>,
    pub max_depth: Option<u32>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Re-sync automatically at this interval.
    pub every_secs: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub language: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddText {
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub language: Option<String>,
}

/// Progress of the ingestion run a running job belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobProgress {
    pub done: u64,
    pub total: u64,
    /// What is being worked on (a stage and a source name).
    pub stage: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: i64,
    pub source_id: i64,
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub progress: Option<JobProgress>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Job {
    pub fn from_info(j: &JobInfo, progress: Option<JobProgress>) -> Job {
        Job {
            id: j.id,
            source_id: j.source_id,
            kind: j.kind.clone(),
            state: j.state.clone(),
            attempts: j.attempts,
            progress: if j.state == "running" { progress } else { None },
            error: j.error.clone(),
            created_at: format_time(j.created_at),
            updated_at: format_time(j.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobQueued {
    pub job: Job,
}

/// What an add queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    pub sources: Vec<Source>,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    /// Ids of the linked sources.
    pub sources: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateAgent {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SearchRequest {
    pub query: String,
    /// Hits wanted (default 8, at most 100).
    pub k: Option<usize>,
    /// `hybrid`, `text` or `vector` (default: the knowledge base's best available).
    pub mode: Option<String>,
    /// Search as this agent: only its linked sources. Forced for agent keys.
    pub agent: Option<i64>,
    #[serde(default)]
    pub source_ids: Vec<i64>,
    /// `file`, `text`, `catalog`, `url`.
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Only products not known to be out of stock.
    #[serde(default)]
    pub in_stock: bool,
    /// Withhold hits below this confidence (0 shows everything found).
    pub min_confidence: Option<f32>,
}

/// Where a passage comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citation {
    pub source_id: i64,
    pub source_name: String,
    pub version: u32,
    /// Heading path of the passage's section.
    pub heading: Vec<String>,
    /// Lines, pages, sheet and rows, URL.
    #[schema(value_type = Object)]
    pub location: serde_json::Value,
    /// One line for people: `faq.md v2 › Shipping (lines 12-14)`.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub chunk_id: i64,
    pub score: f32,
    pub text: String,
    pub citation: Citation,
    /// A product's structured fields (catalog sources).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub mode: String,
    pub confidence: f32,
    pub nothing_relevant: bool,
    pub hits: Vec<SearchHit>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Gap {
    pub query: String,
    pub count: u32,
    pub last_seen: String,
    pub best_confidence: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapList {
    pub gaps: Vec<Gap>,
}

/// Plan limits; `null` is unlimited.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct QuotaView {
    pub max_sources: Option<u64>,
    pub max_storage_bytes: Option<u64>,
    pub parse_jobs_per_hour: Option<u64>,
    pub searches_per_minute: Option<u64>,
}

impl From<Quotas> for QuotaView {
    fn from(q: Quotas) -> Self {
        QuotaView {
            max_sources: q.max_sources,
            max_storage_bytes: q.max_storage_bytes,
            parse_jobs_per_hour: q.parse_jobs_per_hour,
            searches_per_minute: q.searches_per_minute,
        }
    }
}

/// Changes to a knowledge base's quotas; absent fields are left alone.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub struct QuotaPatch {
    pub max_sources: Option<u64>,
    pub max_storage_bytes: Option<u64>,
    pub parse_jobs_per_hour: Option<u64>,
    pub searches_per_minute: Option<u64>,
}

impl From<QuotaPatch> for QuotaOverrides {
    fn from(p: QuotaPatch) -> Self {
        QuotaOverrides {
            max_sources: p.max_sources,
            max_storage_bytes: p.max_storage_bytes,
            parse_jobs_per_hour: p.parse_jobs_per_hour,
            searches_per_minute: p.searches_per_minute,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UsageCounts {
    pub parses: u64,
    pub pages: u64,
    pub chunks: u64,
    pub embeddings: u64,
    pub searches: u64,
}

impl From<&Usage> for UsageCounts {
    fn from(u: &Usage) -> Self {
        UsageCounts {
            parses: u.parses,
            pages: u.pages,
            chunks: u.chunks,
            embeddings: u.embeddings,
            searches: u.searches,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDayView {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    #[serde(flatten)]
    pub usage: UsageCounts,
}

impl From<&UsageDay> for UsageDayView {
    fn from(d: &UsageDay) -> Self {
        UsageDayView {
            day: d.day.clone(),
            usage: (&d.usage).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    pub quotas: QuotaView,
    /// Sources now, against `max_sources`.
    pub sources: u64,
    /// Stored bytes now, against `max_storage_bytes`.
    pub storage_bytes: u64,
    pub today: UsageCounts,
    /// The last 30 days with any usage, newest first.
    pub days: Vec<UsageDayView>,
}
