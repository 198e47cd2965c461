//! Website fetching and crawling against sites served on 127.0.0.1 by the test itself.
//!
//! No request leaves the machine: every server binds 127.0.0.1 on a random port, and the
//! tests that aim at other addresses (10.0.0.1, 169.254.169.254, ::1) must be refused by the
//! guard before any connection is attempted.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response, Uri};
use lore::fetch::crawl::crawl_with_client;
use lore::fetch::http::Accept;
use lore::fetch::{
    crawl, crawl_blocking, AllowList, Conditional, CrawlRequest, FetchOutcome, HttpClient,
    PageOutcome, PriorPage, WebConfig,
};
use lore::{NoProgress, Reason};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

// ---------------------------------------------------------------------------------------
// The test site

struct Site {
    base: String,
    hits: Mutex<HashMap<String, usize>>,
    conditional_hits: AtomicUsize,
    /// What /robots.txt answers: 0 the rules, 1 a 503, 2 a 404, 3 rules with a crawl delay.
    robots_mode: AtomicUsize,
    /// When set, /gen/ pages take 10 ms and the most requests in flight at once is recorded.
    slow_gen: std::sync::atomic::AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Site {
    fn hits(&self, path_and_query: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }
    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

/// A page with enough unique prose to pass the dynamic-page check and the duplicate check.
fn page(title: &str, links: &[&str]) -> String {
    let links: String = links
        .iter()
        .map(|l| format!("<li><a href=\"{l}\">{l}</a></li>"))
        .collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><main><h1>{title}</h1>\
         <p>This is the page called {title}. It explains returns, refunds and shipping in \
         enough words that lore takes it for a real page with real content.</p>\
         <ul>{links}</ul></main></body></html>"
    )
}

fn html(body: String) -> Response<Body> {
    Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap()
}

fn status(code: u16) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(format!("status {code}")))
        .unwrap()
}

fn redirect(to: &str) -> Response<Body> {
    Response::builder()
        .status(302)
        .header("location", to)
        .body(Body::empty())
        .unwrap()
}

const ETAG_LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

async fn handle(State(site): State<Arc<Site>>, uri: Uri, headers: HeaderMap) -> Response<Body> {
    let pq = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let n = {
        let mut hits = site.hits.lock().unwrap();
        let n = hits.entry(pq.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let base = &site.base;
    match path {
        "/robots.txt" if site.robots_mode.load(Ordering::SeqCst) == 1 => status(503),
        "/robots.txt" if site.robots_mode.load(Ordering::SeqCst) == 2 => status(404),
        "/robots.txt" if site.robots_mode.load(Ordering::SeqCst) == 3 => Response::builder()
            .header("content-type", "text/plain")
            .body(Body::from("User-agent: *\nCrawl-delay: 5\n"))
            .unwrap(),
        "/robots.txt" => Response::builder()
            .header("content-type", "text/plain")
            .body(Body::from(format!(
                "User-agent: *\nDisallow: /docs/private/\nDisallow: /forbidden-root/\n\n\
                 User-agent: otherbot\nDisallow: /\n\nSitemap: {base}/sitemap.xml\n"
            )))
            .unwrap(),
        "/sitemap.xml" => Response::builder()
            .header("content-type", "application/xml")
            .body(Body::from(format!(
                "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                 <url><loc>{base}/docs/from-sitemap</loc></url>\
                 <url><loc>{base}/elsewhere/page</loc></url>\
                 <url><loc>{base}/docs/a</loc></url></urlset>"
            )))
            .unwrap(),
        "/docs/" => html(page(
            "Docs",
            &[
                "a",
                "/docs/b#section",
                "private/secret",
                "manual.pdf",
                "data.csv",
                "image.png",
                "../other/outside",
                "http://example.invalid/external",
                "calendar?month=1",
                "dup",
                "alias",
                "js-app",
                "login",
                "missing",
                "picture",
                "mailto:someone@example.invalid",
            ],
        )),
        "/docs/a" => html(page("A", &["b", "deeper/x"])),
        "/docs/dup" => html(page("A", &["b", "deeper/x"])),
        "/docs/b" => html(page("B", &[])),
        "/docs/alias" => html(
            page("Alias", &[]).replace("<head>", "<head><link rel=canonical href=\"/docs/b\">"),
        ),
        "/docs/deeper/x" => html(page("Deeper X", &[])),
        "/docs/from-sitemap" => html(page("From the sitemap", &[])),
        "/docs/private/secret" | "/forbidden-root/" | "/elsewhere/page" | "/other/outside" => {
            html(page("Must not be fetched", &[]))
        }
        "/docs/manual.pdf" => Response::builder()
            .header("content-type", "application/pdf")
            .body(Body::from(&b"%PDF-1.4 fake manual"[..]))
            .unwrap(),
        "/docs/data.csv" => Response::builder()
            .header("content-type", "text/csv")
            .body(Body::from("a,b\n1,2\n"))
            .unwrap(),
        "/docs/picture" | "/picture" => Response::builder()
            .header("content-type", "image/png")
            .body(Body::from(&b"\x89PNG\r\n\x1a\n...."[..]))
            .unwrap(),
        "/docs/js-app" | "/js-only" => html(
            "<!doctype html><html><head><title>App</title><script src=\"/static/app.js\"></script></head>\
             <body><noscript>You need to enable JavaScript to run this app.</noscript><div id=\"root\"></div></body></html>"
                .into(),
        ),
        "/docs/login" | "/login-page" => html(
            "<html><body><main><h1>Sign in</h1><form method=post action=/session>\
             <input name=email placeholder=Email><input type=password name=password>\
             <button>Sign in</button></form></main></body></html>"
                .into(),
        ),
        "/docs/calendar" => {
            let month: u64 = query
                .strip_prefix("month=")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            html(page(
                &format!("Calendar month {month}"),
                &[&format!("calendar?month={}", month + 1)],
            ))
        }
        p if p.starts_with("/gen/") => {
            if site.slow_gen.load(Ordering::SeqCst) {
                let now = site.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                site.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                site.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            // A generated tree: /gen/ → /gen/p0../gen/p4 → /gen/p0-0 … (5 children each).
            let name = p.trim_start_matches("/gen/");
            let children: Vec<String> = if name.matches('-').count() < 3 {
                (0..5)
                    .map(|i| {
                        if name.is_empty() {
                            format!("p{i}")
                        } else {
                            format!("{name}-{i}")
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let refs: Vec<&str> = children.iter().map(String::as_str).collect();
            html(page(&format!("Generated {name}"), &refs))
        }
        "/loop/a" => redirect("/loop/b"),
        "/loop/b" => redirect("/loop/a"),
        p if p.starts_with("/chain/") => {
            let k: u32 = p.trim_start_matches("/chain/").parse().unwrap_or(0);
            redirect(&format!("/chain/{}", k + 1))
        }
        "/ratelimit-once" => {
            if n == 1 {
                Response::builder()
                    .status(429)
                    .header("retry-after", "1")
                    .body(Body::empty())
                    .unwrap()
            } else {
                html(page("Patience", &[]))
            }
        }
        "/ratelimit-forever" => Response::builder()
            .status(429)
            .header("retry-after", "0")
            .body(Body::empty())
            .unwrap(),
        "/flaky" => {
            if n <= 2 {
                status(500)
            } else {
                html(page("Flaky", &[]))
            }
        }
        "/unavailable" => status(503),
        "/private-401" => status(401),
        "/forbidden" => status(403),
        "/gone" => status(410),
        "/huge" => html(format!(
            "<html><body><p>{}</p></body></html>",
            "big text ".repeat(200_000)
        )),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            html(page("Slow", &[]))
        }
        "/to-private" => redirect("http://10.0.0.1/"),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-mapped" => redirect("http://[::ffff:a9fe:a9fe]/"),
        "/to-ftp" => redirect("ftp://127.0.0.1/file"),
        p if p.starts_with("/etag/") => {
            let tag = format!("\"v1-{}\"", p.len());
            let matches_tag = headers
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == tag);
            let matches_date = headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == ETAG_LAST_MODIFIED);
            if headers.contains_key("if-none-match") || headers.contains_key("if-modified-since") {
                site.conditional_hits.fetch_add(1, Ordering::SeqCst);
            }
            if matches_tag || matches_date {
                return Response::builder()
                    .status(304)
                    .header("etag", tag)
                    .body(Body::empty())
                    .unwrap();
            }
            let links: &[&str] = if p == "/etag/" { &["child"] } else { &[] };
            let mut r = html(page(&format!("Tagged {p}"), links));
            r.headers_mut().insert("etag", tag.parse().unwrap());
            // Only the child sends Last-Modified, to exercise both validators.
            if p != "/etag/" {
                r.headers_mut()
                    .insert("last-modified", ETAG_LAST_MODIFIED.parse().unwrap());
            }
            r
        }
        _ => status(404),
    }
}

/// Starts the test site on 127.0.0.1:random in a thread of its own (so that blocking tests
/// can use it too) and returns its base URL.
fn serve() -> (String, Arc<Site>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let site = Arc::new(Site {
                base: base.clone(),
                hits: Mutex::new(HashMap::new()),
                conditional_hits: AtomicUsize::new(0),
                robots_mode: AtomicUsize::new(0),
                slow_gen: Default::default(),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            });
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(site.clone());
            tx.send((base, site)).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn cfg() -> WebConfig {
    WebConfig {
        allow_private_hosts: "127.0.0.1/32".into(),
        per_host_delay_ms: 0,
        retries: 2,
        retry_base_ms: 5,
        retry_max_ms: 50,
        connect_timeout_ms: 2_000,
        timeout_ms: 5_000,
        ..WebConfig::default()
    }
}

/// A client that opens 127.0.0.1 only, whatever the environment says.
fn client(cfg: &WebConfig) -> HttpClient {
    HttpClient::with_allow_list(cfg, AllowList::parse("127.0.0.1/32").unwrap()).unwrap()
}

fn u(base: &str, path: &str) -> Url {
    Url::parse(&format!("{base}{path}")).unwrap()
}

async fn crawl_site(
    base: &str,
    path: &str,
    f: impl FnOnce(&mut CrawlRequest),
) -> lore::Result<lore::fetch::Crawl> {
    let mut req = CrawlRequest::with_children(u(base, path));
    f(&mut req);
    crawl_with_client(&client(&cfg()), &req, &HashMap::new(), &NoProgress).await
}

async fn root_error(base: &str, path: &str) -> lore::Error {
    crawl_site(base, path, |r| r.with_children = false)
        .await
        .expect_err("the root should fail")
}

fn paths(crawl: &lore::fetch::Crawl) -> Vec<String> {
    crawl
        .pages
        .iter()
        .map(|p| {
            let mut s = p.url.path().to_string();
            if let Some(q) = p.url.query() {
                s.push('?');
                s.push_str(q);
            }
            s
        })
        .collect()
}

fn outcome<'a>(crawl: &'a lore::fetch::Crawl, path: &str) -> &'a PageOutcome {
    &crawl
        .pages
        .iter()
        .find(|p| p.url.path() == path)
        .unwrap_or_else(|| panic!("{path} not crawled: {:?}", paths(crawl)))
        .outcome
}

fn failed_reason(crawl: &lore::fetch::Crawl, path: &str) -> Reason {
    match outcome(crawl, path) {
        PageOutcome::Failed { reason, .. } => *reason,
        other => panic!("{path} did not fail: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Crawling

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawls_a_site_with_robots_sitemap_limits_and_duplicates() {
    let (base, site) = serve();
    let crawl = crawl_site(&base, "/docs/", |r| r.max_depth = 3)
        .await
        .unwrap();
    let got = paths(&crawl);
    let w = crawl.warnings.join("\n");

    assert_eq!(got[0], "/docs/", "the root comes first");
    assert_eq!(crawl.pages[0].depth, 0);
    for p in [
        "/docs/a",
        "/docs/b",
        "/docs/from-sitemap",
        "/docs/deeper/x",
        "/docs/calendar?month=1",
        "/docs/calendar?month=3",
    ] {
        assert!(got.contains(&p.to_string()), "{p} missing from {got:?}");
    }
    // The PDF and CSV linked under the prefix come back with their types, for the file parsers.
    match outcome(&crawl, "/docs/manual.pdf") {
        PageOutcome::Fetched {
            content_type, body, ..
        } => {
            assert_eq!(content_type, "application/pdf");
            assert!(body.starts_with(b"%PDF"));
        }
        other => panic!("{other:?}"),
    }
    match outcome(&crawl, "/docs/data.csv") {
        PageOutcome::Fetched { content_type, .. } => assert_eq!(content_type, "text/csv"),
        other => panic!("{other:?}"),
    }
    // Child failures are outcomes, not crawl failures.
    assert_eq!(
        failed_reason(&crawl, "/docs/js-app"),
        Reason::DynamicallyGenerated
    );
    assert_eq!(failed_reason(&crawl, "/docs/login"), Reason::LoginProtected);
    assert_eq!(failed_reason(&crawl, "/docs/missing"), Reason::NotFound);
    assert_eq!(failed_reason(&crawl, "/docs/picture"), Reason::NotHtml);

    // robots.txt: the disallowed page is never requested; the others out of scope neither.
    for never in [
        "/docs/private/secret",
        "/other/outside",
        "/elsewhere/page",
        "/docs/image.png",
    ] {
        assert_eq!(site.hits(never), 0, "{never} was requested");
        assert!(!got.iter().any(|g| g == never), "{never} in {got:?}");
    }
    assert_eq!(site.hits("/robots.txt"), 1, "robots.txt once per host");
    assert!(
        w.contains("1 pages not fetched: robots.txt disallows them"),
        "{w}"
    );

    // The calendar trap ends at the depth limit, with a warning that says so.
    assert!(!got.iter().any(|g| g == "/docs/calendar?month=4"));
    assert_eq!(site.hits("/docs/calendar?month=4"), 0);
    assert!(w.contains("deeper than 3 links"), "{w}");

    // Duplicates: identical body (dup = a) and a canonical alias of b.
    assert!(
        !got.iter().any(|g| g == "/docs/dup" || g == "/docs/alias"),
        "{got:?}"
    );
    assert!(w.contains("/docs/dup is a duplicate of"), "{w}");
    assert!(w.contains("/docs/alias is a duplicate of"), "{w}");
    // Every URL appears once.
    let mut uniq = got.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), got.len(), "{got:?}");
    // Depths are link hops.
    let depth_of = |p: &str| {
        crawl
            .pages
            .iter()
            .find(|c| c.url.path() == p)
            .unwrap()
            .depth
    };
    assert_eq!(depth_of("/docs/a"), 1);
    assert_eq!(depth_of("/docs/deeper/x"), 2);
    assert_eq!(depth_of("/docs/from-sitemap"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_and_page_limits_on_a_generated_site() {
    let (base, site) = serve();
    let crawl = crawl_site(&base, "/gen/", |r| r.max_depth = 1)
        .await
        .unwrap();
    assert_eq!(crawl.pages.len(), 6, "{:?}", paths(&crawl));
    assert!(crawl
        .warnings
        .iter()
        .any(|w| w == "25 pages not fetched: deeper than 1 links from the root"));

    let crawl = crawl_site(&base, "/gen/", |r| {
        r.max_depth = 5;
        r.max_pages = 10;
    })
    .await
    .unwrap();
    assert_eq!(crawl.pages.len(), 10);
    // Breadth first: the root, its 5 children, then 4 of the 25 grandchildren; the other 21
    // and the 20 children of the 4 fetched ones are counted as not fetched.
    assert_eq!(crawl.pages.iter().filter(|p| p.depth == 1).count(), 5);
    assert!(
        crawl
            .warnings
            .iter()
            .any(|w| w == "41 pages not fetched: the crawl stopped at its limit of 10 pages"),
        "{:?}",
        crawl.warnings
    );
    // include / exclude narrow the children; the root is always fetched.
    let crawl = crawl_site(&base, "/gen/", |r| {
        r.include = vec!["/gen/p1*".into(), "/gen/p2*".into()];
        r.exclude = vec!["*-3".into()];
    })
    .await
    .unwrap();
    let got = paths(&crawl);
    assert_eq!(got.len(), 1 + 2 + 8, "{got:?}");
    assert!(got
        .iter()
        .all(|p| p == "/gen/" || p.starts_with("/gen/p1") || p.starts_with("/gen/p2")));
    assert!(!got.iter().any(|p| p.ends_with("-3")));
    assert_eq!(site.hits("/gen/p1-3"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_txt_unavailable_disallows_and_missing_allows() {
    let (base, site) = serve();
    site.robots_mode.store(1, Ordering::SeqCst);
    let e = crawl_site(&base, "/docs/", |_| {}).await.unwrap_err();
    assert_eq!(e.reason(), Some(Reason::RobotsDisallowed), "{e}");
    assert!(e.to_string().contains("unavailable"), "{e}");
    assert_eq!(site.hits("/docs/"), 0);
    // Retried like any 5xx before giving up.
    assert_eq!(site.hits("/robots.txt"), 3);

    let (base, site) = serve();
    site.robots_mode.store(2, Ordering::SeqCst);
    let crawl = crawl_site(&base, "/docs/", |_| {}).await.unwrap();
    assert!(paths(&crawl).contains(&"/docs/private/secret".to_string()));
    // No Sitemap: line, so /sitemap.xml is tried.
    assert_eq!(site.hits("/sitemap.xml"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn politeness_per_host_concurrency_and_capped_crawl_delay() {
    let (base, site) = serve();
    site.slow_gen.store(true, Ordering::SeqCst);
    let two = WebConfig {
        per_host_concurrency: 2,
        ..cfg()
    };
    let mut req = CrawlRequest::with_children(u(&base, "/gen/"));
    req.max_depth = 2;
    let crawl = crawl_with_client(&client(&two), &req, &HashMap::new(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(crawl.pages.len(), 31);
    let most = site.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} requests at once");

    // robots.txt asks for 5 s between requests; the configuration caps it at 40 ms.
    let (base, site) = serve();
    site.robots_mode.store(3, Ordering::SeqCst);
    let capped = WebConfig {
        max_crawl_delay_ms: 40,
        ..cfg()
    };
    let mut req = CrawlRequest::with_children(u(&base, "/gen/"));
    req.max_depth = 1;
    let started = Instant::now();
    let crawl = crawl_with_client(&client(&capped), &req, &HashMap::new(), &NoProgress)
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(crawl.pages.len(), 6);
    // Root, sitemap probe and 5 children: at least 6 spaced starts after the root.
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawler_trap_is_stopped_by_the_page_limit() {
    let (base, _site) = serve();
    let crawl = crawl_site(&base, "/docs/calendar?month=1", |r| {
        r.max_depth = 10_000;
        r.max_pages = 15;
    })
    .await
    .unwrap();
    assert_eq!(crawl.pages.len(), 15);
    // The sitemap's pages share the prefix, so not all 15 are months; most are.
    let months = paths(&crawl)
        .iter()
        .filter(|p| p.starts_with("/docs/calendar?month="))
        .count();
    assert!(months >= 10, "{:?}", paths(&crawl));
    assert!(crawl
        .warnings
        .iter()
        .any(|w| w.contains("limit of 15 pages")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_children_only_the_root_is_fetched() {
    let (base, site) = serve();
    let crawl = crawl_site(&base, "/docs/", |r| r.with_children = false)
        .await
        .unwrap();
    assert_eq!(paths(&crawl), ["/docs/"]);
    assert_eq!(site.hits("/docs/a"), 0);
    assert_eq!(site.hits("/sitemap.xml"), 0);
    // A document can be a root of its own.
    let crawl = crawl_site(&base, "/docs/manual.pdf", |r| r.with_children = false)
        .await
        .unwrap();
    assert!(
        matches!(&crawl.pages[0].outcome, PageOutcome::Fetched { content_type, .. } if content_type == "application/pdf")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_and_last_modified_make_the_second_crawl_not_modified() {
    let (base, site) = serve();
    let first = crawl_site(&base, "/etag/", |_| {}).await.unwrap();
    assert_eq!(paths(&first), ["/etag/", "/etag/child"]);
    let mut prior = HashMap::new();
    for p in &first.pages {
        let PageOutcome::Fetched {
            etag,
            last_modified,
            body,
            ..
        } = &p.outcome
        else {
            panic!("{:?}", p.outcome)
        };
        assert!(etag.is_some());
        prior.insert(
            p.url.to_string(),
            PriorPage {
                url: p.url.to_string(),
                // The child is matched by its date only.
                etag: if p.url.path() == "/etag/child" {
                    None
                } else {
                    etag.clone()
                },
                last_modified: last_modified.clone(),
                body: Some(body.clone()),
            },
        );
    }
    assert_eq!(site.conditional_hits.load(Ordering::SeqCst), 0);
    let req = CrawlRequest::with_children(u(&base, "/etag/"));
    let second = crawl_with_client(&client(&cfg()), &req, &prior, &NoProgress)
        .await
        .unwrap();
    // The child is still found: its link is read from the root's previous body.
    assert_eq!(paths(&second), ["/etag/", "/etag/child"]);
    assert!(second
        .pages
        .iter()
        .all(|p| p.outcome == PageOutcome::NotModified));
    assert_eq!(site.conditional_hits.load(Ordering::SeqCst), 2);
}

#[test]
fn crawl_blocking_works_from_plain_and_runtime_threads() {
    let (base, _site) = serve();
    let mut req = CrawlRequest::with_children(u(&base, "/gen/"));
    req.max_depth = 1;
    let cfg = cfg();
    let crawl = crawl_blocking(&req, &cfg, &HashMap::new(), &NoProgress).unwrap();
    assert_eq!(crawl.pages.len(), 6, "the root and its 5 children");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let pages = rt.block_on(async move {
        tokio::task::spawn_blocking(move || {
            crawl_blocking(&req, &cfg, &HashMap::new(), &NoProgress)
                .unwrap()
                .pages
                .len()
        })
        .await
        .unwrap()
    });
    assert_eq!(pages, 6);
}

// ---------------------------------------------------------------------------------------
// Root failures are named

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_failures_are_named() {
    let (base, site) = serve();
    for (path, reason) in [
        ("/loop/a", Reason::RedirectLoop),
        ("/chain/0", Reason::RedirectLoop),
        ("/private-401", Reason::LoginProtected),
        ("/forbidden", Reason::LoginProtected),
        ("/login-page", Reason::LoginProtected),
        ("/js-only", Reason::DynamicallyGenerated),
        ("/picture", Reason::NotHtml),
        ("/nothing", Reason::NotFound),
        ("/gone", Reason::NotFound),
        ("/forbidden-root/", Reason::RobotsDisallowed),
    ] {
        let e = root_error(&base, path).await;
        assert_eq!(e.reason(), Some(reason), "{path}: {e}");
        assert!(e.is_user_fault());
    }
    assert_eq!(site.hits("/forbidden-root/"), 0, "robots.txt is obeyed");
    // The redirect limit (default 10) counts hops.
    assert_eq!(site.hits("/chain/10"), 1);
    assert_eq!(site.hits("/chain/11"), 0);
    // A whole crawl with children fails the same way when its root does.
    let e = crawl_site(&base, "/nothing/", |_| {}).await.unwrap_err();
    assert_eq!(e.reason(), Some(Reason::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_page_is_too_large() {
    let (base, _site) = serve();
    let cfg = WebConfig {
        max_bytes: 1024 * 1024,
        ..cfg()
    };
    let req = CrawlRequest::new(u(&base, "/huge"));
    let e = crawl_with_client(&client(&cfg), &req, &HashMap::new(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::TooLarge), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_without_length_is_cut_at_the_cap() {
    // A raw server that sends an endless body without Content-Length.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html><body>")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                // Bounded: 64 MiB at most, far past the 256 KiB cap.
                for _ in 0..1024 {
                    if sock.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let cfg = WebConfig {
        max_bytes: 256 * 1024,
        ..cfg()
    };
    let started = Instant::now();
    let e = client(&cfg)
        .get(
            &Url::parse(&format!("http://{addr}/")).unwrap(),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::TooLarge), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// ---------------------------------------------------------------------------------------
// Retries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_429_after_waiting_and_gives_up_when_it_persists() {
    let (base, site) = serve();
    let cfg = WebConfig {
        retry_max_ms: 150,
        ..cfg()
    };
    let c = client(&cfg);
    let started = Instant::now();
    let got = c
        .get(
            &u(&base, "/ratelimit-once"),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap();
    let waited = started.elapsed();
    let FetchOutcome::Fetched(page) = got else {
        panic!("{got:?}")
    };
    assert_eq!(page.attempts, 2);
    assert_eq!(site.hits("/ratelimit-once"), 2);
    // Retry-After: 1 second, capped by the configuration to 150 ms.
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_millis(900), "{waited:?}");

    let e = c
        .get(
            &u(&base, "/ratelimit-forever"),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::RateLimited));
    assert!(e.to_string().contains("3 attempts"), "{e}");
    assert_eq!(site.hits("/ratelimit-forever"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_500s_are_retried_and_503_forever_is_a_server_error() {
    let (base, site) = serve();
    let c = client(&cfg());
    let got = c
        .get(&u(&base, "/flaky"), Conditional::default(), Accept::Page)
        .await
        .unwrap();
    assert!(matches!(got, FetchOutcome::Fetched(ref p) if p.attempts == 3));
    assert_eq!(site.hits("/flaky"), 3);
    let e = c
        .get(
            &u(&base, "/unavailable"),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::ServerError));
    assert_eq!(site.hits("/unavailable"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            if n == 0 {
                // Hang up without an answer.
                drop(sock);
                continue;
            }
            let body = "<html><body><p>The second attempt gets a real page with more than enough text to count as content for lore.</p></body></html>";
            let _ = sock
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    let got = client(&cfg())
        .get(
            &Url::parse(&format!("http://{addr}/")).unwrap(),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap();
    assert!(
        matches!(got, FetchOutcome::Fetched(ref p) if p.attempts == 2),
        "{got:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_refused_connections_are_named() {
    let (base, _site) = serve();
    let cfg = WebConfig {
        timeout_ms: 200,
        ..cfg()
    };
    let e = client(&cfg)
        .get(&u(&base, "/slow"), Conditional::default(), Accept::Page)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::Timeout), "{e}");

    // https to a server that speaks plain http: the handshake fails.
    let https = base.replace("http://", "https://");
    let e = client(&cfg)
        .get(&u(&https, "/docs/b"), Conditional::default(), Accept::Page)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::Tls), "{e}");

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = root_error(&format!("http://127.0.0.1:{port}"), "/").await;
    assert_eq!(e.reason(), Some(Reason::Connect), "{e}");
}

// ---------------------------------------------------------------------------------------
// The SSRF guard

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_internal_addresses_are_refused_without_connecting() {
    let (base, _site) = serve();
    // Generous connect timeout: were a connection to 10.0.0.1 attempted, the test would hang
    // for it rather than pass.
    let cfg = WebConfig {
        connect_timeout_ms: 10_000,
        ..cfg()
    };
    let c = client(&cfg);
    for path in ["/to-private", "/to-metadata", "/to-mapped"] {
        let started = Instant::now();
        let e = c
            .get(&u(&base, path), Conditional::default(), Accept::Page)
            .await
            .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::BlockedAddress), "{path}: {e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let e = c
        .get(&u(&base, "/to-ftp"), Conditional::default(), Accept::Page)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::InvalidArgument), "{e}");
    // Through the crawler, the root's reason is the crawl's.
    let req = CrawlRequest::new(u(&base, "/to-metadata"));
    let e = crawl_with_client(&c, &req, &HashMap::new(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::BlockedAddress), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_when_the_allow_list_is_empty() {
    let (base, site) = serve();
    let port = Url::parse(&base).unwrap().port().unwrap();
    let closed = HttpClient::with_allow_list(&cfg(), AllowList::empty()).unwrap();
    for url in [
        format!("http://localhost:{port}/docs/"),
        format!("http://127.0.0.1:{port}/docs/"),
        format!("http://[::1]:{port}/docs/"),
        format!("http://[::ffff:127.0.0.1]:{port}/docs/"),
        format!("http://[::ffff:7f00:1]:{port}/docs/"),
        format!("http://2130706433:{port}/docs/"),
    ] {
        let req = CrawlRequest::with_children(Url::parse(&url).unwrap());
        let e = crawl_with_client(&closed, &req, &HashMap::new(), &NoProgress)
            .await
            .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::BlockedAddress), "{url}: {e}");
    }
    assert_eq!(site.total_hits(), 0, "nothing reached the server");

    // The allow list opens exactly what it names: localhost resolves to 127.0.0.1 (allowed)
    // and ::1 (dropped), so the request goes to 127.0.0.1.
    let open = client(&cfg());
    let got = open
        .get(
            &Url::parse(&format!("http://localhost:{port}/docs/b")).unwrap(),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap();
    assert!(matches!(got, FetchOutcome::Fetched(_)));
    let e = open
        .get(
            &Url::parse(&format!("http://[::1]:{port}/docs/b")).unwrap(),
            Conditional::default(),
            Accept::Page,
        )
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::BlockedAddress));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_allow_list_is_used_by_crawl() {
    let (base, _site) = serve();
    // `crawl` builds its client from the configuration (plus the environment variable).
    let req = CrawlRequest::new(u(&base, "/docs/b"));
    let done = crawl(&req, &cfg(), &HashMap::new(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(done.pages.len(), 1);
    let bad = WebConfig {
        allow_private_hosts: "not-an-address".into(),
        ..cfg()
    };
    let e = crawl(&req, &bad, &HashMap::new(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Some(Reason::InvalidArgument));
}

#[test]
fn the_crawl_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let req = CrawlRequest::new(Url::parse("http://127.0.0.1:9/").unwrap());
    let cfg = cfg();
    let prior = HashMap::new();
    let fut = crawl(&req, &cfg, &prior, &NoProgress);
    assert_send(&fut);
}
