//! Floods over the rate limits of a gateway started with `--requests-per-second 5
//! --uploads-per-minute 2 --announces-per-second 5`: downloads, uploads and announces each get
//! 429 with a Retry-After (a JSON `rate_limited` error from the API, a bencoded failure from the
//! tracker), and a download works again once the wait is over; DELETE on a gateway without an
//! admin token is 403.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Response;
use swarmgate_testkit::programs::{hex_decode, url_encode};

use super::bad_input::TOKEN;
use super::support::{Gateway, assert_error, json_of, workspace};

/// Fires `count` requests; asserts at least one is 429 (a JSON `rate_limited` error or, from the
/// tracker, a bencoded failure) with a `Retry-After` of at least a second, and that the others
/// are 200/201/206. Returns the largest Retry-After.
fn flood(count: usize, what: &str, mut send: impl FnMut(usize) -> Response) -> u64 {
    let mut limited = 0;
    let mut wait = 0;
    for i in 0..count {
        let response = send(i);
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            let retry: u64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"));
            assert!(retry >= 1, "{what}: Retry-After {retry}");
            wait = wait.max(retry);
            let media = response.headers().get("content-type").cloned();
            let body = response.bytes().expect("the body");
            if media.as_ref().is_some_and(|m| m == "application/json") {
                let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(json["code"], "rate_limited", "{what}: {json}");
            } else {
                assert!(body.starts_with(b"d14:failure reason"), "{what}: {body:?}");
            }
        } else {
            assert!(status.is_success(), "{what} #{i}: {status}");
        }
    }
    assert!(limited > 0, "{what}: none of {count} was limited");
    wait
}

#[test]
fn floods_over_the_rate_limits_get_429_with_retry_after_and_no_token_forbids_delete() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(
        &data,
        &[
            "--requests-per-second",
            "5",
            "--uploads-per-minute",
            "2",
            "--announces-per-second",
            "5",
        ],
    );
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", "rate.bin")
        .body(vec![1u8; 50_000])
        .send()
        .expect("upload");
    let answer = json_of(response, StatusCode::CREATED, "upload");
    let sha = answer["sha256"].as_str().expect("sha256").to_owned();
    let info_hash = hex_decode(answer["info_hash"].as_str().expect("info_hash"));

    let delete = gateway
        .http
        .delete(gateway.at(&format!("/api/files/{sha}")))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .expect("DELETE");
    assert_error(
        delete,
        StatusCode::FORBIDDEN,
        "deletion_disabled",
        "no token configured",
    );

    let download = format!("/api/download/{sha}");
    let wait = flood(40, "downloads", |_| {
        gateway.http.get(gateway.at(&download)).send().expect("GET")
    });
    std::thread::sleep(Duration::from_secs(wait));
    let again = gateway.http.get(gateway.at(&download)).send().expect("GET");
    assert_eq!(again.status(), StatusCode::OK, "after Retry-After");
    assert_eq!(again.bytes().expect("the body").len(), 50_000);

    flood(8, "uploads", |i| {
        gateway
            .http
            .post(gateway.at("/api/upload"))
            .header("X-Filename", format!("flood-{i}.bin"))
            .body(format!("flood {i}").into_bytes())
            .send()
            .expect("upload")
    });
    let announce = format!(
        "/announce?info_hash={}&peer_id=-XX0001-abcdefghijkl&port=6881&left=100&compact=1",
        url_encode(&info_hash)
    );
    flood(40, "announces", |_| {
        gateway
            .http
            .get(gateway.at(&announce))
            .send()
            .expect("announce")
    });
}

/// `--tracker-max-peers-per-torrent 3`: a fourth peer of a swarm gets a bencoded failure, the
/// three it holds (the gateway's own seed among them) announce as before, and a peer that
/// leaves makes room again.
#[test]
fn a_full_swarm_refuses_new_peers_and_keeps_its_own() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--tracker-max-peers-per-torrent", "3"]);
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", "swarm.bin")
        .body(vec![2u8; 40_000])
        .send()
        .expect("upload");
    let answer = json_of(response, StatusCode::CREATED, "upload");
    let info_hash = url_encode(&hex_decode(
        answer["info_hash"].as_str().expect("info_hash"),
    ));
    let announce = |port: u16, event: &str| -> String {
        let url = format!(
            "/announce?info_hash={info_hash}&peer_id=-XX0001-{port:012}&port={port}\
             &left=100&compact=1{event}"
        );
        let response = gateway.http.get(gateway.at(&url)).send().expect("announce");
        assert_eq!(response.status(), StatusCode::OK);
        String::from_utf8_lossy(&response.bytes().expect("a body")).into_owned()
    };
    // The gateway's own seed holds one place: two leechers fill the swarm.
    for port in [7001, 7002] {
        let body = announce(port, "");
        assert!(!body.contains("failure reason"), "{port}: {body}");
    }
    let full = announce(7003, "");
    assert!(full.starts_with("d14:failure reason"), "{full}");
    assert!(
        !announce(7001, "").contains("failure reason"),
        "a member re-announces"
    );
    assert!(!announce(7002, "&event=stopped").contains("failure reason"));
    let body = announce(7003, "");
    assert!(
        !body.contains("failure reason"),
        "room after a leave: {body}"
    );
}
