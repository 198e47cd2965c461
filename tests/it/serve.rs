//! The HTTP service over real HTTP on 127.0.0.1: isolation between knowledge bases, roles,
//! quotas, streaming uploads over the limit, restart with queued and running jobs, a bounded
//! load test, the OpenAPI document, metrics, and the MCP server over stdio.

use lore::serve::{ServeConfig, Server};
use lore::store::access::Quotas;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OPERATOR: &str = "operator-secret-for-tests";

fn config(workers: usize) -> ServeConfig {
    ServeConfig {
        operator_key: Some(OPERATOR.into()),
        workers,
        poll_ms: 50,
        resync_check_secs: 1,
        quotas: Quotas {
            max_sources: Some(1000),
            max_storage_bytes: None,
            parse_jobs_per_hour: None,
            searches_per_minute: None,
        },
        ..ServeConfig::default()
    }
}

/// A server on a free port of 127.0.0.1 and a client for it.
struct Svc {
    server: Option<Server>,
    base: String,
    http: reqwest::blocking::Client,
}

fn client() -> reqwest::blocking::Client {
    // Plain HTTP only, but reqwest wants a TLS configuration (lore passes rustls its
    // provider explicitly rather than installing a process-wide one).
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

impl Svc {
    fn start(data: &Path, cfg: ServeConfig) -> Svc {
        Self::start_with(data, cfg, false)
    }

    /// With `hybrid`, the engine embeds with the hashing embedder (no model download), so
    /// ingestion writes vectors and searches fuse full text with vectors.
    fn start_with(data: &Path, cfg: ServeConfig, hybrid: bool) -> Svc {
        let mut lore = lore::serve::open_lore(data, &cfg).unwrap();
        if hybrid {
            lore = lore
                .with_embedder(std::sync::Arc::new(lore::embed::HashEmbedder::default()))
                .unwrap();
        }
        let server = Server::start(lore, cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
        Svc {
            base: format!("http://{}", server.addr()),
            server: Some(server),
            http: client(),
        }
    }

    fn stop(mut self) {
        self.server.take().unwrap().stop().unwrap();
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    fn ok(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, Some(key), body);
        assert!(
            (200..300).contains(&status),
            "{method} {path} → {status} {v}"
        );
        v
    }

    /// Creates a knowledge base; returns its admin key.
    fn kb(&self, name: &str) -> String {
        let v = self.ok("POST", "/v1/kb", OPERATOR, Some(json!({ "name": name })));
        v["admin_key"].as_str().unwrap().to_string()
    }

    fn text(&self, kb: &str, key: &str, title: &str, text: &str) -> i64 {
        let v = self.ok(
            "POST",
            &format!("/v1/kb/{kb}/sources/text"),
            key,
            Some(json!({ "title": title, "text": text })),
        );
        v["sources"][0]["id"].as_i64().unwrap()
    }

    /// Waits until the knowledge base has no queued or running job.
    fn settle(&self, kb: &str, key: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let v = self.ok("GET", &format!("/v1/kb/{kb}/jobs"), key, None);
            let jobs = v["jobs"].as_array().unwrap().clone();
            if jobs
                .iter()
                .all(|j| j["state"] == "done" || j["state"] == "failed")
            {
                return jobs;
            }
            assert!(Instant::now() < deadline, "jobs did not finish: {jobs:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The usage report once `parses` ingestions are counted (or after 30 s): usage is
    /// counted when an ingestion run ends, a moment after its last job shows done.
    fn usage_once_parsed(&self, kb: &str, key: &str, parses: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let u = self.ok("GET", &format!("/v1/kb/{kb}/usage"), key, None);
            if u["today"]["parses"].as_u64() == Some(parses) || Instant::now() > deadline {
                return u;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn search(&self, kb: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/v1/kb/{kb}/search"),
            Some(key),
            Some(body),
        )
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn hit_sources(v: &Value) -> Vec<i64> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["citation"]["source_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn knowledge_bases_are_isolated_and_roles_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let s = Svc::start(dir.path(), config(1));
    let ka = s.kb("acme");
    let kb_b = s.kb("globex");

    // Missing and wrong keys: 401, the same answer.
    let (st, v) = s.call("GET", "/v1/kb/acme/sources", None, None);
    assert_eq!((st, code(&v)), (401, "unauthorized"));
    let (st, v) = s.call("GET", "/v1/kb/acme/sources", Some("lore_guess"), None);
    assert_eq!((st, code(&v)), (401, "unauthorized"));

    let a1 = s.text(
        "acme",
        &ka,
        "Returns",
        "Returns are accepted within 30 days of purchase with the receipt.",
    );
    let b1 = s.text(
        "globex",
        &kb_b,
        "Shipping",
        "Shipping to Chile takes five business days by courier.",
    );
    s.settle("acme", &ka);
    s.settle("globex", &kb_b);

    // Another account's knowledge base looks like one that does not exist.
    let (st1, v1) = s.call("GET", "/v1/kb/globex/sources", Some(&ka), None);
    let (st2, v2) = s.call("GET", "/v1/kb/nothing-here/sources", Some(&ka), None);
    assert_eq!((st1, code(&v1)), (404, "not-found"));
    assert_eq!((st2, code(&v2)), (404, "not-found"));
    // Guessed ids of the other account's sources, through one's own knowledge base.
    for (method, path) in [
        ("GET", format!("/v1/kb/acme/sources/{b1}")),
        ("DELETE", format!("/v1/kb/acme/sources/{b1}")),
        ("POST", format!("/v1/kb/acme/sources/{b1}/disable")),
        ("GET", format!("/v1/kb/acme/sources/{b1}/chunks")),
        ("GET", "/v1/kb/acme/sources/not-a-number".to_string()),
    ] {
        let (st, v) = s.call(method, &path, Some(&ka), None);
        assert_eq!((st, code(&v)), (404, "not-found"), "{method} {path}: {v}");
    }
    let b_source = s.ok("GET", &format!("/v1/kb/globex/sources/{b1}"), &kb_b, None);
    assert_eq!(b_source["status"], "ready", "{b_source}");
    // Searching one's own kb never returns the other's passages; naming them is 404.
    let (_, v) = s.search(
        "acme",
        &ka,
        json!({"query": "shipping to Chile courier", "min_confidence": 0.0}),
    );
    assert!(hit_sources(&v).iter().all(|id| *id == a1), "{v}");
    let (st, v) = s.search(
        "acme",
        &ka,
        json!({"query": "shipping", "source_ids": [b1]}),
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");

    // Roles: an admin cannot create knowledge bases or list them; the operator can.
    let (st, v) = s.call("POST", "/v1/kb", Some(&ka), Some(json!({"name": "mine"})));
    assert_eq!((st, code(&v)), (403, "forbidden"));
    let kbs = s.ok("GET", "/v1/kb", OPERATOR, None);
    assert_eq!(kbs["kbs"].as_array().unwrap().len(), 2);
    let (st, v) = s.call(
        "POST",
        "/v1/kb",
        Some(OPERATOR),
        Some(json!({"name": "acme"})),
    );
    assert_eq!((st, code(&v)), (409, "already-exists"));

    // Agents: each agent key sees only its linked sources.
    let ag1 = s.ok(
        "POST",
        "/v1/kb/acme/agents",
        &ka,
        Some(json!({"name": "support"})),
    );
    let ag2 = s.ok(
        "POST",
        "/v1/kb/acme/agents",
        &ka,
        Some(json!({"name": "sales"})),
    );
    let (ag1, ag2) = (ag1["id"].as_i64().unwrap(), ag2["id"].as_i64().unwrap());
    let a2 = s.text(
        "acme",
        &ka,
        "Prices",
        "Our premium plan costs 49 dollars per month, billed yearly.",
    );
    s.settle("acme", &ka);
    s.ok(
        "PUT",
        &format!("/v1/kb/acme/agents/{ag1}/sources/{a1}"),
        &ka,
        None,
    );
    let linked = s.ok(
        "PUT",
        &format!("/v1/kb/acme/agents/{ag2}/sources/{a2}"),
        &ka,
        None,
    );
    assert_eq!(linked["sources"], json!([a2]));
    let key1 = s.ok(
        "POST",
        "/v1/kb/acme/keys",
        &ka,
        Some(json!({"role": "agent", "agent": ag1})),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let who = s.ok("GET", "/v1/kb/acme/whoami", &key1, None);
    assert_eq!(
        (who["role"].as_str(), who["agent"]["name"].as_str()),
        (Some("agent"), Some("support"))
    );
    // Its own source: found. The other agent's: never, by query, by id or by agent.
    let (st, v) = s.search("acme", &key1, json!({"query": "returns within 30 days"}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(hit_sources(&v), vec![a1], "{v}");
    let (_, v) = s.search(
        "acme",
        &key1,
        json!({"query": "premium plan price per month", "min_confidence": 0.0}),
    );
    assert!(!hit_sources(&v).contains(&a2), "{v}");
    let (st, v) = s.search(
        "acme",
        &key1,
        json!({"query": "premium plan", "source_ids": [a2]}),
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");
    let (st, v) = s.search(
        "acme",
        &key1,
        json!({"query": "premium plan", "agent": ag2}),
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");
    // The same question as the admin, as agent 2, finds it.
    let (_, v) = s.search(
        "acme",
        &ka,
        json!({"query": "premium plan price per month", "agent": ag2}),
    );
    assert_eq!(hit_sources(&v), vec![a2], "{v}");
    // Agent keys only search.
    for (method, path, body) in [
        ("GET", "/v1/kb/acme/sources".to_string(), None),
        (
            "POST",
            "/v1/kb/acme/sources/text".to_string(),
            Some(json!({"title": "x", "text": "y"})),
        ),
        (
            "POST",
            "/v1/kb/acme/keys".to_string(),
            Some(json!({"role": "admin"})),
        ),
        ("GET", "/v1/kb/acme/jobs".to_string(), None),
        (
            "PUT",
            format!("/v1/kb/acme/agents/{ag1}/sources/{a2}"),
            None,
        ),
    ] {
        let (st, v) = s.call(method, &path, Some(&key1), body);
        assert_eq!((st, code(&v)), (403, "forbidden"), "{method} {path}: {v}");
    }
    // An agent key on another knowledge base: 404 like everything else there.
    let (st, v) = s.search("globex", &key1, json!({"query": "shipping"}));
    assert_eq!((st, code(&v)), (404, "not-found"));
    // An admin cannot mint a key for another account's agent.
    let gag = s.ok(
        "POST",
        "/v1/kb/globex/agents",
        &kb_b,
        Some(json!({"name": "bot"})),
    )["id"]
        .as_i64()
        .unwrap();
    let (st, v) = s.call(
        "POST",
        "/v1/kb/acme/keys",
        Some(&ka),
        Some(json!({"role": "agent", "agent": gag})),
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");
    // Disabling a source turns it off for every agent; unlinking keeps it in the library.
    s.ok(
        "POST",
        &format!("/v1/kb/acme/sources/{a1}/disable"),
        &ka,
        None,
    );
    let (_, v) = s.search(
        "acme",
        &key1,
        json!({"query": "returns within 30 days", "min_confidence": 0.0}),
    );
    assert!(hit_sources(&v).is_empty(), "{v}");
    s.ok(
        "POST",
        &format!("/v1/kb/acme/sources/{a1}/enable"),
        &ka,
        None,
    );
    s.ok(
        "DELETE",
        &format!("/v1/kb/acme/agents/{ag1}/sources/{a1}"),
        &ka,
        None,
    );
    let (_, v) = s.search(
        "acme",
        &key1,
        json!({"query": "returns within 30 days", "min_confidence": 0.0}),
    );
    assert!(hit_sources(&v).is_empty(), "{v}");
    let src = s.ok("GET", &format!("/v1/kb/acme/sources/{a1}"), &ka, None);
    assert_eq!(
        (src["status"].as_str(), src["agents"].clone()),
        (Some("ready"), json!([]))
    );
    assert_eq!(src["versions"][0]["state"], "ready", "{src}");
    // Renaming keeps the agent's keys and links; names stay unique; agent keys cannot.
    let renamed = s.ok(
        "PATCH",
        &format!("/v1/kb/acme/agents/{ag2}"),
        &ka,
        Some(json!({"name": "sales desk"})),
    );
    assert_eq!(
        (renamed["name"].as_str(), renamed["sources"].clone()),
        (Some("sales desk"), json!([a2]))
    );
    let (st, v) = s.call(
        "PATCH",
        &format!("/v1/kb/acme/agents/{ag2}"),
        Some(&ka),
        Some(json!({"name": "support"})),
    );
    assert_eq!((st, code(&v)), (409, "already-exists"), "{v}");
    let (st, v) = s.call(
        "PATCH",
        &format!("/v1/kb/acme/agents/{ag1}"),
        Some(&key1),
        Some(json!({"name": "mine"})),
    );
    assert_eq!((st, code(&v)), (403, "forbidden"), "{v}");
    assert_eq!(
        s.ok("GET", "/v1/kb/acme/whoami", &key1, None)["agent"]["name"],
        "support"
    );
    // Another account's admin cannot delete it; its own admin can, and its key dies with it.
    let (st, v) = s.call(
        "DELETE",
        &format!("/v1/kb/globex/agents/{ag1}"),
        Some(&kb_b),
        None,
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");
    let gone = s.ok("DELETE", &format!("/v1/kb/acme/agents/{ag1}"), &ka, None);
    assert_eq!(gone["name"], "support");
    let (st, _) = s.search("acme", &key1, json!({"query": "returns within 30 days"}));
    assert_eq!(st, 401, "a deleted agent's key must stop working");
    let agents = s.ok("GET", "/v1/kb/acme/agents", &ka, None);
    let names: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, vec!["sales desk"]);
    let src = s.ok("GET", &format!("/v1/kb/acme/sources/{a1}"), &ka, None);
    assert_eq!(src["status"], "ready", "the agent's sources stay: {src}");
    // Tags and language from PATCH are search filters.
    let patched = s.ok(
        "PATCH",
        &format!("/v1/kb/acme/sources/{a2}"),
        &ka,
        Some(json!({"tags": ["Terms"], "language": "en"})),
    );
    assert_eq!(
        (patched["tags"].clone(), patched["language"].clone()),
        (json!(["terms"]), json!("en"))
    );
    let (_, v) = s.search(
        "acme",
        &ka,
        json!({"query": "premium plan", "tags": ["terms"], "languages": ["en"]}),
    );
    assert_eq!(hit_sources(&v), vec![a2], "{v}");
    let (_, v) = s.search(
        "acme",
        &ka,
        json!({"query": "premium plan", "tags": ["privacy"], "min_confidence": 0.0}),
    );
    assert!(hit_sources(&v).is_empty(), "{v}");
    s.stop();
}

#[test]
fn each_quota_answers_with_the_limit_it_hit() {
    let dir = tempfile::tempdir().unwrap();
    let s = Svc::start(dir.path(), config(1));
    let limit = |v: &Value| {
        (
            code(v).to_string(),
            v["error"]["limit"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            v["error"]["limit"]["value"].as_u64(),
        )
    };

    // max_sources: 409, and updating an existing entry is not a new source.
    let k = s.kb("count");
    let q = s.ok(
        "PUT",
        "/v1/kb/count/quotas",
        OPERATOR,
        Some(json!({"max_sources": 1})),
    );
    assert_eq!(q["max_sources"], 1);
    let (st, _) = s.call(
        "PUT",
        "/v1/kb/count/quotas",
        Some(&k),
        Some(json!({"max_sources": 100})),
    );
    assert_eq!(st, 403, "an admin cannot raise its own plan");
    s.text(
        "count",
        &k,
        "One",
        "The first entry about opening hours, nine to five.",
    );
    let (st, v) = s.call(
        "POST",
        "/v1/kb/count/sources/text",
        Some(&k),
        Some(json!({"title": "Two", "text": "second"})),
    );
    assert_eq!(
        (st, limit(&v)),
        (
            409,
            ("quota-exceeded".into(), "max_sources".into(), Some(1))
        ),
        "{v}"
    );
    s.text(
        "count",
        &k,
        "One",
        "The first entry, updated: opening hours are nine to six.",
    );

    // parse_jobs_per_hour: 429.
    let k = s.kb("rate");
    s.ok(
        "PUT",
        "/v1/kb/rate/quotas",
        OPERATOR,
        Some(json!({"parse_jobs_per_hour": 1})),
    );
    let id = s.text("rate", &k, "One", "An entry about returns and refunds.");
    let (st, v) = s.call(
        "POST",
        "/v1/kb/rate/sources/text",
        Some(&k),
        Some(json!({"title": "Two", "text": "x"})),
    );
    assert_eq!(
        (st, limit(&v)),
        (
            429,
            ("rate-limited".into(), "parse_jobs_per_hour".into(), Some(1))
        ),
        "{v}"
    );
    s.settle("rate", &k);
    let (st, v) = s.call(
        "POST",
        &format!("/v1/kb/rate/sources/{id}/sync"),
        Some(&k),
        None,
    );
    assert_eq!(
        (st, limit(&v).1),
        (429, "parse_jobs_per_hour".into()),
        "{v}"
    );

    // max_storage_bytes: 403, for text entries and uploads alike; nothing is stored.
    let k = s.kb("space");
    s.ok(
        "PUT",
        "/v1/kb/space/quotas",
        OPERATOR,
        Some(json!({"max_storage_bytes": 100})),
    );
    let big = "x".repeat(300);
    let (st, v) = s.call(
        "POST",
        "/v1/kb/space/sources/text",
        Some(&k),
        Some(json!({"title": "Big", "text": big})),
    );
    assert_eq!(
        (st, limit(&v)),
        (
            403,
            (
                "quota-exceeded".into(),
                "max_storage_bytes".into(),
                Some(100)
            )
        ),
        "{v}"
    );
    let (st, v) = upload(&s, "space", &k, &[("big.txt", big.as_bytes())]);
    assert_eq!((st, limit(&v).1), (403, "max_storage_bytes".into()), "{v}");
    assert_eq!(
        s.ok("GET", "/v1/kb/space/sources", &k, None)["sources"],
        json!([])
    );

    // searches_per_minute: 429 on the third search.
    let k = s.kb("chatty");
    s.ok(
        "PUT",
        "/v1/kb/chatty/quotas",
        OPERATOR,
        Some(json!({"searches_per_minute": 2})),
    );
    for _ in 0..2 {
        let (st, v) = s.search("chatty", &k, json!({"query": "hello"}));
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = s.search("chatty", &k, json!({"query": "hello"}));
    assert_eq!(
        (st, limit(&v)),
        (
            429,
            ("rate-limited".into(), "searches_per_minute".into(), Some(2))
        ),
        "{v}"
    );

    // Usage: counted per day, by API and by the CLI.
    let k = s.kb("metered");
    s.text(
        "metered",
        &k,
        "Hours",
        "We open at nine and close at five on weekdays.",
    );
    s.settle("metered", &k);
    s.search("metered", &k, json!({"query": "when do you open"}));
    let u = s.usage_once_parsed("metered", &k, 1);
    assert_eq!(
        (
            u["today"]["parses"].as_u64(),
            u["today"]["searches"].as_u64()
        ),
        (Some(1), Some(1)),
        "{u}"
    );
    assert!(u["today"]["chunks"].as_u64().unwrap() >= 1, "{u}");
    assert_eq!(u["sources"], 1);
    assert!(u["storage_bytes"].as_u64().unwrap() > 0, "{u}");
    assert_eq!(u["quotas"]["max_sources"], 1000);
    let out = Command::new(env!("CARGO_BIN_EXE_lore"))
        .args(["usage", "--json", "--kb", "metered", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["today"]["searches"], 1, "{cli}");
    s.stop();
}

/// A multipart body of `files`.
fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "lore-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(s: &Svc, kb: &str, key: &str, files: &[(&str, &[u8])]) -> (u16, Value) {
    let (ct, body) = multipart(files);
    let resp = s
        .http
        .post(format!("{}/v1/kb/{kb}/sources/upload", s.base))
        .bearer_auth(key)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    let st = resp.status().as_u16();
    (
        st,
        serde_json::from_str(&resp.text().unwrap()).unwrap_or(Value::Null),
    )
}

#[test]
fn uploads_stream_and_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1);
    cfg.max_upload_bytes = Some(64 * 1024);
    let s = Svc::start(dir.path(), cfg);
    let k = s.kb("files");

    // Within the limit: stored, queued, ingested, searchable, with its versions.
    let (st, v) = upload(
        &s,
        "files",
        &k,
        &[(
            "faq.md",
            b"# FAQ\n\n## Warranty\n\nEvery kettle has a two year warranty.\n",
        )],
    );
    assert_eq!(st, 202, "{v}");
    let id = v["sources"][0]["id"].as_i64().unwrap();
    assert_eq!(v["jobs"][0]["state"], "queued");
    s.settle("files", &k);
    let (_, hits) = s.search("files", &k, json!({"query": "kettle warranty"}));
    assert_eq!(
        hits["hits"][0]["citation"]["source_name"], "faq.md",
        "{hits}"
    );
    assert_eq!(
        hits["hits"][0]["citation"]["heading"],
        json!(["FAQ", "Warranty"]),
        "{hits}"
    );
    assert!(hits["hits"][0]["chunk_id"].as_i64().is_some());
    let detail = s.ok("GET", &format!("/v1/kb/files/sources/{id}"), &k, None);
    assert_eq!(detail["versions"][0]["format"], "markdown", "{detail}");
    let chunks = s.ok(
        "GET",
        &format!("/v1/kb/files/sources/{id}/chunks"),
        &k,
        None,
    );
    assert!(
        chunks["chunks"][0]["text"]
            .as_str()
            .unwrap()
            .contains("two year"),
        "{chunks}"
    );
    // A sync of an upload re-reads what was uploaded: unchanged, no new version.
    s.ok("POST", &format!("/v1/kb/files/sources/{id}/sync"), &k, None);
    s.settle("files", &k);
    let detail = s.ok("GET", &format!("/v1/kb/files/sources/{id}"), &k, None);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1, "{detail}");
    // The same name again is a new version of that source; revert goes back.
    let (ct, mut body) = multipart(&[(
        "faq.md",
        b"# FAQ\n\n## Warranty\n\nEvery kettle has a three year warranty.\n",
    )]);
    let tail = b"--lore-test-boundary-7d1f--\r\n";
    body.truncate(body.len() - tail.len());
    body.extend_from_slice(b"--lore-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nterms, returns\r\n--lore-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n");
    body.extend_from_slice(tail);
    let resp = s
        .http
        .post(format!("{}/v1/kb/files/sources/upload", s.base))
        .bearer_auth(&k)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let v: Value = resp.json().unwrap();
    assert_eq!(v["sources"][0]["id"], id, "{v}");
    assert_eq!(
        (
            v["sources"][0]["tags"].clone(),
            v["sources"][0]["language"].clone()
        ),
        (json!(["returns", "terms"]), json!("en"))
    );
    s.settle("files", &k);
    assert_eq!(
        s.ok("GET", &format!("/v1/kb/files/sources/{id}"), &k, None)["active_version"],
        2
    );
    let reverted = s.ok(
        "POST",
        &format!("/v1/kb/files/sources/{id}/revert"),
        &k,
        Some(json!({"version": 1})),
    );
    assert_eq!(reverted["active_version"], 1, "{reverted}");
    let (_, hits) = s.search("files", &k, json!({"query": "kettle warranty years"}));
    assert!(
        hits["hits"][0]["text"]
            .as_str()
            .unwrap()
            .contains("two year"),
        "{hits}"
    );
    let (st, v) = s.call(
        "POST",
        &format!("/v1/kb/files/sources/{id}/revert"),
        Some(&k),
        Some(json!({"version": 9})),
    );
    assert_eq!((st, code(&v)), (404, "not-found"), "{v}");
    // A question nothing answers is a knowledge gap for the admin.
    let (_, v) = s.search(
        "files",
        &k,
        json!({"query": "do you deliver to Antarctica"}),
    );
    assert_eq!(v["nothing_relevant"], true, "{v}");
    let gaps = s.ok("GET", "/v1/kb/files/gaps", &k, None);
    assert_eq!(
        gaps["gaps"][0]["query"], "do you deliver to Antarctica",
        "{gaps}"
    );
    let storage_before = s.ok("GET", "/v1/kb/files/usage", &k, None)["storage_bytes"]
        .as_u64()
        .unwrap();

    // Over the limit: the answer comes while the client is still sending, the server does
    // not read the rest, and nothing is stored.
    let declared: usize = 50 * 1024 * 1024;
    let boundary = "b0undary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.txt\"\r\n\r\n"
    );
    let mut conn = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST /v1/kb/files/sources/upload HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {k}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        declared + head.len()
    )
    .unwrap();
    let started = Instant::now();
    let block = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < declared {
        match conn.write(&block) {
            Ok(n) => sent += n,
            Err(_) => break, // the server closed the connection: what we want
        }
        if sent >= 4 * 1024 * 1024 {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("max_upload_bytes"), "{answer}");
    assert!(sent < declared, "the whole body was sent ({sent} bytes)");
    // read_to_end returned: the server closed the connection instead of waiting for the
    // remaining ~46 MB.
    assert!(started.elapsed() < Duration::from_secs(10));
    let sources = s.ok("GET", "/v1/kb/files/sources", &k, None);
    assert_eq!(sources["sources"].as_array().unwrap().len(), 1, "{sources}");
    assert_eq!(
        s.ok("GET", "/v1/kb/files/jobs", &k, None)["jobs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let after = s.ok("GET", "/v1/kb/files/usage", &k, None)["storage_bytes"]
        .as_u64()
        .unwrap();
    assert_eq!(after, storage_before);
    s.stop();
}

#[test]
fn a_restart_resumes_queued_and_running_jobs_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    // First life: no workers, so everything stays queued.
    let s = Svc::start(dir.path(), config(0));
    let k = s.kb("resume");
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(s.text(
            "resume",
            &k,
            &format!("Entry {i}"),
            &format!("Entry number {i} explains the topic zebra{i} in detail."),
        ));
    }
    let (st, v) = upload(
        &s,
        "resume",
        &k,
        &[(
            "notes.txt",
            b"Plain notes about the quokka, a small marsupial.",
        )],
    );
    assert_eq!(st, 202, "{v}");
    ids.push(v["sources"][0]["id"].as_i64().unwrap());
    let jobs = s.ok("GET", "/v1/kb/resume/jobs", &k, None);
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "queued"),
        "{jobs}"
    );
    s.stop();

    // A process that died mid-run: it had claimed two jobs (running) when it stopped.
    // A sixth source's job has already taken the process down on every attempt it had.
    let doomed = s_text_offline(
        dir.path(),
        "resume",
        "Doomed",
        "This entry crashed every run.",
    );
    {
        let lore = lore::Lore::open(dir.path()).unwrap();
        let kb_id = lore.catalog().kb("resume").unwrap().unwrap().id;
        assert_eq!(lore.catalog().claim_jobs(kb_id, 2).unwrap().len(), 2);
        let db = rusqlite::Connection::open(dir.path().join("catalog.db")).unwrap();
        db.execute(
            "UPDATE jobs SET state = 'running', attempts = 3 WHERE source_id = ?1",
            [doomed],
        )
        .unwrap();
    }

    // Second life, with workers: everything finishes, once.
    let s = Svc::start(dir.path(), config(2));
    let jobs = s.settle("resume", &k);
    assert_eq!(jobs.len(), 6, "{jobs:?}");
    let (failed, done): (Vec<_>, Vec<_>) = jobs.iter().partition(|j| j["source_id"] == doomed);
    assert!(done.iter().all(|j| j["state"] == "done"), "{jobs:?}");
    // Out of attempts: failed with its reason, not retried forever.
    assert_eq!(failed[0]["state"], "failed", "{jobs:?}");
    assert_eq!(failed[0]["attempts"], 3);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "{jobs:?}"
    );
    let one = s.ok(
        "GET",
        &format!("/v1/kb/resume/jobs/{}", failed[0]["id"]),
        &k,
        None,
    );
    assert_eq!(one["state"], "failed");
    let mut total_chunks = 0;
    for id in &ids {
        let d = s.ok("GET", &format!("/v1/kb/resume/sources/{id}"), &k, None);
        assert_eq!(d["status"], "ready", "{d}");
        assert_eq!(d["versions"].as_array().unwrap().len(), 1, "{d}");
        total_chunks += d["chunks"].as_u64().unwrap();
    }
    let (_, v) = s.search("resume", &k, json!({"query": "zebra2", "k": 10}));
    assert_eq!(
        hit_sources(&v),
        vec![ids[2]],
        "exactly one hit, no duplicate: {v}"
    );
    s.stop();
    let lore = lore::Lore::open(dir.path()).unwrap();
    let kb = lore.existing_kb("resume").unwrap().unwrap();
    assert_eq!(
        kb.indexed_chunks().unwrap(),
        total_chunks,
        "index documents = chunks"
    );
}

/// Queues a text entry through the library, as `lore add-text` in another process would.
fn s_text_offline(data: &Path, kb: &str, title: &str, text: &str) -> i64 {
    let lore = lore::Lore::open(data).unwrap();
    let kb = lore.existing_kb(kb).unwrap().unwrap();
    kb.queue_text(title, text, &lore::AddOptions::default())
        .unwrap()
}

#[test]
fn concurrent_searches_while_ingesting_make_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Svc::start_with(dir.path(), config(1), true);
    let k = s.kb("load");
    let topics = [
        "shipping", "returns", "warranty", "payment", "privacy", "contact", "hours", "sizes",
    ];
    for (i, t) in topics.iter().enumerate() {
        s.text("load", &k, &format!("{t} policy"), &format!("Our {t} policy, section {i}: customers asking about {t} get an answer within one day. {}", "Details follow. ".repeat(40)));
    }
    s.settle("load", &k);
    // Ingestion runs while the searches go on.
    let writer = {
        let base = s.base.clone();
        let key = k.clone();
        std::thread::spawn(move || {
            let http = client();
            for i in 0..40 {
                let resp = http
                    .post(format!("{base}/v1/kb/load/sources/text"))
                    .bearer_auth(&key)
                    .json(&json!({"title": format!("extra {i}"), "text": format!("Extra note {i} about delivery windows and parcel lockers. {}", "More text. ".repeat(60))}))
                    .send()
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 202);
            }
        })
    };
    let threads = 4;
    let per_thread = 40;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let base = s.base.clone();
            let key = k.clone();
            std::thread::spawn(move || {
                let http = client();
                let mut times = Vec::new();
                let mut errors = 0;
                for i in 0..per_thread {
                    let q = [
                        "how long does shipping take",
                        "can I return it",
                        "warranty period",
                        "payment methods",
                        "parcel lockers delivery",
                    ][(t + i) % 5];
                    let started = Instant::now();
                    let resp = http
                        .post(format!("{base}/v1/kb/load/search"))
                        .bearer_auth(&key)
                        .json(&json!({"query": q, "k": 5}))
                        .send();
                    match resp {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes();
                        }
                        _ => errors += 1,
                    }
                    times.push(started.elapsed());
                }
                (times, errors)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (t, e) = h.join().unwrap();
        times.extend(t);
        errors += e;
    }
    writer.join().unwrap();
    s.settle("load", &k);
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "load: {} searches over HTTP ({threads} clients) while 40 text sources were ingested: p50 {:.1} ms, p99 {:.1} ms, errors {errors}",
        times.len(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    assert_eq!(errors, 0);
    let (_, v) = s.search("load", &k, json!({"query": "parcel lockers"}));
    assert_eq!(v["mode"], "hybrid", "{v}");
    let u = s.usage_once_parsed("load", &k, 48);
    assert_eq!(u["today"]["parses"], 48, "{u}");
    assert_eq!(u["today"]["embeddings"], u["today"]["chunks"], "{u}");
    assert_eq!(
        s.ok("GET", "/v1/kb/load/sources", &k, None)["sources"]
            .as_array()
            .unwrap()
            .len(),
        48
    );
    // The search latency histogram and the job counters saw it.
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let count_line = metrics
        .lines()
        .find(|l| l.starts_with("lore_search_seconds_count"))
        .unwrap();
    let count: u64 = count_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= (threads * per_thread) as u64, "{count_line}");
    assert!(
        metrics.contains("lore_jobs_total{outcome=\"created\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("lore_parsed_chunks_total"), "{metrics}");
    s.stop();
}

#[test]
fn openapi_document_validates_and_covers_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = Svc::start(dir.path(), config(1));
    let (st, v) = s.call("GET", "/healthz", None, None);
    assert_eq!((st, v), (200, json!({"status": "ok"})));
    let text = s
        .http
        .get(format!("{}/openapi.json", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // A full OpenAPI 3.1 parser reads it.
    let spec = oas3::from_json(&text).expect("openapi.json parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/kb", &["post", "get"][..]),
        ("/v1/kb/{kb}/whoami", &["get"]),
        ("/v1/kb/{kb}/keys", &["post"]),
        ("/v1/kb/{kb}/quotas", &["put"]),
        ("/v1/kb/{kb}/usage", &["get"]),
        ("/v1/kb/{kb}/sources", &["get"]),
        ("/v1/kb/{kb}/sources/upload", &["post"]),
        ("/v1/kb/{kb}/sources/url", &["post"]),
        ("/v1/kb/{kb}/sources/text", &["post"]),
        ("/v1/kb/{kb}/sources/{id}", &["get", "patch", "delete"]),
        ("/v1/kb/{kb}/sources/{id}/chunks", &["get"]),
        ("/v1/kb/{kb}/sources/{id}/sync", &["post"]),
        ("/v1/kb/{kb}/sources/{id}/revert", &["post"]),
        ("/v1/kb/{kb}/sources/{id}/enable", &["post"]),
        ("/v1/kb/{kb}/sources/{id}/disable", &["post"]),
        ("/v1/kb/{kb}/agents", &["get", "post"]),
        ("/v1/kb/{kb}/agents/{agent}", &["patch", "delete"]),
        (
            "/v1/kb/{kb}/agents/{agent}/sources/{id}",
            &["put", "delete"],
        ),
        ("/v1/kb/{kb}/search", &["post"]),
        ("/v1/kb/{kb}/gaps", &["get"]),
        ("/v1/kb/{kb}/jobs", &["get"]),
        ("/v1/kb/{kb}/jobs/{id}", &["get"]),
        ("/healthz", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
    ] {
        for m in methods {
            let op = &paths[path][*m];
            assert!(op.is_object(), "{m} {path} missing from the document");
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{m} {path}"
            );
            // Every path parameter of the template is declared.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    op["parameters"].as_array().is_some_and(|ps| ps
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path")),
                    "{m} {path}: parameter {name} undeclared"
                );
            }
        }
    }
    // Every reference resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect(&r);
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The admin page and its assets are served from the binary.
    let page = s.http.get(format!("{}/", s.base)).send().unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().unwrap().contains("<html"));
    let (st, v) = s.call("GET", "/assets/..%2Fsecret", None, None);
    assert_eq!((st, code(&v)), (404, "not-found"));
    // Unknown routes and methods answer JSON errors too.
    let (st, v) = s.call("GET", "/v2/nothing", None, None);
    assert_eq!((st, code(&v)), (404, "not-found"));
    let (st, v) = s.call("PUT", "/healthz", None, None);
    assert_eq!((st, code(&v)), (405, "method-not-allowed"));
    // Errors are counted by code in /metrics.
    let (st, _) = s.call("GET", "/v1/kb", Some("nope"), None);
    assert_eq!(st, 401);
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("lore_errors_total{reason=\"unauthorized\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "lore_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    s.stop();
}

/// Reads JSON-RPC messages from the MCP server until the answer to `id`.
fn answer(lines: &mut impl BufRead, id: i64) -> Value {
    loop {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the MCP server closed stdout"
        );
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {line}"));
        if v["id"] == id {
            return v;
        }
    }
}

#[test]
fn mcp_server_answers_initialize_and_tool_calls_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let (faq, prices) = {
        let lore = lore::Lore::open(dir.path()).unwrap();
        let kb = lore.kb("shop").unwrap();
        let o = lore::AddOptions::default();
        let p = &lore::NoProgress;
        let faq = kb
            .add_text(
                "Returns FAQ",
                "You can return any item within 30 days for a full refund.",
                &o,
                p,
            )
            .unwrap()
            .source_id;
        let prices = kb
            .add_text("Prices", "The deluxe kettle costs 89 euros.", &o, p)
            .unwrap()
            .source_id;
        kb.create_agent("support").unwrap();
        kb.link("support", &faq.to_string()).unwrap();
        (faq, prices)
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_lore"))
        .args(["mcp", "--kb", "shop", "--agent", "support", "--data"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "lore-test", "version": "1.0"}}}),
    );
    let init = answer(&mut stdout, 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "lore", "{init}");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let tools = answer(&mut stdout, 2);
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"search") && names.contains(&"list_sources"),
        "{tools}"
    );
    send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "search", "arguments": {"query": "can I return an item for a refund?"}}}),
    );
    let r = answer(&mut stdout, 3);
    let text = r["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("Returns FAQ v1") && text.contains("30 days"),
        "{r}"
    );
    let hit = &r["result"]["structuredContent"]["hits"][0];
    assert_eq!(hit["citation"]["source_id"], faq, "{r}");
    // As the agent, the unlinked source does not exist.
    send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "search", "arguments": {"query": "deluxe kettle price euros", "min_confidence": 0.0}}}),
    );
    let r = answer(&mut stdout, 4);
    let hits = r["result"]["structuredContent"]["hits"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        hits.iter().all(|h| h["citation"]["source_id"] != prices),
        "{r}"
    );
    send(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "list_sources", "arguments": {}}}),
    );
    let r = answer(&mut stdout, 5);
    let listed = r["result"]["structuredContent"]["sources"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(listed.len(), 1, "{r}");
    assert_eq!(listed[0]["id"], faq);
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "lore mcp exited with {status}");
}

/// A one-page website on 127.0.0.1 whose body the test changes.
fn site(
    body: std::sync::Arc<std::sync::Mutex<String>>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/page",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move {
                        let text = body.lock().unwrap().clone();
                        axum::response::Html(format!(
                            "<html><head><title>Store hours</title></head><body><main><h1>Store hours</h1><p>{text}</p></main></body></html>"
                        ))
                    }
                }),
            );
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    (format!("http://{}/page", addr_rx.recv().unwrap()), stop_tx)
}

#[test]
fn url_sources_are_resynced_on_schedule_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lore.toml"),
        "[web]\nallow_private_hosts = \"127.0.0.1/32\"\nper_host_delay_ms = 0\nretries = 0\n",
    )
    .unwrap();
    let body = std::sync::Arc::new(std::sync::Mutex::new(
        "The store opens at nine in the morning on weekdays.".to_string(),
    ));
    let (url, stop_site) = site(body.clone());
    let s = Svc::start(dir.path(), config(1));
    let k = s.kb("web");
    let v = s.ok(
        "POST",
        "/v1/kb/web/sources/url",
        &k,
        Some(json!({"url": url, "every_secs": 1, "tags": ["contacts"]})),
    );
    let id = v["sources"][0]["id"].as_i64().unwrap();
    assert_eq!(v["sources"][0]["every_secs"], 1, "{v}");
    s.settle("web", &k);
    let d = s.ok("GET", &format!("/v1/kb/web/sources/{id}"), &k, None);
    assert_eq!(d["status"], "ready", "{d}");
    let (_, hits) = s.search(
        "web",
        &k,
        json!({"query": "when does the store open", "min_confidence": 0.0}),
    );
    assert!(
        hits["hits"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("nine"),
        "{hits} {d}"
    );
    // The site changes; nobody calls sync: the scheduler does.
    *body.lock().unwrap() = "The store now opens at eight in the morning, every day.".to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = s.ok("GET", &format!("/v1/kb/web/sources/{id}"), &k, None);
        if d["active_version"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no scheduled re-sync: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, hits) = s.search(
        "web",
        &k,
        json!({"query": "when does the store open", "min_confidence": 0.0}),
    );
    assert!(
        hits["hits"][0]["text"].as_str().unwrap().contains("eight"),
        "{hits}"
    );
    s.stop();
    let _ = stop_site.send(());
}

#[test]
fn lore_serve_runs_until_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lore"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("LORE_OPERATOR_KEY", OPERATOR)
        .env("LORE_EMBEDDER", "none")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "lore serve exited");
    }
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    let http = client();
    let health: Value = http
        .get(format!("{base}/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let created = http
        .post(format!("{base}/v1/kb"))
        .bearer_auth(OPERATOR)
        .json(&json!({"name": "cli"}))
        .send()
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    // SIGTERM: a graceful stop, exit status 0.
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
