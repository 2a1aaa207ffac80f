//! The HTTP API of DESIGN.md (upload, files, download, .torrent, magnet, stats, health,
//! metrics), the tracker's HTTP endpoints and the BEP 19 web seed, on one router.
//!
//! Errors are JSON `{"error": "...", "code": "..."}` with the status that tells the client what
//! to do next: 400 fix the request, 401/403 authorise, 404 no such file, 413 too large, 416 bad
//! range, 429/503 come back after `Retry-After`, 500 our fault.

mod download;
mod files;
mod guard;
mod stats;
mod upload;

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use swarmgate_core::Sha256;

use crate::state::Shared;

pub(crate) use guard::security_layers;

/// An API error: status, machine-readable code, human message, optional `Retry-After`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for a file.
    pub(crate) fn no_file(sha256: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no file {sha256} is stored here"),
        )
    }

    /// 500, logged.
    pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }

    /// 429 (or another status) with `Retry-After`.
    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// 429 after `wait`.
    pub(crate) fn rate_limited(wait: Duration) -> ApiError {
        let seconds = crate::limits::retry_after_seconds(wait);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from your address: retry in {seconds} s"),
        )
        .retry_after(seconds)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Parses a sha256 path segment (64 hex digits, either case).
pub(crate) fn parse_sha256(text: &str) -> Result<Sha256, ApiError> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(ApiError::bad_request(
            "invalid_hash",
            format!("{text:?} is not a sha256 (64 hex digits)"),
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0]);
        let lo = hex_digit(pair[1]);
        match (hi, lo) {
            (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_hash",
                    format!("{text:?} is not a sha256 (64 hex digits)"),
                ));
            }
        }
    }
    Ok(Sha256(out))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Runs blocking work (SQLite, files) on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// The API routes (the tracker and web seed are mounted by [`crate::server`]).
pub(crate) fn routes(state: Shared) -> Router {
    let upload_limit = DefaultBodyLimit::disable();
    Router::new()
        .route("/api/upload", post(upload::upload).layer(upload_limit))
        .route("/api/files", get(files::list))
        .route(
            "/api/files/{sha256}",
            get(files::metadata).delete(files::delete),
        )
        .route("/api/torrent/{file}", get(files::torrent))
        .route("/api/magnet/{sha256}", get(files::magnet))
        .route("/api/stats", get(stats::stats))
        .route("/api/p2p/stats", get(stats::p2p))
        .route("/api/health", get(stats::health))
        .route("/api/diagnostics", get(stats::diagnostics))
        .route("/api/webseed/health", get(stats::webseed_health))
        .route("/metrics", get(stats::metrics))
        .fallback(not_found)
        .with_state(state.clone())
        .merge(download::routes(state))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_segments_are_64_hex_digits() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_sha256(&hex).unwrap(), Sha256([0xab; 32]));
        assert_eq!(
            parse_sha256(&hex.to_uppercase()).unwrap(),
            Sha256([0xab; 32])
        );
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert!(parse_sha256(&"é".repeat(32)).is_err());
    }
}
