//! What wraps every answer: CORS, security headers, the per-IP request limit, the request time
//! limit and the counters.
//!
//! The time limit covers a request up to its answer's headers, not a streamed body: an upload
//! has its own idle limit, and a download may take as long as it keeps moving. Uploads and the
//! tracker have their own rate limits, so the request limit skips them.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::ApiError;
use crate::state::Shared;

/// Wraps `router` in the gateway's layers.
pub(crate) fn security_layers(router: Router, state: Shared) -> Router {
    let cors = cors(&state.config.cors_origins);
    let headers: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];
    let mut router = router.layer(middleware::from_fn_with_state(state, guard));
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
async fn guard(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let own_limit = path == "/api/upload" || path == "/announce" || path == "/scrape";
    if !own_limit && request.method() != Method::OPTIONS {
        if let Err(wait) = state.limits.request(peer.ip()) {
            crate::metrics::add(&state.metrics.rate_limited, 1);
            let response = ApiError::rate_limited(wait).into_response();
            state.metrics.requests.count(response.status().as_u16());
            return response;
        }
    }
    let timeout = state.config.request_timeout;
    let streams_body = path == "/api/upload";
    let response = if streams_body {
        next.run(request).await
    } else {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {} s", timeout.as_secs()),
            )
            .into_response(),
        }
    };
    state.metrics.requests.count(response.status().as_u16());
    response
}
