//! BUD-09: a signed kind 1984 report is kept; a malformed or unsigned one is 400; the admin
//! listing needs its token.

use nostr::Keys;
use serde_json::Value;

use crate::helpers::{assert_cors, client, event_json, reason, serve, tag};

#[tokio::test]
async fn reports_are_verified_kept_and_listed_for_the_admin() {
    let server = serve(|config| config.admin_token = Some("s3cret".into())).await;
    let keys = Keys::generate();
    let blob = "ab".repeat(32);
    let report = event_json(
        &keys,
        1984,
        0,
        "not what it claims",
        &[
            tag(&["x", &blob, "malware"]),
            tag(&["p", &keys.public_key().to_hex()]),
        ],
    );
    let send = |body: String| client().put(server.url("/report")).body(body).send();
    let accepted = send(report.clone()).await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert_cors(&accepted);

    let unsigned = report.replace("not what it claims", "something else");
    let cases = [
        (unsigned, "signature"),
        ("{\"kind\":1984}".to_string(), "not a Nostr event"),
        (
            event_json(&keys, 1, 0, "x", &[tag(&["x", &blob, "spam"])]),
            "kind 1",
        ),
        (
            event_json(&keys, 1984, 0, "x", &[tag(&["e", &blob])]),
            "names no blob",
        ),
        (
            event_json(&keys, 1984, 0, "x", &[tag(&["x", &blob, "boring"])]),
            "unknown report type",
        ),
    ];
    for (body, words) in cases {
        let response = send(body).await.unwrap();
        assert_eq!(response.status(), 400, "{words}");
        assert!(reason(&response).contains(words), "{}", reason(&response));
    }

    let listing = |token: Option<&str>| {
        let mut request = client().get(server.url("/reports"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    assert_eq!(listing(None).await.unwrap().status(), 401);
    assert_eq!(listing(Some("guess")).await.unwrap().status(), 401);
    let response = listing(Some("s3cret")).await.unwrap();
    assert_eq!(response.status(), 200);
    let reports: Vec<Value> = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["blobs"][0]["sha256"], blob);
    assert_eq!(reports[0]["blobs"][0]["type"], "malware");
    assert_eq!(reports[0]["reporter"], keys.public_key().to_hex());
    assert_eq!(reports[0]["event"]["kind"], 1984);

    let closed = serve(|_| {}).await;
    let response = client().get(closed.url("/reports")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}
