//! The job queue as admins see it: state, attempts, errors and progress.

use super::auth::Auth;
use super::error::ApiError;
use super::kbs::open_kb;
use super::model::*;
use super::AppState;
use axum::extract::{Path, State};
use axum::Json;

/// Jobs listed, newest first.
const LISTED: u32 = 200;

/// The newest jobs of the knowledge base; running ones carry the progress of their run.
#[utoipa::path(get, path = "/v1/kb/{kb}/jobs", tag = "jobs", security(("bearer" = [])),
    params(("kb" = String, Path)),
    responses((status = 200, body = JobList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(kb): Path<String>,
) -> Result<Json<JobList>, ApiError> {
    who.admin_of(&kb)?;
    let st = state.clone();
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let progress = st.board().progress(kb.id());
            let jobs = kb
                .catalog()
                .jobs(kb.id(), LISTED)?
                .iter()
                .map(|j| Job::from_info(j, progress.clone()))
                .collect();
            Ok(Json(JobList { jobs }))
        })
        .await
}

/// One job.
#[utoipa::path(get, path = "/v1/kb/{kb}/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("kb" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Job), (status = 404, body = super::error::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kb, id)): Path<(String, String)>,
) -> Result<Json<Job>, ApiError> {
    who.admin_of(&kb)?;
    let job_id: Option<i64> = id.parse().ok();
    let not_found = move || ApiError::not_found(format!("no job {id:?}"));
    let job_id = job_id.ok_or_else(not_found.clone())?;
    let st = state.clone();
    state
        .blocking(move |lore| {
            let kb = open_kb(lore, &kb)?;
            let job = kb.catalog().job(kb.id(), job_id)?.ok_or_else(not_found)?;
            Ok(Json(Job::from_info(&job, st.board().progress(kb.id()))))
        })
        .await
}
