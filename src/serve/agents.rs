//! Agents: consumers of a knowledge base that see only the sources linked to them.

use super::auth::Auth;
use super::error::ApiError;
use super::kbs::open_kb;
use super::model::*;
use super::AppState;
use crate::AgentRow;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

fn agent_view(a: AgentRow) -> Agent {
    Agent {
        id: a.id,
        name: a.name,
        sources: a.sources,
    }
}

/// An id from the path; anything but a number is the same 404 as an unknown id.
fn id_of(what: &str, id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no {what} {id:?}")))
}

/// Lists the agents with their linked sources.
#[utoipa::path(get, path = "/v1/kb/{kb}/agents", tag = "agents", security(("bearer" = [])),
    params(("kb" = String, Path)),
    responses((status = 200, body = AgentList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<AgentList>, ApiError> {
    who.admin_of(&kb)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let agents = kb.agents()?.into_iter().map(agent_view).collect();
            Ok(Json(AgentList { agents }))
        })
        .await
}

/// Creates an agent.
#[utoipa::path(post, path = "/v1/kb/{kb}/agents", tag = "agents", request_body = CreateAgent,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 201, body = Agent), (status = 400, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<CreateAgent>, JsonRejection>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let a = kb.create_agent(&body.name)?;
            Ok((StatusCode::CREATED, Json(agent_view(a))))
        })
        .await
}

async fn set_link(
    state: AppState,
    kb: String,
    agent: String,
    source: String,
    linked: bool,
) -> Result<Json<Agent>, ApiError> {
    let agent = id_of("agent", &agent)?;
    let source = id_of("source", &source)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let (agent, source) = (agent.to_string(), source.to_string());
            let a = if linked {
                kb.link(&agent, &source)?
            } else {
                kb.unlink(&agent, &source)?
            };
            Ok(Json(agent_view(a)))
        })
        .await
}

/// Links a source to an agent (a source can serve many agents).
#[utoipa::path(put, path = "/v1/kb/{kb}/agents/{agent}/sources/{id}", tag = "agents",
    security(("bearer" = [])), params(("kb" = String, Path), ("agent" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, body = Agent), (status = 404, body = super::error::ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, agent, id)): Path<(String, String, String)>,
) -> Result<Json<Agent>, ApiError> {
    who.admin_of(&kb)?;
    set_link(state, kb, agent, id, true).await
}

/// Unlinks a source from an agent; the source stays in the library.
#[utoipa::path(delete, path = "/v1/kb/{kb}/agents/{agent}/sources/{id}", tag = "agents",
    security(("bearer" = [])), params(("kb" = String, Path), ("agent" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, body = Agent), (status = 404, body = super::error::ErrorBody)))]
pub async fn unlink(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, agent, id)): Path<(String, String, String)>,
) -> Result<Json<Agent>, ApiError> {
    who.admin_of(&kb)?;
    set_link(state, kb, agent, id, false).await
}

/// Renames an agent; its links and keys stay with it.
#[utoipa::path(patch, path = "/v1/kb/{kb}/agents/{agent}", tag = "agents", request_body = CreateAgent,
    security(("bearer" = [])), params(("kb" = String, Path), ("agent" = i64, Path)),
    responses((status = 200, body = Agent), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, agent)): Path<(String, String)>,
    body: Result<Json<CreateAgent>, JsonRejection>,
) -> Result<Json<Agent>, ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    let agent = id_of("agent", &agent)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let a = kb.rename_agent(&agent.to_string(), &body.name)?;
            Ok(Json(agent_view(a)))
        })
        .await
}

/// Deletes an agent with its links and API keys (its keys stop working at once); the sources
/// stay in the library. Answers the agent as it was.
#[utoipa::path(delete, path = "/v1/kb/{kb}/agents/{agent}", tag = "agents",
    security(("bearer" = [])), params(("kb" = String, Path), ("agent" = i64, Path)),
    responses((status = 200, body = Agent), (status = 404, body = super::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, agent)): Path<(String, String)>,
) -> Result<Json<Agent>, ApiError> {
    who.admin_of(&kb)?;
    let agent = id_of("agent", &agent)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let (a, _keys) = kb.delete_agent(&agent.to_string())?;
            Ok(Json(agent_view(a)))
        })
        .await
}
