//! Bad input gets its clear status, as JSON `{"error", "code"}` from the API, and the gateway
//! keeps serving (a normal download is checked after each): a truncated upload (400
//! `truncated`, nothing stored), uploads over `--max-upload-size` by Content-Length and
//! streamed without one (413), hostile Range headers (416 or 200 as RFC 9110 says, never 500),
//! unknown and malformed hashes (404, 400), a malformed announce (a bencoded failure reason),
//! DELETE with a wrong token (401) and the right one (204, then 404). Floods are in
//! `rate_limits`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Response;
use swarmgate_testkit::programs::url_encode;

use super::support::{Gateway, MIB, assert_error, entries, json_of, small, workspace};
use super::uploads::upload;

pub(crate) const TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// A raw HTTP/1.1 answer.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends `request` on a fresh connection (then half-closes it when `half_close`) and reads the
/// answer until the connection ends or its Content-Length is in (30 s at most); `None` when the
/// gateway closed without answering.
fn exchange(gateway: &Gateway, request: &[u8], half_close: bool) -> Option<Answer> {
    let mut stream = connect(gateway);
    // The gateway may answer and close before reading all of a refused body: keep reading.
    let _ = stream.write_all(request);
    if half_close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    read_answer(&mut stream)
}

fn connect(gateway: &Gateway) -> TcpStream {
    let addr = gateway.url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect to the gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    stream
}

fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..at]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| bytes.len() >= at + 4 + n) {
                break;
            }
        }
        if Instant::now() > deadline {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..at]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    Some(Answer {
        status,
        head,
        body: bytes[at + 4..].to_vec(),
    })
}

/// Asserts a raw answer is the API's JSON error with `status` and `code`.
fn assert_raw_error(answer: &Answer, status: u16, code: &str, what: &str) {
    let text = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, status, "{what}: {}\n{text}", answer.head);
    let body: serde_json::Value =
        serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert_eq!(body["code"], code, "{what}: {text}");
    assert!(
        body["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {text}"
    );
}

/// The number of files the gateway lists.
fn total(gateway: &Gateway) -> u64 {
    gateway.get_json("/api/files", StatusCode::OK)["total"]
        .as_u64()
        .expect("total")
}

/// Waits (5 s at most) until the gateway's tmp/ is empty again.
fn tmp_empties(gateway: &Gateway, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !entries(&gateway.data.join("tmp")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{what}: tmp/ keeps {:?}",
            entries(&gateway.data.join("tmp"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_uploads_ranges_hashes_announces_and_deletes_get_their_status() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--max-upload-size", "8M", "--admin-token", TOKEN]);
    upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);

    // Truncated: 3 MB announced, 1 MB sent, then the client's side closed.
    let mut request = b"POST /api/upload HTTP/1.1\r\nHost: gateway\r\nX-Filename: cut.bin\r\n\
        Content-Type: application/octet-stream\r\nContent-Length: 3000000\r\n\r\n"
        .to_vec();
    request.extend(std::iter::repeat_n(7u8, 1_000_000));
    if let Some(answer) = exchange(&gateway, &request, true) {
        assert_raw_error(&answer, 400, "truncated", "a truncated upload");
    }
    assert_eq!(total(&gateway), 1, "a truncated upload is not stored");
    tmp_empties(&gateway, "a truncated upload");
    gateway.assert_serves(small());

    // Over the limit by Content-Length: refused before the body.
    let request = format!(
        "POST /api/upload HTTP/1.1\r\nHost: gateway\r\nX-Filename: huge.bin\r\n\
         Content-Length: {}\r\n\r\n",
        9 * MIB
    );
    let answer = exchange(&gateway, request.as_bytes(), false).expect("an answer");
    assert_raw_error(&answer, 413, "too_large", "Content-Length over the limit");
    gateway.assert_serves(small());

    // Over the limit without a length: chunked, 12 MiB of it, written while the answer is read.
    let mut stream = connect(&gateway);
    let mut writer = stream.try_clone().expect("clone the stream");
    let sending = std::thread::spawn(move || {
        let head = "POST /api/upload HTTP/1.1\r\nHost: gateway\r\nX-Filename: stream.bin\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        let chunk = vec![9u8; 1 << 20];
        let mut result = writer.write_all(head.as_bytes());
        for _ in 0..12 {
            result = result
                .and_then(|()| write!(writer, "{:x}\r\n", chunk.len()))
                .and_then(|()| writer.write_all(&chunk))
                .and_then(|()| writer.write_all(b"\r\n"));
        }
        let _ = result.and_then(|()| writer.write_all(b"0\r\n\r\n"));
    });
    let answer = read_answer(&mut stream).expect("an answer");
    assert_raw_error(&answer, 413, "too_large", "a chunked upload over the limit");
    drop(stream);
    sending.join().expect("the sending thread");
    assert_eq!(total(&gateway), 1);
    tmp_empties(&gateway, "an upload over the limit");
    gateway.assert_serves(small());

    // Multipart whose boundary never comes: refused once 1 MiB + 64 KiB have arrived before
    // the `file` field, while the client is still sending, not held in memory until its end.
    let mut stream = connect(&gateway);
    let mut writer = stream.try_clone().expect("clone the stream");
    let sending = std::thread::spawn(move || {
        let head = "POST /api/upload HTTP/1.1\r\nHost: gateway\r\n\
                    Content-Type: multipart/form-data; boundary=never-sent\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        let chunk = vec![b'x'; 1 << 20];
        let mut result = writer.write_all(head.as_bytes());
        for _ in 0..4 {
            result = result
                .and_then(|()| write!(writer, "{:x}\r\n", chunk.len()))
                .and_then(|()| writer.write_all(&chunk))
                .and_then(|()| writer.write_all(b"\r\n"));
        }
        // No last chunk: the body has not ended when the answer must come.
        result
    });
    let answer = read_answer(&mut stream).expect("an answer before the body ends");
    assert_raw_error(
        &answer,
        400,
        "bad_multipart",
        "a multipart body with no boundary",
    );
    drop(stream);
    let _ = sending.join().expect("the sending thread");
    assert_eq!(total(&gateway), 1);
    gateway.assert_serves(small());

    // An empty upload.
    let empty = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", "empty.bin")
        .body(Vec::new())
        .send()
        .expect("an empty upload");
    assert_error(empty, StatusCode::BAD_REQUEST, "empty", "an empty upload");

    hostile_ranges(&gateway);
    unknown_and_malformed_hashes(&gateway);
    malformed_announces(&gateway);
    deletes_with_a_token(&gateway);
}

/// RFC 9110 §14.2: an invalid Range is ignored (200); a valid one no range of which overlaps
/// the file is 416 with `Content-Range: bytes */size`; a server may ignore multiple ranges.
fn hostile_ranges(gateway: &Gateway) {
    let size = small().size;
    for base in ["/api/download/", "/webseed/"] {
        let path = format!("{base}{}", small().sha256);
        let cases: [(&str, &[u16]); 9] = [
            ("bytes=999999999999-", &[416]),
            ("bytes=abc", &[200]),
            ("bytes=5-2", &[200]),
            ("bytes=-0", &[416]),
            ("bytes=0-18446744073709551616", &[200, 206]),
            ("bytes=18446744073709551615-", &[200, 416]),
            ("items=0-5", &[200]),
            ("bytes=0-1,4-5", &[200, 206]),
            ("bytes=", &[200]),
        ];
        for (range, allowed) in cases {
            let response = gateway
                .http
                .get(gateway.at(&path))
                .header("Range", range)
                .send()
                .unwrap_or_else(|e| panic!("GET {path} Range {range}: {e}"));
            let status = response.status().as_u16();
            assert!(allowed.contains(&status), "{path} Range {range}: {status}");
            let length = response.content_length();
            let content_range = response.headers().get("content-range").cloned();
            let body = response.bytes().expect("the body");
            match status {
                200 => assert_eq!(body.len() as u64, size, "{path} {range}"),
                206 => assert_eq!(length, Some(body.len() as u64), "{path} {range}"),
                _ => assert_eq!(
                    content_range.as_ref().and_then(|v| v.to_str().ok()),
                    Some(format!("bytes */{size}").as_str()),
                    "{path} {range}"
                ),
            }
        }
        let many = format!(
            "bytes={}",
            (0..2000)
                .map(|i| format!("{i}-{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let response = gateway
            .http
            .get(gateway.at(&path))
            .header("Range", many)
            .send()
            .expect("GET with 2000 ranges");
        assert!(
            [200, 206, 416].contains(&response.status().as_u16()),
            "{path} with 2000 ranges: {}",
            response.status()
        );
    }
    gateway.assert_serves(small());
}

fn unknown_and_malformed_hashes(gateway: &Gateway) {
    let unknown = "0123456789abcdef".repeat(4);
    for path in [
        format!("/api/download/{unknown}"),
        format!("/api/files/{unknown}"),
        format!("/api/magnet/{unknown}"),
        format!("/api/torrent/{unknown}.torrent"),
    ] {
        assert_error(
            gateway.get(&path),
            StatusCode::NOT_FOUND,
            "not_found",
            &path,
        );
    }
    let head = gateway
        .http
        .head(gateway.at(&format!("/api/download/{unknown}")))
        .send()
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_error(
        gateway.get("/api/nothing"),
        StatusCode::NOT_FOUND,
        "no_route",
        "/api/nothing",
    );
    for bad in [
        "abc",
        &"g".repeat(64),
        &"a".repeat(63),
        &"a".repeat(65),
        "%00",
    ] {
        for path in [
            format!("/api/download/{bad}"),
            format!("/api/files/{bad}"),
            format!("/api/magnet/{bad}"),
            format!("/api/torrent/{bad}.torrent"),
        ] {
            assert_error(
                gateway.get(&path),
                StatusCode::BAD_REQUEST,
                "invalid_hash",
                &path,
            );
        }
    }
    let limit = gateway.get("/api/files?limit=0");
    assert_error(limit, StatusCode::BAD_REQUEST, "invalid_limit", "limit=0");
    gateway.assert_serves(small());
}

/// The bencoded body of a tracker answer, asserting 200.
fn bencoded(response: Response, what: &str) -> String {
    assert_eq!(response.status(), StatusCode::OK, "{what}");
    String::from_utf8_lossy(&response.bytes().expect("the body")).into_owned()
}

fn malformed_announces(gateway: &Gateway) {
    let body = bencoded(gateway.get("/announce?info_hash=abc"), "info_hash=abc");
    assert!(body.starts_with("d14:failure reason"), "{body}");
    let body = bencoded(gateway.get("/announce"), "no parameters");
    assert!(body.starts_with("d14:failure reason"), "{body}");
    // A well-formed announce of a torrent this gateway does not store.
    let stranger = format!(
        "/announce?info_hash={}&peer_id=-XX0001-abcdefghijkl&port=6881&left=0&compact=1",
        url_encode(&[0x42; 20])
    );
    let body = bencoded(gateway.get(&stranger), "an unknown torrent");
    assert!(body.starts_with("d14:failure reason"), "{body}");
    gateway.assert_serves(small());
}

fn deletes_with_a_token(gateway: &Gateway) {
    let doomed: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", "doomed.bin")
        .body(doomed)
        .send()
        .expect("upload");
    let sha = json_of(response, StatusCode::CREATED, "upload")["sha256"]
        .as_str()
        .expect("sha256")
        .to_owned();
    let path = format!("/api/files/{sha}");
    let delete = |token: Option<&str>| {
        let mut request = gateway.http.delete(gateway.at(&path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request.send().expect("DELETE")
    };
    assert_error(
        delete(None),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "no token",
    );
    let wrong = "e2e-admin-token-0123456789abcdeX";
    assert_error(
        delete(Some(wrong)),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a wrong token",
    );
    assert_eq!(total(gateway), 2);
    let deleted = delete(Some(TOKEN));
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().expect("no body").is_empty());
    assert_error(
        gateway.get(&path),
        StatusCode::NOT_FOUND,
        "not_found",
        "after DELETE",
    );
    let download = format!("/api/download/{sha}");
    assert_error(
        gateway.get(&download),
        StatusCode::NOT_FOUND,
        "not_found",
        "after DELETE",
    );
    assert_error(
        delete(Some(TOKEN)),
        StatusCode::NOT_FOUND,
        "not_found",
        "DELETE again",
    );
    assert_eq!(total(gateway), 1);
    gateway.assert_serves(small());
}
