//! Crawl throughput: a 200-page site served on 127.0.0.1, crawled with politeness off, then
//! crawled again with every page's ETag (all 304).
//!
//! `cargo run --release --example crawl_bench [pages] [concurrency]`

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response, Uri};
use lore::fetch::crawl::crawl_with_client;
use lore::fetch::{AllowList, CrawlRequest, HttpClient, PageOutcome, PriorPage, WebConfig};
use lore::NoProgress;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

struct Site {
    pages: usize,
}

/// A page of about 6 KB: navigation, a few paragraphs, links to its neighbours.
fn page(i: usize, pages: usize) -> String {
    let mut links = String::new();
    if i == 0 {
        for j in 1..pages {
            links.push_str(&format!("<li><a href=\"/site/p{j}\">Page {j}</a></li>"));
        }
    } else {
        for j in [i.saturating_sub(1), (i + 1) % pages, 0] {
            let href = if j == 0 {
                "/site/".to_string()
            } else {
                format!("/site/p{j}")
            };
            links.push_str(&format!("<li><a href=\"{href}\">Page {j}</a></li>"));
        }
    }
    let para = format!(
        "<p>Page {i} explains how returns, refunds and exchanges work for orders placed \
         online or in a store, which documents are needed and how long each step takes.</p>"
    );
    format!(
        "<!doctype html><html><head><title>Page {i}</title></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/site/\">Site</a></nav><main><h1>Page {i}</h1>{}\
         <ul>{links}</ul></main><footer>© Bench</footer></body></html>",
        para.repeat(20)
    )
}

async fn handle(State(site): State<Arc<Site>>, uri: Uri, headers: HeaderMap) -> Response<Body> {
    let path = uri.path();
    let i = match path {
        "/site/" => Some(0),
        p => p
            .strip_prefix("/site/p")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0 && *n < site.pages),
    };
    let Some(i) = i else {
        return Response::builder().status(404).body(Body::empty()).unwrap();
    };
    let tag = format!("\"p{i}-v1\"");
    if headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag)
    {
        return Response::builder()
            .status(304)
            .header("etag", tag)
            .body(Body::empty())
            .unwrap();
    }
    Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .header("etag", tag)
        .body(Body::from(page(i, site.pages)))
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::new(Site { pages }));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let cfg = WebConfig {
            per_host_delay_ms: 0,
            per_host_concurrency: concurrency,
            ..WebConfig::default()
        };
        let client = HttpClient::with_allow_list(
            &cfg,
            AllowList::parse("127.0.0.1/32").expect("allow list"),
        )
        .expect("client");
        let mut req =
            CrawlRequest::with_children(format!("{base}/site/").parse().expect("url"));
        req.max_pages = pages;

        let started = Instant::now();
        let first = crawl_with_client(&client, &req, &HashMap::new(), &NoProgress)
            .await
            .expect("crawl");
        let t1 = started.elapsed();
        let bytes: usize = first
            .pages
            .iter()
            .map(|p| match &p.outcome {
                PageOutcome::Fetched { body, .. } => body.len(),
                _ => 0,
            })
            .sum();
        println!(
            "first crawl: {} pages, {:.1} MB in {:.0} ms = {:.0} pages/s (concurrency {concurrency}, no delay)",
            first.pages.len(),
            bytes as f64 / 1e6,
            t1.as_secs_f64() * 1000.0,
            first.pages.len() as f64 / t1.as_secs_f64()
        );

        let prior: HashMap<String, PriorPage> = first
            .pages
            .iter()
            .filter_map(|p| match &p.outcome {
                PageOutcome::Fetched { etag, body, .. } => Some((
                    p.url.to_string(),
                    PriorPage {
                        url: p.url.to_string(),
                        etag: etag.clone(),
                        last_modified: None,
                        body: Some(body.clone()),
                    },
                )),
                _ => None,
            })
            .collect();
        let started = Instant::now();
        let second = crawl_with_client(&client, &req, &prior, &NoProgress)
            .await
            .expect("re-crawl");
        let t2 = started.elapsed();
        let unchanged = second
            .pages
            .iter()
            .filter(|p| p.outcome == PageOutcome::NotModified)
            .count();
        println!(
            "re-crawl with etags: {} pages, {unchanged} not modified, in {:.0} ms = {:.0} pages/s",
            second.pages.len(),
            t2.as_secs_f64() * 1000.0,
            second.pages.len() as f64 / t2.as_secs_f64()
        );
    });
}
