//! The error type of the library.
//!
//! lore separates two kinds of failure because callers must treat them differently:
//! * the **user's fault** — bad input or a broken limit. These carry a [`Reason`], a stable
//!   kebab-case name that is stored on the source's failed version and shown to admins
//!   (`too-large`, `binary`, `empty`, …). An HTTP front end maps them to 4xx.
//! * **our fault** — the catalog, the index or the disk failed. These are 5xx, they are logged,
//!   and they never carry a user-facing reason.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable name for why a source (or a request) was refused.
///
/// The names are part of the public interface: they are stored in the catalog, printed by
/// `lore show`, and returned in JSON. Never rename one; add new ones instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The origin (file) no longer exists.
    OriginMissing,
    /// The origin exists but cannot be read (permissions, a folder, …).
    Unreadable,
    /// The file is larger than the source's byte limit.
    TooLarge,
    /// The text is longer than the source's character limit and the policy is `reject`.
    TooManyChars,
    /// The content has no text at all (zero bytes, only whitespace, or markup without text).
    Empty,
    /// The content is binary data, not text in any encoding.
    Binary,
    /// The format was recognised but lore has no parser for it.
    UnsupportedFormat,
    /// The text could not be decoded in any encoding with confidence.
    Encoding,
    /// The file claims a format but its structure is broken.
    Malformed,
    /// The file is damaged beyond repair (a truncated or corrupted PDF or archive).
    Corrupted,
    /// More pages than the source's page limit and the policy is `reject`.
    TooManyPages,
    /// Encrypted with a password lore does not have.
    PasswordProtected,
    /// Pages with images but no extractable text (a scan); OCR is not done.
    ImageOnly,
    /// An archive (DOCX, XLSX, ODS) whose uncompressed size, compression ratio or entry count
    /// breaks the limits: a zip bomb or something that behaves like one.
    ZipBomb,
    /// Parsing took longer than its time limit.
    ParseTimeout,
    /// A spreadsheet whose used area (first to last filled row and column) spans more cells
    /// than the parser can hold: stray cells far from the table, or a crafted file.
    TooManyCells,
    /// A name or id that does not exist.
    NotFound,
    /// An argument that makes no sense (an unknown version, an ambiguous name, …).
    InvalidArgument,
    /// A web host name could not be resolved.
    Dns,
    /// The web server could not be reached (refused, reset, unreachable).
    Connect,
    /// The web server did not answer in time.
    Timeout,
    /// The TLS handshake failed (bad certificate, unsupported protocol).
    Tls,
    /// The page needs a login: HTTP 401/403, or a page that is only a login form.
    LoginProtected,
    /// The server kept answering 429 Too Many Requests after the retries.
    RateLimited,
    /// The server kept answering 5xx after the retries.
    ServerError,
    /// The URL's content type is neither HTML nor a supported document type.
    NotHtml,
    /// The page's text is built by scripts in the browser: the HTML itself holds almost none.
    DynamicallyGenerated,
    /// The site's robots.txt forbids lore to fetch the URL.
    RobotsDisallowed,
    /// The URL resolves to a private, loopback, link-local or otherwise internal address
    /// that the allow list does not open (protection against server-side request forgery).
    BlockedAddress,
    /// Too many redirects, or a redirect back to a URL already visited.
    RedirectLoop,
    /// A name that must be unique is taken (a knowledge base, an agent).
    AlreadyExists,
    /// A plan limit of the knowledge base (sources, storage) would be exceeded.
    QuotaExceeded,
}

impl Reason {
    /// The stable kebab-case name, e.g. `too-large`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::OriginMissing => "origin-missing",
            Reason::Unreadable => "unreadable",
            Reason::TooLarge => "too-large",
            Reason::TooManyChars => "too-many-chars",
            Reason::Empty => "empty",
            Reason::Binary => "binary",
            Reason::UnsupportedFormat => "unsupported-format",
            Reason::Encoding => "encoding",
            Reason::Malformed => "malformed",
            Reason::Corrupted => "corrupted",
            Reason::TooManyPages => "too-many-pages",
            Reason::PasswordProtected => "password-protected",
            Reason::ImageOnly => "image-only",
            Reason::ZipBomb => "zip-bomb",
            Reason::ParseTimeout => "parse-timeout",
            Reason::TooManyCells => "too-many-cells",
            Reason::NotFound => "not-found",
            Reason::InvalidArgument => "invalid-argument",
            Reason::Dns => "dns",
            Reason::Connect => "connect",
            Reason::Timeout => "timeout",
            Reason::Tls => "tls",
            Reason::LoginProtected => "login-protected",
            Reason::RateLimited => "rate-limited",
            Reason::ServerError => "server-error",
            Reason::NotHtml => "not-html",
            Reason::DynamicallyGenerated => "dynamically-generated",
            Reason::RobotsDisallowed => "robots-disallowed",
            Reason::BlockedAddress => "blocked-address",
            Reason::RedirectLoop => "redirect-loop",
            Reason::AlreadyExists => "already-exists",
            Reason::QuotaExceeded => "quota-exceeded",
        }
    }

    /// Parses a name written by [`Reason::as_str`]; unknown names give `None` so that a newer
    /// catalog read by an older binary degrades instead of failing.
    pub fn parse(name: &str) -> Option<Reason> {
        ALL_REASONS.iter().copied().find(|r| r.as_str() == name)
    }
}

const ALL_REASONS: [Reason; 32] = [
    Reason::OriginMissing,
    Reason::Unreadable,
    Reason::TooLarge,
    Reason::TooManyChars,
    Reason::Empty,
    Reason::Binary,
    Reason::UnsupportedFormat,
    Reason::Encoding,
    Reason::Malformed,
    Reason::Corrupted,
    Reason::TooManyPages,
    Reason::PasswordProtected,
    Reason::ImageOnly,
    Reason::ZipBomb,
    Reason::ParseTimeout,
    Reason::TooManyCells,
    Reason::NotFound,
    Reason::InvalidArgument,
    Reason::Dns,
    Reason::Connect,
    Reason::Timeout,
    Reason::Tls,
    Reason::LoginProtected,
    Reason::RateLimited,
    Reason::ServerError,
    Reason::NotHtml,
    Reason::DynamicallyGenerated,
    Reason::RobotsDisallowed,
    Reason::BlockedAddress,
    Reason::RedirectLoop,
    Reason::AlreadyExists,
    Reason::QuotaExceeded,
];

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's fault: input or request refused for a named reason.
    #[error("{reason}: {message}")]
    Rejected { reason: Reason, message: String },

    /// Our fault: the catalog (SQLite) failed.
    #[error("catalog error: {0}")]
    Catalog(#[from] rusqlite::Error),

    /// Our fault: the full-text index failed.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),

    /// Our fault: a file of the data folder could not be read or written.
    #[error("storage error: {context}: {source}")]
    Storage {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Our fault: stored data is not what this version of lore expects.
    #[error("internal error: {0}")]
    Internal(String),

    /// Our fault: the embedding model (a missing, truncated or corrupt weights file) or the
    /// embedding service (unreachable, refusing the key, answering nonsense) failed. Search
    /// falls back to full text when embeddings are unavailable.
    #[error("embedding error: {0}")]
    Embed(String),
}

impl Error {
    /// A user-fault error with a named reason.
    pub fn rejected(reason: Reason, message: impl Into<String>) -> Self {
        Error::Rejected {
            reason,
            message: message.into(),
        }
    }

    /// Shorthand for [`Reason::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::rejected(Reason::NotFound, message)
    }

    /// Shorthand for [`Reason::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::rejected(Reason::InvalidArgument, message)
    }

    /// Shorthand for [`Error::Embed`].
    pub fn embed(message: impl Into<String>) -> Self {
        Error::Embed(message.into())
    }

    /// Wraps an I/O error on lore's own files (not the user's origin files).
    pub fn storage(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Storage {
            context: context.into(),
            source,
        }
    }

    /// True when the caller (the user) caused the failure: bad input or a broken limit.
    pub fn is_user_fault(&self) -> bool {
        matches!(self, Error::Rejected { .. })
    }

    /// The named reason of a user-fault error.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Rejected { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

impl From<tantivy::query::QueryParserError> for Error {
    fn from(e: tantivy::query::QueryParserError) -> Self {
        Error::invalid(format!("cannot parse query: {e}"))
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for Error {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        Error::Index(e.into())
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_round_trip_and_are_kebab_case() {
        for r in ALL_REASONS {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Reason::parse("no-such-reason"), None);
        // Every variant is listed (a forgotten one would not round-trip through the catalog).
        let names: std::collections::HashSet<_> = ALL_REASONS.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), ALL_REASONS.len());
        for name in [
            "dns",
            "connect",
            "timeout",
            "tls",
            "login-protected",
            "rate-limited",
            "server-error",
            "not-html",
            "dynamically-generated",
            "robots-disallowed",
            "blocked-address",
            "redirect-loop",
            "not-found",
            "too-large",
        ] {
            assert_eq!(Reason::parse(name).map(Reason::as_str), Some(name));
        }
    }

    #[test]
    fn user_fault_is_separated_from_ours() {
        let user = Error::rejected(Reason::TooLarge, "file is 9 MB, limit 1 MB");
        assert!(user.is_user_fault());
        assert_eq!(user.reason(), Some(Reason::TooLarge));
        assert_eq!(user.to_string(), "too-large: file is 9 MB, limit 1 MB");
        let ours = Error::Internal("bad row".into());
        assert!(!ours.is_user_fault());
        assert_eq!(ours.reason(), None);
    }
}
