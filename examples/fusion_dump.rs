//! Dumps the raw full-text and vector rankings of every judged question of BEIR-format sets,
//! one JSON line per question, for studying fusion offline (the numbers behind
//! `RRF_TEXT_WEIGHT` and the fusion choice in `ARCHITECTURE.md`).
//!
//! `cargo run --release --example fusion_dump -- OUT.jsonl DEPTH SET_DIR...`
//!
//! Uses the configured embedder (e5 by default) with the same passage cache as `lore eval`,
//! so a rerun embeds nothing.

use lore::{Lore, NoProgress};
use std::io::Write;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fusion_dump OUT.jsonl DEPTH SET_DIR...";
    let out = PathBuf::from(args.next().expect(usage));
    let depth: usize = args.next().expect(usage).parse()?;
    let sets: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let resolved = lore::embed::resolve::resolve(&lore::Config::default().embed, &NoProgress)?;
    let embedder = resolved
        .embedder
        .ok_or_else(|| anyhow::anyhow!("no embedder: {:?}", resolved.fallback))?;
    let cache = lore::embed::default_model_dir()
        .parent()
        .map(|p| p.join("eval-embeddings.db"))
        .unwrap_or_else(|| PathBuf::from("eval-embeddings.db"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for dir in sets {
        let set = lore::eval::load_set(&dir)?;
        let tmp = tempfile::tempdir()?;
        let lore = Lore::open(tmp.path())?.with_embedder_cached_at(embedder.clone(), &cache)?;
        let kb = lore.kb("eval")?;
        lore::eval::ingest(&kb, &set, &NoProgress)?;
        for (qid, text) in &set.queries {
            let (t, v) = kb.raw_rankings(text, depth)?;
            let line = serde_json::json!({
                "set": set.name, "qid": qid, "query": text,
                "rel": set.qrels[qid], "text": t, "vector": v,
            });
            writeln!(w, "{line}")?;
        }
        eprintln!("{}: {} questions", set.name, set.queries.len());
    }
    Ok(())
}
