//! CORS on every answer (BUD-01), the `OPTIONS` preflight, and `X-Reason` on every error.
//!
//! A middleware rather than tower-http's CORS layer: BUD-01 asks for fixed headers on every
//! response, errors and the 404 fallback included, and for a preflight answer to any path;
//! the same place makes sure that an error axum produced itself (405, a rejected extractor)
//! carries an `X-Reason` too.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Request headers a browser may send (`*` does not cover `Authorization`, so it is named).
const ALLOW_HEADERS: &str = "Authorization, *, Content-Type, Content-Length, Range, \
If-None-Match, X-SHA-256, X-Content-Length, X-Content-Type";
/// Response headers a browser may read.
const EXPOSE_HEADERS: &str = "X-Reason, Content-Range, Content-Length, Accept-Ranges, ETag, \
Retry-After, Location";

pub(crate) async fn cors(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, PUT, DELETE"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        return finish(response);
    }
    finish(next.run(request).await)
}

fn finish(mut response: Response) -> Response {
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    if status.as_u16() >= 400 && !headers.contains_key("x-reason") {
        let reason = status.canonical_reason().unwrap_or("error");
        headers.insert("x-reason", HeaderValue::from_static(reason));
    }
    response
}
