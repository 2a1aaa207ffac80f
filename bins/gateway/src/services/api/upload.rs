//! `POST /api/upload`: a multipart `file` field or a raw body (name in `X-Filename`), streamed
//! into the catalog's one way in while it is hashed, never held in memory whole.
//!
//! Before a byte is read the upload must pass the per-IP upload limit (429), a free upload slot
//! (503) and its announced length (413). The body then goes to
//! [`publish_stream`](swarmgate_catalog::publish_stream), which pumps it into the blocking
//! publish with the idle limit; the answer is sent only after the file's metadata is committed
//! (an acknowledged upload is kept), 201 for a new file, 200 for one already stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use swarmgate_catalog::{CatalogError, PublishRequest, Published, publish_stream};

use super::ApiState;
use super::answer::FileAnswer;
use crate::http::ApiError;

/// Fields of a multipart upload other than `file` are skipped, up to this many bytes in all.
const MAX_SKIPPED: usize = 1 << 20;

/// Bytes of a multipart body read before its `file` field's data begins, at most: the skipped
/// fields plus 64 KiB of preamble, boundaries and part headers. multer keeps every byte while
/// it looks for the first boundary or the end of a part's headers, so without this bound a
/// body that never holds its boundary would be kept in memory whole.
const MAX_BEFORE_FILE: u64 = MAX_SKIPPED as u64 + 64 * 1024;

/// The handler.
pub(super) async fn upload(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<(StatusCode, Json<FileAnswer>), ApiError> {
    let result = accept(&state, peer, request).await;
    let counters = &state.counters;
    match &result {
        Ok(published) if published.existing => counters.duplicate_uploads.inc(),
        Ok(published) => {
            counters.uploads.inc();
            counters.upload_bytes.inc_by(published.entry.size())
        }
        Err(_) => counters.failed_uploads.inc(),
    };
    let published = result?;
    let status = if published.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let answer = FileAnswer::of(state.catalog.links(), &published.entry);
    Ok((status, Json(answer)))
}

async fn accept(
    state: &Arc<ApiState>,
    peer: SocketAddr,
    request: Request,
) -> Result<Published, ApiError> {
    if let Err(wait) = state.upload_limit.check(peer.ip()) {
        state.counters.rate_limited.inc();
        return Err(ApiError::rate_limited(wait));
    }
    let Ok(_permit) = state.uploads.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many uploads in progress: retry shortly",
        )
        .retry_after(5));
    };
    let max = state.config.max_upload_size;
    let declared = content_length(request.headers());
    if declared.is_some_and(|length| length > max) {
        return Err(CatalogError::TooLarge { limit: max }.into());
    }
    let idle = state.idle;
    let catalog = Arc::clone(&state.catalog);
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if is_multipart {
        let (request, file_started) = bounded_before_file(request);
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
        let mut skipped = 0usize;
        loop {
            let field = next(idle, multipart.next_field()).await?.ok_or_else(|| {
                ApiError::bad_request("no_file", "the multipart body has no `file` field")
            })?;
            if field.name() != Some("file") {
                let mut field = field;
                while let Some(chunk) = next(idle, field.chunk()).await? {
                    skipped += chunk.len();
                    if skipped > MAX_SKIPPED {
                        return Err(ApiError::bad_request(
                            "bad_multipart",
                            "fields other than `file` are too large",
                        ));
                    }
                }
                continue;
            }
            file_started.store(true, Ordering::Relaxed);
            let request = PublishRequest {
                name: field.file_name().unwrap_or("").to_owned(),
                declared_type: field.content_type().map(str::to_owned),
                owner: None,
                max_size: max,
                ..PublishRequest::default()
            };
            return Ok(publish_stream(catalog, field, request, idle).await?);
        }
    }
    let headers = request.headers();
    let request_fields = PublishRequest {
        name: headers
            .get("x-filename")
            .and_then(|v| v.to_str().ok())
            .map(percent_decode)
            .unwrap_or_default(),
        declared_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        owner: None,
        max_size: max,
        expected_size: declared,
        expected_sha256: Vec::new(),
    };
    let body = request.into_body().into_data_stream();
    Ok(publish_stream(catalog, body, request_fields, idle).await?)
}

/// `request` with its body failing once [`MAX_BEFORE_FILE`] bytes have arrived and the flag
/// returned is still false (the handler sets it when the `file` field begins).
fn bounded_before_file(request: Request) -> (Request, Arc<AtomicBool>) {
    let started = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&started);
    let (parts, body) = request.into_parts();
    let mut seen = 0u64;
    let body = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > MAX_BEFORE_FILE && !flag.load(Ordering::Relaxed) {
            return Err(axum::Error::new(format!(
                "over {MAX_BEFORE_FILE} bytes arrived before the `file` field's data"
            )));
        }
        Ok(chunk)
    });
    let request = Request::from_parts(parts, axum::body::Body::from_stream(body));
    (request, started)
}

/// Awaits one multipart step under the idle limit.
async fn next<T>(
    idle: Duration,
    step: impl Future<Output = Result<T, axum::extract::multipart::MultipartError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(idle, step).await {
        Err(_) => Err(CatalogError::Idle { idle }.into()),
        Ok(Err(e)) => Err(ApiError::bad_request("bad_multipart", e.body_text())),
        Ok(Ok(value)) => Ok(value),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `%XX` sequences decoded (as UTF-8, lossy); anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%20b.txt"), "a b.txt");
        assert_eq!(percent_decode("%E2%82%AC.bin"), "€.bin");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
