//! Fetch: read the bytes of a source's origin, enforcing the byte limit before reading.
//!
//! Every failure is a named user-fault reason, because a missing or unreadable origin is
//! something the admin must fix (and the source keeps serving its last good version meanwhile).
//!
//! Files and blobs are read here; websites have their own submodules:
//! * [`guard`] — which IP addresses may be fetched at all (the SSRF guard);
//! * [`http`] — one URL: redirects, timeouts, size cap, retries, conditional requests;
//! * [`crawl`] — a site: robots.txt, sitemaps, links, limits, politeness.

pub mod crawl;
pub mod guard;
pub mod http;

use crate::error::{Error, Reason, Result};
use crate::store::blobs::BlobStore;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

pub use crawl::{
    check_html_page, crawl, crawl_blocking, Crawl, CrawlRequest, CrawledPage, PageOutcome,
    PriorPage,
};
pub use guard::{check_ip, AllowList};
pub use http::{Conditional, FetchOutcome, FetchedPage, HttpClient};

/// How lore talks to websites: limits, timeouts, retries and politeness (`[web]` in
/// `lore.toml`). Durations are milliseconds so that the file stays plain numbers; the
/// defaults suit public sites, and tests turn the delays down to keep fast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebConfig {
    /// Comma-separated addresses or CIDR blocks that the SSRF guard lets through although they
    /// are private (an intranet wiki). `LORE_ALLOW_PRIVATE_HOSTS` adds to it.
    pub allow_private_hosts: String,
    /// Time to establish a connection (TCP + TLS).
    pub connect_timeout_ms: u64,
    /// Time for a whole request, body included, per attempt.
    pub timeout_ms: u64,
    /// Largest response body; larger ones fail with `too-large` as soon as the limit is passed.
    pub max_bytes: u64,
    /// Redirects followed per URL before `redirect-loop`.
    pub max_redirects: u32,
    /// Further attempts after a 429, a 5xx or a connection reset.
    pub retries: u32,
    /// First backoff delay; each retry doubles it (with jitter).
    pub retry_base_ms: u64,
    /// Longest wait before a retry, whatever `Retry-After` asks for.
    pub retry_max_ms: u64,
    /// Requests in flight per host.
    pub per_host_concurrency: usize,
    /// Pause between the starts of two requests to the same host.
    pub per_host_delay_ms: u64,
    /// Longest robots.txt `Crawl-delay` honoured; a site asking for more gets this.
    pub max_crawl_delay_ms: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            allow_private_hosts: String::new(),
            connect_timeout_ms: 10_000,
            timeout_ms: 30_000,
            max_bytes: 20 * 1024 * 1024,
            max_redirects: 10,
            retries: 3,
            retry_base_ms: 500,
            retry_max_ms: 30_000,
            per_host_concurrency: 4,
            per_host_delay_ms: 250,
            max_crawl_delay_ms: 10_000,
        }
    }
}

impl WebConfig {
    /// Refuses settings that would make the client misbehave, and a malformed allow list.
    pub fn validate(&self) -> Result<()> {
        if self.connect_timeout_ms == 0 || self.timeout_ms == 0 {
            return Err(Error::invalid("web timeouts must be at least 1 ms"));
        }
        if self.per_host_concurrency == 0 {
            return Err(Error::invalid(
                "web.per_host_concurrency must be at least 1",
            ));
        }
        AllowList::parse(&self.allow_private_hosts)?;
        Ok(())
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    pub(crate) fn retry_base(&self) -> Duration {
        Duration::from_millis(self.retry_base_ms)
    }
    pub(crate) fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms)
    }
    pub(crate) fn per_host_delay(&self) -> Duration {
        Duration::from_millis(self.per_host_delay_ms)
    }
    pub(crate) fn max_crawl_delay(&self) -> Duration {
        Duration::from_millis(self.max_crawl_delay_ms)
    }
}

/// Where the bytes of a version come from.
#[derive(Debug, Clone)]
pub enum Origin<'a> {
    /// A file on the local disk.
    File(&'a Path),
    /// Bytes already in the blob store (text entries, re-parses).
    Blob(&'a str),
}

/// Reads the whole origin, refusing anything over `max_bytes` with [`Reason::TooLarge`].
pub fn fetch(origin: &Origin<'_>, blobs: &BlobStore, max_bytes: u64) -> Result<Vec<u8>> {
    match origin {
        Origin::File(path) => read_file(path, max_bytes),
        Origin::Blob(hash) => {
            let bytes = blobs.get(hash)?;
            check_size(bytes.len() as u64, max_bytes)?;
            Ok(bytes)
        }
    }
}

fn check_size(len: u64, max_bytes: u64) -> Result<()> {
    if len > max_bytes {
        return Err(Error::rejected(
            Reason::TooLarge,
            format!("{len} bytes is over the limit of {max_bytes} bytes"),
        ));
    }
    Ok(())
}

fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let shown = path.display();
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::rejected(Reason::OriginMissing, format!("{shown} no longer exists"))
        }
        _ => Error::rejected(Reason::Unreadable, format!("cannot read {shown}: {e}")),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::rejected(
            Reason::Unreadable,
            format!("{shown} is a folder, not a file"),
        ));
    }
    check_size(meta.len(), max_bytes)?;
    // The file may grow between stat and read: read at most one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len() as u64, max_bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_reasons_for_each_failure() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(dir.path().join("blobs"));
        let missing = dir.path().join("nope.txt");
        let e = fetch(&Origin::File(&missing), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::OriginMissing));
        let e = fetch(&Origin::File(dir.path()), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::Unreadable));
        let big = dir.path().join("big.txt");
        std::fs::write(&big, vec![b'a'; 101]).unwrap();
        let e = fetch(&Origin::File(&big), &blobs, 100).unwrap_err();
        assert_eq!(e.reason(), Some(Reason::TooLarge));
        assert!(e.to_string().contains("101 bytes"), "{e}");
        assert_eq!(fetch(&Origin::File(&big), &blobs, 101).unwrap().len(), 101);
        let h = blobs.put(b"body").unwrap();
        assert_eq!(fetch(&Origin::Blob(&h), &blobs, 10).unwrap(), b"body");
        assert_eq!(
            fetch(&Origin::Blob(&h), &blobs, 3).unwrap_err().reason(),
            Some(Reason::TooLarge)
        );
    }
}
