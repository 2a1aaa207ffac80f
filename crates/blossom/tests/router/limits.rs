//! The server's own limits: requests per client (429) and uploads in progress (503), each
//! refusal with its `X-Reason`, `Retry-After` and CORS, and neither touching other clients.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::helpers::{assert_cors, client, reason, serve, sha256_hex};

/// A client that connects from `ip` (a 127/8 address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_request_flood_is_answered_429_while_other_clients_are_served() {
    let server = serve(|config| config.requests_per_second = 5).await;
    let missing = server.url(&format!("/{}", "0".repeat(64)));
    let flood = client();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let response = flood.get(&missing).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(reason(&response).contains("too many requests"));
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry), "Retry-After {retry}");
            assert_cors(&response);
        }
    }
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    let answered = statuses.iter().filter(|&&s| s == 404).count();
    assert!(refused >= 20, "{refused} of 40 refused: {statuses:?}");
    assert!(answered >= 10, "the burst of 10 is answered: {statuses:?}");
    // Another address has its own allowance.
    let other = client_from("127.0.0.2").get(&missing).send().await.unwrap();
    assert_eq!(other.status(), 404);
    // Preflights are not counted, so a browser can always read why it was refused.
    let preflight = flood
        .request(reqwest::Method::OPTIONS, server.url("/upload"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
}

#[tokio::test]
async fn uploads_beyond_the_slots_are_answered_503_before_their_body() {
    let server = serve(|config| {
        config.auth.upload = false;
        config.max_concurrent_uploads = 1;
    })
    .await;
    // The one slot: an upload that has sent half of its body and waits.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /upload HTTP/1.1\r\nhost: {}\r\ncontent-length: 2048\r\n\r\n",
        server.addr
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[7; 1024]).await.unwrap();

    let body = vec![9u8; 4096];
    let upload = || async {
        client()
            .put(server.url("/upload"))
            .body(body.clone())
            .send()
            .await
            .unwrap()
    };
    let mut busy = None;
    for _ in 0..50 {
        let before = server.store.len();
        let response = upload().await;
        if response.status() == 503 {
            assert_eq!(
                server.store.len(),
                before,
                "nothing of the refused upload kept"
            );
            busy = Some(response);
            break;
        }
        // The slow upload may not hold its slot yet: this one went through.
        assert!(response.status().is_success(), "{}", response.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a second upload is refused while the first holds the slot");
    assert!(
        reason(&busy).contains("uploads are in progress"),
        "{}",
        reason(&busy)
    );
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_cors(&busy);

    // The slow uploader goes away: its slot comes back, and the upload is stored (201, or 200
    // if one went through before the slow one took the slot).
    drop(slow);
    let mut stored = None;
    for _ in 0..100 {
        let response = upload().await;
        if response.status().is_success() {
            stored = Some(response);
            break;
        }
        assert_eq!(response.status(), 503);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = stored.expect("the slot was given back");
    let descriptor: serde_json::Value =
        serde_json::from_slice(&stored.bytes().await.unwrap()).unwrap();
    assert_eq!(descriptor["sha256"], sha256_hex(&body));
}

#[tokio::test]
async fn an_upload_whose_body_stalls_fails_and_gives_its_slot_back() {
    let server = serve(|config| {
        config.auth.upload = false;
        config.max_concurrent_uploads = 1;
        config.upload_idle_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /upload HTTP/1.1\r\nhost: {}\r\ncontent-length: 2048\r\n\r\n",
        server.addr
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&[7; 1024]).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut answer),
    )
    .await
    .expect("answered within 10 s")
    .unwrap();
    let text = String::from_utf8_lossy(&answer[..read]).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 400"), "{text}");
    assert!(text.contains("no body bytes"), "{text}");
    assert!(server.store.is_empty());
    let response = client()
        .put(server.url("/upload"))
        .body(vec![1u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the slot is free again");
}

/// Clients that stop reading a GET park a task each, not a blocking thread: with a pool of two
/// blocking threads, four stalled downloads of a large blob leave a fifth one served.
#[test]
fn stalled_downloads_hold_no_blocking_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = serve(|config| config.auth.upload = false).await;
        let blob: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
        let sha = sha256_hex(&blob);
        let stored = client()
            .put(server.url("/upload"))
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 201);
        let mut stalled = Vec::new();
        for _ in 0..4 {
            let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            let request = format!("GET /{sha} HTTP/1.1\r\nhost: {}\r\n\r\n", server.addr);
            stream.write_all(request.as_bytes()).await.unwrap();
            stalled.push(stream); // never read
        }
        // Long enough for each stalled reader to fill its socket and its channel.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let whole = tokio::time::timeout(Duration::from_secs(20), async {
            client()
                .get(server.url(&format!("/{sha}")))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        })
        .await
        .expect("a fifth download is served while four are stalled");
        assert!(whole.as_ref() == blob.as_slice(), "the blob, whole");
        drop(stalled);
    });
}
