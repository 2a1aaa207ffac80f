//! Attacks on the HTTP ports from 127.0.0.2 while the real clients on 127.0.0.1 keep being
//! served: 2,000 slowloris connections (a partial request line dripped a byte at a time, a
//! request line and headers that never end, or nothing at all) cut by the header read timeout;
//! connections over the per-IP cap closed at accept, on the API port and on the Blossom port,
//! and over the port's total cap until places free up;
//! malformed and oversized requests answered with JSON errors; and a request flood from one
//! address answered 429 while another address is still served.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_testkit::programs::{hex_decode, url_encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::support::{Gateway, assert_error, json_of, small, workspace};

/// The attacker's address; the real clients use 127.0.0.1.
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn socket_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("an http://IP:PORT URL")
}

/// A TCP connection to `server` from `ATTACKER`.
async fn connect_from_attacker(server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ATTACKER, 0))?;
    socket.connect(server).await
}

/// Waits (at most `limit`) until the server closes `stream`, writing `drip` a byte every
/// 300 ms meanwhile; returns how long it took, or `None` if it stayed open.
async fn time_to_close(mut stream: TcpStream, drip: &[u8], limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 1024];
    let mut dripped = 0;
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        let tick = left.min(Duration::from_millis(300));
        match tokio::time::timeout(tick, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            // hyper's 408 or other answer before the close: keep reading to the end.
            Ok(Ok(_)) => continue,
            Err(_) => {}
        }
        if let Some(byte) = drip.get(dripped) {
            dripped += 1;
            if stream.write_all(&[*byte]).await.is_err() {
                return Some(start.elapsed());
            }
        }
    }
}

/// The value of `swarmgate_http_refused_total{reason="…"}` in `/metrics`.
fn refused(gateway: &Gateway, reason: &str) -> u64 {
    metric(
        gateway,
        &format!("swarmgate_http_refused_total{{reason=\"{reason}\"}}"),
    )
}

/// The value of the sample `name` (with its labels) in `/metrics`.
fn metric(gateway: &Gateway, name: &str) -> u64 {
    let text = gateway.get("/metrics").text().expect("the metrics");
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

/// Waits (at most 3 s) until `refused(gateway, reason)` is at least `least` (hyper's own
/// refusals are counted when their connection ends, just after the answer).
fn wait_refused(gateway: &Gateway, reason: &str, least: u64) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let count = refused(gateway, reason);
        if count >= least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{reason}: {count} refusals, expected at least {least}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `request` raw from 127.0.0.1 and reads the answer to the server's close (at most 5 s).
fn raw_exchange(gateway: &Gateway, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(socket_addr(&gateway.url)).expect("connect to the API port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    stream.write_all(request).expect("send the request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn two_thousand_slowloris_connections_are_cut_while_another_address_uploads_and_downloads() {
    const SLOW: usize = 2_000;
    let header_timeout = Duration::from_secs(3);
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(
        &data,
        &[
            "--header-read-timeout",
            "3",
            "--max-connections-per-ip",
            "2500",
        ],
    );
    let server = socket_addr(&gateway.url);
    let runtime = runtime();
    // Three kinds of slowloris: a request line dripped a byte at a time, a request line and
    // header lines that never end, and a connection that sends nothing.
    let started = Instant::now();
    let attackers: Vec<_> = (0..SLOW)
        .map(|i| {
            runtime.spawn(async move {
                let mut stream = connect_from_attacker(server).await.expect("connect");
                let drip: &[u8] = match i % 3 {
                    0 => b"GET /api/files?limit=1000000000000000000000000000000000 HTTP/1.1",
                    1 => {
                        stream
                            .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
                            .await
                            .expect("the request line");
                        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    }
                    _ => b"",
                };
                time_to_close(stream, drip, Duration::from_secs(30)).await
            })
        })
        .collect();
    // Give the attack a moment to be in place, then be a real client from 127.0.0.1.
    std::thread::sleep(Duration::from_millis(500));
    let during = Instant::now();
    let fixture = small();
    let answer = json_of(
        gateway.upload_raw(fixture, "during-the-attack.bin"),
        StatusCode::CREATED,
        "upload during the attack",
    );
    gateway.assert_serves(fixture);
    let info_hash = hex_decode(answer["info_hash"].as_str().expect("info_hash"));
    let announce = gateway.get(&format!(
        "/announce?info_hash={}&peer_id=-XX0001-abcdefghijkl&port=6881&left=0&compact=1",
        url_encode(&info_hash)
    ));
    assert_eq!(announce.status(), StatusCode::OK, "announce");
    let body = announce.bytes().expect("the announce body");
    assert!(
        body.starts_with(b"d") && !body.starts_with(b"d14:failure reason"),
        "announce: {body:?}"
    );
    let served_in = during.elapsed();
    assert!(
        served_in < header_timeout * 3,
        "upload, download and announce took {served_in:?} under the attack"
    );

    let mut closed = Vec::with_capacity(SLOW);
    let mut open_by_kind = [0usize; 3];
    for (i, attacker) in attackers.into_iter().enumerate() {
        match runtime.block_on(attacker).expect("an attacker task") {
            Some(took) => closed.push(took),
            None => open_by_kind[i % 3] += 1,
        }
    }
    assert_eq!(
        open_by_kind, [0; 3],
        "slowloris connections open after 30 s, by kind (dripped line, endless headers, silent)"
    );
    let slowest = closed.iter().max().copied().unwrap_or_default();
    let total = started.elapsed();
    eprintln!(
        "{SLOW} slowloris connections: served 127.0.0.1 in {served_in:?}; slowest close after \
         {slowest:?}; attack over in {total:?}"
    );
    assert!(
        slowest < header_timeout + Duration::from_secs(5),
        "a slowloris connection lived {slowest:?} with a {header_timeout:?} header timeout"
    );
    let timed_out = refused(&gateway, "header_timeout");
    assert!(
        timed_out >= SLOW as u64 * 9 / 10,
        "{timed_out} of {SLOW} counted as header timeouts"
    );
    // The port is whole again: the attack's connections are gone from the count.
    let open = metric(&gateway, "swarmgate_http_connections{port=\"api\"}");
    assert!(open <= 4, "{open} connections still counted open");
    assert_eq!(
        gateway.get("/api/health").status(),
        StatusCode::OK,
        "after the attack"
    );
}

#[test]
fn connections_over_the_per_ip_cap_are_closed_at_accept_on_both_http_ports() {
    const CAP: usize = 8;
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--max-connections-per-ip", "8"]);
    let blossom = gateway.blossom.clone().expect("a Blossom port");
    let runtime = runtime();
    for url in [gateway.url.clone(), blossom] {
        let server = socket_addr(&url);
        runtime.block_on(async {
            let mut held = Vec::new();
            for _ in 0..CAP {
                held.push(connect_from_attacker(server).await.expect("connect"));
            }
            // Let the server accept (and count) them before the one too many.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let over = connect_from_attacker(server).await.expect("connect");
            let closed = time_to_close(over, b"", Duration::from_secs(5)).await;
            assert!(
                closed.is_some(),
                "{url}: connection {} stayed open",
                CAP + 1
            );
            // The ones held are still open: each still gets an answer.
            let mut first = held.remove(0);
            first
                .write_all(b"GET /no-such-path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .expect("a request on a held connection");
            let mut answer = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), first.read_to_end(&mut answer))
                .await
                .expect("an answer within 5 s")
                .expect("the answer");
            assert!(
                answer.starts_with(b"HTTP/1.1 4"),
                "{url}: {}",
                String::from_utf8_lossy(&answer)
            );
        });
        // Another address is still let in.
        let health = gateway
            .http
            .get(format!("{url}/"))
            .send()
            .expect("a request from 127.0.0.1");
        assert!(
            !health.status().is_server_error(),
            "{url}: {}",
            health.status()
        );
    }
    assert!(refused(&gateway, "connections_per_ip") >= 2);
}

#[test]
fn a_full_port_closes_new_connections_at_accept_and_serves_again_once_they_go() {
    const TOTAL: usize = 8;
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--max-connections", "8"]);
    let server = socket_addr(&gateway.url);
    let runtime = runtime();
    runtime.block_on(async {
        // Fill the port from 127.0.0.2 (the test's own client may hold one of the places).
        let mut held = Vec::new();
        let mut refused_at = None;
        for i in 0..=TOTAL + 1 {
            let stream = connect_from_attacker(server).await.expect("connect");
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut probe = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(300), stream.peek(&mut probe)).await {
                Ok(Ok(0) | Err(_)) => {
                    refused_at = Some(i);
                    break;
                }
                _ => held.push(stream),
            }
        }
        let refused_at = refused_at.expect("a connection over the total was closed");
        assert!(
            refused_at <= TOTAL,
            "closed only at connection {refused_at}"
        );
        drop(held);
    });
    // The places come back: another address is served (after the server sees the closes).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gateway.get("/api/health").status(), StatusCode::OK);
    assert!(refused(&gateway, "connections") >= 1);
}

#[test]
fn malformed_and_oversized_requests_get_json_errors() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    for query in ["limit=-1", "limit=abc", "offset=-5"] {
        let message = assert_error(
            gateway.get(&format!("/api/files?{query}")),
            StatusCode::BAD_REQUEST,
            "invalid_query",
            query,
        );
        assert!(!message.is_empty());
    }
    assert_error(
        gateway.get("/api/files?limit=0"),
        StatusCode::BAD_REQUEST,
        "invalid_limit",
        "limit=0",
    );
    // A path segment that is not UTF-8: axum's plain-text rejection, answered as JSON.
    assert_error(
        gateway.get("/api/files/%FF%FE"),
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a path segment that is not UTF-8",
    );
    let long = format!("/api/files?offset=0&x={}", "a".repeat(9 * 1024));
    assert_error(
        gateway.get(&long),
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
        "a 9 KiB URI",
    );
    let mut request = gateway.http.get(gateway.at("/api/health"));
    for i in 0..5 {
        request = request.header(format!("x-big-{i}"), "b".repeat(7 * 1024));
    }
    assert_error(
        request.send().expect("GET with 35 KiB of headers"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
        "35 KiB of headers",
    );
    let wrong_method = gateway
        .http
        .put(gateway.at("/api/files"))
        .send()
        .expect("PUT /api/files");
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "PUT /api/files",
    );
    // Past hyper's own buffer the answer is hyper's (431, no body) or a close, never a hang.
    let mut huge = gateway.http.get(gateway.at("/api/health"));
    for i in 0..12 {
        huge = huge.header(format!("x-huge-{i}"), "c".repeat(7 * 1024));
    }
    match huge.send() {
        Ok(response) => assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ),
        Err(error) => assert!(!error.is_timeout(), "{error}"),
    }
    // What hyper cannot parse it answers 400 itself, without a body, and closes.
    let garbage = raw_exchange(&gateway, b"NOT HTTP AT ALL\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
    assert!(refused(&gateway, "uri_too_long") >= 1);
    assert!(refused(&gateway, "headers_too_large") >= 1);
    wait_refused(&gateway, "head_too_large", 1);
    wait_refused(&gateway, "malformed", 1);
}

#[test]
fn a_request_flood_from_one_address_gets_429_while_another_is_served() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--requests-per-second", "5"]);
    let attacker = reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(ATTACKER)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client on 127.0.0.2");
    let mut limited = 0;
    for _ in 0..60 {
        let response = attacker
            .get(gateway.at("/api/files"))
            .send()
            .expect("GET from 127.0.0.2");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            assert!(response.headers().contains_key("retry-after"));
            let json: Value =
                serde_json::from_slice(&response.bytes().expect("the body")).expect("a JSON 429");
            assert_eq!(json["code"], "rate_limited", "{json}");
        } else {
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    assert!(limited >= 40, "{limited} of 60 limited");
    // 127.0.0.1 has its own allowance.
    for _ in 0..5 {
        assert_eq!(gateway.get("/api/files").status(), StatusCode::OK);
    }
}
