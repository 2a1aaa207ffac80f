//! What the services report and how the gateway is configured: media types detected at upload
//! and sent by the download API and the web seed, `/metrics` agreeing with `/api/stats`, the
//! diagnostics naming the bound ports, and a settings file in sections.

use reqwest::StatusCode;

use super::support::{Gateway, json_of, workspace};

/// Uploads `body` raw as `name`, declared as `declared`, and returns the answer.
fn upload_bytes(gateway: &Gateway, body: Vec<u8>, name: &str, declared: &str) -> serde_json::Value {
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", name)
        .header("Content-Type", declared)
        .body(body)
        .send()
        .expect("upload");
    json_of(response, StatusCode::CREATED, name)
}

fn media_type(gateway: &Gateway, path: &str) -> String {
    let response = gateway.get(path);
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[test]
fn media_types_are_detected_stored_and_served_and_metrics_agree_with_stats() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
        .iter()
        .copied()
        .chain((0..50_000u32).map(|i| (i % 251) as u8))
        .collect();
    // curl --data-binary labels everything x-www-form-urlencoded: the bytes decide.
    let picture = upload_bytes(
        &gateway,
        png,
        "picture.bin",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(picture["mime"], "image/png", "{picture}");
    let notes = upload_bytes(
        &gateway,
        b"plain words\n".repeat(100),
        "notes.txt",
        "application/octet-stream",
    );
    assert_eq!(notes["mime"], "text/plain", "{notes}");
    for (answer, expected) in [(&picture, "image/png"), (&notes, "text/plain")] {
        let sha = answer["sha256"].as_str().expect("sha256");
        assert_eq!(
            media_type(&gateway, &format!("/api/download/{sha}")),
            expected
        );
        assert_eq!(media_type(&gateway, &format!("/webseed/{sha}")), expected);
        let stored = gateway.get_json(&format!("/api/files/{sha}"), StatusCode::OK);
        assert_eq!(&stored, answer, "the stored record is the answer");
        assert_eq!(stored["owners"], serde_json::json!([]));
    }

    let stats = gateway.stats();
    let response = gateway.get("/metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = response.text().expect("the metrics");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
            .parse()
            .expect("a number")
    };
    assert_eq!(value("swarmgate_files"), 2.0);
    assert_eq!(
        value("swarmgate_uploads_total"),
        stats["uploads"].as_f64().unwrap()
    );
    assert_eq!(
        value("swarmgate_upload_bytes_total"),
        stats["upload_bytes"].as_f64().unwrap()
    );
    assert_eq!(value("swarmgate_webseed_requests_total"), 2.0);
    assert!(value("swarmgate_http_requests_total{class=\"ok\"}") >= 8.0);
    // The services' own tasks at least (accept loops, the seeder, the DHT, the tracker).
    assert!(value("swarmgate_runtime_tasks") >= 4.0);
    assert!(value("swarmgate_runtime_workers") >= 1.0);
    for family in [
        "# TYPE swarmgate_peer_bytes_total counter",
        "# TYPE swarmgate_peers gauge",
        "# TYPE swarmgate_announces_total counter",
        "# TYPE swarmgate_tracker_peers gauge",
        "# TYPE swarmgate_cache_hit_ratio gauge",
        "# TYPE swarmgate_rate_limited_total counter",
    ] {
        assert!(
            metrics.lines().any(|l| l == family),
            "{family} in\n{metrics}"
        );
    }

    let diagnostics = gateway.get_json("/api/diagnostics", StatusCode::OK);
    assert_eq!(
        diagnostics["listening"]["udp_tracker"],
        gateway.udp.to_string()
    );
    assert_eq!(diagnostics["listening"]["peers"], gateway.peer.to_string());
    assert_eq!(diagnostics["database"], "ok");
}

#[test]
fn a_settings_file_in_sections_is_applied_under_the_flags() {
    let (tmp, data) = workspace();
    let config = tmp.path().join("gateway.toml");
    std::fs::write(
        &config,
        "log = \"info\"\n[api]\nmax_upload_size = \"1K\"\n[tracker]\nannounce_interval = 60\n",
    )
    .unwrap();
    let gateway = Gateway::start(&data, &["--config", config.to_str().unwrap()]);
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", "big.bin")
        .body(vec![1u8; 2048])
        .send()
        .expect("upload");
    json_of(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "over the file's limit",
    );
    let diagnostics = gateway.get_json("/api/diagnostics", StatusCode::OK);
    assert_eq!(diagnostics["limits"]["max_upload_size"], 1024);
}
