//! Choosing the embedder an engine runs with, from `[embed]` and `LORE_EMBEDDER`.
//!
//! The library never picks a model on its own: [`crate::Lore`] searches full-text only until
//! it is given an embedder. Front ends (the CLI, the server) call [`resolve`] once at start, so
//! the one-time model download happens where a progress bar and a plain message can be shown.

use super::{
    default_model_dir, ensure_e5_model, E5Embedder, E5Options, Embedder, HashEmbedder, HttpConfig,
    HttpEmbedder,
};
use crate::config::{EmbedConfig, EmbedProvider};
use crate::error::{Error, Result};
use crate::progress::Progress;
use std::sync::Arc;

/// What [`resolve`] settled on.
pub struct Resolved {
    /// `None`: full-text search only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Why there is no embedder although one was wanted (`auto` without the model): shown to
    /// the user as is.
    pub fallback: Option<String>,
}

/// The provider in force: `LORE_EMBEDDER` when set, else the configuration's.
pub fn provider(cfg: &EmbedConfig) -> Result<EmbedProvider> {
    match std::env::var("LORE_EMBEDDER") {
        Ok(v) if !v.trim().is_empty() => v.parse(),
        _ => Ok(cfg.provider),
    }
}

/// Builds the configured embedder, fetching the e5 weights first if needed (reported on
/// `progress`). With `auto`, a failure to get the weights is not an error: the answer has no
/// embedder and says why.
pub fn resolve(cfg: &EmbedConfig, progress: &dyn Progress) -> Result<Resolved> {
    let some = |e: Arc<dyn Embedder>| Resolved {
        embedder: Some(e),
        fallback: None,
    };
    match provider(cfg)? {
        EmbedProvider::None => Ok(Resolved {
            embedder: None,
            fallback: None,
        }),
        EmbedProvider::Hash => Ok(some(Arc::new(HashEmbedder::default()))),
        EmbedProvider::Http => {
            let http = match (&cfg.url, &cfg.model) {
                (Some(url), Some(model)) => {
                    let mut c = HttpConfig::new(url.clone(), model.clone());
                    c.api_key = std::env::var("LORE_EMBED_KEY").ok();
                    c
                }
                _ => HttpConfig::from_env()?.ok_or_else(|| {
                    Error::invalid(
                        "the http embedder needs [embed] url and model, or LORE_EMBED_URL and \
                         LORE_EMBED_MODEL",
                    )
                })?,
            };
            Ok(some(Arc::new(HttpEmbedder::connect(http)?)))
        }
        EmbedProvider::E5 => Ok(some(open_e5(cfg, progress)?)),
        EmbedProvider::Auto => match open_e5(cfg, progress) {
            Ok(e) => Ok(some(e)),
            Err(e) => {
                tracing::warn!(error = %e, "no embedding model; full-text search only");
                Ok(Resolved {
                    embedder: None,
                    fallback: Some(e.to_string()),
                })
            }
        },
    }
}

fn open_e5(cfg: &EmbedConfig, progress: &dyn Progress) -> Result<Arc<dyn Embedder>> {
    let dir = cfg.model_dir.clone().unwrap_or_else(default_model_dir);
    let path = ensure_e5_model(&dir, progress)?;
    let opts = E5Options {
        threads: cfg.threads,
        ..E5Options::default()
    };
    Ok(Arc::new(E5Embedder::open_with(&path, opts)?))
}
