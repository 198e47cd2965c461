//! Embeds the texts of a JSON list (`[{"kind": "query"|"passage", "text": ...}]`) with the
//! configured embedder and writes their vectors as little-endian f32 rows: raw material for
//! studying retrieval variants offline (window sizes, query feedback) before building them.
//!
//! `cargo run --release --example embed_dump -- IN.json OUT.f32`
//!
//! Passages go through the same cache as `lore eval`, so reruns embed only new texts.

use lore::embed::{CachedEmbedder, Embedder, EmbeddingCache};
use lore::NoProgress;
use std::io::Write;
use std::path::PathBuf;

#[derive(serde::Deserialize)]
struct Item {
    kind: String,
    text: String,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() == 2, "usage: embed_dump IN.json OUT.f32");
    let items: Vec<Item> = serde_json::from_str(&std::fs::read_to_string(&args[0])?)?;
    let resolved = lore::embed::resolve::resolve(&lore::Config::default().embed, &NoProgress)?;
    let inner = resolved
        .embedder
        .ok_or_else(|| anyhow::anyhow!("no embedder: {:?}", resolved.fallback))?;
    let cache_path = lore::embed::default_model_dir()
        .parent()
        .map(|p| p.join("eval-embeddings.db"))
        .unwrap_or_else(|| PathBuf::from("eval-embeddings.db"));
    let e = CachedEmbedder::new(inner, EmbeddingCache::open(&cache_path)?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[1])?);
    let passages: Vec<&str> = items
        .iter()
        .filter(|i| i.kind == "passage")
        .map(|i| i.text.as_str())
        .collect();
    let mut pv = Vec::new();
    for batch in passages.chunks(64) {
        pv.extend(e.embed_passages(batch)?);
        eprint!("\r{} / {} passages", pv.len(), passages.len());
    }
    eprintln!();
    let mut pv = pv.into_iter();
    for i in &items {
        let v = if i.kind == "passage" {
            pv.next().expect("one vector per passage")
        } else {
            e.embed_query(&i.text)?
        };
        for x in v {
            out.write_all(&x.to_le_bytes())?;
        }
    }
    Ok(())
}
