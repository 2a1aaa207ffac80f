//! What wraps every answer: CORS, security headers, the per-IP request limit, the request time
//! limit and the counters.
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
use prometheus_client::registry::Registry;
use serde::Serialize;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::metrics::counter;
use super::{ApiError, IpRateLimit};

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
        }
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
    let path = request.uri().path();
    let own_limit = path == "/api/upload" || path == "/announce" || path == "/scrape";
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
    guard.counters.count(response.status());
    response
}
