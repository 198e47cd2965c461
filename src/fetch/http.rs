//! One URL over HTTP(S): the guarded, bounded, patient GET that the crawler is built on.
//!
//! What this layer guarantees, whatever the server does:
//! * **no internal address is ever connected to** — IP literals are checked before the request,
//!   host names inside the DNS resolver (which hands reqwest only the addresses it checked, so
//!   a second lookup cannot rebind the name), and every redirect hop is checked again because
//!   redirects are followed here, not by reqwest;
//! * **bounded cost** — connect and total timeouts, a body cap enforced while streaming (a lying
//!   or absent `Content-Length` cannot exhaust memory), a redirect limit;
//! * **named failures** — every error is a [`Reason`] an admin can act on (`dns`, `timeout`,
//!   `login-protected`, `rate-limited`, …), never a raw client error;
//! * **politeness to a struggling server** — 429, 5xx and connection resets are retried with
//!   exponential backoff and jitter, honouring `Retry-After` up to a cap;
//! * **cheap re-crawls** — with a prior ETag / Last-Modified the request is conditional and a
//!   304 is reported as [`FetchOutcome::NotModified`].

use super::guard::{check_ip, AllowList};
use super::WebConfig;
use crate::error::{Error, Reason, Result};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use std::collections::HashSet;
use std::error::Error as StdError;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use url::{Host, Url};

/// The User-Agent lore sends: names the software and what it does, as robots.txt etiquette
/// asks, so that a site owner can find and address the crawler.
pub fn user_agent() -> String {
    format!(
        "lore/{} (+knowledge-base crawler)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The product token matched against robots.txt `User-agent:` lines.
pub const ROBOTS_AGENT: &str = "lore";

/// Content types of documents lore can parse besides HTML; the crawler fetches links to them.
pub const DOCUMENT_TYPES: &[&str] = &[
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
    "text/csv",
    "text/plain",
    "text/markdown",
];

/// True for the content types of web pages.
pub fn is_html_type(content_type: &str) -> bool {
    matches!(content_type, "text/html" | "application/xhtml+xml")
}

/// Which responses a request accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// A page of the site: HTML or one of [`DOCUMENT_TYPES`]; anything else is `not-html`.
    Page,
    /// Any content type (robots.txt, sitemaps).
    Any,
}

/// Validators of the version lore already has, for a conditional request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditional<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

impl Conditional<'_> {
    fn is_some(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// A successful response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPage {
    /// The URL after redirects.
    pub final_url: Url,
    /// The media type without parameters, lower-case (`text/html`, `application/pdf`); sniffed
    /// from the body when the server sent none or `application/octet-stream`.
    pub content_type: String,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Requests it took, retries included (1 when the first attempt succeeded).
    pub attempts: u32,
}

/// What a GET produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    Fetched(FetchedPage),
    /// 304: the version lore has is current.
    NotModified {
        final_url: Url,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// An HTTP client bound to a [`WebConfig`] and an allow list. Cheap to clone (shares the
/// connection pool); build one per crawl.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    cfg: Arc<WebConfig>,
    allow: Arc<AllowList>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("cfg", &self.cfg)
            .field("allow", &self.allow)
            .finish()
    }
}

impl HttpClient {
    /// A client whose allow list is `cfg.allow_private_hosts` plus `LORE_ALLOW_PRIVATE_HOSTS`.
    pub fn new(cfg: &WebConfig) -> Result<Self> {
        let allow = AllowList::from_config_and_env(&cfg.allow_private_hosts)?;
        Self::with_allow_list(cfg, allow)
    }

    /// A client with exactly this allow list (the environment is not read).
    pub fn with_allow_list(cfg: &WebConfig, allow: AllowList) -> Result<Self> {
        cfg.validate()?;
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .user_agent(user_agent())
            // Redirects are followed by `get_once` so that each hop passes the guard.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf to addresses the guard never saw.
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allow: allow.clone(),
            })
            .connect_timeout(cfg.connect_timeout())
            .timeout(cfg.timeout())
            .tls_backend_preconfigured(tls_config()?)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the http client: {e}")))?;
        Ok(HttpClient {
            client,
            cfg: Arc::new(cfg.clone()),
            allow,
        })
    }

    pub fn config(&self) -> &WebConfig {
        &self.cfg
    }

    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    /// Refuses a URL lore must not request: a scheme other than http/https, credentials in
    /// the URL, no host, or an IP-literal host the guard refuses. Host names are checked when
    /// they are resolved.
    pub fn check_url(&self, url: &Url) -> Result<()> {
        check_url(url, &self.allow)
    }

    /// GETs `url` with the configured body cap; see [`HttpClient::get_limited`].
    pub async fn get(
        &self,
        url: &Url,
        cond: Conditional<'_>,
        accept: Accept,
    ) -> Result<FetchOutcome> {
        self.get_limited(url, cond, accept, self.cfg.max_bytes)
            .await
    }

    /// GETs `url`, following redirects, retrying what is worth retrying, reading at most
    /// `max_bytes` of body.
    pub async fn get_limited(
        &self,
        url: &Url,
        cond: Conditional<'_>,
        accept: Accept,
        max_bytes: u64,
    ) -> Result<FetchOutcome> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            match self.get_once(url, cond, accept, max_bytes).await {
                Ok(FetchOutcome::Fetched(mut page)) => {
                    page.attempts = attempt;
                    return Ok(FetchOutcome::Fetched(page));
                }
                Ok(other) => return Ok(other),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retryable {
                    reason,
                    message,
                    retry_after,
                }) => {
                    if attempt > self.cfg.retries {
                        let tries = if attempt == 1 {
                            "1 attempt".to_string()
                        } else {
                            format!("{attempt} attempts")
                        };
                        return Err(Error::rejected(reason, format!("{message} ({tries})")));
                    }
                    let wait = retry_delay(&self.cfg, attempt - 1, retry_after);
                    tracing::debug!(%url, %reason, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt: the request and its redirects.
    async fn get_once(
        &self,
        url: &Url,
        cond: Conditional<'_>,
        accept: Accept,
        max_bytes: u64,
    ) -> std::result::Result<FetchOutcome, Failure> {
        let mut current = url.clone();
        let mut visited: HashSet<Url> = HashSet::new();
        let mut hops: u32 = 0;
        loop {
            self.check_url(&current)?;
            if !visited.insert(current.clone()) {
                return Err(Error::rejected(
                    Reason::RedirectLoop,
                    format!("{url} redirects in a circle back to {current}"),
                )
                .into());
            }
            let resp = self
                .client
                .get(current.clone())
                .headers(request_headers(cond, accept))
                .send()
                .await
                .map_err(|e| classify(&e, &current))?;
            let status = resp.status();
            if is_redirect(status) {
                let next = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| current.join(loc.trim()).ok())
                    .ok_or_else(|| {
                        Error::rejected(
                            Reason::ServerError,
                            format!("{current} answered {status} without a usable location"),
                        )
                    })?;
                hops += 1;
                if hops > self.cfg.max_redirects {
                    return Err(Error::rejected(
                        Reason::RedirectLoop,
                        format!(
                            "{url} redirected more than {} times",
                            self.cfg.max_redirects
                        ),
                    )
                    .into());
                }
                tracing::debug!(from = %current, to = %next, "redirect");
                current = next;
                continue;
            }
            return self
                .read_response(current, resp, cond, accept, max_bytes)
                .await;
        }
    }

    async fn read_response(
        &self,
        url: Url,
        mut resp: reqwest::Response,
        cond: Conditional<'_>,
        accept: Accept,
        max_bytes: u64,
    ) -> std::result::Result<FetchOutcome, Failure> {
        let status = resp.status();
        let headers = resp.headers();
        let etag = header_string(headers, header::ETAG);
        let last_modified = header_string(headers, header::LAST_MODIFIED);
        if status == StatusCode::NOT_MODIFIED && cond.is_some() {
            return Ok(FetchOutcome::NotModified {
                final_url: url,
                etag,
                last_modified,
            });
        }
        if !status.is_success() {
            return Err(status_failure(status, &url, headers));
        }
        let declared = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .filter(|t| !t.is_empty());
        let needs_sniff = matches!(declared.as_deref(), None | Some("application/octet-stream"));
        if accept == Accept::Page && !needs_sniff {
            if let Some(t) = declared.as_deref() {
                if !is_accepted_page_type(t) {
                    return Err(not_html(&url, t).into());
                }
            }
        }
        if let Some(len) = resp.content_length() {
            if len > max_bytes {
                return Err(too_large(&url, Some(len), max_bytes).into());
            }
        }
        let mut body: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > max_bytes {
                        return Err(too_large(&url, None, max_bytes).into());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(classify(&e, &url)),
            }
        }
        let content_type = match declared {
            Some(t) if !needs_sniff => t,
            other => match sniff(&body, &url) {
                Some(t) => t.to_string(),
                None if accept == Accept::Any => {
                    other.unwrap_or_else(|| "application/octet-stream".into())
                }
                None => {
                    return Err(
                        not_html(&url, other.as_deref().unwrap_or("no content type")).into(),
                    )
                }
            },
        };
        Ok(FetchOutcome::Fetched(FetchedPage {
            final_url: url,
            content_type,
            body,
            etag,
            last_modified,
            attempts: 1,
        }))
    }
}

/// See [`HttpClient::check_url`].
pub fn check_url(url: &Url, allow: &AllowList) -> Result<()> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "{url}: only http and https urls can be fetched"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(format!(
            "{}: urls with credentials are not fetched",
            redact(url)
        )));
    }
    match url.host() {
        None => Err(Error::invalid(format!("{url} has no host"))),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow),
        Some(Host::Domain(_)) => Ok(()),
    }
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The TLS configuration: rustls with the ring provider and the platform's trust store
/// (so that an intranet CA installed on the machine is honoured). Passed to reqwest
/// explicitly, so no process-wide crypto provider is installed behind the caller's back.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Internal(format!("cannot set up tls verification: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("cannot set up tls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// Resolves host names and keeps only the addresses the guard lets through, so the
/// connection is made to an address that was checked (no DNS rebinding between check and
/// connect).
struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> Box<dyn StdError + Send + Sync> {
                    Box::new(DnsFailure(format!("cannot resolve {host}: {e}")))
                })?
                .collect();
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|a| check_ip(a.ip(), &allow).is_ok());
            if kept.is_empty() {
                let err: Box<dyn StdError + Send + Sync> = match refused.first() {
                    Some(a) => Box::new(Blocked(match check_ip(a.ip(), &allow) {
                        Err(Error::Rejected { message, .. }) => format!("{host}: {message}"),
                        _ => format!("{host} resolves to a blocked address"),
                    })),
                    None => Box::new(DnsFailure(format!("{host} has no addresses"))),
                };
                return Err(err);
            }
            if !refused.is_empty() {
                tracing::debug!(%host, refused = refused.len(), "dropped blocked addresses of a host");
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A resolved name that only has addresses the guard refuses.
#[derive(Debug)]
struct Blocked(String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl StdError for Blocked {}

/// A name that does not resolve.
#[derive(Debug)]
struct DnsFailure(String);

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl StdError for DnsFailure {}

/// Why one attempt failed: for good, or in a way worth another try.
#[derive(Debug)]
enum Failure {
    Final(Error),
    Retryable {
        reason: Reason,
        message: String,
        retry_after: Option<Duration>,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Final(e)
    }
}

fn request_headers(cond: Conditional<'_>, accept: Accept) -> HeaderMap {
    let mut h = HeaderMap::new();
    let accept_value = match accept {
        Accept::Page => "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
        Accept::Any => "*/*",
    };
    h.insert(header::ACCEPT, HeaderValue::from_static(accept_value));
    // Validators come from our own catalog, but a server may have sent anything: a value
    // that is not a valid header is simply not sent (the request is then unconditional).
    if let Some(v) = cond.etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::IF_NONE_MATCH, v);
    }
    if let Some(v) = cond
        .last_modified
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        h.insert(header::IF_MODIFIED_SINCE, v);
    }
    h
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `text/html; charset=utf-8` → `text/html`.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_accepted_page_type(t: &str) -> bool {
    is_html_type(t) || DOCUMENT_TYPES.contains(&t)
}

/// The type of a body the server did not label usefully: documents by magic number, pages by
/// markup. Office files are zip archives, so the URL's extension tells which one.
fn sniff(body: &[u8], url: &Url) -> Option<&'static str> {
    if body.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    if body.starts_with(b"PK\x03\x04") {
        let path = url.path().to_ascii_lowercase();
        return if path.ends_with(".docx") {
            Some(DOCUMENT_TYPES[1])
        } else if path.ends_with(".xlsx") {
            Some(DOCUMENT_TYPES[2])
        } else if path.ends_with(".ods") {
            Some(DOCUMENT_TYPES[3])
        } else {
            None
        };
    }
    let head = &body[..body.len().min(1024)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<!doctype html") || text.starts_with("<html") || text.contains("<body") {
        return Some("text/html");
    }
    None
}

fn not_html(url: &Url, content_type: &str) -> Error {
    Error::rejected(
        Reason::NotHtml,
        format!("{url} is {content_type}, not a web page or a supported document"),
    )
}

/// Worded like file fetching (`N bytes is over the limit of M bytes`).
fn too_large(url: &Url, declared: Option<u64>, max: u64) -> Error {
    let message = match declared {
        Some(n) => format!("{url}: {n} bytes is over the limit of {max} bytes"),
        None => format!("{url}: the body is over the limit of {max} bytes"),
    };
    Error::rejected(Reason::TooLarge, message)
}

/// A non-success, non-redirect status as a failure.
fn status_failure(status: StatusCode, url: &Url, headers: &HeaderMap) -> Failure {
    let code = status.as_u16();
    let text = format!("{url} answered http {}", status_line(status));
    match code {
        401 | 403 | 407 => {
            Error::rejected(Reason::LoginProtected, format!("{text}: it needs a login")).into()
        }
        404 | 410 => Error::rejected(Reason::NotFound, text).into(),
        429 => Failure::Retryable {
            reason: Reason::RateLimited,
            message: text,
            retry_after: retry_after(headers),
        },
        500 | 502 | 503 | 504 => Failure::Retryable {
            reason: Reason::ServerError,
            message: text,
            retry_after: retry_after(headers),
        },
        500..=599 => Error::rejected(Reason::ServerError, text).into(),
        // Other 4xx (400, 405, 451, …): the server will not give this page to anyone like us.
        400..=499 => Error::rejected(Reason::NotFound, text).into(),
        _ => Error::rejected(
            Reason::ServerError,
            format!("{text}, which lore does not expect"),
        )
        .into(),
    }
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("{} {}", status.as_u16(), r.to_ascii_lowercase()),
        None => status.as_u16().to_string(),
    }
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `retry` (0-based): `Retry-After` if the server gave one, else
/// exponential backoff from `retry_base` with jitter (50–100 %), so that many clients turned
/// away together do not come back together; both capped at `retry_max`.
fn retry_delay(cfg: &WebConfig, retry: u32, retry_after: Option<Duration>) -> Duration {
    let cap = cfg.retry_max();
    if let Some(d) = retry_after {
        return d.min(cap);
    }
    let exp = cfg
        .retry_base()
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(cap);
    let jitter = 0.5 + 0.5 * random_unit();
    exp.mul_f64(jitter)
}

/// A number in [0, 1) that differs between calls; good enough for jitter, no crate needed
/// (std's `RandomState` is seeded randomly per process and per instance).
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Every error in a reqwest error's chain, including those wrapped inside `io::Error`s (whose
/// `source()` skips the wrapped error itself).
fn error_chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(err) = stack.pop() {
        if out.len() > 32 {
            break;
        }
        out.push(err);
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                stack.push(inner);
            }
        }
        if let Some(next) = err.source() {
            stack.push(next);
        }
    }
    out
}

/// Names a transport failure.
fn classify(e: &reqwest::Error, url: &Url) -> Failure {
    let chain = error_chain(e);
    if let Some(b) = chain.iter().find_map(|x| x.downcast_ref::<Blocked>()) {
        return Error::rejected(Reason::BlockedAddress, b.0.clone()).into();
    }
    if let Some(d) = chain.iter().find_map(|x| x.downcast_ref::<DnsFailure>()) {
        return Error::rejected(Reason::Dns, d.0.clone()).into();
    }
    let host = url.host_str().unwrap_or("the server");
    if e.is_timeout()
        || chain.iter().any(|x| {
            x.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        })
    {
        return Error::rejected(Reason::Timeout, format!("{url} did not answer in time")).into();
    }
    if chain
        .iter()
        .any(|x| x.downcast_ref::<rustls::Error>().is_some())
    {
        let detail = chain
            .iter()
            .find_map(|x| x.downcast_ref::<rustls::Error>())
            .map(|t| t.to_string())
            .unwrap_or_default();
        return Error::rejected(
            Reason::Tls,
            format!("tls handshake with {host} failed: {detail}"),
        )
        .into();
    }
    let reset = chain.iter().any(|x| {
        x.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        })
    }) || chain.iter().any(|x| {
        let s = x.to_string();
        s.contains("connection closed before message completed") || s.contains("connection reset")
    });
    let innermost = chain
        .last()
        .map(|x| x.to_string())
        .unwrap_or_else(|| e.to_string());
    if reset {
        return Failure::Retryable {
            reason: Reason::Connect,
            message: format!("the connection to {host} was reset: {innermost}"),
            retry_after: None,
        };
    }
    Error::rejected(
        Reason::Connect,
        format!("cannot connect to {host}: {innermost}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let cfg = WebConfig {
            retry_base_ms: 100,
            retry_max_ms: 1000,
            ..WebConfig::default()
        };
        for retry in 0..3 {
            let d = retry_delay(&cfg, retry, None);
            let full = Duration::from_millis(100 << retry);
            assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
        }
        assert!(retry_delay(&cfg, 30, None) <= Duration::from_millis(1000));
        assert_eq!(
            retry_delay(&cfg, 0, Some(Duration::from_secs(3600))),
            Duration::from_millis(1000)
        );
        assert_eq!(
            retry_delay(&cfg, 0, Some(Duration::from_millis(20))),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let none = AllowList::empty();
        let check = |s: &str| check_url(&Url::parse(s).unwrap(), &none).map_err(|e| e.reason());
        assert_eq!(check("https://example.com/"), Ok(()));
        assert_eq!(check("http://8.8.8.8/"), Ok(()));
        for blocked in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0/",
        ] {
            assert_eq!(
                check(blocked),
                Err(Some(Reason::BlockedAddress)),
                "{blocked}"
            );
        }
        for invalid in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://u:p@example.com/",
        ] {
            assert_eq!(
                check(invalid),
                Err(Some(Reason::InvalidArgument)),
                "{invalid}"
            );
        }
    }

    #[test]
    fn content_types_and_sniffing() {
        assert_eq!(media_type("Text/HTML; charset=UTF-8"), "text/html");
        assert!(is_accepted_page_type("application/pdf"));
        assert!(!is_accepted_page_type("image/png"));
        let u = Url::parse("http://h/a.xlsx").unwrap();
        assert_eq!(sniff(b"%PDF-1.7", &u), Some("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04....", &u), Some(DOCUMENT_TYPES[2]));
        assert_eq!(sniff(b"  <!DOCTYPE html><p>x", &u), Some("text/html"));
        assert_eq!(sniff(b"\x89PNG", &u), None);
    }

    #[test]
    fn status_mapping() {
        let u = Url::parse("http://h/").unwrap();
        let h = HeaderMap::new();
        let reason = |code: u16| match status_failure(StatusCode::from_u16(code).unwrap(), &u, &h) {
            Failure::Final(e) => (e.reason(), false),
            Failure::Retryable { reason, .. } => (Some(reason), true),
        };
        assert_eq!(reason(401), (Some(Reason::LoginProtected), false));
        assert_eq!(reason(403), (Some(Reason::LoginProtected), false));
        assert_eq!(reason(404), (Some(Reason::NotFound), false));
        assert_eq!(reason(410), (Some(Reason::NotFound), false));
        assert_eq!(reason(429), (Some(Reason::RateLimited), true));
        assert_eq!(reason(500), (Some(Reason::ServerError), true));
        assert_eq!(reason(503), (Some(Reason::ServerError), true));
        assert_eq!(reason(501), (Some(Reason::ServerError), false));
    }
}
