//! Sources: list, show, chunks, change, sync, revert, enable, disable, remove, and adding
//! uploads, URLs and text entries. Adding queues jobs and answers 202; the workers ingest.

use super::auth::Auth;
use super::error::ApiError;
use super::kbs::open_kb;
use super::model::*;
use super::quota;
use super::AppState;
use crate::store::{SourceKind, SourceRow, WebOptions};
use crate::{AddOptions, KnowledgeBase, Reason};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

/// The API view of a source.
pub(crate) fn view(kb: &KnowledgeBase<'_>, s: &SourceRow) -> crate::Result<Source> {
    let versions = kb.catalog().versions(s.id)?;
    Ok(Source::from_row(s, &versions))
}

/// A source id from the path: anything but a number of a source of this knowledge base is
/// the same 404.
fn source_of(kb: &KnowledgeBase<'_>, id: &str) -> Result<SourceRow, ApiError> {
    let not_found = || ApiError::not_found(format!("no source {id:?}"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    kb.catalog().source(kb.id(), id)?.ok_or_else(not_found)
}

/// What an add answers: the sources and their queued jobs.
fn added(kb: &KnowledgeBase<'_>, state: &AppState, ids: &[i64]) -> Result<Added, ApiError> {
    let mut sources = Vec::new();
    let mut jobs = Vec::new();
    for id in ids {
        let s = source_of(kb, &id.to_string())?;
        sources.push(view(kb, &s)?);
        if let Some(j) = kb.catalog().queued_job_of(*id)? {
            jobs.push(Job::from_info(&j, state.board().progress(kb.id())));
        }
    }
    Ok(Added { sources, jobs })
}

/// Lists the sources of the knowledge base.
#[utoipa::path(get, path = "/v1/kb/{kb}/sources", tag = "sources", security(("bearer" = [])),
    params(("kb" = String, Path)),
    responses((status = 200, body = SourceList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<SourceList>, ApiError> {
    who.admin_of(&kb)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let sources = kb
                .sources()?
                .iter()
                .map(|s| view(&kb, s))
                .collect::<crate::Result<_>>()?;
            Ok(Json(SourceList { sources }))
        })
        .await
}

/// A source with its versions (stats, warnings, errors) and, for websites, its pages.
#[utoipa::path(get, path = "/v1/kb/{kb}/sources/{id}", tag = "sources", security(("bearer" = [])),
    params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = SourceDetail), (status = 404, body = super::error::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<SourceDetail>, ApiError> {
    who.admin_of(&kb)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let detail = kb.show(&s.id.to_string())?;
            Ok(Json(SourceDetail {
                source: Source::from_row(&detail.source, &detail.versions),
                versions: detail.versions.iter().map(Version::from).collect(),
                pages: detail
                    .pages
                    .iter()
                    .map(|p| Page {
                        url: p.url.clone(),
                        content_type: p.content_type.clone(),
                        note: p.note.clone(),
                    })
                    .collect(),
            }))
        })
        .await
}

/// The chunks of a version (the active one by default).
#[utoipa::path(get, path = "/v1/kb/{kb}/sources/{id}/chunks", tag = "sources",
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path), ChunkQuery),
    responses((status = 200, body = ChunkList), (status = 404, body = super::error::ErrorBody)))]
pub async fn chunks(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
    query: Result<Query<ChunkQuery>, QueryRejection>,
) -> Result<Json<ChunkList>, ApiError> {
    who.admin_of(&kb)?;
    let Query(q) = query?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let chunks = kb
                .chunks(&s.id.to_string(), q.version)?
                .into_iter()
                .map(|c| Chunk {
                    id: c.id,
                    ord: c.ord,
                    heading: c.heading_path,
                    location: serde_json::to_value(&c.location).unwrap_or_default(),
                    text: c.text,
                })
                .collect();
            Ok(Json(ChunkList { chunks }))
        })
        .await
}

/// Changes tags, language or the enabled flag.
#[utoipa::path(patch, path = "/v1/kb/{kb}/sources/{id}", tag = "sources", request_body = PatchSource,
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Source), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
    body: Result<Json<PatchSource>, JsonRejection>,
) -> Result<Json<Source>, ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let key = s.id.to_string();
            if let Some(tags) = &body.tags {
                kb.set_tags(&key, tags)?;
            }
            if let Some(language) = &body.language {
                kb.set_language(&key, language.as_deref())?;
            }
            if let Some(enabled) = body.enabled {
                kb.set_enabled(&key, enabled)?;
            }
            Ok(Json(view(&kb, &kb.source(&key)?)?))
        })
        .await
}

/// Queues a re-read of the source's origin.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/{id}/sync", tag = "sources",
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 202, body = JobQueued), (status = 404, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<JobQueued>), ApiError> {
    who.admin_of(&kb)?;
    let st = state.clone();
    let job = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            quota::check_parse_rate(&kb, &st.quotas(kb.id())?, 1)?;
            kb.queue_sync(&s.id.to_string())?;
            let job = kb
                .catalog()
                .queued_job_of(s.id)?
                .ok_or_else(|| crate::Error::Internal("the sync job was not queued".into()))?;
            Ok(Job::from_info(&job, st.board().progress(kb.id())))
        })
        .await?;
    state.board().wake();
    Ok((StatusCode::ACCEPTED, Json(JobQueued { job })))
}

/// Serves an earlier, retained version.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/{id}/revert", tag = "sources", request_body = Revert,
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Source), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn revert(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
    body: Result<Json<Revert>, JsonRejection>,
) -> Result<Json<Source>, ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let s = kb.revert(&s.id.to_string(), body.version)?;
            Ok(Json(view(&kb, &s)?))
        })
        .await
}

async fn set_enabled(
    state: AppState,
    kb: String,
    id: String,
    enabled: bool,
) -> Result<Json<Source>, ApiError> {
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let s = kb.set_enabled(&s.id.to_string(), enabled)?;
            Ok(Json(view(&kb, &s)?))
        })
        .await
}

/// Includes the source in search again.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/{id}/enable", tag = "sources",
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Source), (status = 404, body = super::error::ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<Source>, ApiError> {
    who.admin_of(&kb)?;
    set_enabled(state, kb, id, true).await
}

/// Turns the source off for every agent (its versions are kept).
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/{id}/disable", tag = "sources",
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Source), (status = 404, body = super::error::ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<Source>, ApiError> {
    who.admin_of(&kb)?;
    set_enabled(state, kb, id, false).await
}

/// Deletes the source, its versions, chunks and originals; answers the source as it was.
#[utoipa::path(delete, path = "/v1/kb/{kb}/sources/{id}", tag = "sources",
    security(("bearer" = [])), params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Source), (status = 404, body = super::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<Source>, ApiError> {
    who.admin_of(&kb)?;
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let s = source_of(&kb, &id)?;
            let before = view(&kb, &s)?;
            kb.remove(&s.id.to_string())?;
            Ok(Json(before))
        })
        .await
}

/// Adds a website (optionally with its child pages) and queues its crawl.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/url", tag = "sources", request_body = AddUrl,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 202, body = Added), (status = 400, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn add_url(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<AddUrl>, JsonRejection>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    let defaults = WebOptions::default();
    let opts = AddOptions {
        web: Some(WebOptions {
            with_children: body.with_children,
            max_pages: body.max_pages.unwrap_or(defaults.max_pages),
            max_depth: body.max_depth.unwrap_or(defaults.max_depth),
            include: body.include,
            exclude: body.exclude,
        }),
        sync_every_secs: body.every_secs,
        tags: body.tags,
        language: body.language,
        ..AddOptions::default()
    };
    let url = body.url;
    let st = state.clone();
    let answer = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let q = st.quotas(kb.id())?;
            let exists = kb.sources()?.iter().any(|s| {
                s.kind == SourceKind::Url
                    && url::Url::parse(&url).is_ok_and(|u| s.origin.as_deref() == Some(u.as_str()))
            });
            quota::check_sources(&kb, &q, u64::from(!exists))?;
            quota::check_parse_rate(&kb, &q, 1)?;
            let id = kb.queue_url(&url, &opts)?;
            added(&kb, &st, &[id])
        })
        .await?;
    state.board().wake();
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Adds a text entry (or updates the entry with the same title) and queues it.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/text", tag = "sources", request_body = AddText,
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 202, body = Added), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn add_text(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    body: Result<Json<AddText>, JsonRejection>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    who.admin_of(&kb)?;
    let Json(body) = body?;
    let st = state.clone();
    let answer = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let q = st.quotas(kb.id())?;
            let title = body.title.trim().to_string();
            let exists = kb
                .sources()?
                .iter()
                .any(|s| s.kind == SourceKind::Text && s.name == title);
            quota::check_sources(&kb, &q, u64::from(!exists))?;
            quota::check_storage(&kb, &q, body.text.len() as u64)?;
            quota::check_parse_rate(&kb, &q, 1)?;
            let opts = AddOptions {
                tags: body.tags,
                language: body.language,
                ..AddOptions::default()
            };
            let id = kb.queue_text(&title, &body.text, &opts)?;
            added(&kb, &st, &[id])
        })
        .await?;
    state.board().wake();
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// One uploaded file, read whole but never past its limit.
struct Upload {
    name: String,
    bytes: Vec<u8>,
}

/// Uploads files (multipart: one or more `file` parts, optional `catalog=true`, `tags`
/// (comma-separated, repeatable) and `language` fields). The size limit is enforced while the
/// body streams in: past it the request is refused at once, the rest of the body is not read,
/// and nothing is stored.
#[utoipa::path(post, path = "/v1/kb/{kb}/sources/upload", tag = "sources",
    request_body(content_type = "multipart/form-data", content = String,
        description = "`file` parts (one or more), optional `catalog`, `tags`, `language` fields"),
    security(("bearer" = [])), params(("kb" = String, Path)),
    responses((status = 202, body = Added), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    who.admin_of(&kb)?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::invalid(format!("expected multipart/form-data: {}", e.body_text()))
    })?;
    // Limits known before reading a byte: per file, and what the storage quota leaves.
    let st = state.clone();
    let kb_name = kb.clone();
    let (per_file, storage) = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb_name)?;
            let q = st.quotas(kb.id())?;
            let per_file = st
                .config()
                .max_upload_bytes
                .unwrap_or(lore.config().limits.max_bytes);
            Ok((
                per_file,
                quota::storage_left(&kb, &q)?.zip(q.max_storage_bytes),
            ))
        })
        .await?;
    let mut files: Vec<Upload> = Vec::new();
    let mut catalog = false;
    let mut tags: Vec<String> = Vec::new();
    let mut language: Option<String> = None;
    let mut total: u64 = 0;
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::invalid(format!("reading the upload: {}", e.body_text()))
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = field
                    .file_name()
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim().to_string())
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| ApiError::invalid("a file part needs a filename"))?;
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    bytes.extend_from_slice(&chunk);
                    total += chunk.len() as u64;
                    if bytes.len() as u64 > per_file {
                        tracing::info!(file = %file_name, limit = per_file, "upload refused while streaming");
                        return Err(ApiError::over_limit(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Reason::TooLarge.as_str(),
                            "max_upload_bytes",
                            per_file,
                            format!(
                                "{file_name} is larger than the upload limit of {per_file} bytes"
                            ),
                        ));
                    }
                    if let Some((left, max)) = storage {
                        if total > left {
                            return Err(quota::storage_exceeded(max));
                        }
                    }
                }
                files.push(Upload {
                    name: file_name,
                    bytes,
                });
            }
            "catalog" => catalog = field.text().await.map_err(bad)?.trim() == "true",
            "tags" => tags.extend(
                field
                    .text()
                    .await
                    .map_err(bad)?
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from),
            ),
            "language" => {
                language = Some(field.text().await.map_err(bad)?.trim().to_string())
                    .filter(|l| !l.is_empty())
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown multipart field {other:?} (file, catalog, tags, language)"
                )))
            }
        }
    }
    if files.is_empty() {
        return Err(ApiError::invalid("no file part in the upload"));
    }
    let st = state.clone();
    let answer = state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let q = st.quotas(kb.id())?;
            let kind = if catalog {
                SourceKind::Catalog
            } else {
                SourceKind::File
            };
            let existing = kb.sources()?;
            let new = files
                .iter()
                .filter(|f| {
                    !existing
                        .iter()
                        .any(|s| s.kind == kind && s.origin.is_none() && s.name == f.name)
                })
                .count() as u64;
            quota::check_sources(&kb, &q, new)?;
            quota::check_parse_rate(&kb, &q, files.len() as u64)?;
            let opts = AddOptions {
                catalog,
                tags,
                language,
                ..AddOptions::default()
            };
            let mut ids = Vec::new();
            for f in &files {
                ids.push(kb.queue_upload(&f.name, &f.bytes, &opts)?);
            }
            added(&kb, &st, &ids)
        })
        .await?;
    state.board().wake();
    Ok((StatusCode::ACCEPTED, Json(answer)))
}
