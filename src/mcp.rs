//! `lore mcp`: the Model Context Protocol over stdio, so any agent framework can ground its
//! answers on a knowledge base.
//!
//! Built on the official Rust SDK (`rmcp`). Two tools:
//! * `search` — ranked passages for a question, each with its citation (source, version,
//!   heading path, location), a confidence, and an honest "nothing relevant";
//! * `list_sources` — the sources the caller may search, with status and language.
//!
//! The server opens the data folder directly (no HTTP). Started with `--agent`, it is that
//! agent for good: searches are limited to the agent's linked sources and the `agent`
//! argument cannot widen them. stdout carries only protocol messages; logs go to stderr.

use crate::retrieve::{SearchOptions, DEFAULT_MIN_CONFIDENCE, MAX_K};
use crate::store::SourceFilter;
use crate::{Error, Lore, Result};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData as McpError, ServerHandler};
use serde::Deserialize;
use std::sync::Arc;

/// Arguments of the `search` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// The question, in the client's words and language.
    pub query: String,
    /// How many passages (default 5, at most 100).
    pub k: Option<usize>,
    /// Search as this agent (id or name): only the sources linked to it. Ignored when the
    /// server was started with --agent.
    pub agent: Option<String>,
    /// Only sources with one of these topic tags (returns, shipping, privacy, terms, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only sources in one of these languages (ISO 639 codes such as es, pt, en).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Withhold passages below this confidence (0 to 1; default 0.35).
    pub min_confidence: Option<f32>,
    /// `hybrid` (default), `text` or `vector`.
    pub mode: Option<String>,
}

/// The MCP server of one knowledge base.
#[derive(Clone)]
pub struct LoreMcp {
    lore: Arc<Lore>,
    kb: String,
    /// The agent every search is limited to (`--agent`).
    agent: Option<i64>,
    tool_router: ToolRouter<Self>,
}

fn tool_error(e: Error) -> McpError {
    if e.is_user_fault() {
        McpError::invalid_params(e.to_string(), None)
    } else {
        tracing::error!("mcp tool failed: {e}");
        McpError::internal_error("lore failed; see its log", None)
    }
}

#[tool_router]
impl LoreMcp {
    /// A server for knowledge base `kb` (which must exist), optionally bound to an agent (id
    /// or name).
    pub fn new(lore: Lore, kb: &str, agent: Option<&str>) -> Result<LoreMcp> {
        let agent = {
            let base = lore
                .existing_kb(kb)?
                .ok_or_else(|| Error::not_found(format!("no knowledge base {kb:?}")))?;
            match agent {
                Some(a) => Some(base.agent(a)?.id),
                None => None,
            }
        };
        Ok(LoreMcp {
            lore: Arc::new(lore),
            kb: kb.to_string(),
            agent,
            tool_router: Self::tool_router(),
        })
    }

    /// Runs synchronous library work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Lore, &str, Option<i64>) -> Result<T> + Send + 'static,
    ) -> Result<T, McpError> {
        let lore = self.lore.clone();
        let kb = self.kb.clone();
        let agent = self.agent;
        tokio::task::spawn_blocking(move || f(&lore, &kb, agent))
            .await
            .map_err(|e| McpError::internal_error(format!("tool task failed: {e}"), None))?
            .map_err(tool_error)
    }

    #[tool(
        description = "Search the knowledge base for passages that answer a question. Returns ranked passages, each with a citation (source, version, section, page/row/URL) and a confidence; says so when nothing relevant is known. Cite the sources in your answer."
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, McpError> {
        let k = args.k.unwrap_or(crate::retrieve::DEFAULT_K).clamp(1, MAX_K);
        let results = self
            .blocking(move |lore, kb, fixed_agent| {
                let kb = lore
                    .existing_kb(kb)?
                    .ok_or_else(|| Error::not_found("the knowledge base was removed"))?;
                let agent = match (fixed_agent, args.agent.as_deref()) {
                    (Some(a), _) => Some(a),
                    (None, Some(a)) => Some(kb.agent(a)?.id),
                    (None, None) => None,
                };
                let mode = match args.mode.as_deref() {
                    Some(m) => m.parse()?,
                    None => crate::retrieve::SearchMode::default(),
                };
                let opts = SearchOptions {
                    k,
                    mode,
                    min_confidence: args.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE),
                    filter: SourceFilter {
                        tags: args.tags,
                        languages: args.languages,
                        agent,
                        ..SourceFilter::default()
                    },
                    ..SearchOptions::default()
                };
                kb.search_with(&args.query, &opts)
            })
            .await?;
        let mut text = String::new();
        if results.nothing_relevant {
            text.push_str(&format!(
                "Nothing relevant is known about this (confidence {:.2}). Say so rather than guessing.\n",
                results.confidence
            ));
        }
        for (i, h) in results.hits.iter().enumerate() {
            text.push_str(&format!(
                "[{}] {}\n{}\n\n",
                i + 1,
                h.citation,
                h.text.trim()
            ));
        }
        let structured = serde_json::to_value(crate::serve::search::response(results))
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(structured);
        Ok(result)
    }

    #[tool(
        description = "List the knowledge sources that search uses (the agent's linked sources when the server runs as an agent): id, name, kind, status, language and tags."
    )]
    async fn list_sources(&self) -> Result<CallToolResult, McpError> {
        let sources = self
            .blocking(|lore, kb, agent| {
                let kb = lore
                    .existing_kb(kb)?
                    .ok_or_else(|| Error::not_found("the knowledge base was removed"))?;
                let mut out = Vec::new();
                for s in kb.sources()? {
                    if agent.is_some_and(|a| !s.agents.contains(&a)) {
                        continue;
                    }
                    out.push(crate::serve::sources::view(&kb, &s)?);
                }
                Ok(out)
            })
            .await?;
        let mut text = String::new();
        for s in &sources {
            text.push_str(&format!(
                "{} {} ({}, {}{})\n",
                s.id,
                s.name,
                s.kind,
                s.status,
                s.language
                    .as_deref()
                    .map(|l| format!(", {l}"))
                    .unwrap_or_default()
            ));
        }
        if sources.is_empty() {
            text.push_str("No sources.\n");
        }
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(serde_json::json!({ "sources": sources }));
        Ok(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LoreMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("lore", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Knowledge base {:?}. Call `search` with the user's question before answering and cite the passages you use; if it reports nothing relevant, say you do not know.",
                self.kb
            ))
    }
}

/// Serves MCP on stdin/stdout until the client closes the stream.
pub async fn serve_stdio(server: LoreMcp) -> Result<()> {
    use rmcp::ServiceExt;
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Internal(format!("mcp handshake: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Error::Internal(format!("mcp session: {e}")))?;
    Ok(())
}
