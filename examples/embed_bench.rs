//! Throughput and latency of the e5 embedder.
//!
//! `cargo run --release --example embed_bench -- MODEL [--kernel auto|naive|f32|int8]
//! [--threads 1,2] [--batches 1,8,32] [--tokens 250] [--seconds 4]`
//!
//! Prints chunks/s for chunks of about `--tokens` tokens (tokenization included) per thread
//! count and batch size, query latency (p50/p99) for a 20-token question, and peak RSS.

use lore::embed::{E5Embedder, E5Options, Embedder, Kernel};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SENTENCES: &[&str] = &[
    "Orders ship within two business days from our warehouse in Rotterdam.",
    "El envío a España tarda de tres a cinco días laborables y es gratuito a partir de 50 euros.",
    "Die Rücksendung ist innerhalb von 30 Tagen kostenlos, sofern die Ware unbenutzt ist.",
    "Les remboursements sont effectués sur le moyen de paiement d'origine sous dix jours.",
    "The warranty covers manufacturing defects for two years but not accidental damage.",
    "Para cambiar la dirección de entrega, contacte con atención al cliente antes del envío.",
    "Customers can track their parcel with the link in the confirmation email.",
    "I prodotti personalizzati non possono essere restituiti salvo difetti di fabbricazione.",
    "Invoices are available in the account area as PDF files for seven years.",
    "Os pagamentos podem ser feitos com cartão de crédito, PayPal ou transferência bancária.",
    "Large items are delivered by a freight carrier who will call to arrange a time slot.",
    "Wir liefern nicht an Packstationen, wenn die Sendung schwerer als 20 Kilogramm ist.",
];

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn list(s: &str) -> Vec<usize> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds used by the process so far (all threads), from /proc (Linux; 0 elsewhere).
/// The machine may be shared: CPU time per chunk is what the code costs, wall time what a
/// user saw.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// `n` distinct chunks of about `tokens` tokens each (with the `passage: ` prefix, BOS, EOS).
fn chunks(e: &E5Embedder, n: usize, tokens: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut text = String::new();
            let mut j = i * 7;
            let mut words = 0;
            loop {
                let s = SENTENCES[j % SENTENCES.len()];
                // Word-level steps near the end so the length lands close to the target.
                for w in s.split(' ') {
                    let candidate = if text.is_empty() {
                        w.to_owned()
                    } else {
                        format!("{text} {w}")
                    };
                    if e.tokenize(&format!("passage: {candidate}")).len() > tokens {
                        return text;
                    }
                    text = candidate;
                    words += 1;
                }
                j += 1;
                if words > 10 * tokens {
                    return text;
                }
            }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(model) = args.get(1).filter(|a| !a.starts_with("--")) else {
        eprintln!("usage: embed_bench MODEL [--kernel K] [--threads 1,2] [--batches 1,8,32] [--tokens 250] [--seconds 4]");
        std::process::exit(2);
    };
    let model = PathBuf::from(model);
    let kernel = Kernel::parse(arg(&args, "--kernel").unwrap_or("auto")).ok_or("unknown kernel")?;
    let threads = list(arg(&args, "--threads").unwrap_or("1,2"));
    let batches = list(arg(&args, "--batches").unwrap_or("1,8,32"));
    let tokens: usize = arg(&args, "--tokens").unwrap_or("250").parse()?;
    let seconds: f64 = arg(&args, "--seconds").unwrap_or("4").parse()?;
    let queries = [
        "how long does shipping to Spain take and is it free for large orders?",
        "¿puedo devolver un producto personalizado si llega con un defecto de fábrica?",
        "wie lange habe ich Zeit, um einen Artikel kostenlos zurückzuschicken?",
    ];

    println!("| kernel | threads | batch | chunks/s (wall) | ms/chunk (wall) | CPU ms/chunk |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut latency_rows = Vec::new();
    for &t in &threads {
        let e = E5Embedder::open_with(
            &model,
            E5Options {
                threads: t,
                kernel,
                ..Default::default()
            },
        )?;
        let pool = chunks(&e, 64, tokens);
        for &b in &batches {
            let texts: Vec<&str> = pool.iter().map(String::as_str).collect();
            // Warm-up.
            e.embed_passages(&texts[..b.min(texts.len())])?;
            let start = Instant::now();
            let cpu0 = cpu_seconds();
            let mut done = 0usize;
            let mut i = 0;
            while start.elapsed() < Duration::from_secs_f64(seconds) || done < 2 * b {
                let batch: Vec<&str> = (0..b).map(|k| texts[(i + k) % texts.len()]).collect();
                i += b;
                e.embed_passages(&batch)?;
                done += b;
            }
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            println!(
                "| {} | {t} | {b} | {:.2} | {:.1} | {:.1} |",
                e.kernel().as_str(),
                done as f64 / secs,
                1000.0 * secs / done as f64,
                1000.0 * cpu / done as f64
            );
        }
        let qtok = e.tokenize(&format!("query: {}", queries[0])).len();
        for q in &queries {
            e.embed_query(q)?;
        }
        let mut times: Vec<f64> = (0..60)
            .map(|i| {
                let s = Instant::now();
                let _ = e.embed_query(queries[i % queries.len()]);
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        latency_rows.push(format!(
            "| {} | {t} | {qtok} | {:.2} | {:.2} |",
            e.kernel().as_str(),
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        ));
    }
    println!();
    println!("| kernel | threads | query tokens | p50 ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for r in latency_rows {
        println!("{r}");
    }
    println!();
    println!(
        "peak RSS {} MB (now {} MB)",
        rss_kb("VmHWM:") / 1024,
        rss_kb("VmRSS:") / 1024
    );
    Ok(())
}
