//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the `ToSchema` types of [`super::model`], served at `/openapi.json`. It is the API's
//! contract: a test checks that every route of the router is in it.

use super::error::{ErrorBody, ErrorDetail, LimitInfo};
use super::model::*;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lore",
        description = "Knowledge sources in, cited passages out. Keys: `Authorization: Bearer <key>`; roles operator, admin (one knowledge base), agent (search only, its linked sources)."
    ),
    paths(
        super::healthz,
        super::metrics::render,
        document,
        super::kbs::create_kb,
        super::kbs::list_kbs,
        super::kbs::whoami,
        super::kbs::create_key,
        super::kbs::set_quotas,
        super::kbs::usage,
        super::sources::list,
        super::sources::show,
        super::sources::chunks,
        super::sources::patch,
        super::sources::sync,
        super::sources::revert,
        super::sources::enable,
        super::sources::disable,
        super::sources::remove,
        super::sources::add_url,
        super::sources::add_text,
        super::sources::upload,
        super::agents::list,
        super::agents::create,
        super::agents::link,
        super::agents::unlink,
        super::agents::rename,
        super::agents::remove,
        super::search::search,
        super::search::gaps,
        super::jobs::list,
        super::jobs::show,
    ),
    components(schemas(ErrorBody, ErrorDetail, LimitInfo, Health, CreateKb, KbCreated, KbList,
        KbName, WhoAmI, AgentRef, CreateKey, KeyCreated, Source, SourceList, SourceDetail, Version,
        VersionError, Page, Chunk, ChunkList, PatchSource, Revert, AddUrl, AddText, Added, Job,
        JobList, JobQueued, JobProgress, Agent, AgentList, CreateAgent, SearchRequest,
        SearchResponse, SearchHit, Citation, Gap, GapList, QuotaView, QuotaPatch, UsageReport,
        UsageCounts, UsageDayView)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
