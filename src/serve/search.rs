//! Search and knowledge gaps.

use super::auth::Auth;
use super::error::ApiError;
use super::kbs::open_kb;
use super::model::*;
use super::AppState;
use crate::index::IndexFilter;
use crate::retrieve::{SearchMode, SearchOptions, DEFAULT_MIN_CONFIDENCE, MAX_K};
use crate::store::{format_time, SourceFilter, SourceKind};
use crate::SearchResults;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;

/// Hits returned when the request does not say.
const DEFAULT_HITS: usize = 8;

/// Ranked passages with citations. Agent keys always search as their agent: only the sources
/// linked to it, whatever the request says; naming a source or agent the key may not see is
/// `not-found`.
#[utoipa::path(post, path = "/v1/kb/{kb}/search", tag = "search", request_body = SearchRequest,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 200, body = SearchResponse), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    who.sees(&kb)?;
    let Json(req) = body?;
    if req.query.trim().is_empty() {
        return Err(ApiError::invalid("the query is empty"));
    }
    let k = req.k.unwrap_or(DEFAULT_HITS);
    if k == 0 || k > MAX_K {
        return Err(ApiError::invalid(format!(
            "k must be between 1 and {MAX_K}"
        )));
    }
    let min_confidence = req.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(ApiError::invalid("min_confidence must be between 0 and 1"));
    }
    let kinds = req
        .kinds
        .iter()
        .map(|k| {
            SourceKind::parse(k).map_err(|_| {
                ApiError::invalid(format!(
                    "unknown source kind {k:?} (file, text, catalog, url)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let forced_agent = who.agent_id();
    let agent = match (forced_agent, req.agent) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ApiError::not_found(format!("no agent {asked}")))
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let st = state.clone();
    let started = std::time::Instant::now();
    let mode: SearchMode = match req.mode.as_deref() {
        Some(m) => m.parse()?,
        None => SearchMode::default(),
    };
    let results = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let q = st.quotas(kb.id())?;
            st.limiter().admit(kb.id(), q.searches_per_minute)?;
            let visible: Option<Vec<i64>> = match agent {
                Some(id) => Some(kb.agent(&id.to_string())?.sources),
                None => None,
            };
            for id in &req.source_ids {
                let known = match &visible {
                    // An agent key may only name its agent's sources.
                    Some(linked) if forced_agent.is_some() => linked.contains(id),
                    _ => kb.catalog().source(kb.id(), *id)?.is_some(),
                };
                if !known {
                    return Err(ApiError::not_found(format!("no source {id}")));
                }
            }
            let opts = SearchOptions {
                k,
                min_confidence,
                filter: SourceFilter {
                    source_ids: req.source_ids,
                    kinds,
                    tags: req.tags,
                    languages: req.languages,
                    agent,
                },
                index_filter: IndexFilter {
                    in_stock_only: req.in_stock,
                },
                mode,
                ..SearchOptions::default()
            };
            Ok(kb.search_with(&req.query, &opts)?)
        })
        .await?;
    state
        .metrics()
        .search_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(response(results)))
}

/// The API view of search results.
pub fn response(r: SearchResults) -> SearchResponse {
    SearchResponse {
        query: r.query,
        mode: r.mode.as_str().to_string(),
        confidence: r.confidence,
        nothing_relevant: r.nothing_relevant,
        hits: r
            .hits
            .into_iter()
            .map(|h| SearchHit {
                chunk_id: h.chunk_id,
                score: h.score,
                citation: Citation {
                    source_id: h.source_id,
                    source_name: h.source_name,
                    version: h.version,
                    heading: h.heading_path,
                    location: serde_json::to_value(&h.location).unwrap_or_default(),
                    text: h.citation,
                },
                text: h.text,
                fields: h.product,
            })
            .collect(),
    }
}

/// Questions that found nothing relevant, most asked first.
#[utoipa::path(get, path = "/v1/kb/{kb}/gaps", tag = "search", security(("bearer" = [])),
    params(("kb" = String, Path)),
    responses((status = 200, body = GapList), (status = 404, body = super::error::ErrorBody)))]
pub async fn gaps(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<GapList>, ApiError> {
    who.admin_of(&kb)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let gaps = kb
                .gaps()?
                .into_iter()
                .map(|g| Gap {
                    query: g.query,
                    count: g.count,
                    last_seen: format_time(g.last_seen),
                    best_confidence: g.best_confidence,
                })
                .collect();
            Ok(Json(GapList { gaps }))
        })
        .await
}
