//! Plan limits per knowledge base, checked before work is accepted.
//!
//! Answers name the limit (`{"error": {"code", "message", "limit": {"name", "value"}}}`):
//! * rates → 429 `rate-limited`: `parse_jobs_per_hour` (jobs queued in the last hour, counted
//!   in the catalog so a restart does not reset it), `searches_per_minute` (a sliding window in
//!   memory: a restart forgives a minute of searches, which is harmless);
//! * sizes → 403 `quota-exceeded`: `max_storage_bytes` (stored originals);
//! * counts → 409 `quota-exceeded`: `max_sources`.

use super::error::ApiError;
use crate::store::access::Quotas;
use crate::store::now;
use crate::{KnowledgeBase, Reason};
use axum::http::StatusCode;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refuses adding `adding` sources when the knowledge base would have more than allowed.
pub fn check_sources(kb: &KnowledgeBase<'_>, q: &Quotas, adding: u64) -> Result<(), ApiError> {
    let Some(max) = q.max_sources else {
        return Ok(());
    };
    let have = kb.sources()?.len() as u64;
    if have + adding > max {
        return Err(ApiError::over_limit(
            StatusCode::CONFLICT,
            Reason::QuotaExceeded.as_str(),
            "max_sources",
            max,
            format!("the knowledge base has {have} sources; its plan allows {max}"),
        ));
    }
    Ok(())
}

/// How many more bytes of originals the knowledge base may store (`None`: unlimited).
pub fn storage_left(kb: &KnowledgeBase<'_>, q: &Quotas) -> Result<Option<u64>, ApiError> {
    match q.max_storage_bytes {
        None => Ok(None),
        Some(max) => Ok(Some(max.saturating_sub(kb.storage_bytes()?))),
    }
}

/// The answer for content that does not fit in the storage left.
pub fn storage_exceeded(max: u64) -> ApiError {
    ApiError::over_limit(
        StatusCode::FORBIDDEN,
        Reason::QuotaExceeded.as_str(),
        "max_storage_bytes",
        max,
        format!("this content does not fit in the knowledge base's storage quota of {max} bytes"),
    )
}

/// Refuses storing `incoming` more bytes past the storage quota.
pub fn check_storage(kb: &KnowledgeBase<'_>, q: &Quotas, incoming: u64) -> Result<(), ApiError> {
    match (storage_left(kb, q)?, q.max_storage_bytes) {
        (Some(left), Some(max)) if incoming > left => Err(storage_exceeded(max)),
        _ => Ok(()),
    }
}

/// Refuses queuing `adding` ingestion jobs past the hourly parse rate.
pub fn check_parse_rate(kb: &KnowledgeBase<'_>, q: &Quotas, adding: u64) -> Result<(), ApiError> {
    let Some(max) = q.parse_jobs_per_hour else {
        return Ok(());
    };
    let recent = kb.catalog().jobs_created_since(kb.id(), now() - 3600)?;
    if recent + adding > max {
        return Err(ApiError::over_limit(
            StatusCode::TOO_MANY_REQUESTS,
            Reason::RateLimited.as_str(),
            "parse_jobs_per_hour",
            max,
            format!("{recent} ingestion jobs were queued in the last hour; the plan allows {max} per hour"),
        ));
    }
    Ok(())
}

/// Searches per knowledge base in the last minute.
#[derive(Default)]
pub struct SearchLimiter {
    windows: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl SearchLimiter {
    /// Counts a search, or refuses it when the last minute already had `max`.
    pub fn admit(&self, kb_id: i64, max: Option<u64>) -> Result<(), ApiError> {
        let Some(max) = max else {
            return Ok(());
        };
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.entry(kb_id).or_default();
        while w
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            w.pop_front();
        }
        if w.len() as u64 >= max {
            return Err(ApiError::over_limit(
                StatusCode::TOO_MANY_REQUESTS,
                Reason::RateLimited.as_str(),
                "searches_per_minute",
                max,
                format!("the plan allows {max} searches per minute; try again shortly"),
            ));
        }
        w.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_window_refuses_past_the_limit_per_kb() {
        let l = SearchLimiter::default();
        for _ in 0..3 {
            l.admit(1, Some(3)).unwrap();
        }
        let e = l.admit(1, Some(3)).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.limit.unwrap().name, "searches_per_minute");
        // Another knowledge base has its own window; no limit means none.
        l.admit(2, Some(3)).unwrap();
        l.admit(1, None).unwrap();
    }
}
