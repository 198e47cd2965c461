//! The catalog tables of the service: API keys, quotas, daily usage, and the job views the
//! service shows (listing, attempts).
//!
//! They live in the same SQLite catalog as the sources, so a key, a quota or a usage counter
//! is deleted with its knowledge base (`ON DELETE CASCADE`) and one backup holds everything.

use super::{now, Catalog};
use crate::error::{Error, Result};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Migration 6: keys, per-kb quota overrides and daily usage.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    kb_id       INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    agent_id    INTEGER,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE kb_quotas (
    kb_id   INTEGER PRIMARY KEY REFERENCES kbs(id) ON DELETE CASCADE,
    quotas  TEXT NOT NULL
);
CREATE TABLE usage (
    kb_id       INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    parses      INTEGER NOT NULL DEFAULT 0,
    pages       INTEGER NOT NULL DEFAULT 0,
    chunks      INTEGER NOT NULL DEFAULT 0,
    embeddings  INTEGER NOT NULL DEFAULT 0,
    searches    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kb_id, day)
);
CREATE INDEX jobs_by_created ON jobs(kb_id, created_at);
"#;

/// Attempts a job gets by default before it is failed for good.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// What an API key may do. The operator key is not stored: it comes from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Manages one knowledge base.
    Admin,
    /// Searches one knowledge base, restricted to the sources linked to its agent.
    Agent,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Admin => "admin",
            KeyRole::Agent => "agent",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(KeyRole::Admin),
            "agent" => Ok(KeyRole::Agent),
            other => Err(Error::Internal(format!("unknown key role {other:?}"))),
        }
    }
}

/// A stored key, found by the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: i64,
    pub kb_id: i64,
    pub kb_name: String,
    pub role: KeyRole,
    pub agent_id: Option<i64>,
}

/// Plan limits of a knowledge base. `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quotas {
    /// Sources in the knowledge base.
    pub max_sources: Option<u64>,
    /// Bytes of stored originals (uploads, text entries, fetched pages).
    pub max_storage_bytes: Option<u64>,
    /// Ingestion jobs queued per rolling hour.
    pub parse_jobs_per_hour: Option<u64>,
    /// Searches per rolling minute.
    pub searches_per_minute: Option<u64>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_sources: Some(100),
            max_storage_bytes: Some(1024 * 1024 * 1024),
            parse_jobs_per_hour: Some(1000),
            searches_per_minute: Some(600),
        }
    }
}

/// Per-kb changes to the default quotas; a field that is absent keeps the default, an
/// explicit `null` is not representable on purpose (use a very large number for "no limit").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sources: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_jobs_per_hour: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searches_per_minute: Option<u64>,
}

impl QuotaOverrides {
    pub fn apply(&self, base: Quotas) -> Quotas {
        Quotas {
            max_sources: self.max_sources.or(base.max_sources),
            max_storage_bytes: self.max_storage_bytes.or(base.max_storage_bytes),
            parse_jobs_per_hour: self.parse_jobs_per_hour.or(base.parse_jobs_per_hour),
            searches_per_minute: self.searches_per_minute.or(base.searches_per_minute),
        }
    }

    /// Later values win field by field.
    pub fn merge(&self, newer: &QuotaOverrides) -> QuotaOverrides {
        QuotaOverrides {
            max_sources: newer.max_sources.or(self.max_sources),
            max_storage_bytes: newer.max_storage_bytes.or(self.max_storage_bytes),
            parse_jobs_per_hour: newer.parse_jobs_per_hour.or(self.parse_jobs_per_hour),
            searches_per_minute: newer.searches_per_minute.or(self.searches_per_minute),
        }
    }
}

/// Work counted for billing and capacity planning, per knowledge base and UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Ingestions that parsed content (unchanged re-syncs parse nothing and are not counted).
    pub parses: u64,
    /// Pages of paged documents and websites parsed.
    pub pages: u64,
    /// Chunks written.
    pub chunks: u64,
    /// Passages embedded.
    pub embeddings: u64,
    pub searches: u64,
}

impl Usage {
    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

/// The usage of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    #[serde(flatten)]
    pub usage: Usage,
}

/// A job as the API and `lore jobs` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    pub id: i64,
    pub source_id: i64,
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub attempts: u32,
    /// Why the job failed (or why its last attempt failed, while it is retried).
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The UTC calendar day of a Unix time, `YYYY-MM-DD`.
pub fn utc_day(secs: i64) -> String {
    let mut s = super::format_time(secs);
    s.truncate(10);
    s
}

impl Catalog {
    // ---- keys ------------------------------------------------------------------------

    /// Stores a key by the hash of its secret; the secret itself is never stored.
    pub fn key_insert(
        &self,
        kb_id: i64,
        role: KeyRole,
        agent_id: Option<i64>,
        key_hash: &str,
    ) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO api_keys (kb_id, role, agent_id, key_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![kb_id, role.as_str(), agent_id, key_hash, now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The key whose secret hashes to `key_hash`, with its knowledge base.
    pub fn key_by_hash(&self, key_hash: &str) -> Result<Option<KeyRow>> {
        let raw = self
            .lock()
            .query_row(
                "SELECT k.id, k.kb_id, b.name, k.role, k.agent_id FROM api_keys k
                 JOIN kbs b ON b.id = k.kb_id WHERE k.key_hash = ?1",
                [key_hash],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                },
            )
            .optional()?;
        raw.map(|(id, kb_id, kb_name, role, agent_id)| {
            Ok(KeyRow {
                id,
                kb_id,
                kb_name,
                role: KeyRole::parse(&role)?,
                agent_id,
            })
        })
        .transpose()
    }

    // ---- quotas ----------------------------------------------------------------------

    pub fn quota_overrides(&self, kb_id: i64) -> Result<QuotaOverrides> {
        let json: Option<String> = self
            .lock()
            .query_row(
                "SELECT quotas FROM kb_quotas WHERE kb_id = ?1",
                [kb_id],
                |r| r.get(0),
            )
            .optional()?;
        match json {
            Some(j) => super::from_json(&j),
            None => Ok(QuotaOverrides::default()),
        }
    }

    /// Merges `changes` into the knowledge base's overrides and returns the result.
    pub fn set_quota_overrides(
        &self,
        kb_id: i64,
        changes: &QuotaOverrides,
    ) -> Result<QuotaOverrides> {
        let merged = self.quota_overrides(kb_id)?.merge(changes);
        self.lock().execute(
            "INSERT INTO kb_quotas (kb_id, quotas) VALUES (?1, ?2)
             ON CONFLICT (kb_id) DO UPDATE SET quotas = excluded.quotas",
            params![kb_id, super::to_json(&merged)?],
        )?;
        Ok(merged)
    }

    pub fn source_count(&self, kb_id: i64) -> Result<u64> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM sources WHERE kb_id = ?1",
            [kb_id],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Ingestion jobs queued since `since` (the parse-rate quota counts these).
    pub fn jobs_created_since(&self, kb_id: i64, since: i64) -> Result<u64> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM jobs WHERE kb_id = ?1 AND created_at >= ?2",
            params![kb_id, since],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    // ---- usage -----------------------------------------------------------------------

    /// Adds to today's usage counters.
    pub fn usage_add(&self, kb_id: i64, delta: &Usage) -> Result<()> {
        if delta.is_zero() {
            return Ok(());
        }
        let conn = self.lock();
        self.write_beside_reads(&conn, |conn| {
            conn.execute(
                "INSERT INTO usage (kb_id, day, parses, pages, chunks, embeddings, searches)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (kb_id, day) DO UPDATE SET
                 parses = parses + excluded.parses, pages = pages + excluded.pages,
                 chunks = chunks + excluded.chunks,
                 embeddings = embeddings + excluded.embeddings,
                 searches = searches + excluded.searches",
                params![
                    kb_id,
                    utc_day(now()),
                    delta.parses as i64,
                    delta.pages as i64,
                    delta.chunks as i64,
                    delta.embeddings as i64,
                    delta.searches as i64
                ],
            )?;
            Ok(())
        })
    }

    /// The last `days` days with any usage, newest first.
    pub fn usage(&self, kb_id: i64, days: u32) -> Result<Vec<UsageDay>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT day, parses, pages, chunks, embeddings, searches FROM usage
             WHERE kb_id = ?1 AND day >= ?2 ORDER BY day DESC",
        )?;
        let since = utc_day(now() - i64::from(days.saturating_sub(1)) * 86_400);
        let rows = stmt.query_map(params![kb_id, since], |r| {
            Ok(UsageDay {
                day: r.get(0)?,
                usage: Usage {
                    parses: r.get::<_, i64>(1)? as u64,
                    pages: r.get::<_, i64>(2)? as u64,
                    chunks: r.get::<_, i64>(3)? as u64,
                    embeddings: r.get::<_, i64>(4)? as u64,
                    searches: r.get::<_, i64>(5)? as u64,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- jobs ------------------------------------------------------------------------

    const JOB_COLS: &'static str =
        "id, source_id, kind, state, attempts, error, created_at, updated_at";

    fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobInfo> {
        Ok(JobInfo {
            id: r.get(0)?,
            source_id: r.get(1)?,
            kind: r.get(2)?,
            state: r.get(3)?,
            attempts: r.get(4)?,
            error: r.get(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
        })
    }

    /// The newest `limit` jobs of a knowledge base.
    pub fn jobs(&self, kb_id: i64, limit: u32) -> Result<Vec<JobInfo>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {} FROM jobs WHERE kb_id = ?1 ORDER BY id DESC LIMIT ?2",
            Self::JOB_COLS
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![kb_id, limit], Self::job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One job, only if it belongs to `kb_id`.
    pub fn job(&self, kb_id: i64, job_id: i64) -> Result<Option<JobInfo>> {
        let sql = format!(
            "SELECT {} FROM jobs WHERE kb_id = ?1 AND id = ?2",
            Self::JOB_COLS
        );
        Ok(self
            .lock()
            .query_row(&sql, params![kb_id, job_id], Self::job_from_row)
            .optional()?)
    }

    /// The queued job of a source, if any (what an add or sync just queued).
    pub fn queued_job_of(&self, source_id: i64) -> Result<Option<JobInfo>> {
        let sql = format!(
            "SELECT {} FROM jobs WHERE source_id = ?1 AND state IN ('queued', 'running')
             ORDER BY id DESC LIMIT 1",
            Self::JOB_COLS
        );
        Ok(self
            .lock()
            .query_row(&sql, [source_id], Self::job_from_row)
            .optional()?)
    }

    /// Jobs waiting in every knowledge base (the queue gauge of `/metrics`).
    pub fn queued_jobs_total(&self) -> Result<u64> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Knowledge bases with queued or running jobs (running ones may belong to a process
    /// that stopped: running the queue recovers them).
    pub fn kbs_with_jobs(&self) -> Result<Vec<i64>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT kb_id FROM jobs WHERE state IN ('queued', 'running') ORDER BY kb_id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records why the run holding a knowledge base's running jobs failed (our fault: the
    /// catalog, the index or the disk). The jobs stay `running`; the next run re-queues them
    /// and [`Catalog::recover`] fails them once they used up their attempts.
    pub fn note_running_error(&self, kb_id: i64, message: &str) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET error = ?2, updated_at = ?3 WHERE kb_id = ?1 AND state = 'running'",
            params![kb_id, message, now()],
        )?;
        Ok(())
    }

    /// How many attempts a job gets before [`Catalog::recover`] fails it.
    pub fn set_max_attempts(&self, attempts: u32) {
        self.max_attempts
            .store(attempts.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fails queued jobs that used up their attempts, keeping the last error as the reason.
    /// Runs inside recovery, so a job that takes the process down every time (or fails for
    /// our own reasons every time) stops being retried.
    pub(super) fn fail_exhausted(
        tx: &rusqlite::Transaction<'_>,
        kb_id: i64,
        max_attempts: u32,
    ) -> Result<usize> {
        let n = tx.execute(
            "UPDATE jobs SET state = 'failed', updated_at = ?3,
                 error = 'gave up after ' || attempts || ' attempts: '
                     || COALESCE(error, 'the process running it stopped')
             WHERE kb_id = ?1 AND state = 'queued' AND attempts >= ?2",
            params![kb_id, max_attempts, now()],
        )?;
        if n > 0 {
            tracing::warn!(kb_id, failed = n, "jobs failed after their last attempt");
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SourceKind, SourceOptions};

    fn open() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, c)
    }

    #[test]
    fn keys_are_found_by_hash_only_and_scoped_to_their_kb() {
        let (_d, c) = open();
        let a = c.kb_create("a").unwrap();
        c.key_insert(a.id, KeyRole::Admin, None, "h1").unwrap();
        let k = c.key_by_hash("h1").unwrap().unwrap();
        assert_eq!(
            (k.kb_id, k.kb_name.as_str(), k.role),
            (a.id, "a", KeyRole::Admin)
        );
        assert_eq!(c.key_by_hash("h2").unwrap(), None);
        // The same hash cannot be stored twice.
        assert!(c.key_insert(a.id, KeyRole::Agent, Some(1), "h1").is_err());
    }

    #[test]
    fn usage_adds_up_per_day_and_quotas_merge() {
        let (_d, c) = open();
        let kb = c.kb_create("a").unwrap();
        let one = Usage {
            parses: 1,
            chunks: 4,
            searches: 2,
            ..Usage::default()
        };
        c.usage_add(kb.id, &one).unwrap();
        c.usage_add(kb.id, &one).unwrap();
        let days = c.usage(kb.id, 30).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].day, utc_day(now()));
        assert_eq!((days[0].usage.parses, days[0].usage.chunks), (2, 8));
        assert_eq!(days[0].usage.searches, 4);

        c.set_quota_overrides(
            kb.id,
            &QuotaOverrides {
                max_sources: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        let o = c
            .set_quota_overrides(
                kb.id,
                &QuotaOverrides {
                    searches_per_minute: Some(5),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.quota_overrides(kb.id).unwrap(), o);
        let q = o.apply(Quotas::default());
        assert_eq!(q.max_sources, Some(2));
        assert_eq!(q.searches_per_minute, Some(5));
        assert_eq!(q.max_storage_bytes, Quotas::default().max_storage_bytes);
    }

    #[test]
    fn a_job_that_keeps_dying_is_failed_with_its_reason() {
        let (_d, c) = open();
        c.set_max_attempts(2);
        let kb = c.kb_create("a").unwrap();
        let s = c
            .source_insert(
                kb.id,
                SourceKind::Text,
                "t",
                None,
                &SourceOptions::default(),
            )
            .unwrap();
        let job = c.enqueue(kb.id, s, None).unwrap();
        for attempt in 1..=2 {
            let claimed = c.claim_jobs(kb.id, 10).unwrap();
            assert_eq!(claimed.len(), 1, "attempt {attempt}");
            c.note_running_error(kb.id, "disk full").unwrap();
            // The process "dies" here; the next run recovers.
            c.recover(kb.id).unwrap();
        }
        assert!(c.claim_jobs(kb.id, 10).unwrap().is_empty());
        let info = c.job(kb.id, job).unwrap().unwrap();
        assert_eq!(info.state, "failed");
        assert_eq!(info.attempts, 2);
        assert_eq!(
            info.error.as_deref(),
            Some("gave up after 2 attempts: disk full")
        );
        assert_eq!(c.kbs_with_jobs().unwrap(), Vec::<i64>::new());
        // Jobs of another kb are invisible through this one.
        let other = c.kb_create("b").unwrap();
        assert_eq!(c.job(other.id, job).unwrap(), None);
    }
}
