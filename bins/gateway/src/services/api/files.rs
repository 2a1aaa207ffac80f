//! File list, metadata, deletion, .torrent (BEP 3) and magnet (BEP 9) of stored files.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiState;
use super::answer::FileAnswer;
use crate::http::{ApiError, Page, blocking, parse_sha256};

/// One page of the file list.
#[derive(Debug, Serialize)]
pub(super) struct FileList {
    /// The files, newest first.
    files: Vec<FileAnswer>,
    /// Files stored in all.
    total: u64,
    /// The offset of this page.
    offset: u64,
    /// The limit used.
    limit: u32,
}

/// `GET /api/files`.
pub(super) async fn list(
    State(state): State<Arc<ApiState>>,
    page: Page,
) -> Result<Json<FileList>, ApiError> {
    let catalog = state.catalog.clone();
    let (entries, total) = blocking(move || catalog.list(page.offset, page.limit)).await??;
    let links = state.catalog.links();
    let files = entries
        .iter()
        .map(|entry| FileAnswer::of(links, entry))
        .collect();
    Ok(Json(FileList {
        files,
        total,
        offset: page.offset,
        limit: page.limit,
    }))
}

/// `GET /api/files/{sha256}`.
pub(super) async fn metadata(
    State(state): State<Arc<ApiState>>,
    Path(sha256): Path<String>,
) -> Result<Json<FileAnswer>, ApiError> {
    let hash = parse_sha256(&sha256)?;
    let entry = state
        .catalog
        .get(&hash)
        .ok_or_else(|| ApiError::no_file(&sha256))?;
    Ok(Json(FileAnswer::of(state.catalog.links(), &entry)))
}

/// `DELETE /api/files/{sha256}` with `Authorization: Bearer <admin token>`.
pub(super) async fn delete(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let Some(token) = state.config.admin_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "deletion_disabled",
            "deletion is disabled: the gateway has no admin token configured",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        tracing::warn!(%peer, "DELETE with a missing or wrong admin token");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "DELETE needs `Authorization: Bearer <admin token>`",
        ));
    }
    let hash = parse_sha256(&sha256)?;
    let catalog = state.catalog.clone();
    let deleted = blocking(move || catalog.delete(&hash)).await??;
    if !deleted {
        return Err(ApiError::no_file(&sha256));
    }
    state.counters.deletes.inc();
    Ok(StatusCode::NO_CONTENT)
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /api/torrent/{sha256}.torrent`.
pub(super) async fn torrent(
    State(state): State<Arc<ApiState>>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let key = file.strip_suffix(".torrent").unwrap_or(&file);
    let hash = parse_sha256(key)?;
    let entry = state
        .catalog
        .get(&hash)
        .ok_or_else(|| ApiError::no_file(key))?;
    let bytes =
        state
            .catalog
            .links()
            .torrent_file(&hash, entry.torrent.info_bytes(), entry.file.created);
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-bittorrent"),
    );
    let disposition = format!("attachment; filename=\"{}.torrent\"", hash.to_hex());
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `GET /api/magnet/{sha256}`: JSON with the magnet link.
pub(super) async fn magnet(
    State(state): State<Arc<ApiState>>,
    Path(sha256): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hash = parse_sha256(&sha256)?;
    let entry = state
        .catalog
        .get(&hash)
        .ok_or_else(|| ApiError::no_file(&sha256))?;
    let magnet = state
        .catalog
        .links()
        .magnet(&hash, entry.info_hash, &entry.file.name);
    Ok(Json(serde_json::json!({
        "sha256": hash.to_hex(),
        "info_hash": entry.info_hash.to_string(),
        "magnet": magnet,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abc", b"abcdef"));
    }
}
