//! Unit tests of the authorization rules: the verified vectors of spec 2.16 under a mocked
//! clock, the invalid-id vectors, and tokens signed here.

use super::*;
use nostr::{EventBuilder, Keys, Kind, Tag, Timestamp};

const UPLOAD_VECTOR: &str = r#"{"id":"bb653c815da18c089f3124b41c4b5ec072a40b87ca0f50bbbc6ecde9aca442eb","pubkey":"b53185b9f27962ebdf76b8a9b0a84cd8b27f9f3d4abd59f715788a3bf9e7f75e","kind":24242,"content":"Upload bitcoin.pdf","created_at":1708773959,"tags":[["t","upload"],["x","b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553"],["expiration","1708858680"]],"sig":"d0d58c92afb3f4f1925120b99c39cffe77d93e82f488c5f8f482e8f97df75c5357175b5098c338661c37d1074b0a18ab5e75a9df08967bfb200930ec6a76562f"}"#;
const KIND1_VECTOR: &str = r#"{"id":"53443506e7d09e55b922a2369b80f926007a8a8a8ea5f09df1db59fe1993335e","pubkey":"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","created_at":1698632644,"kind":1,"tags":[],"content":"hello from the nostr army knife","sig":"4bdb609c975b2b61338c2ff4c7ce91d4afe74bea4ed1601a62e1fd125bd4c0ae6e0166cca96e5cfb7e0f50583eb6a0dd0b66072566299b6007742db56278010c"}"#;
const PDF: &str = "b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553";

fn standard(json: &str) -> String {
    crate::base64::encode(json.as_bytes(), TokenEncoding::Standard)
}

fn url_safe(json: &str) -> String {
    crate::base64::encode(json.as_bytes(), TokenEncoding::UrlSafe)
}

fn upload(x: XRule) -> AuthRequest {
    AuthRequest {
        verb: Verb::Upload,
        x,
    }
}

fn rules() -> AuthRules {
    AuthRules {
        servers: vec!["cdn.example.com".into()],
        max_skew: 60,
    }
}

fn pdf() -> Sha256 {
    Sha256::from_hex(PDF).unwrap()
}

#[test]
fn the_legacy_upload_vector_verifies_under_a_mocked_clock() {
    let header = format!("Nostr {}", standard(UPLOAD_VECTOR));
    let now = 1_708_800_000;
    let auth = authorize(&header, &upload(XRule::Required(pdf())), now, &rules()).unwrap();
    assert_eq!(
        auth.pubkey.to_hex(),
        "b53185b9f27962ebdf76b8a9b0a84cd8b27f9f3d4abd59f715788a3bf9e7f75e"
    );
    assert_eq!((auth.verb, auth.expiration), (Verb::Upload, 1_708_858_680));
    assert_eq!(auth.x, vec![pdf()]);
    let url = format!("nostr {}", url_safe(UPLOAD_VECTOR));
    assert_eq!(
        authorize(&url, &upload(XRule::Any), now, &rules()).unwrap(),
        auth
    );

    let later = authorize(&header, &upload(XRule::Any), 1_708_858_680, &rules());
    assert!(matches!(later, Err(AuthError::Expired { .. })));
    let early = authorize(&header, &upload(XRule::Any), 1_708_773_959 - 61, &rules());
    assert!(matches!(early, Err(AuthError::CreatedInFuture { .. })));
    let delete = AuthRequest {
        verb: Verb::Delete,
        x: XRule::Required(pdf()),
    };
    assert_eq!(
        authorize(&header, &delete, now, &rules()),
        Err(AuthError::WrongVerb { expected: "delete" })
    );
    let other = upload(XRule::Required(Sha256([0; 32])));
    assert_eq!(
        authorize(&header, &other, now, &rules()),
        Err(AuthError::WrongX)
    );
}

#[test]
fn a_valid_event_of_another_kind_and_tampered_events_are_refused() {
    let header = format!("Nostr {}", url_safe(KIND1_VECTOR));
    assert!(parse_authorization(&header).is_ok());
    assert_eq!(
        authorize(&header, &upload(XRule::Any), 1_698_632_700, &rules()),
        Err(AuthError::WrongKind(1))
    );

    let content = UPLOAD_VECTOR.replace("Upload bitcoin.pdf", "Upload bitcoin.pdg");
    assert_eq!(
        parse_authorization(&format!("Nostr {}", url_safe(&content))),
        Err(AuthError::BadId)
    );
    let sig = UPLOAD_VECTOR.replace("\"sig\":\"d0", "\"sig\":\"d1");
    assert_eq!(
        parse_authorization(&format!("Nostr {}", url_safe(&sig))),
        Err(AuthError::BadSignature)
    );
}

/// Legacy `buds/01.md` `get` token with a full-URL `server` tag (spec 2.16: valid).
const GET_SERVER_VECTOR: &str = r#"{"id":"d9484f18533d5e36f000f902a45b15a7eecf5fbfcb046789756d57ea87115dc5","pubkey":"b5f07faa8d3529f03bd898a23dfb3257bab8d8f5490777c46076ff9647e205dc","kind":24242,"content":"Get blobs from example.com","created_at":1708771927,"tags":[["t","get"],["expiration","1708857340"],["server","https://cdn.example.com/"]],"sig":"e402ade78e1714d40cd6bd3091bc5f4ada8e904e90301b5a2b9b5f0b6e95ce908d4f22b15e9fb86f8268a2131f8adbb3d1f0e7e7afd1ab0f4f08acb15822a999"}"#;
/// Legacy `buds/01.md` `get` token whose id does not hash (spec 2.16: invalid id).
const GET_BAD_ID_VECTOR: &str = r#"{"id":"06d4842b9d7f8bf72440471704de4efa9ef8f0348e366d097405573994f66294","pubkey":"ec0d11351457798907a3900fe465bfdc3b081be6efeb3d68c4d67774c0bc1f9a","kind":24242,"content":"Get bitcoin.pdf","created_at":1708771927,"tags":[["t","get"],["expiration","1708857340"],["x","b1674191a88ec5cdd733e4240a81803105dc412d6c6708d53ab94fc248f4f553"]],"sig":"22ecb5116ba143e4c3d6dc4b53d549aed6970ec455f6d25d145e0ad1fd7c0e26c465b2e92d5fdf699c7050fa43e6a41f087ef167208d4f06425f61548168fd7f"}"#;

#[test]
fn the_get_vectors_of_the_spec_a_url_server_tag_and_an_invalid_id() {
    let get = AuthRequest {
        verb: Verb::Get,
        x: XRule::IfScoped(pdf()),
    };
    let now = 1_708_800_000;
    let header = format!("Nostr {}", standard(GET_SERVER_VECTOR));
    let auth = authorize(&header, &get, now, &rules()).unwrap();
    assert_eq!(
        auth.pubkey.to_hex(),
        "b5f07faa8d3529f03bd898a23dfb3257bab8d8f5490777c46076ff9647e205dc"
    );
    let elsewhere = AuthRules {
        servers: vec!["https://other.example:443".into()],
        max_skew: 60,
    };
    assert_eq!(
        authorize(&header, &get, now, &elsewhere),
        Err(AuthError::WrongServer)
    );
    let bad = format!("Nostr {}", url_safe(GET_BAD_ID_VECTOR));
    assert_eq!(authorize(&bad, &get, now, &rules()), Err(AuthError::BadId));
}

#[test]
fn malformed_headers_say_what_is_wrong() {
    assert_eq!(parse_authorization("Bearer abc"), Err(AuthError::Scheme));
    assert_eq!(parse_authorization("Nostr"), Err(AuthError::Scheme));
    assert_eq!(parse_authorization("Nostr a!b"), Err(AuthError::Encoding));
    assert!(matches!(
        parse_authorization("Nostr e30"),
        Err(AuthError::NotAnEvent(_))
    ));
    let long = format!("Nostr {}", "A".repeat(MAX_HEADER_LEN));
    assert_eq!(parse_authorization(&long), Err(AuthError::TooLong));
    for error in [
        AuthError::Missing,
        AuthError::BadSignature,
        AuthError::NoExpiration,
    ] {
        assert_eq!(error.status(), 401);
    }
    for error in [
        AuthError::WrongServer,
        AuthError::MissingX,
        AuthError::NotAllowed,
    ] {
        assert_eq!(error.status(), 403);
    }
}

fn sign(keys: &Keys, created_at: u64, tags: &[&[&str]]) -> String {
    let tags = tags
        .iter()
        .map(|tag| Tag::parse(tag.iter().copied()).unwrap());
    let event = EventBuilder::new(Kind::Custom(AUTH_KIND), "test")
        .tags(tags)
        .custom_created_at(Timestamp::from(created_at))
        .sign_with_keys(keys)
        .unwrap();
    format!("Nostr {}", url_safe(&event.as_json()))
}

#[test]
fn server_tags_are_compared_by_host() {
    let keys = Keys::generate();
    let now = 1_800_000_000;
    let exp = (now + 60).to_string();
    for (server, ok) in [
        ("cdn.example.com", true),
        ("CDN.example.com:8082", true),
        ("https://cdn.example.com/", true),
        ("http://user@cdn.example.com.:80/x?y", true),
        ("evil.example.com", false),
        ("https://cdn.example.com.evil/", false),
    ] {
        let token = sign(
            &keys,
            now,
            &[&["t", "get"], &["expiration", &exp], &["server", server]],
        );
        let get = AuthRequest {
            verb: Verb::Get,
            x: XRule::Ignore,
        };
        let result = authorize(&token, &get, now, &rules());
        assert_eq!(result.is_ok(), ok, "{server}: {result:?}");
        if !ok {
            assert_eq!(result, Err(AuthError::WrongServer));
        }
    }
    assert_eq!(server_host("[::1]:8082").as_deref(), Some("::1"));
    assert_eq!(server_host("https://"), None);
}

#[test]
fn expiration_and_x_rules() {
    let keys = Keys::generate();
    let now = 1_800_000_000;
    let get = AuthRequest {
        verb: Verb::Get,
        x: XRule::IfScoped(pdf()),
    };
    let no_exp = sign(&keys, now, &[&["t", "get"]]);
    assert_eq!(
        authorize(&no_exp, &get, now, &rules()),
        Err(AuthError::NoExpiration)
    );
    let exp = (now + 10).to_string();
    let unscoped = sign(&keys, now, &[&["t", "get"], &["expiration", &exp]]);
    assert!(authorize(&unscoped, &get, now, &rules()).is_ok());
    assert_eq!(
        authorize(&unscoped, &upload(XRule::Any), now, &rules()),
        Err(AuthError::WrongVerb { expected: "upload" })
    );
    let x_upload = sign(&keys, now, &[&["t", "upload"], &["expiration", &exp]]);
    assert_eq!(
        authorize(&x_upload, &upload(XRule::Any), now, &rules()),
        Err(AuthError::MissingX)
    );
    assert_eq!(
        authorize(&x_upload, &upload(XRule::Required(pdf())), now, &rules()),
        Err(AuthError::MissingX)
    );
    let scoped = sign(
        &keys,
        now,
        &[
            &["t", "get"],
            &["expiration", &exp],
            &["x", &"00".repeat(32)],
            &["x", PDF],
        ],
    );
    assert!(authorize(&scoped, &get, now, &rules()).is_ok());
    let elsewhere = AuthRequest {
        verb: Verb::Get,
        x: XRule::IfScoped(Sha256([1; 32])),
    };
    assert_eq!(
        authorize(&scoped, &elsewhere, now, &rules()),
        Err(AuthError::WrongX)
    );
    // Skew: 60 s ahead passes, 61 s does not.
    let ahead = sign(
        &keys,
        now + 60,
        &[&["t", "get"], &["expiration", &(now + 100).to_string()]],
    );
    assert!(authorize(&ahead, &get, now, &rules()).is_ok());
    let too_far = sign(
        &keys,
        now + 61,
        &[&["t", "get"], &["expiration", &(now + 100).to_string()]],
    );
    assert!(matches!(
        authorize(&too_far, &get, now, &rules()),
        Err(AuthError::CreatedInFuture { .. })
    ));
}

#[test]
fn every_truncation_of_a_token_is_an_error_not_a_panic() {
    for header in [standard(UPLOAD_VECTOR), url_safe(UPLOAD_VECTOR)] {
        let header = format!("Nostr {header}");
        let full = parse_authorization(&header).unwrap();
        for end in 0..header.len() {
            let cut = &header[..end];
            if let Ok(event) = parse_authorization(cut) {
                // Only dropping padding may leave a token that still parses.
                assert_eq!(event, full, "{cut}");
                assert!(header[end..].bytes().all(|b| b == b'='));
            }
        }
    }
}
