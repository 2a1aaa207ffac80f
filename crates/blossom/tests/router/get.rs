//! BUD-01 retrieval: 200, 206, 304, 400, 404, 416, 503, CORS and the preflight.

use std::sync::Arc;

use swarmgate_blossom::{
    Blob, BlobStore, Disowned, MemoryBlobStore, PutBlob, Report, StoreError, Stored,
};
use swarmgate_core::{Pubkey, Sha256};

use crate::helpers::{assert_cors, client, reason, serve, serve_store};

/// Uploads `bytes` anonymously (the policy lets anyone upload) and answers its hash.
async fn put_anonymous(base: &str, bytes: &'static [u8], mime: &str) -> String {
    let response = client()
        .put(format!("{base}/upload"))
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let descriptor: serde_json::Value =
        serde_json::from_str(&response.text().await.unwrap()).unwrap();
    descriptor["sha256"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn get_head_ranges_etags_and_errors() {
    let server = serve(|config| config.auth.upload = false).await;
    let hash = put_anonymous(&server.base, b"hello, blossom", "text/plain").await;
    let http = client();

    // The real type whatever the extension; length; ranges advertised; immutable caching.
    let response = http
        .get(server.url(&format!("/{hash}.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_cors(&response);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["content-length"], "14");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["etag"], format!("\"{hash}\"").as_str());
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.bytes().await.unwrap(), &b"hello, blossom"[..]);

    let head = http
        .head(server.url(&format!("/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "14");
    assert_eq!(head.headers()["content-type"], "text/plain");

    let part = http
        .get(server.url(&format!("/{hash}")))
        .header("range", "bytes=7-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 7-13/14");
    assert_eq!(part.bytes().await.unwrap(), &b"blossom"[..]);

    let outside = http
        .get(server.url(&format!("/{hash}")))
        .header("range", "bytes=14-20")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(outside.headers()["content-range"], "bytes */14");
    assert!(reason(&outside).contains("range"));
    assert_cors(&outside);

    let cached = http
        .get(server.url(&format!("/{hash}")))
        .header("if-none-match", format!("\"{hash}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let malformed = http
        .get(server.url("/not-a-hash.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(reason(&malformed).contains("sha256"));
    assert_cors(&malformed);

    let missing = http
        .get(server.url(&format!("/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(reason(&missing), "blob not found");
    assert_cors(&missing);

    let nowhere = http.get(server.url("/a/b/c")).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
    assert!(!reason(&nowhere).is_empty());
    assert_cors(&nowhere);
}

#[tokio::test]
async fn a_large_blob_streams_in_chunks_and_ranges_cross_them() {
    let server = serve(|config| {
        config.auth.upload = false;
        config.read_chunk = 1 << 20;
    })
    .await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let data: &'static [u8] = Box::leak(data.into_boxed_slice());
    let hash = put_anonymous(&server.base, data, "application/octet-stream").await;
    let whole = client()
        .get(server.url(&format!("/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.bytes().await.unwrap(), data);
    let part = client()
        .get(server.url(&format!("/{hash}")))
        .header("range", "bytes=1048000-2100000")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), &data[1_048_000..=2_100_000]);
}

#[tokio::test]
async fn preflight_answers_any_path() {
    let server = serve(|_| {}).await;
    for path in ["/upload", &format!("/{}", "a".repeat(64)), "/anything"] {
        let response = client()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "PUT")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        assert_cors(&response);
        let headers = response.headers();
        let allowed = headers["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.starts_with("Authorization, *"), "{allowed}");
        assert!(allowed.contains("X-SHA-256"));
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET, HEAD, PUT, DELETE"
        );
        assert_eq!(headers["access-control-max-age"], "86400");
    }
}

/// A store whose every call answers "busy", as a database out of connections does.
struct BusyStore;

impl BlobStore for BusyStore {
    fn stat(&self, _: &Sha256) -> Result<Option<Blob>, StoreError> {
        Err(StoreError::Busy)
    }
    fn read(&self, _: &Sha256, _: u64, _: usize) -> Result<bytes::Bytes, StoreError> {
        Err(StoreError::Busy)
    }
    fn put(&self, _: &mut dyn std::io::Read, _: &PutBlob) -> Result<Stored, StoreError> {
        Err(StoreError::Busy)
    }
    fn add_owner(&self, _: &Sha256, _: &Pubkey) -> Result<Blob, StoreError> {
        Err(StoreError::Busy)
    }
    fn disown(&self, _: &Sha256, _: &Pubkey) -> Result<Disowned, StoreError> {
        Err(StoreError::Busy)
    }
    fn list(&self, _: &Pubkey) -> Result<Vec<Blob>, StoreError> {
        Err(StoreError::Busy)
    }
    fn report(&self, _: &Report) -> Result<(), StoreError> {
        Err(StoreError::Busy)
    }
    fn reports(&self) -> Result<Vec<Report>, StoreError> {
        Err(StoreError::Busy)
    }
}

#[tokio::test]
async fn a_busy_store_is_503_with_retry_after_and_a_full_one_507() {
    let busy = serve_store(Arc::new(BusyStore), |config| config.auth.upload = false).await;
    let response = client()
        .get(busy.url(&format!("/{}", "1".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(reason(&response).contains("busy"));
    let upload = client()
        .put(busy.url("/upload"))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 503);
    assert_cors(&upload);

    let full = serve_store(Arc::new(MemoryBlobStore::with_capacity(4)), |config| {
        config.auth.upload = false
    })
    .await;
    let response = client()
        .put(full.url("/upload"))
        .body("five!")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 507);
    assert!(reason(&response).contains("space"));
    assert!(full.store.is_empty());
}
