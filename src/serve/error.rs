//! Errors as JSON: `{"error": {"code", "message", "limit"?}}`.
//!
//! `code` is stable and machine-readable: a library [`Reason`] name (`not-found`,
//! `too-large`, `quota-exceeded`, …) for the user's faults, plus the service's own
//! `unauthorized`, `forbidden`, `rate-limited` and `internal`. The user's fault is a 4xx, ours
//! a 5xx whose message says nothing about internals (they go to the log).

use crate::error::{Error, Reason};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable kebab-case code, e.g. `not-found`, `quota-exceeded`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// For quota answers: which limit and its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitInfo>,
}

/// The limit a request ran into.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitInfo {
    /// `max_sources`, `max_storage_bytes`, `parse_jobs_per_hour`, `searches_per_minute` or
    /// `max_upload_bytes`.
    pub name: String,
    pub value: u64,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub limit: Option<LimitInfo>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            limit: None,
        }
    }

    /// Missing or unknown key. The same answer for both, so keys cannot be probed.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key>)",
        )
    }

    /// The key is valid but its role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Something the key may not see, or that does not exist: the same answer.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Reason::NotFound.as_str(), what)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Reason::InvalidArgument.as_str(),
            message,
        )
    }

    /// Over a plan limit: `status` is 429 for rates, 403 or 409 for sizes and counts.
    pub fn over_limit(
        status: StatusCode,
        code: &str,
        name: &str,
        value: u64,
        message: String,
    ) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message,
            limit: Some(LimitInfo {
                name: name.to_string(),
                value,
            }),
        }
    }
}

/// Which status a user-fault reason gets.
fn status_of(reason: Reason) -> StatusCode {
    match reason {
        Reason::NotFound | Reason::OriginMissing => StatusCode::NOT_FOUND,
        Reason::InvalidArgument => StatusCode::BAD_REQUEST,
        Reason::AlreadyExists => StatusCode::CONFLICT,
        Reason::QuotaExceeded => StatusCode::FORBIDDEN,
        Reason::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Reason::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        // The content itself was refused (a parse reason): understood but unprocessable.
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Rejected { reason, message } => {
                ApiError::new(status_of(reason), reason.as_str(), message)
            }
            other => {
                tracing::error!("request failed: {other}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "lore failed to answer; the error is in the server log",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::invalid(format!("bad JSON body: {}", e.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::invalid(format!("bad query string: {}", e.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message,
                limit: self.limit,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        // The metrics middleware counts errors by this code.
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

/// The code of an error answer, for the metrics middleware.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// Any path the API does not have.
pub async fn not_found_route() -> ApiError {
    ApiError::not_found("no such route")
}

/// A route that exists, with a method it does not have.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take that method",
    )
}
