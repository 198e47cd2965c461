//! The HTTP service (`lore serve`): a JSON API over knowledge bases, with API keys and roles,
//! quotas and usage metering, background ingestion workers, an OpenAPI document, Prometheus
//! metrics and the admin page.
//!
//! The library ([`Lore`], [`crate::KnowledgeBase`]) is synchronous (SQLite, tantivy), so every
//! handler does its work on tokio's blocking pool ([`AppState::blocking`]); the async side
//! only parses requests, checks keys and quotas, and streams uploads.
//!
//! Modules: [`auth`] (keys and roles), [`error`] (JSON errors with stable codes), one module
//! per route area ([`kbs`], [`sources`], [`agents`], [`search`], [`jobs`]), [`quota`],
//! [`metrics`], [`openapi`], [`web`] (the embedded admin page) and [`worker`] (the job
//! queue's runners and the re-sync scheduler).

pub mod agents;
pub mod auth;
pub mod error;
pub mod jobs;
pub mod kbs;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod quota;
pub mod search;
pub mod sources;
pub mod web;
pub mod worker;

use crate::error::{Error, Result};
use crate::store::access::{Quotas, DEFAULT_MAX_ATTEMPTS};
use crate::Lore;
use axum::routing::{get, patch, post, put};
use axum::Router;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use error::ApiError;

/// Settings of the service, from the `[serve]` table of `lore.toml` and the environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The operator's key (creates knowledge bases and their keys). `LORE_OPERATOR_KEY`
    /// overrides it. Without one, no request can create a knowledge base.
    pub operator_key: Option<String>,
    /// Default plan limits of every knowledge base (each can be changed per kb).
    pub quotas: Quotas,
    /// Knowledge bases ingesting at the same time (the overall concurrency limit). 0 starts
    /// no worker: jobs stay queued (the tests use it to stage a restart).
    pub workers: usize,
    /// Jobs of one knowledge base parsed in parallel in one batch (the per-kb limit; a kb's
    /// batches run one at a time because its index has a single writer).
    pub jobs_per_kb: usize,
    /// Attempts a job gets (a crash or our own failure uses one) before it is failed.
    pub max_attempts: u32,
    /// How often the workers look for queued jobs that no request announced (jobs queued by
    /// the CLI, or left by a stopped process), in milliseconds.
    pub poll_ms: u64,
    /// How often the scheduler looks for URL sources due for a re-sync, in seconds.
    pub resync_check_secs: u64,
    /// Largest upload, in bytes; `None` means the configuration's source byte limit.
    pub max_upload_bytes: Option<u64>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            operator_key: None,
            quotas: Quotas::default(),
            workers: 2,
            jobs_per_kb: 8,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            poll_ms: 2000,
            resync_check_secs: 60,
            max_upload_bytes: None,
        }
    }
}

impl ServeConfig {
    /// Reads the `[serve]` table of `<data>/lore.toml` (if any) and `LORE_OPERATOR_KEY`.
    pub fn load(data_dir: &Path) -> Result<ServeConfig> {
        let path = data_dir.join("lore.toml");
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) => {
                #[derive(Deserialize, Default)]
                struct File {
                    #[serde(default)]
                    serve: Option<toml::Value>,
                }
                let file: File = toml::from_str(&text)
                    .map_err(|e| Error::invalid(format!("{}: {}", path.display(), e.message())))?;
                match file.serve {
                    Some(v) => v.try_into().map_err(|e: toml::de::Error| {
                        Error::invalid(format!("{} [serve]: {}", path.display(), e.message()))
                    })?,
                    None => ServeConfig::default(),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ServeConfig::default(),
            Err(e) => return Err(Error::storage(format!("reading {}", path.display()), e)),
        };
        if let Ok(key) = std::env::var("LORE_OPERATOR_KEY") {
            if !key.is_empty() {
                cfg.operator_key = Some(key);
            }
        }
        Ok(cfg)
    }
}

/// Opens the data folder for serving: the configuration of `lore.toml`, with the batch size
/// set to the per-kb job concurrency.
pub fn open_lore(data_dir: &Path, config: &ServeConfig) -> Result<Lore> {
    let mut cfg = crate::Config::load(data_dir)?;
    cfg.batch_size = config.jobs_per_kb.max(1);
    Lore::open_with(data_dir, cfg)
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    lore: Arc<Lore>,
    config: ServeConfig,
    metrics: metrics::Metrics,
    board: worker::Board,
    limiter: quota::SearchLimiter,
}

impl AppState {
    pub fn new(lore: Lore, config: ServeConfig) -> Result<AppState> {
        lore.catalog().set_max_attempts(config.max_attempts);
        Ok(AppState {
            inner: Arc::new(Inner {
                lore: Arc::new(lore),
                metrics: metrics::Metrics::new()?,
                board: worker::Board::default(),
                limiter: quota::SearchLimiter::default(),
                config,
            }),
        })
    }

    pub fn lore(&self) -> &Arc<Lore> {
        &self.inner.lore
    }

    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    pub(crate) fn board(&self) -> &worker::Board {
        &self.inner.board
    }

    pub(crate) fn limiter(&self) -> &quota::SearchLimiter {
        &self.inner.limiter
    }

    /// The effective quotas of a knowledge base: the configured defaults with its overrides.
    pub fn quotas(&self, kb_id: i64) -> Result<Quotas> {
        Ok(self
            .lore()
            .catalog()
            .quota_overrides(kb_id)?
            .apply(self.config().quotas))
    }

    /// Runs synchronous library work on the blocking pool. A panic there is our fault (500),
    /// never a crashed server.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Lore) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let lore = self.lore().clone();
        match tokio::task::spawn_blocking(move || f(&lore)).await {
            Ok(r) => r,
            Err(e) => Err(ApiError::from(Error::Internal(format!(
                "request task failed: {e}"
            )))),
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/kb", post(kbs::create_kb).get(kbs::list_kbs))
        .route("/v1/kb/{kb}/whoami", get(kbs::whoami))
        .route("/v1/kb/{kb}/keys", post(kbs::create_key))
        .route("/v1/kb/{kb}/quotas", put(kbs::set_quotas))
        .route("/v1/kb/{kb}/usage", get(kbs::usage))
        .route("/v1/kb/{kb}/sources", get(sources::list))
        .route(
            "/v1/kb/{kb}/sources/upload",
            // The upload enforces its own limit while streaming.
            post(sources::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/v1/kb/{kb}/sources/url", post(sources::add_url))
        .route("/v1/kb/{kb}/sources/text", post(sources::add_text))
        .route(
            "/v1/kb/{kb}/sources/{id}",
            get(sources::show)
                .patch(sources::patch)
                .delete(sources::remove),
        )
        .route("/v1/kb/{kb}/sources/{id}/chunks", get(sources::chunks))
        .route("/v1/kb/{kb}/sources/{id}/sync", post(sources::sync))
        .route("/v1/kb/{kb}/sources/{id}/revert", post(sources::revert))
        .route("/v1/kb/{kb}/sources/{id}/enable", post(sources::enable))
        .route("/v1/kb/{kb}/sources/{id}/disable", post(sources::disable))
        .route("/v1/kb/{kb}/agents", get(agents::list).post(agents::create))
        .route(
            "/v1/kb/{kb}/agents/{agent}",
            patch(agents::rename).delete(agents::remove),
        )
        .route(
            "/v1/kb/{kb}/agents/{agent}/sources/{id}",
            put(agents::link).delete(agents::unlink),
        )
        .route("/v1/kb/{kb}/search", post(search::search))
        .route("/v1/kb/{kb}/gaps", get(search::gaps))
        .route("/v1/kb/{kb}/jobs", get(jobs::list))
        .route("/v1/kb/{kb}/jobs/{id}", get(jobs::show));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .route("/", get(web::index))
        .route("/assets/{file}", get(web::asset))
        // A route layer sees the matched route template (the metrics label).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(error::not_found_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        // Uploads stream through their own limit (see `sources::upload`); every other body
        // is small JSON.
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}

/// Liveness: the process answers and its catalog responds.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, body = model::Health)))]
pub async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<model::Health>, ApiError> {
    state
        .blocking(|lore| Ok(lore.catalog().schema_version()?))
        .await?;
    Ok(axum::Json(model::Health { status: "ok" }))
}

/// A running server: its address, and a way to stop it that waits for the workers.
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Server {
    /// Starts the service on its own runtime thread (tests, embedding applications). Bind to
    /// port 0 to get a free port; [`Server::addr`] says which.
    pub fn start(lore: Lore, config: ServeConfig, addr: SocketAddr) -> Result<Server> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("lore-serve".into())
            .spawn(move || -> Result<()> {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Error::storage("starting the server runtime", e))?;
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return Err(Error::storage(format!("binding {addr}"), e));
                        }
                    };
                    let local = listener
                        .local_addr()
                        .map_err(|e| Error::storage("reading the bound address", e))?;
                    let _ = ready_tx.send(Ok(local));
                    run(lore, config, listener, async {
                        let _ = stop_rx.await;
                    })
                    .await
                })
            })
            .map_err(|e| Error::storage("starting the server thread", e))?;
        match ready_rx.recv() {
            Ok(Ok(addr)) => Ok(Server {
                addr,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(msg)) => Err(Error::Internal(format!("cannot listen on {addr}: {msg}"))),
            Err(_) => Err(Error::Internal("the server thread stopped at start".into())),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets running ingestion finish, and releases the data folder.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| Error::Internal("the server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!("stopping the server: {e}");
        }
    }
}

/// Serves on `listener` until `shutdown` completes, with the background workers; then waits
/// for in-flight ingestion so that the data folder is left consistent.
pub async fn run(
    lore: Lore,
    config: ServeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if config.operator_key.is_none() {
        tracing::warn!("no operator key (LORE_OPERATOR_KEY or [serve] operator_key): knowledge bases cannot be created over HTTP");
    }
    let state = AppState::new(lore, config)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = worker::spawn(state.clone(), stop_rx);
    let app = router(state.clone());
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "lore serve listening");
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    workers.await;
    result.map_err(|e| Error::storage("serving HTTP", e))
}

/// Default poll interval as a duration.
pub(crate) fn poll_interval(config: &ServeConfig) -> Duration {
    Duration::from_millis(config.poll_ms.max(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_table_of_lore_toml_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ServeConfig::load(dir.path()).unwrap().workers,
            ServeConfig::default().workers
        );
        std::fs::write(
            dir.path().join("lore.toml"),
            "keep_versions = 4\n[serve]\nworkers = 5\n[serve.quotas]\nmax_sources = 7\n",
        )
        .unwrap();
        let cfg = ServeConfig::load(dir.path()).unwrap();
        assert_eq!((cfg.workers, cfg.quotas.max_sources), (5, Some(7)));
        assert_eq!(
            cfg.quotas.searches_per_minute,
            Quotas::default().searches_per_minute
        );
        // The engine's own configuration still reads the same file, and the per-kb job
        // concurrency becomes the ingestion batch size.
        let lore = open_lore(dir.path(), &cfg).unwrap();
        assert_eq!(lore.config().keep_versions, 4);
        assert_eq!(lore.config().batch_size, cfg.jobs_per_kb);
        drop(lore);
        std::fs::write(dir.path().join("lore.toml"), "[serve]\nworkerz = 5\n").unwrap();
        let err = ServeConfig::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("workerz"), "{err}");
    }
}
