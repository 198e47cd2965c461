//! A persistent embedding cache, so unchanged chunks are never embedded again across runs.
//!
//! Passage vectors are keyed by (model id, SHA-256 of the exact text embedded — the e5
//! `passage: ` prefix included) in a SQLite file; vectors are little-endian f32 blobs.
//! Query vectors live in a small in-memory LRU: questions repeat within a session, but are
//! not worth a disk write.

use super::Embedder;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What the cache key hashes for a passage: the text exactly as an e5 model embeds it.
const PASSAGE_PREFIX: &str = "passage: ";

/// The SQLite store of passage vectors.
pub struct EmbeddingCache {
    conn: Mutex<Connection>,
}

impl EmbeddingCache {
    /// Opens (creating if needed) the cache file.
    pub fn open(path: &Path) -> Result<EmbeddingCache> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
            }
        }
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A cache that lives in memory only (tests, one-off runs).
    pub fn in_memory() -> Result<EmbeddingCache> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<EmbeddingCache> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS embeddings (
                model TEXT NOT NULL,
                text_sha256 BLOB NOT NULL,
                dim INTEGER NOT NULL,
                vector BLOB NOT NULL,
                PRIMARY KEY (model, text_sha256)
            ) WITHOUT ROWID;",
        )?;
        Ok(EmbeddingCache {
            conn: Mutex::new(conn),
        })
    }

    /// The key of a text: SHA-256 of its bytes.
    pub fn key(text: &str) -> [u8; 32] {
        Sha256::digest(text.as_bytes()).into()
    }

    /// Looks up every key; a stored vector of the wrong dimension counts as a miss.
    pub fn get_many(
        &self,
        model: &str,
        dim: usize,
        keys: &[[u8; 32]],
    ) -> Result<Vec<Option<Vec<f32>>>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached(
            "SELECT dim, vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2",
        )?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let row: Option<(i64, Vec<u8>)> = stmt
                .query_row(params![model, &key[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            out.push(row.and_then(|(d, blob)| {
                (d as usize == dim && blob.len() == 4 * dim).then(|| {
                    blob.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                })
            }));
        }
        Ok(out)
    }

    /// Stores vectors (replacing any under the same key) in one transaction.
    pub fn put_many(&self, model: &str, items: &[([u8; 32], &[f32])]) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO embeddings (model, text_sha256, dim, vector) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (key, v) in items {
                let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                stmt.execute(params![model, &key[..], v.len() as i64, blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Number of vectors stored for `model`.
    pub fn len(&self, model: &str) -> Result<usize> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM embeddings WHERE model = ?1",
            [model],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// True when nothing is stored for `model`.
    pub fn is_empty(&self, model: &str) -> Result<bool> {
        Ok(self.len(model)? == 0)
    }
}

/// Counters of a [`CachedEmbedder`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Passages found in the cache.
    pub hits: u64,
    /// Passages that had to be embedded.
    pub misses: u64,
    pub query_hits: u64,
    pub query_misses: u64,
}

/// A tiny LRU of query vectors: a map plus a use counter; eviction scans for the oldest entry,
/// which is cheap at the few hundred entries it holds.
struct Lru {
    cap: usize,
    tick: u64,
    map: HashMap<String, (u64, Vec<f32>)>,
}

impl Lru {
    fn get(&mut self, k: &str) -> Option<Vec<f32>> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(k).map(|e| {
            e.0 = tick;
            e.1.clone()
        })
    }

    fn put(&mut self, k: String, v: Vec<f32>) {
        if self.cap == 0 {
            return;
        }
        if self.map.len() >= self.cap && !self.map.contains_key(&k) {
            if let Some(old) = self.map.iter().min_by_key(|e| e.1 .0).map(|e| e.0.clone()) {
                self.map.remove(&old);
            }
        }
        self.tick += 1;
        self.map.insert(k, (self.tick, v));
    }
}

/// Wraps an [`Embedder`] with the persistent passage cache and the query LRU.
pub struct CachedEmbedder<E> {
    inner: E,
    cache: EmbeddingCache,
    queries: Mutex<Lru>,
    batch_size: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    query_hits: AtomicU64,
    query_misses: AtomicU64,
}

impl<E: Embedder> CachedEmbedder<E> {
    /// Misses are embedded `batch_size` (64) at a time and stored after each batch, so work
    /// done before a failure is kept. The query LRU holds 256 entries.
    pub fn new(inner: E, cache: EmbeddingCache) -> CachedEmbedder<E> {
        CachedEmbedder {
            inner,
            cache,
            queries: Mutex::new(Lru {
                cap: 256,
                tick: 0,
                map: HashMap::new(),
            }),
            batch_size: 64,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            query_hits: AtomicU64::new(0),
            query_misses: AtomicU64::new(0),
        }
    }

    /// Sets how many misses go to the inner embedder per call (at least 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the capacity of the query LRU (0 disables it).
    pub fn with_query_capacity(self, cap: usize) -> Self {
        self.queries.lock().unwrap_or_else(|p| p.into_inner()).cap = cap;
        self
    }

    pub fn inner(&self) -> &E {
        &self.inner
    }

    pub fn cache(&self) -> &EmbeddingCache {
        &self.cache
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            query_hits: self.query_hits.load(Ordering::Relaxed),
            query_misses: self.query_misses.load(Ordering::Relaxed),
        }
    }
}

impl<E: Embedder> Embedder for CachedEmbedder<E> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn relevance_range(&self) -> Option<(f32, f32)> {
        self.inner.relevance_range()
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let model = self.inner.model_id();
        let dim = self.inner.dim();
        let keys: Vec<[u8; 32]> = texts
            .iter()
            .map(|t| EmbeddingCache::key(&format!("{PASSAGE_PREFIX}{t}")))
            .collect();
        let mut out = self.cache.get_many(model, dim, &keys)?;
        // Distinct missing texts (a batch may repeat a chunk), in first-seen order.
        let mut first_of: HashMap<[u8; 32], usize> = HashMap::new();
        let mut todo: Vec<usize> = Vec::new();
        for (i, v) in out.iter().enumerate() {
            if v.is_none() {
                if let std::collections::hash_map::Entry::Vacant(e) = first_of.entry(keys[i]) {
                    e.insert(i);
                    todo.push(i);
                }
            }
        }
        let hits = out.iter().filter(|v| v.is_some()).count();
        self.hits.fetch_add(hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(todo.len() as u64, Ordering::Relaxed);
        tracing::debug!(model, hits, misses = todo.len(), "embedding cache lookup");
        for batch in todo.chunks(self.batch_size) {
            let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let vecs = self.inner.embed_passages(&batch_texts)?;
            if vecs.len() != batch.len() || vecs.iter().any(|v| v.len() != dim) {
                return Err(Error::embed(format!(
                    "{model} returned {} vectors for {} texts (or a wrong dimension)",
                    vecs.len(),
                    batch.len()
                )));
            }
            let items: Vec<([u8; 32], &[f32])> = batch
                .iter()
                .zip(&vecs)
                .map(|(&i, v)| (keys[i], v.as_slice()))
                .collect();
            self.cache.put_many(model, &items)?;
            for (&i, v) in batch.iter().zip(vecs) {
                out[i] = Some(v);
            }
        }
        // Duplicates of a missing text take the vector of its first occurrence.
        for i in 0..out.len() {
            if out[i].is_none() {
                if let Some(&j) = first_of.get(&keys[i]) {
                    out[i] = out[j].clone();
                }
            }
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| Error::Internal("embedding cache lost a vector".into())))
            .collect()
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        if let Some(v) = self
            .queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(text)
        {
            self.query_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        self.query_misses.fetch_add(1, Ordering::Relaxed);
        let v = self.inner.embed_query(text)?;
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(text.to_owned(), v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashEmbedder;
    use std::sync::atomic::AtomicUsize;

    /// Counts the texts the inner embedder really sees.
    struct Counting {
        inner: HashEmbedder,
        seen: AtomicUsize,
        calls: AtomicUsize,
    }

    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            self.inner.model_id()
        }
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.seen.fetch_add(texts.len(), Ordering::SeqCst);
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.embed_passages(texts)
        }
        fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
            self.seen.fetch_add(1, Ordering::SeqCst);
            self.inner.embed_query(text)
        }
    }

    fn counting() -> Counting {
        Counting {
            inner: HashEmbedder::new(32),
            seen: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    #[test]
    fn hits_and_misses_are_counted_and_batches_respected() {
        let e = CachedEmbedder::new(counting(), EmbeddingCache::in_memory().unwrap())
            .with_batch_size(2);
        let v1 = e.embed_passages(&["a b c", "d e f", "g h i"]).unwrap();
        assert_eq!(e.stats().misses, 3);
        assert_eq!(
            e.inner().calls.load(Ordering::SeqCst),
            2,
            "3 misses in batches of 2"
        );
        let v2 = e
            .embed_passages(&["g h i", "new one", "a b c", "new one"])
            .unwrap();
        assert_eq!(v2[0], v1[2]);
        assert_eq!(v2[2], v1[0]);
        assert_eq!(v2[1], v2[3]);
        let s = e.stats();
        assert_eq!(
            (s.hits, s.misses),
            (2, 4),
            "a repeated new text is embedded once"
        );
        assert_eq!(e.inner().seen.load(Ordering::SeqCst), 4);
        assert_eq!(e.cache().len("hash-3gram-32").unwrap(), 4);
        // Same vectors as without the cache.
        assert_eq!(v1[1], HashEmbedder::new(32).embed_one("d e f"));
    }

    #[test]
    fn cache_persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("embeddings.db");
        {
            let e = CachedEmbedder::new(counting(), EmbeddingCache::open(&path).unwrap());
            e.embed_passages(&["one", "two"]).unwrap();
            assert_eq!(e.stats().misses, 2);
        }
        let e = CachedEmbedder::new(counting(), EmbeddingCache::open(&path).unwrap());
        let v = e.embed_passages(&["two", "one"]).unwrap();
        assert_eq!(
            e.stats(),
            CacheStats {
                hits: 2,
                ..Default::default()
            }
        );
        assert_eq!(e.inner().seen.load(Ordering::SeqCst), 0);
        assert_eq!(v[0], HashEmbedder::new(32).embed_one("two"));
        // Another model id does not see these vectors.
        assert!(e.cache().is_empty("other-model").unwrap());
    }

    #[test]
    fn queries_use_the_lru() {
        let e = CachedEmbedder::new(counting(), EmbeddingCache::in_memory().unwrap())
            .with_query_capacity(2);
        e.embed_query("q1").unwrap();
        e.embed_query("q1").unwrap();
        e.embed_query("q2").unwrap();
        e.embed_query("q1").unwrap(); // refreshes q1
        e.embed_query("q3").unwrap(); // evicts q2
        e.embed_query("q1").unwrap();
        e.embed_query("q2").unwrap();
        let s = e.stats();
        assert_eq!((s.query_hits, s.query_misses), (3, 4));
    }
}
