//! `/metrics` in the Prometheus text format: requests, errors by code/reason, search latency,
//! the job queue and ingestion throughput.
//!
//! Parse throughput is `rate(lore_parsed_pages_total) / rate(lore_ingest_seconds_total)` (or
//! chunks); the registry is the service's own, not the process-global one, so two servers in
//! one process (the tests) do not share counters.

use super::AppState;
use crate::error::{Error, Result};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub errors: IntCounterVec,
    pub search_seconds: Histogram,
    pub jobs_done: IntCounterVec,
    pub jobs_queued: IntGauge,
    pub jobs_running: IntGauge,
    pub parses: IntCounter,
    pub parsed_pages: IntCounter,
    pub parsed_chunks: IntCounter,
    pub ingest_seconds: Counter,
}

fn err(e: prometheus::Error) -> Error {
    Error::Internal(format!("metrics: {e}"))
}

impl Metrics {
    pub fn new() -> Result<Metrics> {
        let registry = Registry::new_custom(Some("lore".into()), None).map_err(err)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .map_err(err)?;
        let errors = IntCounterVec::new(
            Opts::new(
                "errors_total",
                "errors by stable code or reason (answers and ingestion failures)",
            ),
            &["reason"],
        )
        .map_err(err)?;
        let search_seconds = Histogram::with_opts(
            HistogramOpts::new("search_seconds", "search latency, seconds").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )
        .map_err(err)?;
        let jobs_done = IntCounterVec::new(
            Opts::new("jobs_total", "finished ingestion jobs by outcome"),
            &["outcome"],
        )
        .map_err(err)?;
        let jobs_queued = IntGauge::new("jobs_queued", "jobs waiting in the queue").map_err(err)?;
        let jobs_running =
            IntGauge::new("ingest_runs_running", "knowledge bases ingesting now").map_err(err)?;
        let parses =
            IntCounter::new("parses_total", "ingestions that parsed content").map_err(err)?;
        let parsed_pages = IntCounter::new(
            "parsed_pages_total",
            "pages parsed (paged documents, websites)",
        )
        .map_err(err)?;
        let parsed_chunks =
            IntCounter::new("parsed_chunks_total", "chunks written").map_err(err)?;
        let ingest_seconds =
            Counter::new("ingest_seconds_total", "seconds spent in ingestion runs").map_err(err)?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(search_seconds.clone()),
            Box::new(jobs_done.clone()),
            Box::new(jobs_queued.clone()),
            Box::new(jobs_running.clone()),
            Box::new(parses.clone()),
            Box::new(parsed_pages.clone()),
            Box::new(parsed_chunks.clone()),
            Box::new(ingest_seconds.clone()),
        ] {
            registry.register(c).map_err(err)?;
        }
        Ok(Metrics {
            registry,
            requests,
            errors,
            search_seconds,
            jobs_done,
            jobs_queued,
            jobs_running,
            parses,
            parsed_pages,
            parsed_chunks,
            ingest_seconds,
        })
    }

    /// Refreshes the queue gauge from the catalog (called by the workers' loop).
    pub fn set_queue(&self, state: &AppState) {
        match state.lore().catalog().queued_jobs_total() {
            Ok(n) => self.jobs_queued.set(n as i64),
            Err(e) => tracing::warn!("counting queued jobs: {e}"),
        }
    }

    fn encode(&self) -> Result<String> {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(err)?;
        String::from_utf8(buf).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// The Prometheus scrape endpoint.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> Response {
    match state.metrics().encode() {
        Ok(text) => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(e) => super::ApiError::from(e).into_response(),
    }
}

/// Counts every request by route template (never the raw path: ids would explode the label
/// set) and status, and error answers by their code.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let resp = next.run(req).await;
    let m = state.metrics();
    m.requests
        .with_label_values(&[method.as_str(), route.as_str(), resp.status().as_str()])
        .inc();
    if let Some(code) = resp.extensions().get::<super::error::ErrorCode>() {
        m.errors.with_label_values(&[code.0.as_str()]).inc();
    }
    resp
}
