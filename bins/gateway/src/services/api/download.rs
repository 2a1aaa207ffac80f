//! `GET|HEAD /api/download/{sha256}`: the web seed crate's router over the stored files (Range,
//! 206/416, ETag and If-None-Match, HEAD), as the BEP 19 web seed serves them, so the download
//! API and the web seed cannot disagree about a byte.
//!
//! The download route adds what a browser wants (the file's media type and a
//! `Content-Disposition` with its name) and turns the router's plain-text errors into the API's
//! JSON ones; the web seed route is left exactly as BitTorrent clients expect it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use swarmgate_webseed::{ServerConfig, UrlLayout};

use super::ApiState;
use crate::http::{ApiError, parse_sha256};
use crate::services::webseed::{StoredFiles, body_length};

/// The download route.
pub(super) fn routes(state: Arc<ApiState>) -> Router {
    let source = Arc::new(StoredFiles {
        catalog: Arc::clone(&state.catalog),
    });
    let config = ServerConfig::with_layout(UrlLayout::ByKey);
    let download = swarmgate_webseed::router(source, config)
        .layer(middleware::from_fn_with_state(state, download_answer));
    Router::new().nest("/api/download", download)
}

async fn download_answer(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let key = request.uri().path().trim_start_matches('/').to_owned();
    let is_head = request.method() == axum::http::Method::HEAD;
    let sha256 = match parse_sha256(&key) {
        Ok(sha256) => sha256,
        Err(error) => return error.into_response(),
    };
    let Some(entry) = state.catalog.get(&sha256) else {
        return ApiError::no_file(&key).into_response();
    };
    let mut response = next.run(request).await;
    state.counters.downloads.inc();
    let status = response.status();
    if status.is_success() {
        if !is_head {
            state.counters.download_bytes.inc_by(body_length(&response));
        }
        let headers = response.headers_mut();
        if let Ok(mime) = HeaderValue::from_str(&entry.file.mime) {
            headers.insert(header::CONTENT_TYPE, mime);
        }
        if let Ok(disposition) = HeaderValue::from_str(&content_disposition(&entry.file.name)) {
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        return response;
    }
    if status == StatusCode::NOT_MODIFIED || status == StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let range = response.headers().get(header::CONTENT_RANGE).cloned();
    let message = match status {
        StatusCode::RANGE_NOT_SATISFIABLE => "the requested range is outside the file".to_owned(),
        StatusCode::NOT_FOUND => format!("no file {key} is stored here"),
        _ => "the file could not be read".to_owned(),
    };
    let code = match status {
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::NOT_FOUND => "not_found",
        _ => "internal",
    };
    let mut answer = ApiError::new(status, code, message).into_response();
    if let Some(range) = range {
        answer.headers_mut().insert(header::CONTENT_RANGE, range);
    }
    drop(response);
    answer
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_an_ascii_and_a_utf8_name() {
        assert_eq!(
            content_disposition("a b.txt"),
            "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"
        );
        assert_eq!(
            content_disposition("é\"x"),
            "attachment; filename=\"__x\"; filename*=UTF-8''%C3%A9%22x"
        );
    }
}
