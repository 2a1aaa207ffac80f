//! The embedded tracker's HTTP endpoints (BEP 3 `/announce`, BEP 48 `/scrape`) on the API's
//! port, answered by swarmgate-tracker's transport-neutral handler.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::Shared;

/// `/announce` and `/scrape`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/announce", get(answer))
        .route("/scrape", get(answer))
}

async fn answer(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let answer = state
        .tracker
        .handle_http(Instant::now(), target.as_bytes(), peer);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if let Some(seconds) = answer.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
