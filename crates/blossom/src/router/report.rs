//! BUD-09 `PUT /report` (a signed kind 1984 event, verified and kept through the store) and
//! `GET /reports`, the administrator's listing.
//!
//! The listing exists only when [`BlossomConfig::admin_token`](crate::BlossomConfig) is set,
//! behind `Authorization: Bearer <token>`; a wrong token counts against the client like a bad
//! Nostr token. A server that reviews reports elsewhere (the gateway's admin API) leaves the
//! token unset and reads [`BlobStore::reports`] itself.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::{Failure, Shared, client_ip};
use crate::report::{MAX_REPORT_LEN, Report, parse_report};
use crate::store::BlobStore;

pub(crate) async fn report<S: BlobStore>(
    state: Shared<S>,
    request: Request,
) -> Result<Json<Value>, Failure> {
    let state = state.0;
    let body: Bytes = http_body_util::Limited::new(request.into_body(), MAX_REPORT_LEN)
        .collect()
        .await
        .map_err(|_| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("reports are limited to {MAX_REPORT_LEN} bytes"),
            )
        })?
        .to_bytes();
    let report =
        parse_report(&body).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let event_id = report.event_id.clone();
    state.blocking(move |store| store.report(&report)).await?;
    Ok(Json(json!({ "accepted": event_id })))
}

pub(crate) async fn reports<S: BlobStore>(
    state: Shared<S>,
    request: Request,
) -> Result<Json<Vec<Value>>, Failure> {
    let state = state.0;
    let Some(token) = state.config.admin_token.as_deref() else {
        return Err(Failure::new(StatusCode::NOT_FOUND, "not found"));
    };
    let ip = client_ip(request.extensions());
    if let Some(wait) = state.limiter.blocked(ip, std::time::Instant::now()) {
        let mut failure = Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed authorizations",
        );
        failure.retry_after = Some(wait.as_secs().max(1));
        return Err(failure);
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(given.as_bytes(), token.as_bytes()) {
        state.fail(ip);
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "admin token required: Authorization: Bearer <token>",
        ));
    }
    let reports = state.blocking(|store| store.reports()).await?;
    Ok(Json(reports.iter().map(listing).collect()))
}

/// One report as the listing shows it.
fn listing(report: &Report) -> Value {
    let blobs: Vec<Value> = report
        .blobs
        .iter()
        .map(|blob| json!({ "sha256": blob.sha256.to_hex(), "type": blob.kind.as_str() }))
        .collect();
    let event: Value = serde_json::from_str(&report.event_json).unwrap_or(Value::Null);
    json!({
        "event_id": report.event_id,
        "reporter": report.reporter.to_hex(),
        "created_at": report.created_at,
        "blobs": blobs,
        "content": report.content,
        "event": event,
    })
}

/// Compares two secrets in time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
