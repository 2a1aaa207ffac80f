//! BUD-11 as clients send it, forgeries each refused with its status and an `X-Reason`, and the
//! bad-auth limiter.

use nostr::Keys;

use crate::helpers::{
    Encoding, assert_cors, client, event_json, header, now, reason, serve, sha256_hex, tag, token,
};

const BODY: &[u8] = b"signed upload body";

/// Upload tags for `BODY`, expiring in a minute, plus `extra`.
fn upload_tags(extra: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut tags = vec![
        tag(&["t", "upload"]),
        tag(&["x", &sha256_hex(BODY)]),
        tag(&["expiration", &(now() + 60).to_string()]),
    ];
    tags.extend_from_slice(extra);
    tags
}

async fn upload(base: &str, authorization: &str) -> reqwest::Response {
    client()
        .put(format!("{base}/upload"))
        .header("authorization", authorization)
        .header("x-sha-256", sha256_hex(BODY))
        .body(BODY)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forgeries_are_refused_each_with_its_status_and_reason() {
    let server = serve(|config| config.bad_auth_limit = 0).await;
    let keys = Keys::generate();
    let hash = sha256_hex(BODY);
    let expiration = (now() + 60).to_string();
    let valid = event_json(&keys, 24242, 0, "upload", &upload_tags(&[]));
    let bad_signature = {
        let mut event: serde_json::Value = serde_json::from_str(&valid).unwrap();
        let sig = event["sig"].as_str().unwrap().to_owned();
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        event["sig"] = format!("{flipped}{}", &sig[1..]).into();
        event.to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("bad signature", bad_signature, 401, "signature"),
        (
            "wrong kind",
            event_json(&keys, 24243, 0, "upload", &upload_tags(&[])),
            401,
            "kind",
        ),
        (
            "expired",
            event_json(
                &keys,
                24242,
                -120,
                "upload",
                &[
                    tag(&["t", "upload"]),
                    tag(&["x", &hash]),
                    tag(&["expiration", &(now() - 60).to_string()]),
                ],
            ),
            401,
            "expired",
        ),
        (
            "created in the future",
            event_json(&keys, 24242, 600, "upload", &upload_tags(&[])),
            401,
            "future",
        ),
        (
            "wrong verb",
            event_json(
                &keys,
                24242,
                0,
                "get",
                &[
                    tag(&["t", "get"]),
                    tag(&["x", &hash]),
                    tag(&["expiration", &expiration]),
                ],
            ),
            403,
            "not for upload",
        ),
        (
            "wrong x",
            event_json(
                &keys,
                24242,
                0,
                "upload",
                &[
                    tag(&["t", "upload"]),
                    tag(&["x", &"0".repeat(64)]),
                    tag(&["expiration", &expiration]),
                ],
            ),
            403,
            "x tags",
        ),
        (
            "missing x",
            event_json(
                &keys,
                24242,
                0,
                "upload",
                &[tag(&["t", "upload"]), tag(&["expiration", &expiration])],
            ),
            403,
            "no x tag",
        ),
        (
            "foreign server",
            event_json(
                &keys,
                24242,
                0,
                "upload",
                &upload_tags(&[tag(&["server", "cdn.example.com"])]),
            ),
            403,
            "another server",
        ),
    ];
    for (what, json, status, words) in cases {
        let response = upload(&server.base, &header(&json, Encoding::UrlSafe)).await;
        assert_eq!(response.status(), status, "{what}");
        assert_cors(&response);
        let text = reason(&response);
        assert!(text.contains(words), "{what}: {text}");
    }
    let none = client()
        .put(server.url("/upload"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(reason(&none).contains("authorization required"));
    assert!(server.store.is_empty());
}

/// An event for `BODY` whose encoded form uses characters only `encoding`'s alphabet has
/// (so a decoder of the other alphabet alone would refuse it), and padding for the standard one.
/// JSON is ASCII, whose base64 reaches the last two alphabet characters only for `>`, `?` and
/// `~` at every third byte: three `?` in a row make sure of one.
fn distinctive(keys: &Keys, server: &str, encoding: Encoding) -> String {
    for attempt in 0..200 {
        let json = event_json(
            keys,
            24242,
            0,
            &format!("upload ??? {attempt}"),
            &upload_tags(&[tag(&["server", server])]),
        );
        let value = header(&json, encoding);
        let ok = match encoding {
            Encoding::UrlSafe => value.contains(['-', '_']) && !value.ends_with('='),
            Encoding::Standard => value.contains(['+', '/']) && value.ends_with('='),
        };
        if ok {
            return value;
        }
    }
    panic!("no distinctive {encoding:?} token in 200 attempts");
}

#[tokio::test]
async fn both_token_forms_are_accepted() {
    let server = serve(|_| {}).await;
    let port = server.addr.port();
    let keys = Keys::generate();
    // Current BUD-11: base64url without padding, server = the bare host.
    let current = distinctive(&keys, "127.0.0.1", Encoding::UrlSafe);
    assert_eq!(upload(&server.base, &current).await.status(), 201);
    // Legacy clients and nostr-tools: standard padded base64, server with the port or a URL.
    let legacy = distinctive(&keys, &format!("127.0.0.1:{port}"), Encoding::Standard);
    assert_ne!(legacy, current);
    assert_eq!(upload(&server.base, &legacy).await.status(), 200);
    let as_url = distinctive(
        &keys,
        &format!("http://127.0.0.1:{port}/"),
        Encoding::Standard,
    );
    assert_eq!(upload(&server.base, &as_url).await.status(), 200);
}

#[tokio::test]
async fn a_flood_of_bad_auth_is_rate_limited() {
    let server = serve(|config| config.bad_auth_limit = 5).await;
    let keys = Keys::generate();
    let wrong_kind = header(
        &event_json(&keys, 1, 0, "no", &upload_tags(&[])),
        Encoding::UrlSafe,
    );
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = upload(&server.base, &wrong_kind).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(reason(&response).contains("too many failed authorizations"));
            assert!(response.headers().contains_key("retry-after"));
            assert_cors(&response);
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // The client is blocked for the window, even with a good token now...
    let good = header(
        &event_json(&keys, 24242, 0, "ok", &upload_tags(&[])),
        Encoding::UrlSafe,
    );
    assert_eq!(upload(&server.base, &good).await.status(), 429);
    // ...while requests that need no token still pass.
    let read = client()
        .get(server.url(&format!("/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 404);
}

#[tokio::test]
async fn the_policy_can_require_tokens_for_reads_and_lists() {
    let server = serve(|config| {
        config.auth.get = true;
        config.auth.list = true;
    })
    .await;
    let keys = Keys::generate();
    let hash = sha256_hex(BODY);
    let stored = upload(&server.base, &token(&keys, "upload", &[&hash])).await;
    assert_eq!(stored.status(), 201);
    let get = |authorization: Option<String>| {
        let mut request = client().get(server.url(&format!("/{hash}")));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        request.send()
    };
    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_cors(&anonymous);
    let other_blob = get(Some(token(&keys, "get", &[&"0".repeat(64)])))
        .await
        .unwrap();
    assert_eq!(other_blob.status(), 403);
    assert!(reason(&other_blob).contains("x tags"));
    let unscoped = get(Some(token(&keys, "get", &[]))).await.unwrap();
    assert_eq!(unscoped.status(), 200);
    assert_eq!(unscoped.bytes().await.unwrap(), BODY);

    let list_url = server.url(&format!("/list/{}", keys.public_key().to_hex()));
    assert_eq!(client().get(&list_url).send().await.unwrap().status(), 401);
    let listed = client()
        .get(&list_url)
        .header("authorization", token(&keys, "list", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert!(listed.text().await.unwrap().contains(&hash));
}
