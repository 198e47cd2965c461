//! The admin page in a real headless browser.
//!
//! Starts `lore serve` on 127.0.0.1 with a temporary data folder, creates a knowledge base
//! and its admin key over HTTP, serves a small test website on another port, and runs
//! `node e2e/admin.spec.mjs` (playwright-core driving Debian's /usr/bin/chromium), which
//! logs in, uploads, adds the website, asks test questions, breaks the website through the
//! site's control URL, re-syncs, reverts and removes. The test passes when that script exits 0.
//!
//! What it needs is installed by `scripts/install-browser-deps.sh` (`.ci/run` runs it). When
//! Chromium, Node.js or `e2e/node_modules` is missing the test fails and says so; it is only
//! skipped when `LORE_SKIP_BROWSER=1` is set explicitly. Screenshots of the main screens go
//! to `target/e2e-artifacts/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OPERATOR_KEY: &str = "browser-test-operator-key";
const KB: &str = "brisa";
/// The whole browser flow must finish within this.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client for the set-up calls (one request a connection).

struct Answer {
    status: u16,
    body: String,
}

fn request(addr: SocketAddr, method: &str, path: &str, key: &str, body: Option<&str>) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !key.is_empty() {
        req.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer { status, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------
// The test website. `/club/` links to `/club/hours`; what they answer is switched by
// `POST /_control/{v1|v2|404|500}`, and `POST /_control/slow` / `fast` make the club pages
// take 2.5 s or answer at once (the browser script calls them).

const MODE_V1: u8 = 0;
const MODE_V2: u8 = 1;
const MODE_404: u8 = 2;
const MODE_500: u8 = 3;

fn club_page(stamps: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><title>Brisa coffee club</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><main><h1>Brisa coffee club</h1>\
         <p>The Brisa coffee club is our loyalty programme for regulars at the Miami tasting \
         bar. Every drink you buy earns one loyalty stamp on your club card.</p>\
         <p>Members collect {stamps} stamps for a free espresso, and the stamps never expire. \
         Show the card at the counter before you pay so that the barista can stamp it.</p>\
         <p>See the <a href=\"/club/hours\">club evening hours</a> for members-only tastings.</p>\
         </main></body></html>"
    )
}

const HOURS_PAGE: &str = "<!doctype html><html lang=\"en\"><head><title>Club evenings</title>\
    </head><body><main><h1>Club evenings</h1><p>Members-only cupping evenings take place on the \
    first Thursday of every month, from seven to nine in the evening, at the Miami tasting bar. \
    Places are limited to twelve guests, so reserve a seat at the counter a week ahead.</p>\
    </main></body></html>";

struct Site {
    addr: SocketAddr,
}

/// What the test website answers now.
#[derive(Default)]
struct SiteState {
    mode: AtomicU8,
    delay_ms: AtomicU64,
}

fn start_site() -> Site {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(SiteState::default());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let state = state.clone();
            std::thread::spawn(move || serve_site(conn, &state));
        }
    });
    Site { addr }
}

/// Applies `POST /_control/{what}`; false for an unknown `what`.
fn control(state: &SiteState, what: &str) -> bool {
    match what {
        "v1" => state.mode.store(MODE_V1, Ordering::SeqCst),
        "v2" => state.mode.store(MODE_V2, Ordering::SeqCst),
        "404" => state.mode.store(MODE_404, Ordering::SeqCst),
        "500" => state.mode.store(MODE_500, Ordering::SeqCst),
        "slow" => state.delay_ms.store(2500, Ordering::SeqCst),
        "fast" => state.delay_ms.store(0, Ordering::SeqCst),
        _ => return false,
    }
    true
}

fn serve_site(mut conn: TcpStream, state: &SiteState) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Read the headers to their end; no request here has a body.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let (status, ctype, body) = if let Some(m) = path.strip_prefix("/_control/") {
        if method == "POST" && control(state, m) {
            (200, "text/plain", format!("mode {m}"))
        } else {
            (400, "text/plain", format!("unknown mode {m}"))
        }
    } else if path == "/robots.txt" {
        (200, "text/plain", "User-agent: *\nAllow: /\n".to_string())
    } else {
        let delay = state.delay_ms.load(Ordering::SeqCst);
        if delay > 0 && path.starts_with("/club/") {
            std::thread::sleep(Duration::from_millis(delay));
        }
        match (state.mode.load(Ordering::SeqCst), path) {
            (MODE_404, _) => (404, "text/plain", "not found".to_string()),
            (MODE_500, _) => (500, "text/plain", "internal error".to_string()),
            (m, "/club/") => (
                200,
                "text/html; charset=utf-8",
                club_page(if m == MODE_V2 { "twelve" } else { "nine" }),
            ),
            (_, "/club/hours") => (200, "text/html; charset=utf-8", HOURS_PAGE.to_string()),
            _ => (404, "text/plain", "not found".to_string()),
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = conn.write_all(body.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// The server under test

/// `lore serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = std::fs::File::create(data.path().join("serve.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lore"))
        .arg("--data")
        .arg(data.path())
        .arg("serve")
        .arg("--addr")
        .arg(addr.to_string())
        .env("LORE_OPERATOR_KEY", OPERATOR_KEY)
        // The test website runs on loopback, which the crawler refuses unless allowed.
        .env("LORE_ALLOW_PRIVATE_HOSTS", "127.0.0.1/32")
        // The model-free embedder: hybrid and vector search without a model download.
        .env("LORE_EMBEDDER", "hash")
        .env("LORE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start lore serve");
    let mut server = Server { child, addr, data };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "lore serve exited with {status} before answering; its log:\n{}",
                server.log()
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && request(addr, "GET", "/healthz", "", None).status == 200
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "lore serve did not answer /healthz within 30 s; its log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("serve.log")).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// What the browser script needs

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Chromium, node and playwright-core, or a panic that says how to install them.
fn browser_prerequisites() -> Option<PathBuf> {
    if std::env::var("LORE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("LORE_SKIP_BROWSER=1: the browser test is skipped on request");
        return None;
    }
    let chromium = PathBuf::from(
        std::env::var("LORE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    let fix = "run `bash scripts/install-browser-deps.sh` (or set LORE_SKIP_BROWSER=1 to skip \
               this test on purpose)";
    assert!(
        chromium.is_file(),
        "the browser test needs Chromium at {}: {fix}",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "the browser test needs Node.js (`node` on PATH): {fix}"
    );
    for module in ["playwright-core/package.json", "axe-core/axe.min.js"] {
        assert!(
            repo().join("e2e/node_modules").join(module).is_file(),
            "the browser test needs e2e/node_modules/{module}: {fix}"
        );
    }
    Some(chromium)
}

fn json_field(body: &str, field: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field:?} in {body}"))
        .to_string()
}

fn run_script(script: &Path, envs: &[(&str, String)]) -> std::process::ExitStatus {
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(repo().join("e2e"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start node");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser script ran longer than {} s and was stopped",
                SCRIPT_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn admin_page_in_chromium() {
    let Some(chromium) = browser_prerequisites() else {
        return;
    };
    let server = start_server();
    let site = start_site();

    // The page is served at / with its assets.
    let index = request(server.addr, "GET", "/", "", None);
    assert_eq!(index.status, 200, "GET /: {}", index.body);
    assert!(index.body.contains("/assets/app.js"), "{}", index.body);
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let a = request(server.addr, "GET", asset, "", None);
        assert_eq!(a.status, 200, "GET {asset}");
        assert!(!a.body.is_empty(), "{asset} is empty");
    }

    // A knowledge base and its admin key, made with the operator key.
    let created = request(
        server.addr,
        "POST",
        "/v1/kb",
        OPERATOR_KEY,
        Some(&format!("{{\"name\":\"{KB}\"}}")),
    );
    assert_eq!(created.status, 201, "POST /v1/kb: {}", created.body);
    let admin_key = json_field(&created.body, "admin_key");

    let artifacts = repo().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let started = Instant::now();
    let status = run_script(
        &repo().join("e2e/admin.spec.mjs"),
        &[
            ("LORE_URL", format!("http://{}", server.addr)),
            ("LORE_KB", KB.to_string()),
            ("LORE_ADMIN_KEY", admin_key),
            ("LORE_SITE", format!("http://{}", site.addr)),
            (
                "LORE_SAMPLES",
                repo().join("sample-sources").display().to_string(),
            ),
            ("LORE_E2E_ARTIFACTS", artifacts.display().to_string()),
            ("LORE_CHROMIUM", chromium.display().to_string()),
        ],
    );
    eprintln!(
        "browser flow: {:.1} s, screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
    assert!(
        status.success(),
        "the browser flow failed ({status}); see its output above and {}/failure.png. \
         lore serve's log:\n{}",
        artifacts.display(),
        server.log()
    );
}
