//! Uploads (raw and multipart, 201 then 200 for the same bytes again) and the download API:
//! whole files byte-exact, ranges (first and last byte, across a 2 MiB chunk boundary, suffix,
//! open-ended), 416 past the end, HEAD, If-None-Match, and the web seed serving the same bytes.

use std::time::Instant;

use reqwest::StatusCode;

use super::support::{Fixture, Gateway, assert_error, big, small, workspace};
use super::uploads::{Stored, upload, upload_both};

#[test]
fn uploads_are_acknowledged_with_their_links_and_downloads_are_byte_exact() {
    let started = Instant::now();
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let stored = upload_both(&gateway);
    let uploaded = started.elapsed();

    // The same bytes again, the other way and under another name: 200 and the same file.
    let again = upload(&gateway, small(), "again.bin", true, StatusCode::OK);
    assert_eq!(again.field("info_hash"), stored[0].field("info_hash"));
    assert_eq!(again.field("name"), "small.bin", "the first name stays");

    let list = gateway.get_json("/api/files", StatusCode::OK);
    assert_eq!(list["total"], 2, "{list}");
    let listed: Vec<&str> = list["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["sha256"].as_str())
        .collect();
    assert!(listed.contains(&small().sha256.as_str()) && listed.contains(&big().sha256.as_str()));
    for file in &stored {
        let sha = &file.fixture.sha256;
        let metadata = gateway.get_json(&format!("/api/files/{sha}"), StatusCode::OK);
        assert_eq!(metadata, file.answer);
        let magnet = gateway.get_json(&format!("/api/magnet/{sha}"), StatusCode::OK);
        assert_eq!(magnet["magnet"], file.answer["magnet"]);
        assert_eq!(magnet["info_hash"], file.answer["info_hash"]);
        gateway.assert_serves(file.fixture);
        ranges(&gateway, file);
    }
    let p2p = gateway.get_json("/api/p2p/stats", StatusCode::OK);
    assert_eq!(p2p["peer_addr"], gateway.peer.to_string(), "{p2p}");
    assert_eq!(p2p["seeder"]["torrents"], 2, "{p2p}");
    assert_eq!(p2p["tracker"]["allowed"], 2, "{p2p}");
    let stats = gateway.stats();
    assert_eq!(stats["files"], 2, "{stats}");
    assert_eq!(stats["uploads"], 2, "{stats}");
    assert_eq!(stats["duplicate_uploads"], 1, "{stats}");
    eprintln!("uploads {uploaded:?}, all {:?}", started.elapsed());
}

/// One ranged GET: status, Content-Range and body.
fn get_range(gateway: &Gateway, path: &str, range: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = gateway
        .http
        .get(gateway.at(path))
        .header("Range", range)
        .send()
        .unwrap_or_else(|e| panic!("GET {path} Range {range}: {e}"));
    let status = response.status();
    let content_range = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().expect("the body").to_vec();
    (status, content_range, body)
}

/// Asserts `range` gives 206 with bytes `first..=last` of `fixture`.
fn assert_partial(
    gateway: &Gateway,
    path: &str,
    fixture: &Fixture,
    range: &str,
    first: u64,
    last: u64,
) {
    let (status, content_range, body) = get_range(gateway, path, range);
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{path} {range}");
    assert_eq!(
        content_range.as_deref(),
        Some(format!("bytes {first}-{last}/{}", fixture.size).as_str()),
        "{path} {range}"
    );
    assert!(
        body == fixture.bytes(first, last - first + 1),
        "{path} {range}: other bytes"
    );
}

fn ranges(gateway: &Gateway, file: &Stored) {
    let fixture = file.fixture;
    let size = fixture.size;
    let boundary = 2 * 1024 * 1024;
    for path in [
        format!("/api/download/{}", fixture.sha256),
        format!("/webseed/{}", fixture.sha256),
    ] {
        assert_partial(gateway, &path, fixture, "bytes=0-0", 0, 0);
        let last = format!("bytes={}-{}", size - 1, size - 1);
        assert_partial(gateway, &path, fixture, &last, size - 1, size - 1);
        let across = format!("bytes={}-{}", boundary - 1000, boundary + 999);
        assert_partial(
            gateway,
            &path,
            fixture,
            &across,
            boundary - 1000,
            boundary + 999,
        );
        assert_partial(
            gateway,
            &path,
            fixture,
            "bytes=-1000",
            size - 1000,
            size - 1,
        );
        let open = format!("bytes={}-", size - 300_000);
        assert_partial(gateway, &path, fixture, &open, size - 300_000, size - 1);
        let (status, content_range, _) = get_range(gateway, &path, &format!("bytes={size}-"));
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{path}");
        assert_eq!(content_range, Some(format!("bytes */{size}")), "{path}");
    }
    let path = format!("/api/download/{}", fixture.sha256);
    let past = gateway
        .http
        .get(gateway.at(&path))
        .header("Range", format!("bytes={}-{}", size + 10, size + 20))
        .send()
        .expect("GET past the end");
    assert_error(
        past,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        &path,
    );

    let head = gateway.http.head(gateway.at(&path)).send().expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    let headers = head.headers().clone();
    assert_eq!(headers["content-length"], size.to_string().as_str());
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(
        headers["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.contains(file.name)),
        "{headers:?}"
    );
    assert!(head.bytes().expect("no body").is_empty());
    let etag = headers["etag"].clone();
    let cached = gateway
        .http
        .get(gateway.at(&path))
        .header("If-None-Match", etag.clone())
        .send()
        .expect("GET If-None-Match");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers().get("etag"), Some(&etag));
    assert!(cached.bytes().expect("no body").is_empty());
    let other = gateway
        .http
        .get(gateway.at(&path))
        .header("If-None-Match", "\"another\"")
        .header("Range", "bytes=0-9")
        .send()
        .expect("GET with another ETag");
    assert_eq!(other.status(), StatusCode::PARTIAL_CONTENT);
}

/// `--max-files 1`: a second file is refused with 507 `too_many_files` and leaves nothing, the
/// stored one is still served and uploaded again with 200, and a delete makes room.
#[test]
fn past_max_files_uploads_get_507_until_a_file_is_deleted() {
    let (_tmp, data) = workspace();
    let token = super::bad_input::TOKEN;
    let gateway = Gateway::start(&data, &["--max-files", "1", "--admin-token", token]);
    let kept = upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    let refused = gateway.upload_raw(big(), "big.bin");
    assert_error(
        refused,
        StatusCode::INSUFFICIENT_STORAGE,
        "too_many_files",
        "a second file",
    );
    upload(&gateway, small(), "again.bin", true, StatusCode::OK);
    gateway.assert_serves(small());
    let files = gateway.get_json("/api/files", StatusCode::OK);
    assert_eq!(files["total"], 1);
    let deleted = gateway
        .http
        .delete(gateway.at(&format!("/api/files/{}", kept.field("sha256"))))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .expect("DELETE");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    upload(&gateway, big(), "big.bin", true, StatusCode::CREATED);
}
