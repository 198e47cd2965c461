//! Background work of the service: ingestion workers over the persistent job queue, and the
//! scheduler of automatic URL re-syncs.
//!
//! * The queue is the catalog's `jobs` table, so it survives restarts. A knowledge base with
//!   queued jobs (or `running` ones left by a process that stopped) is handed to a worker,
//!   which runs [`crate::KnowledgeBase::run_pending`]: that holds the kb's index writer (its
//!   ingest lock), recovers what a dead process left, fails jobs that used up their attempts,
//!   and runs the rest in batches of `jobs_per_kb`.
//! * Concurrency: at most `workers` knowledge bases ingest at once (the overall limit), one
//!   run per knowledge base at a time, `jobs_per_kb` jobs parsed in parallel per batch.
//! * Workers wake when a request queues a job ([`Board::wake`]) and every `poll_ms` for jobs
//!   queued by other processes (`lore add`).
//! * A run that fails for our own reasons (catalog, index, disk) records the error on its
//!   jobs; the next run re-queues them and, after `max_attempts`, fails them with that error.

use super::model::JobProgress;
use super::AppState;
use crate::store::access::Usage;
use crate::{Outcome, Progress};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

/// What the workers share with the handlers: the wake-up signal, which knowledge bases are
/// ingesting, and the progress of their runs.
#[derive(Default)]
pub struct Board {
    wake: Notify,
    running: Mutex<HashSet<i64>>,
    progress: Mutex<HashMap<i64, JobProgress>>,
}

impl Board {
    /// A job was queued: look at the queue now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Progress of the run ingesting knowledge base `kb_id`, if one is.
    pub fn progress(&self, kb_id: i64) -> Option<JobProgress> {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kb_id)
            .cloned()
    }

    fn set_progress(&self, kb_id: i64, f: impl FnOnce(&mut JobProgress)) {
        let mut map = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let p = map.entry(kb_id).or_insert_with(|| JobProgress {
            done: 0,
            total: 0,
            stage: "starting".into(),
        });
        f(p);
    }

    /// Claims knowledge base `kb_id` for one run; false when a run is already going.
    fn claim(&self, kb_id: i64) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kb_id)
    }

    fn release(&self, kb_id: i64) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kb_id);
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kb_id);
    }
}

/// Reports a run's progress to the board (shown on its running jobs).
struct RunProgress {
    state: AppState,
    kb_id: i64,
}

impl Progress for RunProgress {
    fn start(&self, total: u64, what: &str) {
        self.state.board().set_progress(self.kb_id, |p| {
            p.total = total;
            p.done = 0;
            p.stage = what.to_string();
        });
    }

    fn inc(&self, n: u64) {
        self.state.board().set_progress(self.kb_id, |p| p.done += n);
    }

    fn message(&self, msg: &str) {
        self.state
            .board()
            .set_progress(self.kb_id, |p| p.stage = format!("ingesting {msg}"));
    }
}

/// Starts the workers and the scheduler; the returned future ends after `stop` turns true
/// and every run in progress has finished.
pub fn spawn(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> {
    let handle = tokio::spawn(async move {
        let workers = state.config().workers;
        if workers == 0 {
            tracing::info!("no ingestion workers (workers = 0): jobs stay queued");
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
        let permits = Arc::new(Semaphore::new(workers));
        let mut runs = JoinSet::new();
        let poll = super::poll_interval(state.config());
        let resync_every = Duration::from_secs(state.config().resync_check_secs.max(1));
        let mut last_resync: Option<Instant> = None;
        loop {
            if last_resync.is_none_or(|t| t.elapsed() >= resync_every) {
                last_resync = Some(Instant::now());
                let st = state.clone();
                if let Err(e) = state
                    .blocking(move |lore| queue_due_resyncs(&st, lore))
                    .await
                {
                    tracing::error!("scheduling re-syncs: {}", e.message);
                }
            }
            match state
                .blocking(|lore| Ok(lore.catalog().kbs_with_jobs()?))
                .await
            {
                Ok(kbs) => {
                    state.metrics().set_queue(&state);
                    for kb_id in kbs {
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            break;
                        };
                        if !state.board().claim(kb_id) {
                            continue;
                        }
                        let st = state.clone();
                        runs.spawn(async move {
                            let st2 = st.clone();
                            let _ = tokio::task::spawn_blocking(move || run_kb(&st2, kb_id)).await;
                            st.board().release(kb_id);
                            drop(permit);
                            // Whatever was queued meanwhile is looked at at once.
                            st.board().wake();
                        });
                    }
                }
                Err(e) => tracing::error!("reading the job queue: {}", e.message),
            }
            while runs.try_join_next().is_some() {}
            tokio::select! {
                _ = state.board().wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        // Let running ingestion finish: a run stopped halfway would be recovered at the next
        // start anyway, but finishing it is cheaper than redoing it.
        while runs.join_next().await.is_some() {}
    });
    async move {
        if let Err(e) = handle.await {
            tracing::error!("the job workers stopped: {e}");
        }
    }
}

/// Runs the queue of one knowledge base until it is empty.
fn run_kb(state: &AppState, kb_id: i64) {
    let lore = state.lore();
    let name = match lore.catalog().kbs() {
        Ok(kbs) => match kbs.into_iter().find(|k| k.id == kb_id) {
            Some(k) => k.name,
            None => return,
        },
        Err(e) => {
            tracing::error!(kb_id, "reading knowledge bases: {e}");
            return;
        }
    };
    let kb = match lore.existing_kb(&name) {
        Ok(Some(kb)) => kb,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(kb = %name, "opening the knowledge base: {e}");
            return;
        }
    };
    let progress = RunProgress {
        state: state.clone(),
        kb_id,
    };
    let started = Instant::now();
    state.metrics().jobs_running.inc();
    let result = kb.run_pending(&progress);
    state.metrics().jobs_running.dec();
    match result {
        Ok(reports) => {
            let usage = kb.ingestion_usage(&reports).unwrap_or_else(|e| {
                tracing::warn!(kb = %name, "counting ingestion: {e}");
                Usage::default()
            });
            let m = state.metrics();
            for r in &reports {
                let outcome = match &r.outcome {
                    Outcome::Created { .. } => "created",
                    Outcome::Unchanged { .. } => "unchanged",
                    Outcome::Failed { reason, .. } => {
                        m.errors.with_label_values(&[reason.as_str()]).inc();
                        "failed"
                    }
                };
                m.jobs_done.with_label_values(&[outcome]).inc();
            }
            m.parsed_pages.inc_by(usage.pages);
            m.parsed_chunks.inc_by(usage.chunks);
            m.parses.inc_by(usage.parses);
            m.ingest_seconds.inc_by(started.elapsed().as_secs_f64());
            if !reports.is_empty() {
                tracing::info!(kb = %name, jobs = reports.len(), secs = started.elapsed().as_secs_f64(), "ingestion run finished");
            }
        }
        Err(e) => {
            tracing::error!(kb = %name, "ingestion run failed: {e}");
            state
                .metrics()
                .errors
                .with_label_values(&["internal"])
                .inc();
            if let Err(e2) = lore.catalog().note_running_error(kb_id, &e.to_string()) {
                tracing::error!(kb = %name, "recording the failure: {e2}");
            }
        }
    }
}

/// Queues the URL sources whose re-sync interval has passed, in every knowledge base,
/// within each one's parse-rate quota.
fn queue_due_resyncs(state: &AppState, lore: &crate::Lore) -> Result<(), super::ApiError> {
    let now = crate::store::now();
    for row in lore.catalog().kbs()? {
        let due = lore.catalog().due_sources(row.id, now)?;
        if due.is_empty() {
            continue;
        }
        if let Some(max) = state.quotas(row.id)?.parse_jobs_per_hour {
            let recent = lore.catalog().jobs_created_since(row.id, now - 3600)?;
            if recent + due.len() as u64 > max {
                tracing::warn!(kb = %row.name, max, "scheduled re-syncs postponed: parse-rate quota reached");
                continue;
            }
        }
        for id in &due {
            lore.catalog().enqueue(row.id, *id, None)?;
        }
        tracing::info!(kb = %row.name, sources = due.len(), "scheduled re-syncs queued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::model::Job;
    use crate::store::access::JobInfo;

    #[test]
    fn one_run_per_kb_and_its_progress_shows_on_running_jobs_only() {
        let b = Board::default();
        assert!(b.claim(1));
        assert!(!b.claim(1), "a second run of the same kb must wait");
        assert!(b.claim(2), "another kb runs alongside");
        b.set_progress(1, |p| {
            p.total = 4;
            p.done = 1;
            p.stage = "ingesting faq.md".into();
        });
        let p = b.progress(1).unwrap();
        assert_eq!(
            (p.done, p.total, p.stage.as_str()),
            (1, 4, "ingesting faq.md")
        );
        let mut info = JobInfo {
            id: 7,
            source_id: 3,
            kind: "ingest".into(),
            state: "running".into(),
            attempts: 1,
            error: None,
            created_at: 0,
            updated_at: 0,
        };
        assert!(Job::from_info(&info, b.progress(1)).progress.is_some());
        info.state = "queued".into();
        assert!(Job::from_info(&info, b.progress(1)).progress.is_none());
        b.release(1);
        assert!(b.progress(1).is_none());
        assert!(b.claim(1));
    }
}
