//! `/api/health` and `/api/webseed/health`: a score of 0 to 100 per component, weighted web seed
//! 40, tracker 35, DHT 25 (DESIGN.md's weights), each with the issues that cost it points.
//!
//! Each service reports its own component ([`Service::health`](crate::services::Service)); the
//! web seed's comes from a live probe (the newest file's first bytes read through the verifying
//! cache) and its error ratio, the tracker's from its refusals, the DHT's from its routing
//! table's good nodes and its recent lookups' answers (0 when the gateway runs with `--no-dht`),
//! Nostr's (weight 10, only with relays configured) from the share of relays connected.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Sources;
use crate::http::{ApiError, blocking};
use crate::services::Health;

/// `GET /api/health`: 200 while the score is at least 50, else 503.
#[derive(Debug, Serialize)]
pub(crate) struct HealthAnswer {
    /// `healthy` (80 and up), `degraded` (50 to 79) or `unhealthy`.
    pub status: &'static str,
    /// The weighted score, 0 to 100.
    pub score: u8,
    /// Each component.
    pub components: Vec<Health>,
    /// Every component's issues, prefixed with its name.
    pub issues: Vec<String>,
}

/// `GET /api/webseed/health`.
#[derive(Debug, Serialize)]
pub(crate) struct WebSeedHealthAnswer {
    /// The web seed's score.
    pub score: u8,
    /// What costs it points.
    pub issues: Vec<String>,
    /// How long the probe read took, milliseconds (none when nothing is stored).
    pub probe_ms: Option<f64>,
    /// The sha256 of the file probed.
    pub probed: Option<String>,
    /// Where the web seed is.
    pub base_url: String,
    /// Requests answered.
    pub requests: u64,
    /// Answers that were errors.
    pub errors: u64,
    /// Body bytes sent.
    pub bytes: u64,
    /// The piece cache's hit ratio.
    pub cache_hit_ratio: f64,
}

/// The DHT's component when the gateway runs without one (`--no-dht`).
fn no_dht() -> Health {
    Health {
        name: "dht",
        score: 0,
        weight: 25,
        issues: vec!["no DHT node runs (--no-dht)".to_owned()],
    }
}

/// The weighted score of `components`.
fn overall(components: &[Health]) -> u8 {
    let weights: u32 = components.iter().map(|c| u32::from(c.weight)).sum();
    let total: u32 = components
        .iter()
        .map(|c| u32::from(c.score) * u32::from(c.weight))
        .sum();
    (total + weights / 2).checked_div(weights).unwrap_or(0) as u8
}

pub(super) async fn health(State(sources): State<Arc<Sources>>) -> Result<Response, ApiError> {
    let probing = Arc::clone(&sources);
    let mut components: Vec<Health> = blocking(move || {
        probing
            .services
            .iter()
            .filter_map(|service| service.health())
            .collect()
    })
    .await?;
    if sources.dht.is_none() {
        components.push(no_dht());
    }
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
    let issues = components
        .iter()
        .flat_map(|c| c.issues.iter().map(move |i| format!("{}: {i}", c.name)))
        .collect();
    let answer = HealthAnswer {
        status,
        score,
        components,
        issues,
    };
    Ok((code, Json(answer)).into_response())
}

pub(super) async fn webseed_health(
    State(sources): State<Arc<Sources>>,
) -> Result<Json<WebSeedHealthAnswer>, ApiError> {
    let webseed = Arc::clone(&sources.webseed);
    let probe = blocking(move || webseed.probe()).await?;
    let stats = sources.webseed.stats();
    Ok(Json(WebSeedHealthAnswer {
        score: probe.health.score,
        issues: probe.health.issues,
        probe_ms: probe.probe_ms,
        probed: probe.probed,
        base_url: format!("{}/webseed/", sources.catalog.links().base()),
        requests: stats.requests,
        errors: stats.errors,
        bytes: stats.bytes,
        cache_hit_ratio: sources.catalog.cache().stats().hit_ratio(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overall_score_weighs_components() {
        let c = |score, weight| Health {
            name: "x",
            score,
            weight,
            issues: Vec::new(),
        };
        assert_eq!(overall(&[c(100, 40), c(100, 35), c(0, 25)]), 75);
        assert_eq!(overall(&[c(50, 40), c(100, 35), c(100, 25)]), 80);
        assert_eq!(overall(&[]), 0);
        assert_eq!(no_dht().weight, 25);
    }
}
