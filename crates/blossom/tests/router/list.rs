//! BUD-12: list paging with a cursor, and delete by one of two owners, then by the last.

use nostr::Keys;
use serde_json::Value;

use crate::helpers::{assert_cors, client, reason, serve, sha256_hex, token};

async fn put(base: &str, keys: &Keys, body: String) -> String {
    let hash = sha256_hex(body.as_bytes());
    let response = client()
        .put(format!("{base}/upload"))
        .header("authorization", token(keys, "upload", &[&hash]))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    hash
}

async fn list(base: &str, pubkey: &str, query: &str) -> (u16, Vec<String>) {
    let response = client()
        .get(format!("{base}/list/{pubkey}?{query}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if status != 200 {
        return (status, Vec::new());
    }
    let page: Vec<Value> = serde_json::from_str(&text).unwrap();
    (
        status,
        page.iter()
            .map(|d| d["sha256"].as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test]
async fn list_pages_newest_first_with_a_cursor() {
    let server = serve(|_| {}).await;
    let keys = Keys::generate();
    let pubkey = keys.public_key().to_hex();
    let mut uploaded = Vec::new();
    for i in 0..5 {
        uploaded.push(put(&server.base, &keys, format!("blob number {i}")).await);
    }
    put(&server.base, &Keys::generate(), "someone else's".into()).await;
    let newest_first: Vec<String> = uploaded.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let (status, page) = list(&server.base, &pubkey, &format!("limit=2&cursor={cursor}")).await;
        assert_eq!(status, 200);
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        cursor = page.last().unwrap().clone();
        seen.extend(page);
    }
    assert_eq!(seen, newest_first);
    let (_, all) = list(&server.base, &pubkey, "").await;
    assert_eq!(all, newest_first);
    let (_, none) = list(&server.base, &pubkey, "since=99999999999").await;
    assert!(none.is_empty());
    assert_eq!(list(&server.base, "abc", "").await.0, 400);
    assert_eq!(list(&server.base, &pubkey, "limit=x").await.0, 400);
}

#[tokio::test]
async fn delete_drops_one_ownership_and_the_bytes_with_the_last() {
    let server = serve(|_| {}).await;
    let (alice, bob, mallory) = (Keys::generate(), Keys::generate(), Keys::generate());
    let hash = put(&server.base, &alice, "shared blob".into()).await;
    assert_eq!(put(&server.base, &bob, "shared blob".into()).await, hash);
    let delete = |keys: &Keys, x: &str| {
        client()
            .delete(server.url(&format!("/{hash}")))
            .header("authorization", token(keys, "delete", &[x]))
            .send()
    };
    let stranger = delete(&mallory, &hash).await.unwrap();
    assert_eq!(stranger.status(), 403);
    assert!(reason(&stranger).contains("does not own"));
    assert_eq!(delete(&alice, &"0".repeat(64)).await.unwrap().status(), 403);
    let anonymous = client()
        .delete(server.url(&format!("/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let first = delete(&alice, &hash).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_cors(&first);
    let body: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    assert_eq!(body["deleted"], false);
    let still = client()
        .get(server.url(&format!("/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    assert_eq!(delete(&alice, &hash).await.unwrap().status(), 403);
    assert!(
        list(&server.base, &alice.public_key().to_hex(), "")
            .await
            .1
            .is_empty()
    );

    let last = delete(&bob, &hash).await.unwrap();
    assert_eq!(last.status(), 200);
    let body: Value = serde_json::from_str(&last.text().await.unwrap()).unwrap();
    assert_eq!(body["deleted"], true);
    assert!(server.store.is_empty());
    let gone = client()
        .get(server.url(&format!("/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(delete(&bob, &hash).await.unwrap().status(), 404);
}
