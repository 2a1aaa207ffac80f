//! What wraps every answer: CORS, security headers, the per-IP request limit, the request time
//! limit, the request size limits, the JSON form of every refusal, and the counters.
//!
//! Sizes: a URI over [`MAX_URI_BYTES`] (8 KiB, nginx's `large_client_header_buffers` line and
//! Apache's `LimitRequestLine`) is answered 414, header lines over [`MAX_HEADER_BYTES`] in all
//! (32 KiB, nginx's four 8 KiB buffers) 431, both as JSON; hyper's own, larger bounds (see
//! `serve.rs`) stop what is larger still before it is buffered.
//!
//! Refusals made by axum's extractors (a query string that does not parse, a bad path segment,
//! a wrong method) are plain text; the guard turns every error answer that is not already JSON
//! into `{"error", "code"}` with the same status, except the tracker's, whose clients read
//! bencode.
//!
//! The time limit covers a request up to its answer's headers, not a streamed body: an upload
//! has its own idle limit, and a download may take as long as it keeps moving. Uploads and the
//! tracker have their own rate limits, so the request limit skips them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::metrics::counter;
use super::serve::Refused;
use super::{ApiError, IpRateLimit};

/// The longest URI (path and query) answered; longer ones get 414.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;

/// The most bytes of header names and values in one request; more get 431.
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The most bytes of a plain-text error body carried into its JSON form.
const MAX_ERROR_TEXT: usize = 4 * 1024;

/// What the guards count.
#[derive(Debug, Clone)]
pub(crate) struct HttpCounters {
    /// 2xx and 3xx answers.
    pub ok: Counter,
    /// 4xx answers.
    pub client_error: Counter,
    /// 5xx answers.
    pub server_error: Counter,
    /// Requests refused by a per-IP rate limit (this one and the API's upload limit).
    pub rate_limited: Counter,
    /// Connections and requests refused before a handler, by reason.
    pub refused: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Connections open now, by port.
    pub open: Family<Vec<(&'static str, &'static str)>, Gauge>,
}

/// The HTTP port's figures, as `/api/stats` shows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct HttpStats {
    /// Requests answered.
    pub requests: u64,
    /// Requests refused by a rate limit.
    pub rate_limited: u64,
}

impl HttpCounters {
    /// The counters, registered as `http_requests_total{class}` and `rate_limited_total`.
    pub(crate) fn register(registry: &mut Registry) -> HttpCounters {
        let by_class = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP answers by status class.",
            by_class.clone(),
        );
        let class = |name: &'static str| by_class.get_or_create(&vec![("class", name)]).clone();
        HttpCounters {
            ok: class("ok"),
            client_error: class("client_error"),
            server_error: class("server_error"),
            rate_limited: counter(
                registry,
                "rate_limited",
                "HTTP requests refused by a rate limit.",
            ),
            refused: refused_counters(registry),
            open: {
                let open = Family::default();
                registry.register(
                    "http_connections",
                    "HTTP connections open now, by port (api, blossom).",
                    open.clone(),
                );
                open
            },
        }
    }

    /// The gauge of `port`'s open connections.
    pub(crate) fn open_connections(&self, port: &'static str) -> Gauge {
        self.open.get_or_create(&vec![("port", port)]).clone()
    }

    /// Counts one refusal.
    pub(crate) fn refuse(&self, reason: Refused) {
        self.refused
            .get_or_create(&vec![("reason", reason.label())])
            .inc();
    }

    /// Counts one answer of `status`.
    pub(crate) fn count(&self, status: StatusCode) {
        match status.as_u16() {
            500.. => &self.server_error,
            400..=499 => &self.client_error,
            _ => &self.ok,
        }
        .inc();
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> HttpStats {
        HttpStats {
            requests: self.ok.get() + self.client_error.get() + self.server_error.get(),
            rate_limited: self.rate_limited.get(),
        }
    }
}

/// `http_refused_total{reason}`, every reason present from the start (at 0).
fn refused_counters(registry: &mut Registry) -> Family<Vec<(&'static str, &'static str)>, Counter> {
    let family = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
    registry.register(
        "http_refused",
        "HTTP connections and requests refused before a handler, by reason.",
        family.clone(),
    );
    for reason in Refused::ALL {
        let _ = family.get_or_create(&vec![("reason", reason.label())]);
    }
    family
}

/// The per-request guard's settings and counters.
#[derive(Debug)]
pub(crate) struct Guard {
    /// Requests per IP, except uploads and the tracker (they have their own limits).
    pub request_limit: IpRateLimit,
    /// The time limit up to an answer's headers.
    pub request_timeout: Duration,
    /// Origins allowed by CORS (empty: any).
    pub cors_origins: Vec<String>,
    /// What is counted.
    pub counters: HttpCounters,
}

/// Wraps `router` in the gateway's layers.
pub(crate) fn security_layers(router: Router, guard: Arc<Guard>) -> Router {
    let cors = cors(&guard.cors_origins);
    let headers: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];
    let mut router = router.layer(middleware::from_fn_with_state(guard, guard_request));
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(cors)
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
        .allow_headers([
            header::RANGE,
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_NONE_MATCH,
            HeaderName::from_static("x-filename"),
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ACCEPT_RANGES,
            header::ETAG,
            header::RETRY_AFTER,
        ]);
    if origins.is_empty() {
        return layer.allow_origin(Any);
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

/// The per-request part: rate limit, time limit, counting.
async fn guard_request(
    State(guard): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Some((reason, refusal)) = oversized(&request) {
        guard.counters.refuse(reason);
        let response = refusal.into_response();
        guard.counters.count(response.status());
        return response;
    }
    let path = request.uri().path();
    let tracker = path == "/announce" || path == "/scrape";
    let own_limit = tracker || path == "/api/upload";
    if !own_limit && request.method() != Method::OPTIONS {
        if let Err(wait) = guard.request_limit.check(peer.ip()) {
            guard.counters.rate_limited.inc();
            let response = ApiError::rate_limited(wait).into_response();
            guard.counters.count(response.status());
            return response;
        }
    }
    let timeout = guard.request_timeout;
    let streams_body = path == "/api/upload";
    let response = if streams_body {
        next.run(request).await
    } else {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {} s", timeout.as_secs()),
            )
            .into_response(),
        }
    };
    let response = if tracker {
        response
    } else {
        as_json(response).await
    };
    guard.counters.count(response.status());
    response
}

/// 414 or 431 for a request over the sizes in the module docs, and the reason to count.
fn oversized(request: &Request) -> Option<(Refused, ApiError)> {
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some((
            Refused::UriTooLong,
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!("the URI is {uri} bytes; at most {MAX_URI_BYTES} are read"),
            ),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers > MAX_HEADER_BYTES).then(|| {
        let error = ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the header lines are {headers} bytes; at most {MAX_HEADER_BYTES} are read"),
        );
        (Refused::HeadersTooLarge, error)
    })
}

/// An error answer that is not JSON (axum's rejections) as `{"error", "code"}`.
async fn as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text
    };
    let mut answer = ApiError::new(status, code_of(status), message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::CONTENT_RANGE] {
        if let Some(value) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// The `code` of an error answer that came without one.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::RANGE_NOT_SATISFIABLE => "bad_range",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        status if status.is_server_error() => "internal",
        _ => "refused",
    }
}
