//! BUD-04 mirror: 201 from an origin, 200 for a blob already here without fetching, 409 on a
//! hash mismatch with nothing kept, 502 for a failed origin, redirects followed and checked,
//! the SSRF guard.

use axum::response::Redirect;
use axum::routing::get;
use nostr::Keys;
use serde_json::{Value, json};

use crate::helpers::{assert_cors, client, reason, serve, sha256_hex, token};

/// An origin on loopback: `/to?url=...` redirects there, `/loop` redirects to itself.
async fn redirector() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/to/{*target}",
            get(
                |axum::extract::Path(target): axum::extract::Path<String>| async move {
                    Redirect::temporary(&format!("http://{target}"))
                },
            ),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                "late"
            }),
        );
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, task)
}

async fn mirror(base: &str, authorization: Option<String>, url: &str) -> reqwest::Response {
    let mut request = client()
        .put(format!("{base}/mirror"))
        .body(json!({ "url": url }).to_string());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn mirror_fetches_verifies_and_refuses() {
    let origin = serve(|config| config.auth.upload = false).await;
    let body = "a blob worth mirroring";
    let hash = sha256_hex(body.as_bytes());
    let put = client()
        .put(origin.url("/upload"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let source = origin.url(&format!("/{hash}.txt"));

    let mirror_server = serve(|config| config.mirror_allow_private = true).await;
    let keys = Keys::generate();
    let base = mirror_server.base.clone();

    // A wrong x: 409, nothing kept.
    let wrong = mirror(
        &base,
        Some(token(&keys, "upload", &[&"0".repeat(64)])),
        &source,
    )
    .await;
    assert_eq!(wrong.status(), 409);
    assert!(reason(&wrong).contains("x tag"));
    assert!(mirror_server.store.is_empty());

    let first = mirror(&base, Some(token(&keys, "upload", &[&hash])), &source).await;
    assert_eq!(first.status(), 201);
    assert_cors(&first);
    let descriptor: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    assert_eq!(descriptor["type"], "text/plain");
    assert_eq!(descriptor["url"], format!("{base}/{hash}.txt"));
    assert!(
        descriptor["nip94"]
            .as_array()
            .is_some_and(|tags| !tags.is_empty())
    );
    let copy = client().get(format!("{base}/{hash}")).send().await.unwrap();
    assert_eq!(copy.text().await.unwrap(), body);

    // Already here: 200 without a fetch (the origin is gone by now), owned by the new signer.
    drop(origin);
    let other = Keys::generate();
    let again = mirror(&base, Some(token(&other, "upload", &[&hash])), &source).await;
    assert_eq!(again.status(), 200);
    let listed = client()
        .get(format!("{base}/list/{}", other.public_key().to_hex()))
        .send()
        .await
        .unwrap();
    assert!(listed.text().await.unwrap().contains(&hash));

    // The origin fails: 502.
    let fresh = sha256_hex(b"never there");
    let gone = mirror(&base, Some(token(&keys, "upload", &[&fresh])), &source).await;
    assert_eq!(gone.status(), 502);
    assert!(!reason(&gone).is_empty());
    assert_cors(&gone);

    // Bad requests and missing tokens.
    let bad = mirror(
        &base,
        Some(token(&keys, "upload", &[&fresh])),
        "ftp://example.com/x",
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(mirror(&base, None, &source).await.status(), 401);
}

#[tokio::test]
async fn redirects_are_followed_checked_and_bounded() {
    let origin = serve(|config| config.auth.upload = false).await;
    let body = "redirected blob";
    let hash = sha256_hex(body.as_bytes());
    client()
        .put(origin.url("/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    let (redirects, _task) = redirector().await;
    let target = format!("{}/{hash}", origin.addr);
    let keys = Keys::generate();

    let open = serve(|config| config.mirror_allow_private = true).await;
    let via = mirror(
        &open.base,
        Some(token(&keys, "upload", &[&hash])),
        &format!("{redirects}/to/{target}"),
    )
    .await;
    assert_eq!(via.status(), 201);
    let looping = mirror(
        &open.base,
        Some(token(&keys, "upload", &[&sha256_hex(b"loop")])),
        &format!("{redirects}/loop"),
    )
    .await;
    assert_eq!(looping.status(), 502);
    assert!(reason(&looping).contains("redirects"));

    // An origin slower than the mirror timeout: 502.
    let impatient = serve(|config| {
        config.mirror_allow_private = true;
        config.mirror_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let slow = mirror(
        &impatient.base,
        Some(token(&keys, "upload", &[&sha256_hex(b"late")])),
        &format!("{redirects}/slow"),
    )
    .await;
    assert_eq!(slow.status(), 502);
    assert!(reason(&slow).contains("timed out"));

    // The default guard refuses loopback targets, first hop or not.
    let guarded = serve(|_| {}).await;
    let direct = mirror(
        &guarded.base,
        Some(token(&keys, "upload", &[&hash])),
        &origin.url(&format!("/{hash}")),
    )
    .await;
    assert_eq!(direct.status(), 400);
    assert!(reason(&direct).contains("private or local"));
    let named = mirror(
        &guarded.base,
        Some(token(&keys, "upload", &[&hash])),
        &format!("http://localhost:{}/{hash}", origin.addr.port()),
    )
    .await;
    assert_eq!(named.status(), 400);
    assert!(guarded.store.is_empty());
}
