//! The admin page: the files of `web/` embedded in the binary at build time, so a deployment
//! is one file.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "web/"]
struct Assets;

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str) -> Response {
    match Assets::get(name) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => {
            super::ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such file").into_response()
        }
    }
}

/// The admin page.
pub async fn index() -> Response {
    serve("index.html")
}

/// A file of the admin page (`/assets/app.js`). Only names embedded at build time exist, so
/// no path can reach outside `web/`.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}
