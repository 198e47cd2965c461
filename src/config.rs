//! Configuration: limits, chunking and retention, with defaults that suit a CRM knowledge base.
//!
//! A data folder may hold a `lore.toml`; every key is optional and falls back to the default.
//! Per-source overrides of the limits are stored on the source itself (so a later `sync`
//! applies the same limits the admin chose when adding it).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What to do when a source breaks its character limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LimitPolicy {
    /// Refuse the whole version with the reason `too-many-chars`.
    Reject,
    /// Keep the first `max_chars` characters and record a warning on the version.
    #[default]
    Truncate,
}

impl std::str::FromStr for LimitPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "reject" => Ok(LimitPolicy::Reject),
            "truncate" => Ok(LimitPolicy::Truncate),
            other => Err(Error::invalid(format!(
                "unknown limit policy {other:?} (expected reject or truncate)"
            ))),
        }
    }
}

/// Limits applied to one source's content.
///
/// The byte limit is always a rejection: it is checked before the file is read, so that a huge
/// upload costs nothing. The character limit follows [`LimitPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceLimits {
    pub max_bytes: u64,
    pub max_chars: u64,
    /// Pages of a paged document (PDF); follows `on_limit` like the character limit.
    pub max_pages: u32,
    pub on_limit: LimitPolicy,
    /// Time one document's parse may take, in milliseconds; over it → `parse-timeout`. Always
    /// a rejection: a half-parsed document is not a truncated one.
    pub parse_timeout_ms: u64,
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits {
            max_bytes: 100 * 1024 * 1024,
            max_chars: 2_000_000,
            max_pages: 2000,
            on_limit: LimitPolicy::Truncate,
            parse_timeout_ms: 60_000,
        }
    }
}

impl SourceLimits {
    /// What the parsers are told of these limits.
    pub fn parse_options(&self) -> crate::parse::ParseOptions {
        crate::parse::ParseOptions {
            max_pages: self.max_pages,
            on_limit: self.on_limit,
            timeout: std::time::Duration::from_millis(self.parse_timeout_ms),
        }
    }
}

/// Per-source overrides; `None` means "the knowledge base's default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_limit: Option<LimitPolicy>,
}

impl LimitOverrides {
    pub fn apply(&self, base: SourceLimits) -> SourceLimits {
        SourceLimits {
            max_bytes: self.max_bytes.unwrap_or(base.max_bytes),
            max_chars: self.max_chars.unwrap_or(base.max_chars),
            max_pages: self.max_pages.unwrap_or(base.max_pages),
            on_limit: self.on_limit.unwrap_or(base.on_limit),
            parse_timeout_ms: base.parse_timeout_ms,
        }
    }
}

/// How documents are cut into chunks.
///
/// 1,000 characters is roughly 250 tokens: small enough for a precise citation and for the
/// multilingual embedder's sweet spot, large enough to carry a whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkConfig {
    pub max_chars: usize,
    /// Characters of whole sentences repeated from the end of the previous chunk of the same
    /// section, so that an answer cut in two is still found with its context.
    pub overlap_chars: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_chars: 1000,
            overlap_chars: 150,
        }
    }
}

/// Everything configurable about an engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub limits: SourceLimits,
    pub chunk: ChunkConfig,
    /// Ready versions kept per source (the active one always among them), for `revert`.
    pub keep_versions: u32,
    /// Jobs parsed and committed to the index together; bounds memory on large folders.
    pub batch_size: usize,
    /// Website fetching and crawling (`[web]`).
    pub web: crate::fetch::WebConfig,
    /// Which embedder gives semantic search (`[embed]`).
    pub embed: EmbedConfig,
}

/// Where the vectors of semantic search come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmbedProvider {
    /// multilingual-e5-small in-process, its weights fetched with pip on first use; when they
    /// cannot be fetched, full-text search alone (said plainly, never silently).
    #[default]
    Auto,
    /// multilingual-e5-small, and an error when its weights cannot be had.
    E5,
    /// An OpenAI-compatible `/v1/embeddings` service (`LORE_EMBED_URL`, `LORE_EMBED_MODEL`,
    /// `LORE_EMBED_KEY`, or `url` / `model` here).
    Http,
    /// Character 3-gram hashing: no model, no meaning; for tests and as a baseline.
    Hash,
    /// Full-text search only.
    None,
}

impl std::str::FromStr for EmbedProvider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EmbedProvider::Auto),
            "e5" => Ok(EmbedProvider::E5),
            "http" => Ok(EmbedProvider::Http),
            "hash" => Ok(EmbedProvider::Hash),
            "none" | "off" => Ok(EmbedProvider::None),
            other => Err(Error::invalid(format!(
                "unknown embedder {other:?} (auto, e5, http, hash, none)"
            ))),
        }
    }
}

/// `[embed]` in `lore.toml`. The environment variable `LORE_EMBEDDER` overrides `provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct EmbedConfig {
    pub provider: EmbedProvider,
    /// Where model weights are kept (default: `LORE_MODEL_DIR`, else `~/.cache/lore/models`).
    pub model_dir: Option<std::path::PathBuf>,
    /// Embedding threads of the in-process model (0: one per core).
    pub threads: usize,
    /// For `http`: the service's base URL and model (else from the environment).
    pub url: Option<String>,
    pub model: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: SourceLimits::default(),
            chunk: ChunkConfig::default(),
            keep_versions: 3,
            batch_size: 64,
            web: crate::fetch::WebConfig::default(),
            embed: EmbedConfig::default(),
        }
    }
}

impl Config {
    /// Reads `lore.toml` from the data folder if it exists, else the defaults.
    pub fn load(data_dir: &Path) -> Result<Config> {
        let path = data_dir.join("lore.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let cfg: Config = toml::from_str(&text)
                    .map_err(|e| Error::invalid(format!("{}: {}", path.display(), e.message())))?;
                cfg.validate()?;
                Ok(cfg)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::storage(format!("reading {}", path.display()), e)),
        }
    }

    /// Refuses settings that would make the pipeline misbehave.
    pub fn validate(&self) -> Result<()> {
        if self.chunk.max_chars < 100 {
            return Err(Error::invalid("chunk.max_chars must be at least 100"));
        }
        if self.chunk.overlap_chars >= self.chunk.max_chars / 2 {
            return Err(Error::invalid(
                "chunk.overlap_chars must be less than half of chunk.max_chars",
            ));
        }
        if self.keep_versions == 0 {
            return Err(Error::invalid("keep_versions must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size must be at least 1"));
        }
        self.web.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_partial_file_overrides() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
        std::fs::write(
            dir.path().join("lore.toml"),
            "keep_versions = 5\n[chunk]\nmax_chars = 400\n[limits]\non_limit = \"reject\"\n",
        )
        .unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.keep_versions, 5);
        assert_eq!(cfg.chunk.max_chars, 400);
        assert_eq!(cfg.chunk.overlap_chars, 150);
        assert_eq!(cfg.limits.on_limit, LimitPolicy::Reject);
        assert_eq!(cfg.limits.max_chars, SourceLimits::default().max_chars);
    }

    #[test]
    fn bad_settings_are_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lore.toml"), "[chunk]\nmax_chars = 10\n").unwrap();
        let err = Config::load(dir.path()).unwrap_err();
        assert!(err.is_user_fault());
        assert!(err.to_string().contains("max_chars"), "{err}");
        std::fs::write(dir.path().join("lore.toml"), "keep_versions = \"x\"").unwrap();
        assert!(Config::load(dir.path()).unwrap_err().is_user_fault());
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o = LimitOverrides {
            max_chars: Some(10),
            ..Default::default()
        };
        let l = o.apply(SourceLimits::default());
        assert_eq!(l.max_chars, 10);
        assert_eq!(l.max_bytes, SourceLimits::default().max_bytes);
    }
}
