//! URL sources through the whole engine: versions, conditional re-sync, a site that goes
//! down, the SSRF guard, scheduled re-sync. The site is served on 127.0.0.1 by the test.

use crate::common::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lore::{AddOptions, Config, Lore, NoProgress, Outcome, SourceStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Site {
    /// path → (body, etag)
    pages: Mutex<HashMap<String, (String, String)>>,
    full: AtomicUsize,
    not_modified: AtomicUsize,
}

fn html(title: &str, body: &str, links: &[&str]) -> String {
    let links: String = links
        .iter()
        .map(|l| format!("<li><a href=\"{l}\">{l}</a></li>"))
        .collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body><nav>Menu</nav>\
         <main><h1>{title}</h1><p>{body}</p><ul>{links}</ul></main></body></html>"
    )
}

async fn serve(State(site): State<Arc<Site>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    if path == "/private" {
        return (StatusCode::FOUND, [("location", "http://10.0.0.1/secret")]).into_response();
    }
    let Some((body, etag)) = site.pages.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        site.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    site.full.fetch_add(1, Ordering::SeqCst);
    (
        [
            ("content-type", "text/html; charset=utf-8".to_string()),
            ("etag", etag),
        ],
        body,
    )
        .into_response()
}

/// Starts the site on 127.0.0.1; returns its base URL and a handle that stops it.
fn start(
    site: Arc<Site>,
) -> (
    String,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().fallback(serve).with_state(site);
            let stop = async move {
                let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    (format!("http://{addr}"), tx, handle)
}

fn set(site: &Site, path: &str, body: String) {
    let etag = format!("\"{}\"", lore::store::blobs::content_hash(body.as_bytes()));
    site.pages
        .lock()
        .unwrap()
        .insert(path.to_string(), (body, etag));
}

fn engine(env: &Env) -> Lore {
    let mut cfg = Config::default();
    cfg.web.allow_private_hosts = "127.0.0.1/32".into();
    cfg.web.per_host_delay_ms = 0;
    cfg.web.retries = 1;
    cfg.web.retry_base_ms = 10;
    cfg.web.connect_timeout_ms = 2000;
    cfg.web.timeout_ms = 5000;
    Lore::open_with(env.data.path(), cfg).unwrap()
}

fn with_children() -> AddOptions {
    AddOptions {
        web: Some(lore::store::WebOptions {
            with_children: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn a_website_is_versioned_resynced_conditionally_and_survives_going_down() {
    let site = Arc::new(Site::default());
    set(
        &site,
        "/help/",
        html(
            "Help center",
            "Find answers about orders and delivery.",
            &["/help/shipping.html", "/help/returns.html"],
        ),
    );
    set(
        &site,
        "/help/shipping.html",
        html(
            "Shipping",
            "Parcels to Chile arrive in seven to twelve business days.",
            &[],
        ),
    );
    set(
        &site,
        "/help/returns.html",
        html(
            "Returns",
            "Unopened coffee can be returned within thirty days.",
            &[],
        ),
    );
    let (base, stop, handle) = start(site.clone());
    let env = Env::new();
    let lore = engine(&env);
    let kb = lore.kb("shop").unwrap();
    let root = format!("{base}/help/");

    let r = kb
        .add_paths(&[root.clone().into()], &with_children(), &NoProgress)
        .unwrap();
    assert_eq!(created(&r[0]), 1, "{r:?}");
    assert_eq!(kb.pages(&root, None).unwrap().len(), 3);
    let hits = kb.search("parcels chile business days", 3).unwrap().hits;
    assert_eq!(
        hits[0].location.url.as_deref(),
        Some(format!("{base}/help/shipping.html").as_str())
    );
    assert_eq!(hits[0].heading_path[0], "Shipping");

    // Unchanged site: every page answers 304, no version is made.
    let full_before = site.full.load(Ordering::SeqCst);
    assert_eq!(sync(&kb, &root).outcome, Outcome::Unchanged { version: 1 });
    assert_eq!(site.not_modified.load(Ordering::SeqCst), 3);
    assert_eq!(
        site.full.load(Ordering::SeqCst),
        full_before,
        "nothing downloaded again"
    );

    // One page changes: v2, with the other pages kept from their 304.
    set(
        &site,
        "/help/shipping.html",
        html(
            "Shipping",
            "Parcels to Chile now arrive in five to nine business days.",
            &[],
        ),
    );
    assert_eq!(created(&sync(&kb, &root)), 2);
    let hits = kb.search("parcels chile business days", 3).unwrap().hits;
    assert!(hits[0].text.contains("five to nine"), "{}", hits[0].text);
    assert!(!kb
        .search("unopened coffee returned", 3)
        .unwrap()
        .hits
        .is_empty());

    // The site goes down: the sync fails with a named reason and v2 keeps serving.
    stop.send(()).unwrap();
    handle.join().unwrap();
    let r = sync(&kb, &root);
    let reason = failed_reason(&r);
    assert!(
        ["connect", "timeout"].contains(&reason.as_str()),
        "{reason}"
    );
    let d = kb.show(&root).unwrap();
    assert_eq!(d.status, SourceStatus::Stale);
    assert_eq!(d.source.active_version, Some(2));
    let hits = kb.search("parcels chile business days", 3).unwrap().hits;
    assert!(hits[0].text.contains("five to nine"));
}

#[test]
fn a_child_page_that_fails_keeps_its_previous_content_with_a_warning() {
    let site = Arc::new(Site::default());
    set(
        &site,
        "/kb/",
        html(
            "Knowledge base",
            "Answers about our coffee subscriptions.",
            &["/kb/pause.html", "/kb/gifts.html"],
        ),
    );
    set(
        &site,
        "/kb/pause.html",
        html(
            "Pausing",
            "A subscription can be paused before the Monday roast date.",
            &[],
        ),
    );
    set(
        &site,
        "/kb/gifts.html",
        html(
            "Gift cards",
            "Gift cards never expire and can pay for subscriptions.",
            &[],
        ),
    );
    let (base, stop, handle) = start(site.clone());
    let env = Env::new();
    let lore = engine(&env);
    let kb = lore.kb("shop").unwrap();
    let root = format!("{base}/kb/");
    let r = kb
        .add_paths(&[root.clone().into()], &with_children(), &NoProgress)
        .unwrap();
    assert_eq!(created(&r[0]), 1);

    // The gifts page disappears while the root changes: a new version is built, the failed
    // page keeps its previous content and the version says so.
    site.pages.lock().unwrap().remove("/kb/gifts.html");
    set(
        &site,
        "/kb/",
        html(
            "Knowledge base",
            "Answers about coffee subscriptions and gifts.",
            &["/kb/pause.html", "/kb/gifts.html"],
        ),
    );
    let r = sync(&kb, &root);
    match &r.outcome {
        Outcome::Created {
            version, warnings, ..
        } => {
            assert_eq!(*version, 2);
            assert!(
                warnings.iter().any(|w| w.contains("gifts.html")
                    && w.contains("not-found")
                    && w.contains("previous content")),
                "{warnings:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let hits = kb.search("gift cards expire", 3).unwrap().hits;
    assert_eq!(hits[0].version, 2);
    assert!(hits[0].text.contains("never expire"));
    let pages = kb.pages(&root, None).unwrap();
    let gifts = pages
        .iter()
        .find(|p| p.url.ends_with("gifts.html"))
        .unwrap();
    assert!(gifts
        .note
        .as_deref()
        .unwrap()
        .contains("kept previous content"));
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn a_redirect_to_a_private_address_is_refused_and_named() {
    let site = Arc::new(Site::default());
    let (base, stop, handle) = start(site);
    let env = Env::new();
    let lore = engine(&env);
    let kb = lore.kb("shop").unwrap();
    let r = kb
        .add_paths(
            &[format!("{base}/private").into()],
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(failed_reason(&r[0]), "blocked-address");
    let d = kb.show(&format!("{base}/private")).unwrap();
    assert_eq!(d.status, SourceStatus::Failed);
    stop.send(()).unwrap();
    handle.join().unwrap();
}

#[test]
fn loopback_is_refused_unless_allowed_and_due_sources_are_found() {
    let site = Arc::new(Site::default());
    set(
        &site,
        "/",
        html(
            "Home",
            "Welcome to the roastery on Calle Ocho in Miami.",
            &[],
        ),
    );
    let (base, stop, handle) = start(site);
    let env = Env::new();
    // The default configuration refuses 127.0.0.1.
    {
        let lore = Lore::open(env.data.path()).unwrap();
        let kb = lore.kb("strict").unwrap();
        let r = kb
            .add_paths(
                &[format!("{base}/").into()],
                &AddOptions::default(),
                &NoProgress,
            )
            .unwrap();
        assert_eq!(failed_reason(&r[0]), "blocked-address");
    }
    let lore = engine(&env);
    let kb = lore.kb("shop").unwrap();
    let opts = AddOptions {
        sync_every_secs: Some(3600),
        ..Default::default()
    };
    let r = kb
        .add_paths(&[format!("{base}/").into()], &opts, &NoProgress)
        .unwrap();
    assert_eq!(created(&r[0]), 1);
    let now = lore::store::now();
    assert!(lore.catalog().due_sources(kb.id(), now).unwrap().is_empty());
    assert_eq!(
        lore.catalog()
            .due_sources(kb.id(), now + 3601)
            .unwrap()
            .len(),
        1
    );
    assert!(
        kb.sync_due(&NoProgress).unwrap().is_empty(),
        "nothing is due yet"
    );
    stop.send(()).unwrap();
    handle.join().unwrap();
}
