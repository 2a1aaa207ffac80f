//! The gateway's Blossom server over its catalog: a blob uploaded through Blossom is a stored
//! file (torrent, web seed, tracker, download API), a file uploaded through the API is a blob,
//! ownership and deletion follow BUD-12 over the same records; and a real client
//! (blossom-client-sdk in Node, ignored unless `npm ci` ran in tests/node) round-trips.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag, Timestamp};
use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_blossom::{TokenEncoding, authorization_header};
use swarmgate_metainfo::Torrent;

use crate::support::{Gateway, json_of, small, workspace};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `Authorization: Nostr …` for `verb` on `sha256`, signed by `keys`, valid for a minute.
pub(crate) fn token(keys: &Keys, verb: &str, sha256: &str) -> String {
    let expiration = (now() + 60).to_string();
    let tags = [
        vec!["t", verb],
        vec!["x", sha256],
        vec!["expiration", &expiration],
        vec!["server", "127.0.0.1"],
    ]
    .map(|tag| Tag::parse(tag).unwrap());
    let event = EventBuilder::new(Kind::Custom(24242), "swarmgate test")
        .tags(tags)
        .custom_created_at(Timestamp::from(now() - 1))
        .sign_with_keys(keys)
        .unwrap();
    authorization_header(event.as_json(), TokenEncoding::UrlSafe)
}

pub(crate) fn blossom_url(gateway: &Gateway, path: &str) -> String {
    format!(
        "{}{path}",
        gateway.blossom.as_deref().expect("a Blossom port")
    )
}

/// `PUT /upload` of `bytes` with a token of `keys`.
fn put_blob(
    gateway: &Gateway,
    keys: &Keys,
    bytes: &[u8],
    mime: &str,
) -> reqwest::blocking::Response {
    let sha = hex(&sha2_256(bytes));
    gateway
        .http
        .put(blossom_url(gateway, "/upload"))
        .header("authorization", token(keys, "upload", &sha))
        .header("content-type", mime)
        .header("x-sha-256", &sha)
        .body(bytes.to_vec())
        .send()
        .unwrap()
}

pub(crate) fn sha2_256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_blossom_upload_is_a_torrent_and_an_api_upload_is_a_blob() {
    let (_dir, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let keys = Keys::generate();
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex(&sha2_256(&bytes));

    // Blossom in: 201 with a descriptor carrying the BitTorrent links.
    let descriptor = json_of(
        put_blob(&gateway, &keys, &bytes, "video/mp4"),
        StatusCode::CREATED,
        "a Blossom upload",
    );
    assert_eq!(descriptor["sha256"], sha.as_str());
    assert_eq!(descriptor["size"], bytes.len());
    assert_eq!(
        descriptor["url"],
        blossom_url(&gateway, &format!("/{sha}.mp4"))
    );
    let info_hash = descriptor["infohash"].as_str().expect("an info-hash");
    assert!(
        descriptor["magnet"]
            .as_str()
            .unwrap()
            .starts_with(&format!("magnet:?xt=urn:btih:{info_hash}"))
    );
    assert!(
        descriptor["nip94"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t[0] == "fallback" && t[1] == gateway.at(&format!("/webseed/{sha}")))
    );
    // The same bytes again: 200.
    let again = put_blob(&gateway, &keys, &bytes, "video/mp4");
    assert_eq!(again.status(), StatusCode::OK);

    // BitTorrent and HTTP out: the torrent, the web seed and the download API.
    let record = gateway.get_json(&format!("/api/files/{sha}"), StatusCode::OK);
    assert_eq!(record["info_hash"], info_hash);
    assert_eq!(record["owners"][0], keys.public_key().to_hex());
    assert_eq!(
        record["blossom_url"],
        blossom_url(&gateway, &format!("/{sha}.mp4"))
    );
    let torrent = gateway
        .get(&format!("/api/torrent/{sha}.torrent"))
        .bytes()
        .unwrap();
    let torrent = Torrent::from_bytes(&torrent).expect("a valid torrent");
    assert_eq!(torrent.info_hash().v1().unwrap().to_hex(), info_hash);
    assert_eq!(
        gateway.download_sha256(&format!("/webseed/{sha}"), bytes.len() as u64),
        sha
    );
    assert_eq!(
        gateway.download_sha256(&format!("/api/download/{sha}"), bytes.len() as u64),
        sha
    );
    let scrape = gateway
        .get(&format!("/scrape?info_hash={}", percent_bytes(info_hash)))
        .bytes()
        .unwrap();
    assert!(
        scrape.windows(5).any(|w| w == b"files") && scrape.len() > 40,
        "the tracker knows the Blossom upload"
    );

    // API in, Blossom out: GET and HEAD with the real type, ranges.
    let fixture = small();
    let answer = json_of(
        gateway.upload_raw(fixture, "notes.md"),
        StatusCode::CREATED,
        "an API upload",
    );
    let url = answer["blossom_url"].as_str().expect("a blossom_url");
    assert!(url.ends_with(".md") || url.ends_with(".bin"), "{url}");
    let head = gateway.http.head(url).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], fixture.size.to_string());
    assert_eq!(head.headers()["access-control-allow-origin"], "*");
    let range = gateway
        .http
        .get(blossom_url(&gateway, &format!("/{}", fixture.sha256)))
        .header("range", "bytes=1000-1999")
        .send()
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.bytes().unwrap().as_ref(), fixture.bytes(1000, 1000));
    // Nobody owns an API upload: a Blossom delete cannot take it away.
    let delete = gateway
        .http
        .delete(blossom_url(&gateway, &format!("/{}", fixture.sha256)))
        .header("authorization", token(&keys, "delete", &fixture.sha256))
        .send()
        .unwrap();
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    assert!(delete.headers().contains_key("x-reason"));
    gateway.assert_serves(fixture);

    // The owner's delete: gone from every way out.
    let listed = json_of(
        gateway
            .http
            .get(blossom_url(
                &gateway,
                &format!("/list/{}", keys.public_key().to_hex()),
            ))
            .send()
            .unwrap(),
        StatusCode::OK,
        "a list",
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let delete = gateway
        .http
        .delete(blossom_url(&gateway, &format!("/{sha}")))
        .header("authorization", token(&keys, "delete", &sha))
        .send()
        .unwrap();
    assert!(delete.status().is_success(), "{}", delete.status());
    assert_eq!(
        gateway.get(&format!("/api/files/{sha}")).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gateway.get(&format!("/webseed/{sha}")).status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_blossom_upload_that_is_not_its_announced_hash_leaves_nothing() {
    let (_dir, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let keys = Keys::generate();
    let claimed = hex(&sha2_256(b"what the client said"));
    let response = gateway
        .http
        .put(blossom_url(&gateway, "/upload"))
        .header("authorization", token(&keys, "upload", &claimed))
        .header("x-sha-256", &claimed)
        .body(b"what the client sent".to_vec())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.headers().contains_key("x-reason"));
    let files = gateway.get_json("/api/files", StatusCode::OK);
    assert_eq!(files["total"], 0, "{files}");
}

#[test]
fn without_blossom_the_answers_say_so() {
    let (_dir, data) = workspace();
    let gateway = Gateway::start(&data, &["--no-blossom"]);
    assert!(gateway.blossom.is_none());
    let answer = json_of(
        gateway.upload_raw(small(), "a.bin"),
        StatusCode::CREATED,
        "an upload",
    );
    assert!(answer.get("blossom_url").is_none(), "{answer}");
}

/// Percent-encodes a hex info-hash's bytes for a tracker query.
fn percent_bytes(hex: &str) -> String {
    (0..hex.len())
        .step_by(2)
        .map(|i| format!("%{}", &hex[i..i + 2]))
        .collect()
}

/// The Node folder of the real clients, if `npm ci` ran there.
fn node_clients() -> Option<&'static Path> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"));
    dir.join("node_modules/blossom-client-sdk")
        .exists()
        .then_some(dir)
}

#[test]
#[ignore = "needs node and `npm ci` in bins/gateway/tests/node"]
fn blossom_client_sdk_round_trip() {
    let dir = node_clients().expect("run `npm ci` in bins/gateway/tests/node first");
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--blossom-mirror-private"]);
    let server = gateway.blossom.clone().expect("a Blossom port");
    let output = Command::new("node")
        .arg(dir.join("blossom_client.mjs"))
        .arg(&server)
        .current_dir(dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Node client failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        gateway.tail()
    );
    let summary: Value =
        serde_json::from_str(stdout.lines().last().expect("a summary line")).unwrap();
    // What the client uploaded and mirrored is a stored file with a torrent; what it deleted
    // is gone.
    for key in ["mirrored", "legacy"] {
        let sha = summary[key].as_str().unwrap();
        let record = gateway.get_json(&format!("/api/files/{sha}"), StatusCode::OK);
        assert!(record["info_hash"].is_string());
    }
    let deleted = summary["uploaded"].as_str().unwrap();
    assert_eq!(
        gateway.get(&format!("/api/files/{deleted}")).status(),
        StatusCode::NOT_FOUND
    );
    let reports = std::fs::read_to_string(data.join("blossom-reports.jsonl")).unwrap();
    assert!(reports.contains(summary["mirrored"].as_str().unwrap()));
}
