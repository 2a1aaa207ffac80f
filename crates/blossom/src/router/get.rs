//! BUD-01 `GET`/`HEAD /<sha256>[.ext]`: the blob with its stored type, single byte ranges
//! (206 / 416), a strong ETag (the hash) and immutable caching.
//!
//! A blob never changes under its address, so its ETag is the quoted hash and its cache
//! lifetime a year. Only single ranges are served: a multi-range request gets the whole blob
//! (RFC 9110 lets a server ignore `Range`), which every downloader handles, and a malformed
//! `Range` is ignored the same way. This path is the hot one: after one `stat` the bytes
//! stream in `read_chunk` pieces from a blocking reader, never the whole blob in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::BlobBody;
use super::{Failure, Shared, client_ip};
use crate::auth::{AuthRequest, Verb, XRule};
use crate::descriptor::parse_blob_segment;
use crate::store::BlobStore;

/// What a `Range` header asks of a blob of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No (usable) range: the whole blob.
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against a blob of `size` bytes.
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let open_ended = last.trim().is_empty();
    match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        (false, Some(start), end) if end.is_some() || open_ended => {
            if end.is_some_and(|end| end < start) {
                RangeAsk::Whole
            } else if start >= size {
                RangeAsk::Unsatisfiable
            } else {
                let end = end.map_or(size - 1, |end| end.min(size - 1));
                RangeAsk::Part { start, end }
            }
        }
        _ => RangeAsk::Whole,
    }
}

/// Whether `If-None-Match` names this ETag (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

pub(crate) async fn blob<S: BlobStore>(
    state: Shared<S>,
    Path(segment): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let state = state.0;
    let (sha256, _extension) = parse_blob_segment(&segment)?;
    let (parts, _body) = request.into_parts();
    let ip = client_ip(&parts.extensions);
    let headers = &parts.headers;
    if state.config.auth.get {
        let ask = AuthRequest {
            verb: Verb::Get,
            x: XRule::IfScoped(sha256),
        };
        state.authorize(headers, ip, true, false, ask)?;
    }
    let blob = state
        .blocking(move |store| store.stat(&sha256))
        .await?
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "blob not found"))?;
    let etag = format!("\"{}\"", sha256.to_hex());
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    out.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if not_modified(headers, &etag) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    let mime = HeaderValue::from_str(&blob.mime)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    out.insert(header::CONTENT_TYPE, mime);
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (start, len) = match parse_range(range, blob.size) {
        RangeAsk::Whole => (0, blob.size),
        RangeAsk::Part { start, end } => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let value = format!("bytes {start}-{end}/{}", blob.size);
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a header value"),
            );
            (start, end - start + 1)
        }
        RangeAsk::Unsatisfiable => {
            let mut failure = Failure::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("range not satisfiable: the blob has {} bytes", blob.size),
            )
            .into_response();
            let value = format!("bytes */{}", blob.size);
            failure.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a header value"),
            );
            return Ok(failure);
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if parts.method != Method::HEAD && len > 0 {
        *response.body_mut() = Body::new(BlobBody::start(&Arc::clone(&state), sha256, start, len));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{RangeAsk, parse_range};

    #[test]
    fn single_ranges_suffixes_and_the_unsatisfiable() {
        let part = |start, end| RangeAsk::Part { start, end };
        assert_eq!(parse_range(None, 10), RangeAsk::Whole);
        assert_eq!(parse_range(Some("bytes=2-4"), 10), part(2, 4));
        assert_eq!(parse_range(Some("bytes=2-"), 10), part(2, 9));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), part(0, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeAsk::Unsatisfiable);
        for ignored in [
            "bytes=4-2",
            "bytes=1-2,4-5",
            "items=1-2",
            "bytes=a-b",
            "bytes=-",
        ] {
            assert_eq!(parse_range(Some(ignored), 10), RangeAsk::Whole, "{ignored}");
        }
    }
}
