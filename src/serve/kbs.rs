//! Knowledge bases, keys, quotas and usage.

use super::auth::{hash_key, new_key, Auth};
use super::error::ApiError;
use super::model::*;
use super::AppState;
use crate::store::access::KeyRole;
use crate::Lore;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// Opens knowledge base `name` for a caller that [`Principal::sees`] it; a name that does not
/// exist is the same 404 as one the key may not see.
pub(crate) fn open_kb<'a>(
    lore: &'a Lore,
    name: &str,
) -> Result<crate::KnowledgeBase<'a>, ApiError> {
    lore.existing_kb(name)?
        .ok_or_else(|| ApiError::not_found(format!("no knowledge base {name:?}")))
}

/// Creates a knowledge base and its first admin key (operator only).
#[utoipa::path(post, path = "/v1/kb", tag = "knowledge bases", request_body = CreateKb,
    security(("bearer" = [])),
    responses((status = 201, body = KbCreated), (status = 409, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn create_kb(
    State(state): State<AppState>,
    Auth(who): Auth,
    body: Result<Json<CreateKb>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<KbCreated>), ApiError> {
    who.operator()?;
    let Json(body) = body?;
    let key = new_key()?;
    let hash = hash_key(&key);
    let name = state
        .blocking(move |lore| {
            let kb = lore.create_kb(&body.name)?;
            lore.catalog()
                .key_insert(kb.id(), KeyRole::Admin, None, &hash)?;
            Ok(kb.name().to_string())
        })
        .await?;
    tracing::info!(kb = %name, "knowledge base created");
    Ok((
        StatusCode::CREATED,
        Json(KbCreated {
            name,
            admin_key: key,
        }),
    ))
}

/// Lists the knowledge bases (operator only).
#[utoipa::path(get, path = "/v1/kb", tag = "knowledge bases", security(("bearer" = [])),
    responses((status = 200, body = KbList), (status = 401, body = super::error::ErrorBody)))]
pub async fn list_kbs(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<KbList>, ApiError> {
    who.operator()?;
    let kbs = state.blocking(|lore| Ok(lore.catalog().kbs()?)).await?;
    Ok(Json(KbList {
        kbs: kbs.into_iter().map(|k| KbName { name: k.name }).collect(),
    }))
}

/// Who the key is, in this knowledge base.
#[utoipa::path(get, path = "/v1/kb/{kb}/whoami", tag = "knowledge bases", security(("bearer" = [])),
    params(("kb" = String, Path)),
    responses((status = 200, body = WhoAmI), (status = 404, body = super::error::ErrorBody)))]
pub async fn whoami(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<WhoAmI>, ApiError> {
    who.sees(&kb)?;
    let role = who.role().to_string();
    let agent_id = who.agent_id();
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let agent = match agent_id {
                Some(id) => {
                    let a = kb.agent(&id.to_string())?;
                    Some(AgentRef {
                        id: a.id,
                        name: a.name,
                    })
                }
                None => None,
            };
            Ok(Json(WhoAmI {
                kb: kb.name().to_string(),
                role,
                agent,
            }))
        })
        .await
}

/// Creates an admin or agent key for the knowledge base (operator or its admin). The key is
/// in the answer once; only its hash is stored.
#[utoipa::path(post, path = "/v1/kb/{kb}/keys", tag = "knowledge bases", request_body = CreateKey,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 201, body = KeyCreated), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<CreateKey>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<KeyCreated>), ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    let role = match body.role.as_str() {
        "admin" => KeyRole::Admin,
        "agent" => KeyRole::Agent,
        other => {
            return Err(ApiError::invalid(format!(
                "role {other:?} is not admin or agent"
            )))
        }
    };
    let agent = match (role, body.agent) {
        (KeyRole::Agent, None) => {
            return Err(ApiError::invalid(
                "an agent key needs \"agent\": <agent id>",
            ))
        }
        (KeyRole::Admin, Some(_)) => {
            return Err(ApiError::invalid("an admin key is not bound to an agent"))
        }
        (_, a) => a,
    };
    let key = new_key()?;
    let hash = hash_key(&key);
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            if let Some(id) = agent {
                // Another kb's agent id is "not found", like one that does not exist.
                kb.agent(&id.to_string())?;
            }
            lore.catalog().key_insert(kb.id(), role, agent, &hash)?;
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            key,
            role: role.as_str().to_string(),
            agent,
        }),
    ))
}

/// Changes the quotas of a knowledge base (operator only: quotas are the plan).
#[utoipa::path(put, path = "/v1/kb/{kb}/quotas", tag = "knowledge bases", request_body = QuotaPatch,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 200, body = QuotaView), (status = 403, body = super::error::ErrorBody)))]
pub async fn set_quotas(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<QuotaPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<QuotaView>, ApiError> {
    who.sees(&kb)?;
    who.operator()?;
    let Json(patch) = body?;
    let st = state.clone();
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            lore.catalog().set_quota_overrides(kb.id(), &patch.into())?;
            Ok(Json(st.quotas(kb.id())?.into()))
        })
        .await
}

/// Quotas, current counts and usage per day (parses, pages, chunks, embeddings, searches).
#[utoipa::path(get, path = "/v1/kb/{kb}/usage", tag = "knowledge bases",
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 200, body = UsageReport), (status = 404, body = super::error::ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<UsageReport>, ApiError> {
    who.admin_of(&kb)?;
    let st = state.clone();
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            Ok(Json(usage_report(&kb, st.quotas(kb.id())?)?))
        })
        .await
}

/// The usage report of a knowledge base (also what `lore usage --json` prints).
pub fn usage_report(
    kb: &crate::KnowledgeBase<'_>,
    quotas: crate::store::access::Quotas,
) -> crate::Result<UsageReport> {
    let days = kb.usage(30)?;
    let today_key = crate::store::access::utc_day(crate::store::now());
    let today = days
        .iter()
        .find(|d| d.day == today_key)
        .map(|d| (&d.usage).into())
        .unwrap_or_default();
    Ok(UsageReport {
        quotas: quotas.into(),
        sources: kb.sources()?.len() as u64,
        storage_bytes: kb.storage_bytes()?,
        today,
        days: days.iter().map(Into::into).collect(),
    })
}
