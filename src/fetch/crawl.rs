//! The crawler: a root URL and, optionally, the pages under it.
//!
//! A crawl is breadth-first from the root, level by level, so that the depth and page limits
//! keep the pages nearest the root (the ones a site's own navigation puts first) and so that
//! two crawls of an unchanged site visit the same pages in the same order.
//!
//! * **Scope.** "With children" means same origin (scheme, host, port) and same path prefix as
//!   the root, the prefix being the root's path up to its last `/` (`/docs/guide.html` →
//!   `/docs/`). If the root redirects, the scope is taken from where it landed (`http` →
//!   `https`, `example.com` → `www.example.com`). `include` / `exclude` globs on the URL path
//!   narrow it further; they never apply to the root itself, which the admin named.
//! * **Manners.** robots.txt is fetched once per host and obeyed for the `lore` agent: a 404
//!   (or any 4xx) means everything is allowed, a 5xx or 429 means nothing is (the convention
//!   search engines follow: a site that cannot serve its rules has not granted anything).
//!   `Crawl-delay` is honoured up to `max_crawl_delay_ms`. Requests to a host are limited in
//!   number (`per_host_concurrency`) and spaced (`per_host_delay_ms`).
//! * **Links.** `<a href>` and `<area href>` of HTML pages, resolved against `<base href>`,
//!   without fragments. `rel=nofollow` is *not* honoured: it tells search engines not to pass
//!   ranking credit, not to stay away, and the admin asked for this site; robots.txt is the
//!   access control lore obeys. Sitemaps (robots `Sitemap:` lines on the same host, and
//!   `/sitemap.xml`) add the pages they list that are in scope, at depth 1.
//! * **Duplicates.** A page whose `<link rel=canonical>` names another URL of the same host is
//!   reported under that URL; two pages with byte-identical bodies are kept once (warning).
//! * **Re-crawls.** Given the previous crawl's validators, requests are conditional; a 304 is
//!   [`PageOutcome::NotModified`] and the previous body is used to find the page's links, so
//!   an unchanged site is walked completely at the cost of headers only.
//! * **Failures.** A root that fails makes the whole crawl fail with the root's reason (there
//!   is nothing to serve); a child that fails is a [`PageOutcome::Failed`] in a good crawl.

use super::http::{is_html_type, Accept, Conditional, FetchOutcome, HttpClient, ROBOTS_AGENT};
use super::WebConfig;
use crate::error::{Error, Reason, Result};
use crate::parse::decode::decode_html;
use crate::parse::normalize_ws;
use crate::progress::Progress;
use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use scraper::{ElementRef, Html, Node};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// What to crawl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlRequest {
    pub root: Url,
    /// Also fetch the pages under the root (same origin and path prefix).
    pub with_children: bool,
    /// Most pages fetched, the root included.
    pub max_pages: usize,
    /// Most link hops from the root (the root is depth 0).
    pub max_depth: u32,
    /// Glob patterns on the URL path (`/docs/*`); when not empty, only matching children are
    /// fetched.
    pub include: Vec<String>,
    /// Glob patterns on the URL path; matching children are not fetched.
    pub exclude: Vec<String>,
}

impl CrawlRequest {
    /// The root alone, with the default limits (200 pages, depth 2) for when children are
    /// turned on.
    pub fn new(root: Url) -> Self {
        CrawlRequest {
            root,
            with_children: false,
            max_pages: 200,
            max_depth: 2,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// The root and its children, with the default limits.
    pub fn with_children(root: Url) -> Self {
        CrawlRequest {
            with_children: true,
            ..CrawlRequest::new(root)
        }
    }
}

/// What lore kept of a page from the previous crawl.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorPage {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The previous body, so that the links of a page that answers 304 can still be followed.
    pub body: Option<Vec<u8>>,
}

/// What happened to one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOutcome {
    Fetched {
        /// Where the content came from after redirects.
        final_url: Url,
        /// Media type, lower-case, no parameters: `text/html`, `application/pdf`, …
        content_type: String,
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// The server confirmed the previous version is current (304).
    NotModified,
    Failed {
        reason: Reason,
        message: String,
    },
}

/// One page of a crawl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawledPage {
    /// The page's URL: its same-host canonical URL if it declares one, else where it was
    /// fetched from (after redirects), normalised. Failed pages keep the URL requested.
    pub url: Url,
    pub depth: u32,
    pub outcome: PageOutcome,
}

/// The result of a crawl that reached its root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crawl {
    /// The root first, then the rest in crawl order.
    pub pages: Vec<CrawledPage>,
    /// What the admin should know: pages skipped by the limits or robots.txt, duplicates.
    pub warnings: Vec<String>,
}

/// Individual duplicate warnings before they are summarised.
const MAX_DUPLICATE_WARNINGS: usize = 10;
/// robots.txt larger than this is ignored (Google reads 500 KiB).
const MAX_ROBOTS_BYTES: u64 = 512 * 1024;
/// Sitemap documents read per crawl (an index may name many).
const MAX_SITEMAPS: usize = 10;
/// Links taken from one page; a page with more is generated, not written.
const MAX_LINKS_PER_PAGE: usize = 5_000;
/// URLs taken from all sitemaps together.
const MAX_SITEMAP_URLS: usize = 50_000;

/// Crawls with a client built from `cfg` (its allow list plus `LORE_ALLOW_PRIVATE_HOSTS`).
/// `prior` maps a page URL (as [`CrawledPage::url`] gave it) to what the last crawl kept.
pub async fn crawl(
    req: &CrawlRequest,
    cfg: &WebConfig,
    prior: &HashMap<String, PriorPage>,
    progress: &dyn Progress,
) -> Result<Crawl> {
    let client = HttpClient::new(cfg)?;
    crawl_with_client(&client, req, prior, progress).await
}

/// [`crawl`] for synchronous callers. Runs its own tokio runtime; when called from a thread
/// that already has one (a `spawn_blocking` thread, where `block_on` would panic), the
/// runtime runs on a fresh thread.
pub fn crawl_blocking(
    req: &CrawlRequest,
    cfg: &WebConfig,
    prior: &HashMap<String, PriorPage>,
    progress: &dyn Progress,
) -> Result<Crawl> {
    let run = || -> Result<Crawl> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lore-crawl")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the crawler runtime: {e}")))?;
        rt.block_on(crawl(req, cfg, prior, progress))
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(run)
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("the crawler thread panicked".into())))
        })
    } else {
        run()
    }
}

/// [`crawl`] with a given client (to share its connection pool, or to pass an allow list
/// that ignores the environment).
pub async fn crawl_with_client(
    client: &HttpClient,
    req: &CrawlRequest,
    prior: &HashMap<String, PriorPage>,
    progress: &dyn Progress,
) -> Result<Crawl> {
    let root = normalize(&req.root);
    client.check_url(&root)?;
    if req.max_pages == 0 {
        return Err(Error::invalid("max_pages must be at least 1"));
    }
    let include = globs(&req.include, "include")?;
    let exclude = globs(&req.exclude, "exclude")?;
    progress.start(
        if req.with_children { req.max_pages } else { 1 } as u64,
        &format!("crawling {root}"),
    );
    let mut crawler = Crawler {
        client: client.clone(),
        cfg: client.config().clone(),
        req,
        prior,
        hosts: HashMap::new(),
        seen: HashSet::new(),
        page_urls: HashSet::new(),
        hashes: HashMap::new(),
        result: Crawl::default(),
        duplicates: 0,
        robots_skipped: 0,
        over_limit: 0,
        beyond_depth: HashSet::new(),
        left_scope: 0,
        attempted: 0,
    };
    let out = crawler.run(root, include, exclude, progress).await;
    progress.finish();
    out
}

fn globs(patterns: &[String], what: &str) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.trim();
        // `docs/*` means `/docs/*`: paths always start with a slash.
        let anchored = if p.starts_with('/') || p.starts_with('*') {
            p.to_string()
        } else {
            format!("/{p}")
        };
        let glob = GlobBuilder::new(&anchored)
            .literal_separator(false)
            .build()
            .map_err(|e| Error::invalid(format!("{what} pattern {p:?}: {e}")))?;
        b.add(glob);
    }
    b.build()
        .map(Some)
        .map_err(|e| Error::invalid(format!("{what} patterns: {e}")))
}

/// Which URLs are children of the root.
struct Scope {
    origin: url::Origin,
    prefix: String,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl Scope {
    /// Same origin and under the prefix.
    fn contains(&self, url: &Url) -> bool {
        url.origin() == self.origin && url.path().starts_with(&self.prefix)
    }

    /// In scope and not filtered out by the globs.
    fn wants(&self, url: &Url) -> bool {
        if !self.contains(url) {
            return false;
        }
        let path = Candidate::from_bytes(url.path().as_bytes());
        if let Some(inc) = &self.include {
            if !inc.is_match_candidate(&path) {
                return false;
            }
        }
        if let Some(exc) = &self.exclude {
            if exc.is_match_candidate(&path) {
                return false;
            }
        }
        true
    }
}

/// The root's path up to its last `/`.
fn prefix_of(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(i) => path[..=i].to_string(),
        None => "/".to_string(),
    }
}

/// What robots.txt says for our agent.
enum Robots {
    AllowAll,
    /// Nothing may be fetched; the text says why.
    DisallowAll(String),
    Rules(Box<texting_robots::Robot>),
}

impl Robots {
    fn allows(&self, url: &Url) -> bool {
        match self {
            Robots::AllowAll => true,
            Robots::DisallowAll(_) => false,
            Robots::Rules(r) => r.allowed(url.as_str()),
        }
    }

    fn sitemaps(&self) -> &[String] {
        match self {
            Robots::Rules(r) => &r.sitemaps,
            _ => &[],
        }
    }
}

/// Per-host state: its rules and its politeness gate.
struct HostState {
    robots: Robots,
    gate: Arc<Semaphore>,
    /// Minimum time between the starts of two requests.
    delay: Duration,
    next_start: Mutex<Instant>,
}

impl HostState {
    /// Waits for a free slot and for the host's delay since the previous request started.
    async fn pace(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.gate.clone().acquire_owned().await.ok();
        let wait = {
            let now = Instant::now();
            let mut next = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(now);
            // A delay too large to add is a configuration mistake; wait an hour, not forever.
            *next = slot
                .checked_add(self.delay)
                .unwrap_or_else(|| slot + Duration::from_secs(3600));
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        permit
    }
}

/// The state of one crawl.
struct Crawler<'a> {
    client: HttpClient,
    cfg: WebConfig,
    req: &'a CrawlRequest,
    prior: &'a HashMap<String, PriorPage>,
    hosts: HashMap<url::Origin, Arc<HostState>>,
    /// URLs queued or fetched (requested, final and canonical forms).
    seen: HashSet<Url>,
    /// URLs of the pages in the result.
    page_urls: HashSet<Url>,
    /// Body hash → URL of the page that has it.
    hashes: HashMap<[u8; 32], Url>,
    result: Crawl,
    duplicates: usize,
    robots_skipped: usize,
    over_limit: usize,
    beyond_depth: HashSet<Url>,
    left_scope: usize,
    attempted: usize,
}

/// A queued page.
struct Queued {
    url: Url,
    depth: u32,
}

/// What one page's processing hands back to the crawl.
struct Found {
    links: Vec<Url>,
}

impl Crawler<'_> {
    async fn run(
        &mut self,
        root: Url,
        include: Option<GlobSet>,
        exclude: Option<GlobSet>,
        progress: &dyn Progress,
    ) -> Result<Crawl> {
        // The root: its failures are the crawl's.
        let host = self.host(&root).await?;
        if !host.robots.allows(&root) {
            let why = match &host.robots {
                Robots::DisallowAll(why) => why.clone(),
                _ => "robots.txt disallows it".to_string(),
            };
            return Err(Error::rejected(
                Reason::RobotsDisallowed,
                format!("{root}: {why}"),
            ));
        }
        progress.message(root.as_str());
        self.seen.insert(root.clone());
        self.attempted = 1;
        let outcome = fetch_page(&self.client, &host, &root, self.prior).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Err(e),
        };
        let landed = match &outcome {
            FetchOutcome::Fetched(p) => normalize(&p.final_url),
            FetchOutcome::NotModified { final_url, .. } => normalize(final_url),
        };
        if let FetchOutcome::Fetched(p) = &outcome {
            if is_html_type(&p.content_type) {
                check_html_page(&p.body)?;
            }
        }
        let scope = Scope {
            origin: landed.origin(),
            prefix: prefix_of(&landed),
            include,
            exclude,
        };
        let found = self.record(&root, 0, Ok(outcome), &scope, true);
        progress.inc(1);
        if !self.req.with_children {
            return Ok(std::mem::take(&mut self.result));
        }
        // The scope's host may differ from the root's (a redirect); its robots.txt rules.
        let scope_host = self.host(&landed).await?;

        let mut level: Vec<Queued> = Vec::new();
        if self.req.max_depth == 0 {
            for link in found.links {
                if scope.wants(&link) && !self.seen.contains(&link) {
                    self.beyond_depth.insert(link);
                }
            }
        } else {
            self.enqueue(found.links, 1, &scope, &scope_host, &mut level);
            let sitemap_urls = self.sitemap_urls(&landed, &scope_host).await;
            self.enqueue(sitemap_urls, 1, &scope, &scope_host, &mut level);
        }

        let mut depth = 1;
        while !level.is_empty() {
            let room = self.req.max_pages.saturating_sub(self.attempted);
            if level.len() > room {
                self.over_limit += level.len() - room;
                level.truncate(room);
            }
            if level.is_empty() {
                break;
            }
            self.attempted += level.len();
            let results = self.fetch_level(&level, &scope_host, progress).await;
            let mut next: Vec<Queued> = Vec::new();
            for (q, res) in level.iter().zip(results) {
                let found = self.record(&q.url, q.depth, res, &scope, false);
                progress.inc(1);
                if depth < self.req.max_depth {
                    self.enqueue(found.links, depth + 1, &scope, &scope_host, &mut next);
                } else {
                    for link in found.links {
                        if !self.seen.contains(&link) && scope.wants(&link) {
                            self.beyond_depth.insert(link);
                        }
                    }
                }
            }
            level = next;
            depth += 1;
        }
        self.summarise();
        Ok(std::mem::take(&mut self.result))
    }

    /// Fetches a level's pages concurrently (bounded by the host's gate), in queue order.
    async fn fetch_level(
        &mut self,
        level: &[Queued],
        host: &Arc<HostState>,
        progress: &dyn Progress,
    ) -> Vec<Result<FetchOutcome>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, q) in level.iter().enumerate() {
            let client = self.client.clone();
            let host = host.clone();
            let url = q.url.clone();
            // Only the validators: the previous body stays with the crawl, not in every task.
            let prior = self.prior.get(url.as_str()).map(|p| PriorPage {
                url: p.url.clone(),
                etag: p.etag.clone(),
                last_modified: p.last_modified.clone(),
                body: None,
            });
            tasks.spawn(async move {
                let mut one = HashMap::new();
                if let Some(p) = prior {
                    one.insert(url.to_string(), p);
                }
                (i, fetch_page(&client, &host, &url, &one).await)
            });
        }
        let mut out: Vec<Option<Result<FetchOutcome>>> = (0..level.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, res)) => {
                    if let Some(q) = level.get(i) {
                        progress.message(q.url.as_str());
                    }
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(res);
                    }
                }
                Err(e) => tracing::error!(error = %e, "a page fetch task failed"),
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Internal("page fetch task failed".into()))))
            .collect()
    }

    /// Adds the in-scope, allowed, unseen links to `queue`.
    fn enqueue(
        &mut self,
        links: Vec<Url>,
        depth: u32,
        scope: &Scope,
        host: &HostState,
        queue: &mut Vec<Queued>,
    ) {
        for url in links {
            if self.seen.contains(&url) || !scope.wants(&url) {
                continue;
            }
            self.seen.insert(url.clone());
            if !host.robots.allows(&url) {
                tracing::debug!(%url, "disallowed by robots.txt");
                self.robots_skipped += 1;
                continue;
            }
            queue.push(Queued { url, depth });
        }
    }

    /// Turns a fetch result into a page of the crawl (or a skip), returning its links.
    fn record(
        &mut self,
        requested: &Url,
        depth: u32,
        res: Result<FetchOutcome>,
        scope: &Scope,
        is_root: bool,
    ) -> Found {
        let none = Found { links: Vec::new() };
        let outcome = match res {
            Ok(o) => o,
            Err(e) => {
                let (reason, message) = match e {
                    Error::Rejected { reason, message } => (reason, message),
                    other => (Reason::Connect, other.to_string()),
                };
                self.push(
                    requested.clone(),
                    depth,
                    PageOutcome::Failed { reason, message },
                );
                return none;
            }
        };
        let (final_url, body, content_type) = match &outcome {
            FetchOutcome::Fetched(p) => (
                normalize(&p.final_url),
                Some(p.body.as_slice()),
                Some(p.content_type.as_str()),
            ),
            FetchOutcome::NotModified { final_url, .. } => (
                normalize(final_url),
                self.prior
                    .get(requested.as_str())
                    .and_then(|p| p.body.as_deref()),
                None,
            ),
        };
        if !is_root {
            if !scope.contains(&final_url) {
                self.left_scope += 1;
                self.result.warnings.push(format!(
                    "{requested} redirects outside the site to {final_url}; skipped"
                ));
                return none;
            }
            if final_url != *requested && self.page_urls.contains(&final_url) {
                self.duplicate(requested, &final_url);
                return none;
            }
        }
        self.seen.insert(final_url.clone());
        // A NotModified page's type is unknown; its previous body tells whether it is HTML.
        let html = match content_type {
            Some(t) => is_html_type(t),
            None => body.is_some_and(looks_like_html),
        };
        if let (FetchOutcome::Fetched(_), Some(b), true, false) = (&outcome, body, html, is_root) {
            if let Err(e) = check_html_page(b) {
                let (reason, message) = match e {
                    Error::Rejected { reason, message } => (reason, message),
                    other => (Reason::Malformed, other.to_string()),
                };
                self.push(
                    requested.clone(),
                    depth,
                    PageOutcome::Failed {
                        reason,
                        message: format!("{requested}: {message}"),
                    },
                );
                return none;
            }
        }
        let page = match (html, body) {
            (true, Some(b)) => extract_links(b, &final_url),
            _ => PageLinks::default(),
        };
        let mut url = final_url.clone();
        if let Some(canonical) = page.canonical {
            if canonical.host_str() == final_url.host_str() && canonical != final_url {
                if self.page_urls.contains(&canonical) && !is_root {
                    self.duplicate(requested, &canonical);
                    return none;
                }
                self.seen.insert(canonical.clone());
                url = canonical;
            }
        }
        if let Some(b) = body {
            let hash: [u8; 32] = Sha256::digest(b).into();
            if let Some(first) = self.hashes.get(&hash) {
                if !is_root {
                    let first = first.clone();
                    self.duplicate(requested, &first);
                    return none;
                }
            } else {
                self.hashes.insert(hash, url.clone());
            }
        }
        let outcome = match outcome {
            FetchOutcome::Fetched(p) => PageOutcome::Fetched {
                final_url: p.final_url,
                content_type: p.content_type,
                body: p.body,
                etag: p.etag,
                last_modified: p.last_modified,
            },
            FetchOutcome::NotModified { .. } => PageOutcome::NotModified,
        };
        self.push(url, depth, outcome);
        Found { links: page.links }
    }

    fn push(&mut self, url: Url, depth: u32, outcome: PageOutcome) {
        self.page_urls.insert(url.clone());
        self.result.pages.push(CrawledPage {
            url,
            depth,
            outcome,
        });
    }

    fn duplicate(&mut self, url: &Url, of: &Url) {
        self.duplicates += 1;
        if self.duplicates <= MAX_DUPLICATE_WARNINGS {
            self.result
                .warnings
                .push(format!("{url} is a duplicate of {of}; kept {of} only"));
        }
    }

    /// The closing warnings: how many pages each limit cost.
    fn summarise(&mut self) {
        let w = &mut self.result.warnings;
        if self.duplicates > MAX_DUPLICATE_WARNINGS {
            w.push(format!(
                "{} more duplicate pages skipped",
                self.duplicates - MAX_DUPLICATE_WARNINGS
            ));
        }
        if self.over_limit > 0 {
            w.push(format!(
                "{} pages not fetched: the crawl stopped at its limit of {} pages",
                self.over_limit, self.req.max_pages
            ));
        }
        if !self.beyond_depth.is_empty() {
            w.push(format!(
                "{} pages not fetched: deeper than {} links from the root",
                self.beyond_depth.len(),
                self.req.max_depth
            ));
        }
        if self.robots_skipped > 0 {
            w.push(format!(
                "{} pages not fetched: robots.txt disallows them",
                self.robots_skipped
            ));
        }
        if self.left_scope > 0 {
            tracing::debug!(count = self.left_scope, "pages redirected outside the site");
        }
    }

    /// The state of `url`'s host, fetching its robots.txt the first time.
    async fn host(&mut self, url: &Url) -> Result<Arc<HostState>> {
        let origin = url.origin();
        if let Some(h) = self.hosts.get(&origin) {
            return Ok(h.clone());
        }
        let robots = self.robots(url).await?;
        let crawl_delay = match &robots {
            Robots::Rules(r) => r
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f64(f64::from(d).min(86_400.0)))
                .unwrap_or(Duration::ZERO)
                .min(self.cfg.max_crawl_delay()),
            _ => Duration::ZERO,
        };
        let state = Arc::new(HostState {
            robots,
            gate: Arc::new(Semaphore::new(self.cfg.per_host_concurrency.max(1))),
            delay: self.cfg.per_host_delay().max(crawl_delay),
            next_start: Mutex::new(Instant::now()),
        });
        self.hosts.insert(origin, state.clone());
        Ok(state)
    }

    /// Fetches and parses robots.txt. Transport failures are the crawl's failures (the root
    /// is on the same host and would fail the same way).
    async fn robots(&mut self, url: &Url) -> Result<Robots> {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let got = self
            .client
            .get_limited(
                &robots_url,
                Conditional::default(),
                Accept::Any,
                MAX_ROBOTS_BYTES,
            )
            .await;
        match got {
            Ok(FetchOutcome::Fetched(p)) => match parse_robots(&p.body) {
                Ok(r) => Ok(Robots::Rules(Box::new(r))),
                Err(e) => {
                    self.result
                        .warnings
                        .push(format!("{robots_url} cannot be read ({e}); crawling as if it were absent"));
                    Ok(Robots::AllowAll)
                }
            },
            Ok(FetchOutcome::NotModified { .. }) => Ok(Robots::AllowAll),
            Err(e) => match e.reason() {
                Some(Reason::NotFound | Reason::LoginProtected) => Ok(Robots::AllowAll),
                Some(Reason::ServerError | Reason::RateLimited) => Ok(Robots::DisallowAll(
                    format!("robots.txt is unavailable ({e}); lore treats that as disallowing everything until it can be read"),
                )),
                Some(
                    Reason::Dns
                    | Reason::Connect
                    | Reason::Timeout
                    | Reason::Tls
                    | Reason::BlockedAddress
                    | Reason::InvalidArgument,
                )
                | None => Err(e),
                Some(_) => {
                    self.result
                        .warnings
                        .push(format!("{robots_url} was not usable ({e}); crawling as if it were absent"));
                    Ok(Robots::AllowAll)
                }
            },
        }
    }

    /// The in-scope URLs listed by the host's sitemaps (robots.txt `Sitemap:` lines on this
    /// host, and `/sitemap.xml`), following sitemap indexes. Failures are warnings: a
    /// sitemap only adds to what links find.
    async fn sitemap_urls(&mut self, landed: &Url, host: &Arc<HostState>) -> Vec<Url> {
        let mut queue: Vec<Url> = host
            .robots
            .sitemaps()
            .iter()
            .filter_map(|s| landed.join(s.trim()).ok())
            .filter(|u| u.origin() == landed.origin())
            .collect();
        // The conventional location is tried too; its absence is no news.
        let mut conventional = landed.clone();
        conventional.set_path("/sitemap.xml");
        conventional.set_query(None);
        conventional.set_fragment(None);
        if !queue.contains(&conventional) {
            queue.insert(0, conventional.clone());
        }
        let mut done: HashSet<Url> = HashSet::new();
        let mut urls: Vec<Url> = Vec::new();
        while let Some(sitemap) = queue.pop() {
            if done.len() >= MAX_SITEMAPS || urls.len() >= MAX_SITEMAP_URLS {
                break;
            }
            if !done.insert(sitemap.clone()) {
                continue;
            }
            let _permit = host.pace().await;
            let got = self
                .client
                .get(&sitemap, Conditional::default(), Accept::Any)
                .await;
            let body = match got {
                Ok(FetchOutcome::Fetched(p)) => p.body,
                Ok(FetchOutcome::NotModified { .. }) => continue,
                Err(e) if e.reason() == Some(Reason::NotFound) && sitemap == conventional => {
                    tracing::debug!(%sitemap, "no sitemap");
                    continue;
                }
                Err(e) => {
                    self.result
                        .warnings
                        .push(format!("sitemap {sitemap} not read: {e}"));
                    continue;
                }
            };
            let parsed = parse_sitemap(&body);
            for loc in parsed.sitemaps {
                if let Ok(u) = sitemap.join(&loc) {
                    if u.origin() == landed.origin() {
                        queue.push(u);
                    }
                }
            }
            for loc in parsed.urls {
                if urls.len() >= MAX_SITEMAP_URLS {
                    break;
                }
                if let Ok(u) = sitemap.join(&loc) {
                    if matches!(u.scheme(), "http" | "https") {
                        urls.push(normalize(&u));
                    }
                }
            }
        }
        urls
    }
}

/// Parses robots.txt for our agent. The file is written by strangers: a parser panic must not
/// take the crawl down, so it is caught and treated like an unreadable file.
fn parse_robots(body: &[u8]) -> std::result::Result<texting_robots::Robot, String> {
    match std::panic::catch_unwind(|| texting_robots::Robot::new(ROBOTS_AGENT, body)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the robots.txt parser failed on it".to_string()),
    }
}

/// GETs one page through its host's gate, conditionally when `prior` has validators for it.
async fn fetch_page(
    client: &HttpClient,
    host: &HostState,
    url: &Url,
    prior: &HashMap<String, PriorPage>,
) -> Result<FetchOutcome> {
    let p = prior.get(url.as_str());
    let cond = Conditional {
        etag: p.and_then(|p| p.etag.as_deref()),
        last_modified: p.and_then(|p| p.last_modified.as_deref()),
    };
    let _permit = host.pace().await;
    client.get(url, cond, Accept::Page).await
}

/// The form of a URL used for identity: no fragment, no empty query. The `url` crate already
/// lower-cases the host, drops default ports and resolves dot segments; query parameters are
/// kept in their order (their order can matter to the server).
pub fn normalize(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    if u.query() == Some("") {
        u.set_query(None);
    }
    u
}

/// Links of a page.
#[derive(Debug, Default)]
struct PageLinks {
    links: Vec<Url>,
    canonical: Option<Url>,
}

/// Extensions of files that are never pages or parseable documents; links to them are not
/// followed (fetching them would only produce `not-html` failures).
const SKIPPED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "avif", "css", "js",
    "mjs", "map", "json", "woff", "woff2", "ttf", "otf", "eot", "zip", "gz", "tgz", "bz2", "xz",
    "7z", "rar", "tar", "exe", "msi", "dmg", "iso", "apk", "mp3", "mp4", "m4a", "wav", "ogg",
    "webm", "avi", "mov", "mkv", "flac",
];

fn skipped_extension(url: &Url) -> bool {
    let last = url.path().rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext)) => SKIPPED_EXTENSIONS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(ext)),
        None => false,
    }
}

/// `<a href>` / `<area href>` links (absolute, http(s), normalised, first occurrence order)
/// and the `<link rel=canonical>` of an HTML page.
fn extract_links(body: &[u8], page_url: &Url) -> PageLinks {
    let Ok(decoded) = decode_html(body) else {
        return PageLinks::default();
    };
    let html = Html::parse_document(&decoded.text);
    let mut base = page_url.clone();
    let mut canonical = None;
    let mut links = Vec::new();
    let mut uniq = HashSet::new();
    for el in html.root_element().descendent_elements() {
        let e = el.value();
        match e.name() {
            "base" => {
                if let Some(b) = e.attr("href").and_then(|h| page_url.join(h.trim()).ok()) {
                    base = b;
                }
            }
            "link" if canonical.is_none() => {
                let is_canonical = e.attr("rel").is_some_and(|r| {
                    r.split_ascii_whitespace()
                        .any(|t| t.eq_ignore_ascii_case("canonical"))
                });
                if is_canonical {
                    canonical = e
                        .attr("href")
                        .and_then(|h| base.join(h.trim()).ok())
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .map(|u| normalize(&u));
                }
            }
            "a" | "area" => {
                let Some(href) = e.attr("href").map(str::trim) else {
                    continue;
                };
                if href.is_empty() || href.starts_with('#') {
                    continue;
                }
                let Ok(u) = base.join(href) else { continue };
                if !matches!(u.scheme(), "http" | "https") || skipped_extension(&u) {
                    continue;
                }
                let u = normalize(&u);
                if uniq.insert(u.clone()) {
                    links.push(u);
                    if links.len() >= MAX_LINKS_PER_PAGE {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    PageLinks { links, canonical }
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html") || head.contains("<body")
}

/// URLs listed by a sitemap: page URLs of a `<urlset>`, sitemap URLs of a `<sitemapindex>`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sitemap {
    urls: Vec<String>,
    sitemaps: Vec<String>,
}

/// Reads the `<loc>` elements of a sitemap. Sitemaps are simple, regular XML; a scanner
/// tolerates the broken ones that real sites serve where a strict parser would give up.
fn parse_sitemap(body: &[u8]) -> Sitemap {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let is_index = lower.contains("<sitemapindex");
    let mut locs = Vec::new();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<loc>") {
        let from = pos + start + "<loc>".len();
        let Some(len) = lower[from..].find("</loc>") else {
            break;
        };
        let raw = text[from..from + len].trim();
        let raw = raw
            .strip_prefix("<![CDATA[")
            .and_then(|r| r.strip_suffix("]]>"))
            .unwrap_or(raw)
            .trim();
        let loc = raw
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        if !loc.is_empty() {
            locs.push(loc);
        }
        pos = from + len;
        if locs.len() >= MAX_SITEMAP_URLS {
            break;
        }
    }
    if is_index {
        Sitemap {
            urls: Vec::new(),
            sitemaps: locs,
        }
    } else {
        Sitemap {
            urls: locs,
            sitemaps: Vec::new(),
        }
    }
}

/// Visible characters below which a page has "almost no text".
const MIN_PAGE_TEXT: usize = 100;
/// Characters outside forms below which a page with a password field is a login page.
const MAX_LOGIN_PAGE_TEXT: usize = 200;
/// Ids of the mount points of client-side app frameworks (React, Vue, Next, Nuxt, Gatsby…).
const APP_ROOT_IDS: &[&str] = &["root", "app", "__next", "__nuxt", "___gatsby", "svelte"];

/// Refuses an HTML page whose content is not in the HTML: `login-protected` when it is
/// essentially a login form (a password field and little other text), `dynamically-generated`
/// when it has almost no text but scripts or an empty app mount point (the text would be
/// built in the browser, and lore does not run scripts). Anything else — including an empty
/// page, which the parser names `empty` — passes.
pub fn check_html_page(body: &[u8]) -> Result<()> {
    let Ok(decoded) = decode_html(body) else {
        return Ok(());
    };
    let html = Html::parse_document(&decoded.text);
    let stats = page_stats(&html);
    if stats.password_fields > 0 && stats.text_outside_forms < MAX_LOGIN_PAGE_TEXT {
        return Err(Error::rejected(
            Reason::LoginProtected,
            "the page is a login form: its content needs a login",
        ));
    }
    if stats.text < MIN_PAGE_TEXT && (stats.scripts > 0 || stats.app_root) {
        return Err(Error::rejected(
            Reason::DynamicallyGenerated,
            format!(
                "the page has {} characters of text and its content is built by scripts in the browser; lore reads html only",
                stats.text
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct PageStats {
    /// Visible characters outside scripts and site chrome (nav, header, footer, aside).
    text: usize,
    /// The same, not counting forms.
    text_outside_forms: usize,
    scripts: usize,
    password_fields: usize,
    app_root: bool,
}

fn page_stats(html: &Html) -> PageStats {
    let mut stats = PageStats::default();
    let mut text = String::new();
    let mut outside = String::new();
    // Iterative walk: (node, inside a form); dropped subtrees are not entered.
    let mut stack = vec![(*html.root_element(), false)];
    while let Some((node, in_form)) = stack.pop() {
        match node.value() {
            Node::Text(t) => {
                text.push_str(t);
                text.push(' ');
                if !in_form {
                    outside.push_str(t);
                    outside.push(' ');
                }
                continue;
            }
            Node::Element(e) => {
                let name = e.name();
                match name {
                    "script" => {
                        stats.scripts += 1;
                        continue;
                    }
                    "input" => {
                        if e.attr("type")
                            .is_some_and(|t| t.trim().eq_ignore_ascii_case("password"))
                        {
                            stats.password_fields += 1;
                        }
                        continue;
                    }
                    "style" | "noscript" | "template" | "head" | "nav" | "header" | "footer"
                    | "aside" | "svg" | "select" | "textarea" | "button" | "iframe" => continue,
                    _ => {}
                }
                if e.id().is_some_and(|id| APP_ROOT_IDS.contains(&id))
                    || e.attr("ng-app").is_some()
                    || e.attr("data-reactroot").is_some()
                {
                    let el = ElementRef::wrap(node);
                    if el.is_some_and(|el| el.text().all(|t| t.trim().is_empty())) {
                        stats.app_root = true;
                    }
                }
                let child_in_form = in_form || name == "form";
                let children: Vec<_> = node.children().collect();
                for c in children.into_iter().rev() {
                    stack.push((c, child_in_form));
                }
            }
            _ => {
                for c in node.children() {
                    stack.push((c, in_form));
                }
            }
        }
    }
    stats.text = normalize_ws(&text).chars().count();
    stats.text_outside_forms = normalize_ws(&outside).chars().count();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize(&url("HTTP://Example.COM:80/a/../b/?#frag")).as_str(),
            "http://example.com/b/"
        );
        assert_eq!(
            normalize(&url("https://example.com:443")).as_str(),
            "https://example.com/"
        );
        assert_eq!(
            normalize(&url("https://example.com/p?b=2&a=1#x")).as_str(),
            "https://example.com/p?b=2&a=1"
        );
        assert_eq!(
            normalize(&url("https://example.com:8443/")).as_str(),
            "https://example.com:8443/"
        );
    }

    #[test]
    fn prefix_and_scope() {
        assert_eq!(prefix_of(&url("http://h/docs/guide.html")), "/docs/");
        assert_eq!(prefix_of(&url("http://h/docs/")), "/docs/");
        assert_eq!(prefix_of(&url("http://h/docs")), "/");
        let scope = Scope {
            origin: url("http://h/").origin(),
            prefix: "/docs/".into(),
            include: globs(&["/docs/api/*".to_string()], "include").unwrap(),
            exclude: globs(&["*.csv".to_string(), "docs/api/old/*".to_string()], "x").unwrap(),
        };
        assert!(scope.wants(&url("http://h/docs/api/x")));
        assert!(scope.wants(&url("http://h/docs/api/deep/er")));
        assert!(!scope.wants(&url("http://h/docs/guide")), "not included");
        assert!(!scope.wants(&url("http://h/docs/api/a.csv")), "excluded");
        assert!(!scope.wants(&url("http://h/docs/api/old/a")), "excluded");
        assert!(!scope.wants(&url("https://h/docs/api/x")), "other scheme");
        assert!(!scope.wants(&url("http://h:81/docs/api/x")), "other port");
        assert!(!scope.wants(&url("http://other/docs/api/x")), "other host");
        assert!(globs(&["/a/[".to_string()], "include").is_err());
    }

    #[test]
    fn links_canonical_and_base() {
        let body = br##"<html><head><link rel="Canonical" href="/docs/real">
            <base href="/docs/sub/"></head><body>
            <a href="a">a</a> <a href="/docs/b#x">b</a> <a href="/docs/b">b again</a>
            <a href="#top">top</a> <a href="mailto:x@y">mail</a> <a href="javascript:void(0)">js</a>
            <a href="pic.PNG">img</a> <a href="file.pdf">pdf</a> <a href=" https://other.org/x ">ext</a>
            <a>no href</a> <a href="http://[::1">broken</a> <area href="map"></body></html>"##;
        let page = extract_links(body, &url("http://h/docs/page"));
        // The canonical link precedes <base>, so it resolves against the page URL.
        assert_eq!(page.canonical.unwrap().as_str(), "http://h/docs/real");
        let links: Vec<String> = page.links.iter().map(|u| u.to_string()).collect();
        assert_eq!(
            links,
            [
                "http://h/docs/sub/a",
                "http://h/docs/b",
                "http://h/docs/sub/file.pdf",
                "https://other.org/x",
                "http://h/docs/sub/map"
            ]
        );
    }

    #[test]
    fn sitemaps_and_indexes() {
        let set = br#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <url><loc> http://h/docs/a?x=1&amp;y=2 </loc></url><url><LOC><![CDATA[http://h/docs/b]]></LOC></url>
            <url><loc></loc></url><url><loc>http://h/unterminated"#;
        let s = parse_sitemap(set);
        assert_eq!(s.urls, ["http://h/docs/a?x=1&y=2", "http://h/docs/b"]);
        assert!(s.sitemaps.is_empty());
        let index =
            br#"<sitemapindex><sitemap><loc>http://h/s1.xml</loc></sitemap></sitemapindex>"#;
        let s = parse_sitemap(index);
        assert_eq!(s.sitemaps, ["http://h/s1.xml"]);
        assert_eq!(parse_sitemap(b"\xff\xfe garbage"), Sitemap::default());
    }

    const PROSE: &str = "Returns are accepted within thirty days of delivery. Refunds go back to the original payment method within five business days.";

    #[test]
    fn ordinary_pages_pass_the_page_check() {
        let page = format!(
            "<html><head><script src=analytics.js></script></head><body><nav>Home Login</nav>\
             <main><h1>Returns</h1><p>{PROSE}</p></main><script>track()</script></body></html>"
        );
        assert!(check_html_page(page.as_bytes()).is_ok());
        // A page with a sidebar login form but real content is not a login page.
        let page = format!(
            "<body><p>{PROSE}</p><p>{PROSE}</p><form><input name=u><input type=password name=p></form></body>"
        );
        assert!(check_html_page(page.as_bytes()).is_ok());
        // Short, script-free pages are the parser's business (it may call them empty).
        assert!(check_html_page(b"<p>Hi</p>").is_ok());
        assert!(check_html_page(b"").is_ok());
        assert!(check_html_page(b"\x00\x01\x02binary").is_ok());
    }

    #[test]
    fn script_only_pages_are_dynamically_generated() {
        for page in [
            "<!doctype html><html><head><title>App</title></head><body><div id=\"root\"></div><script src=\"/app.js\"></script></body></html>",
            "<body><noscript>You need to enable JavaScript to run this app.</noscript><script>boot()</script></body>",
            "<body><div id=__next></div></body>",
            "<body><nav>Home Products About Contact Careers Blog</nav><app-root></app-root><script src=main.js></script></body>",
        ] {
            let e = check_html_page(page.as_bytes()).unwrap_err();
            assert_eq!(e.reason(), Some(Reason::DynamicallyGenerated), "{page}");
        }
    }

    #[test]
    fn login_forms_are_login_protected() {
        let page = "<html><body><header>Acme</header><main><h1>Sign in</h1>\
            <form method=post action=/login><label>Email <input name=email></label>\
            <label>Password <input type=\"PASSWORD\" name=pw></label><button>Sign in</button>\
            <a href=/forgot>Forgot your password?</a></form></main><footer>© Acme</footer></body></html>";
        let e = check_html_page(page.as_bytes()).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::LoginProtected));
    }

    #[test]
    fn deep_pages_do_not_overflow_the_stack() {
        let page = format!("{}{}", "<div>".repeat(3_000), PROSE);
        assert!(check_html_page(page.as_bytes()).is_ok());
        let links = extract_links(page.as_bytes(), &url("http://h/"));
        assert!(links.links.is_empty());
    }
}
