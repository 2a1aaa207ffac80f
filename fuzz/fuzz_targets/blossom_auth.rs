//! Fuzzes Blossom authorization: arbitrary `Authorization` header values (raw, and the input
//! base64-encoded behind `Nostr ` so the JSON and event checks are reached) never panic; an
//! accepted token is accepted the same in the other base64 alphabet, padded; `server_host`
//! never panics on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nostr::JsonUtil;
use swarmgate_blossom::{
    AuthRequest, AuthRules, MAX_HEADER_LEN, TokenEncoding, Verb, XRule, authorization_header,
    check_authorization, parse_authorization, server_host,
};
use swarmgate_core::Sha256;

fuzz_target!(|data: &[u8]| {
    if data.len() > 2 * MAX_HEADER_LEN {
        return;
    }
    let rules = AuthRules {
        servers: vec!["cdn.example.com".into(), "https://127.0.0.1:8082/".into()],
        max_skew: 60,
    };
    let text = String::from_utf8_lossy(data);
    let _ = server_host(&text);
    let headers = [
        text.to_string(),
        format!("Nostr {text}"),
        authorization_header(data, TokenEncoding::UrlSafe),
    ];
    for header in headers {
        let Ok(event) = parse_authorization(&header) else {
            continue;
        };
        let hash = Sha256([data.first().copied().unwrap_or(0); 32]);
        for (verb, x) in [
            (Verb::Upload, XRule::Any),
            (Verb::Delete, XRule::Required(hash)),
            (Verb::Get, XRule::IfScoped(hash)),
            (Verb::List, XRule::Ignore),
        ] {
            for now in [0, event.created_at.as_secs(), u64::MAX] {
                let _ = check_authorization(&event, &AuthRequest { verb, x }, now, &rules);
            }
        }
        let json = event.as_json();
        let standard = authorization_header(&json, TokenEncoding::Standard);
        if standard.len() <= MAX_HEADER_LEN {
            let again = parse_authorization(&standard).expect("the other form parses too");
            assert_eq!(again.id, event.id);
        }
    }
});
