//! BUD-02 upload, BUD-05 media and BUD-06 preflight: 200, 201, 400, 401, 403, 409, 411, 413.

use std::sync::Arc;

use nostr::Keys;
use serde_json::Value;
use swarmgate_blossom::{
    Blob, BlobStore, Disowned, MemoryBlobStore, PutBlob, Report, StoreError, Stored,
};
use swarmgate_core::{Pubkey, Sha256};

use crate::helpers::{
    assert_cors, client, raw_status, reason, serve, serve_store, sha256_hex, token,
};

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn upload_is_201_then_200_with_a_descriptor() {
    let server = serve(|_| {}).await;
    let keys = Keys::generate();
    let body = b"%PDF-1.4 a small document";
    let hash = sha256_hex(body);
    let send = || {
        client()
            .put(server.url("/upload"))
            .header("authorization", token(&keys, "upload", &[&hash]))
            .header("content-type", "application/pdf")
            .header("x-sha-256", &hash)
            .body(&body[..])
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert_cors(&first);
    let descriptor = json(first).await;
    assert_eq!(descriptor["url"], format!("{}/{hash}.pdf", server.base));
    assert_eq!(descriptor["sha256"], hash);
    assert_eq!(descriptor["size"], body.len());
    assert_eq!(descriptor["type"], "application/pdf");
    assert!(descriptor["uploaded"].as_u64().unwrap() > 1_700_000_000);
    let nip94 = descriptor["nip94"].as_array().unwrap();
    assert_eq!(nip94[0][0], "url");
    assert!(
        nip94
            .iter()
            .any(|tag| tag[0] == "x" && tag[1] == hash.as_str())
    );

    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await["sha256"], hash);
    assert_eq!(server.store.len(), 1);

    // BUD-05: /media takes a media token and stores the bytes as sent.
    let media = b"media bytes";
    let media_hash = sha256_hex(media);
    let response = client()
        .put(server.url("/media"))
        .header("authorization", token(&keys, "media", &[&media_hash]))
        .header("x-sha-256", &media_hash)
        .body(&media[..])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        json(response).await["url"],
        format!("{}/{media_hash}.bin", server.base)
    );
}

#[tokio::test]
async fn a_body_that_is_not_the_announced_hash_is_409_and_not_kept() {
    let server = serve(|_| {}).await;
    let keys = Keys::generate();
    let claimed = sha256_hex(b"what the client meant");
    let response = client()
        .put(server.url("/upload"))
        .header("authorization", token(&keys, "upload", &[&claimed]))
        .header("x-sha-256", &claimed)
        .body("what the client sent")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(reason(&response).contains("X-SHA-256"));
    assert!(server.store.is_empty());

    // Without X-SHA-256 the token's x tags are the check: 403, nothing kept.
    let response = client()
        .put(server.url("/upload"))
        .header("authorization", token(&keys, "upload", &[&claimed]))
        .body("what the client sent")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(reason(&response).contains("x tags"));
    assert!(server.store.is_empty());
}

#[tokio::test]
async fn length_limits_quota_and_the_allow_list() {
    let allowed = Keys::generate();
    let stranger = Keys::generate();
    let owner = swarmgate_core::Pubkey(allowed.public_key().to_bytes());
    let server = serve(|config| {
        config.max_upload = 10;
        config.quota_bytes = Some(12);
        config.allowed_pubkeys = Some([owner].into_iter().collect());
    })
    .await;
    let put = |keys: &Keys, body: &'static str| {
        client()
            .put(server.url("/upload"))
            .header(
                "authorization",
                token(keys, "upload", &[&sha256_hex(body.as_bytes())]),
            )
            .body(body)
            .send()
    };
    let big = put(&allowed, "eleven byte").await.unwrap();
    assert_eq!(big.status(), 413);
    assert!(reason(&big).contains("10 bytes"));
    let refused = put(&stranger, "hi").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(reason(&refused).contains("may not"));
    assert_eq!(put(&allowed, "ten bytes!").await.unwrap().status(), 201);
    let over = put(&allowed, "three").await.unwrap();
    assert_eq!(over.status(), 413);
    assert!(reason(&over).contains("quota"));
    assert_eq!(put(&allowed, "ok").await.unwrap().status(), 201);

    // A chunked body has no Content-Length: 411 before anything is read.
    let hash = sha256_hex(b"abc");
    let request = format!(
        "PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        token(&allowed, "upload", &[&hash])
    );
    assert_eq!(raw_status(server.addr, request.as_bytes()).await, 411);
}

#[tokio::test]
async fn preflight_head_upload_answers_from_headers() {
    let keys = Keys::generate();
    let server = serve(|config| config.max_upload = 100).await;
    let hash = sha256_hex(b"x");
    let check = |headers: &[(&str, String)]| {
        let mut request = client().head(server.url("/upload"));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    let auth = ("authorization", token(&keys, "upload", &[&hash]));
    let sha = ("x-sha-256", hash.clone());
    let len = ("x-content-length", "50".to_string());
    let ty = ("x-content-type", "text/plain".to_string());
    let ok = check(&[auth.clone(), sha.clone(), len.clone(), ty.clone()])
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_cors(&ok);
    let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (
            vec![auth.clone(), ("x-sha-256", "zz".into()), len.clone()],
            400,
        ),
        (vec![auth.clone(), len.clone()], 400),
        (vec![auth.clone(), sha.clone()], 411),
        (
            vec![
                auth.clone(),
                sha.clone(),
                ("x-content-length", "101".into()),
            ],
            413,
        ),
        (vec![sha.clone(), len.clone()], 401),
        (
            vec![
                ("authorization", token(&keys, "upload", &[&"0".repeat(64)])),
                sha.clone(),
                len.clone(),
            ],
            403,
        ),
    ];
    for (headers, status) in cases {
        let response = check(&headers).await.unwrap();
        assert_eq!(response.status(), status, "{headers:?}");
        assert!(!reason(&response).is_empty());
    }
}

/// A store that forgets to check `expected_sha256` (a broken adapter): keeps whatever comes.
struct LaxStore(MemoryBlobStore);

impl BlobStore for LaxStore {
    fn stat(&self, sha256: &Sha256) -> Result<Option<Blob>, StoreError> {
        self.0.stat(sha256)
    }
    fn read(&self, sha256: &Sha256, offset: u64, len: usize) -> Result<bytes::Bytes, StoreError> {
        self.0.read(sha256, offset, len)
    }
    fn put(&self, body: &mut dyn std::io::Read, put: &PutBlob) -> Result<Stored, StoreError> {
        let lax = PutBlob {
            expected_sha256: Vec::new(),
            ..put.clone()
        };
        self.0.put(body, &lax)
    }
    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Blob, StoreError> {
        self.0.add_owner(sha256, owner)
    }
    fn disown(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Disowned, StoreError> {
        self.0.disown(sha256, owner)
    }
    fn list(&self, owner: &Pubkey) -> Result<Vec<Blob>, StoreError> {
        self.0.list(owner)
    }
    fn report(&self, report: &Report) -> Result<(), StoreError> {
        self.0.report(report)
    }
    fn reports(&self) -> Result<Vec<Report>, StoreError> {
        self.0.reports()
    }
}

#[tokio::test]
async fn a_store_that_keeps_a_mismatch_is_overruled_and_the_blob_disowned() {
    let store = Arc::new(LaxStore(MemoryBlobStore::new()));
    let server = serve_store(store, |_| {}).await;
    let keys = Keys::generate();
    let claimed = sha256_hex(b"claimed");
    let response = client()
        .put(server.url("/upload"))
        .header("authorization", token(&keys, "upload", &[&claimed]))
        .header("x-sha-256", &claimed)
        .body("actual")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(
        server.store.0.is_empty(),
        "the only owner was removed, so were the bytes"
    );
}
