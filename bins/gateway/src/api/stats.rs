//! Statistics, health and metrics: `/api/stats`, `/api/p2p/stats`, `/api/health`,
//! `/api/diagnostics`, `/api/webseed/health` and `/metrics` (Prometheus text format 0.0.4).
//!
//! Health is a score of 0 to 100 per component, weighted web seed 40, tracker 35, DHT 25 (the
//! weights of DESIGN.md), each with the issues that cost it points. The web seed's score comes
//! from a live probe (the newest file's first bytes read through the verifying cache) and its
//! error ratio; the tracker's from its refusals; the DHT is not part of this build yet and says
//! so, scoring 0, rather than pretend.

use std::fmt::Write;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::{ApiError, blocking};
use crate::metrics::get;
use crate::state::Shared;
use crate::webseed_source::read_verified;

/// `GET /api/stats`.
pub(super) async fn stats(State(state): State<Shared>) -> Json<serde_json::Value> {
    let (files, bytes) = state.catalog.totals();
    let cache = state.catalog.cache().stats();
    let m = &state.metrics;
    let seeder = state.seeder.stats();
    Json(json!({
        "uptime_seconds": state.started.elapsed().as_secs(),
        "files": files,
        "bytes_stored": bytes,
        "uploads": get(&m.uploads),
        "duplicate_uploads": get(&m.duplicate_uploads),
        "failed_uploads": get(&m.failed_uploads),
        "upload_bytes": get(&m.upload_bytes),
        "downloads": get(&m.downloads),
        "download_bytes": get(&m.download_bytes),
        "webseed_requests": get(&m.webseed_requests),
        "webseed_bytes": get(&m.webseed_bytes),
        "peer_bytes": seeder.uploaded,
        "requests": m.requests.total(),
        "rate_limited": get(&m.rate_limited),
        "cache": {
            "capacity": state.catalog.cache().capacity(),
            "bytes": cache.bytes,
            "hits": cache.hits,
            "misses": cache.misses,
            "hit_ratio": cache.hit_ratio(),
        },
    }))
}

/// `GET /api/p2p/stats`.
pub(super) async fn p2p(State(state): State<Shared>) -> Json<serde_json::Value> {
    let seeder = state.seeder.stats();
    let tracker = state.tracker.stats();
    Json(json!({
        "peer_addr": state.bound.peer.to_string(),
        "announced_as": state.peer_announce.to_string(),
        "seeder": {
            "torrents": seeder.torrents,
            "peers": seeder.peers,
            "uploaded": seeder.uploaded,
            "blocks_served": seeder.blocks_served,
            "read_errors": seeder.read_errors,
            "refused": seeder.refused,
        },
        "tracker": {
            "torrents": tracker.torrents,
            "allowed": tracker.allowed,
            "seeders": tracker.seeders,
            "leechers": tracker.leechers,
            "announces": tracker.announces,
            "scrapes": tracker.scrapes,
            "refused": tracker.refused,
            "rate_limited": tracker.rate_limited,
            "announces_per_second": tracker.announces_per_second,
            "scrapes_per_second": tracker.scrapes_per_second,
        },
        "dht": { "running": false },
    }))
}

/// One component's health.
#[derive(Debug, Serialize)]
pub(super) struct Component {
    name: &'static str,
    score: u8,
    weight: u8,
    issues: Vec<String>,
}

/// The web seed's health: a live probe and the error ratio.
struct Probe {
    component: Component,
    probe_ms: Option<f64>,
    probed: Option<String>,
}

fn webseed_probe(state: &Shared) -> Probe {
    let mut issues = Vec::new();
    let mut score: i32 = 100;
    let newest = state
        .catalog
        .all()
        .into_iter()
        .max_by_key(|e| e.file.created);
    let (mut probe_ms, mut probed) = (None, None);
    if let Some(entry) = newest {
        let started = Instant::now();
        let length = entry.file.size.min(4096) as usize;
        match read_verified(&entry.pieces, state.catalog.cache(), 0, length) {
            Ok(_) => probe_ms = Some(started.elapsed().as_secs_f64() * 1000.0),
            Err(error) => {
                score = 0;
                issues.push(format!(
                    "reading {} failed: {error}",
                    entry.file.sha256.to_hex()
                ));
            }
        }
        probed = Some(entry.file.sha256.to_hex());
    }
    let requests = get(&state.metrics.webseed_requests);
    let errors = get(&state.metrics.webseed_errors);
    if requests >= 20 {
        let ratio = errors as f64 / requests as f64;
        if ratio > 0.01 {
            score -= (ratio * 100.0).round() as i32;
            issues.push(format!("{errors} of {requests} web seed requests failed"));
        }
    }
    Probe {
        component: Component {
            name: "webseed",
            score: score.clamp(0, 100) as u8,
            weight: 40,
            issues,
        },
        probe_ms,
        probed,
    }
}

fn tracker_component(state: &Shared) -> Component {
    let stats = state.tracker.stats();
    let mut issues = Vec::new();
    let mut score: i32 = 100;
    let handled = stats.announces + stats.scrapes + stats.refused;
    if handled >= 20 && stats.rate_limited * 2 > handled {
        score -= 30;
        issues.push(format!(
            "{} of {handled} tracker requests were rate-limited",
            stats.rate_limited
        ));
    }
    Component {
        name: "tracker",
        score: score.clamp(0, 100) as u8,
        weight: 35,
        issues,
    }
}

fn dht_component() -> Component {
    Component {
        name: "dht",
        score: 0,
        weight: 25,
        issues: vec!["the DHT node is not part of this build yet".to_owned()],
    }
}

/// The weighted score of `components`.
fn overall(components: &[Component]) -> u8 {
    let weights: u32 = components.iter().map(|c| u32::from(c.weight)).sum();
    let total: u32 = components
        .iter()
        .map(|c| u32::from(c.score) * u32::from(c.weight))
        .sum();
    (total + weights / 2).checked_div(weights).unwrap_or(0) as u8
}

/// `GET /api/health`: 200 while the score is at least 50, else 503.
pub(super) async fn health(State(state): State<Shared>) -> Result<Response, ApiError> {
    let probe_state = state.clone();
    let probe = blocking(move || webseed_probe(&probe_state)).await?;
    let components = vec![probe.component, tracker_component(&state), dht_component()];
    let score = overall(&components);
    let status = match score {
        80.. => "healthy",
        50..=79 => "degraded",
        _ => "unhealthy",
    };
    let code = if score >= 50 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let issues: Vec<String> = components
        .iter()
        .flat_map(|c| c.issues.iter().map(move |i| format!("{}: {i}", c.name)))
        .collect();
    let body = json!({
        "status": status,
        "score": score,
        "components": components,
        "issues": issues,
    });
    Ok((code, Json(body)).into_response())
}

/// `GET /api/webseed/health`.
pub(super) async fn webseed_health(
    State(state): State<Shared>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let probe_state = state.clone();
    let probe = blocking(move || webseed_probe(&probe_state)).await?;
    let cache = state.catalog.cache().stats();
    Ok(Json(json!({
        "score": probe.component.score,
        "issues": probe.component.issues,
        "probe_ms": probe.probe_ms,
        "probed": probe.probed,
        "base_url": format!("{}/webseed/", state.links.base()),
        "requests": get(&state.metrics.webseed_requests),
        "errors": get(&state.metrics.webseed_errors),
        "bytes": get(&state.metrics.webseed_bytes),
        "cache_hit_ratio": cache.hit_ratio(),
    })))
}

/// `GET /api/diagnostics`: what a bug report needs.
pub(super) async fn diagnostics(
    State(state): State<Shared>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let check_state = state.clone();
    let database = blocking(move || {
        use swarmgate_blobstore::MetadataStore;
        check_state.catalog.meta().integrity_check()
    })
    .await?;
    let config = &state.config;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "data_dir": config.data_dir.display().to_string(),
        "public_url": state.links.base(),
        "listening": {
            "http": state.bound.http.to_string(),
            "udp_tracker": state.bound.udp.to_string(),
            "peers": state.bound.peer.to_string(),
        },
        "database": match database {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        },
        "limits": {
            "max_upload_size": config.max_upload_size,
            "max_concurrent_uploads": config.max_concurrent_uploads,
            "uploads_in_progress": config.max_concurrent_uploads - state.uploads.available_permits(),
            "uploads_per_minute": config.uploads_per_minute,
            "requests_per_second": config.requests_per_second,
            "announces_per_second": config.announces_per_second,
            "request_timeout_seconds": config.request_timeout.as_secs(),
        },
        "tracker_open": config.open_tracker,
        "deletion_enabled": config.admin_token.is_some(),
    })))
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<Shared>) -> Response {
    let mut out = String::new();
    let m = &state.metrics;
    let (files, bytes) = state.catalog.totals();
    let cache = state.catalog.cache().stats();
    let seeder = state.seeder.stats();
    let tracker = state.tracker.stats();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP swarmgate_{name} {help}");
        let _ = writeln!(out, "# TYPE swarmgate_{name} {kind}");
        let _ = writeln!(out, "swarmgate_{name} {value}");
    };
    metric("files", "gauge", "Files stored.", files.to_string());
    metric(
        "stored_bytes",
        "gauge",
        "Bytes of stored files.",
        bytes.to_string(),
    );
    metric(
        "uploads_total",
        "counter",
        "New files uploaded.",
        get(&m.uploads).to_string(),
    );
    metric(
        "upload_bytes_total",
        "counter",
        "Bytes of new uploads.",
        get(&m.upload_bytes).to_string(),
    );
    metric(
        "failed_uploads_total",
        "counter",
        "Uploads refused or broken off.",
        get(&m.failed_uploads).to_string(),
    );
    metric(
        "downloads_total",
        "counter",
        "Answers of /api/download.",
        get(&m.downloads).to_string(),
    );
    metric(
        "download_bytes_total",
        "counter",
        "Bytes sent by /api/download.",
        get(&m.download_bytes).to_string(),
    );
    metric(
        "webseed_requests_total",
        "counter",
        "Web seed requests.",
        get(&m.webseed_requests).to_string(),
    );
    metric(
        "webseed_bytes_total",
        "counter",
        "Bytes sent by the web seed.",
        get(&m.webseed_bytes).to_string(),
    );
    metric(
        "peer_bytes_total",
        "counter",
        "Bytes uploaded to peers.",
        seeder.uploaded.to_string(),
    );
    metric(
        "peers",
        "gauge",
        "Peers connected to the seeder.",
        seeder.peers.to_string(),
    );
    metric(
        "cache_hits_total",
        "counter",
        "Piece cache hits.",
        cache.hits.to_string(),
    );
    metric(
        "cache_misses_total",
        "counter",
        "Piece cache misses.",
        cache.misses.to_string(),
    );
    metric(
        "cache_hit_ratio",
        "gauge",
        "Piece cache hit ratio.",
        format!("{:.4}", cache.hit_ratio()),
    );
    metric(
        "announces_total",
        "counter",
        "Tracker announces handled.",
        tracker.announces.to_string(),
    );
    metric(
        "scrapes_total",
        "counter",
        "Tracker torrents scraped.",
        tracker.scrapes.to_string(),
    );
    metric(
        "tracker_peers",
        "gauge",
        "Peers in the tracker's swarms.",
        (tracker.seeders + tracker.leechers).to_string(),
    );
    metric(
        "rate_limited_total",
        "counter",
        "HTTP requests refused by a rate limit.",
        get(&m.rate_limited).to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP swarmgate_http_requests_total HTTP answers by status class."
    );
    let _ = writeln!(out, "# TYPE swarmgate_http_requests_total counter");
    for (class, counter) in [
        ("ok", &m.requests.ok),
        ("client_error", &m.requests.client_error),
        ("server_error", &m.requests.server_error),
    ] {
        let _ = writeln!(
            out,
            "swarmgate_http_requests_total{{class=\"{class}\"}} {}",
            get(counter)
        );
    }
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overall_score_weighs_components() {
        let c = |score, weight| Component {
            name: "x",
            score,
            weight,
            issues: Vec::new(),
        };
        assert_eq!(overall(&[c(100, 40), c(100, 35), c(0, 25)]), 75);
        assert_eq!(overall(&[c(50, 40), c(100, 35), c(100, 25)]), 80);
        assert_eq!(overall(&[]), 0);
    }
}
