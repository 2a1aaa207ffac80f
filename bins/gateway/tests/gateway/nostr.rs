//! The gateway on Nostr, against nostr-relay-builder's in-process relay on loopback: both
//! announcements of an upload on the relay (read back over a raw WebSocket, ids and signatures
//! verified, tags checked); an upload made while the relay is down delivered once it is up; a
//! relay's refusal counted; the key file (mode 0600, the same key after a restart, a given key
//! winning); the relay's state and counters in /api/p2p/stats, /metrics and the health report;
//! and a gateway following another one listing its upload in /api/discovered, while forged and
//! malformed events are dropped and counted.

use std::time::{Duration, Instant};

use nostr::nips::nip19::ToBech32;
use nostr::{Event, EventBuilder, Filter, Keys, Kind, PublicKey, Tag, TagKind};
use nostr_relay_builder::prelude::{RateLimit, RelayBuilder};
use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_testkit::programs::free_port;

use super::relay::{PATIENCE, Relay};
use super::support::{Gateway, json_of, workspace};

/// Uploads `body` raw as `name`; the answer.
pub(crate) fn upload(gateway: &Gateway, name: &str, body: Vec<u8>) -> Value {
    let response = gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", name)
        .body(body)
        .send()
        .expect("upload");
    json_of(response, StatusCode::CREATED, name)
}

/// `/api/p2p/stats`' `nostr` part.
pub(crate) fn nostr_stats(gateway: &Gateway) -> Value {
    gateway.get_json("/api/p2p/stats", StatusCode::OK)["nostr"].clone()
}

/// Waits until `check` holds for the `nostr` stats; returns them.
pub(crate) fn wait_stats(gateway: &Gateway, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = nostr_stats(gateway);
        if check(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {stats:#}\n{}",
            gateway.tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The gateway's public key, from its stats.
pub(crate) fn pubkey(gateway: &Gateway) -> PublicKey {
    let hex = nostr_stats(gateway)["pubkey"]
        .as_str()
        .expect("pubkey")
        .to_owned();
    PublicKey::from_hex(&hex).expect("a public key")
}

/// The values of `event`'s tags named `name`.
fn tags(event: &Event, name: &str) -> Vec<Vec<String>> {
    event
        .tags
        .iter()
        .map(|tag| tag.as_slice())
        .filter(|tag| tag[0] == name)
        .map(|tag| tag[1..].to_vec())
        .collect()
}

fn announcements_of(author: PublicKey) -> Filter {
    Filter::new()
        .author(author)
        .kinds([Kind::Torrent, Kind::FileMetadata])
}

#[test]
fn an_upload_puts_both_announcements_on_the_relay_and_the_relay_in_the_figures() {
    let relay = Relay::start();
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--nostr-relay", &relay.url]);
    let author = pubkey(&gateway);
    let npub = author.to_bech32().unwrap();
    gateway.wait_log(&format!("Nostr key {npub}"));
    let live = relay.watch(announcements_of(author));
    let answer = upload(&gateway, "notes.md", b"# notes\n\nsome words\n".repeat(40));
    let answered = Instant::now();
    let (arrived, first) = live
        .recv_timeout(PATIENCE)
        .expect("an event to the subscriber");
    eprintln!(
        "kind {} at a live subscriber {:?} after the upload answer",
        first.kind.as_u16(),
        arrived.saturating_duration_since(answered)
    );
    let events = relay.wait_for(&announcements_of(author), 2, "both announcements");
    eprintln!(
        "on the relay {:?} after the upload answer",
        answered.elapsed()
    );
    assert_eq!(events.len(), 2, "{events:#?}");
    for event in &events {
        event.verify().expect("a valid id and signature");
        assert_eq!(event.pubkey, author);
    }
    let torrent = events
        .iter()
        .find(|e| e.kind == Kind::Torrent)
        .expect("kind 2003");
    let file = events
        .iter()
        .find(|e| e.kind == Kind::FileMetadata)
        .expect("kind 1063");
    let field = |key: &str| answer[key].as_str().unwrap().to_owned();
    let size = answer["size"].as_u64().unwrap().to_string();
    assert_eq!(tags(torrent, "x"), [[field("info_hash")]]);
    assert_eq!(tags(torrent, "title"), [["notes.md".to_owned()]]);
    assert_eq!(
        tags(torrent, "file"),
        [["notes.md".to_owned(), size.clone()]]
    );
    let trackers = tags(torrent, "tracker");
    assert_eq!(trackers.len(), 2, "{trackers:?}");
    assert_eq!(trackers[0], [format!("{}/announce", gateway.url)]);
    assert!(trackers[1][0].starts_with("udp://"), "{trackers:?}");
    assert_eq!(
        tags(torrent, "t"),
        [["text".to_owned()], ["markdown".to_owned()]]
    );
    assert_eq!(tags(torrent, "magnet"), [[field("magnet")]]);
    assert_eq!(tags(file, "x"), [[field("sha256")]]);
    assert_eq!(tags(file, "i"), [[field("info_hash")]]);
    assert_eq!(tags(file, "size"), [[size]]);
    assert_eq!(tags(file, "m"), [["text/markdown".to_owned()]]);
    assert_eq!(tags(file, "magnet"), [[field("magnet")]]);
    assert_eq!(tags(file, "fallback"), [[field("webseed_url")]]);
    // The Blossom URL, as the upload answer and BUD-08 give it.
    assert_eq!(tags(file, "url"), [[field("blossom_url")]]);
    let blob = gateway
        .http
        .get(field("blossom_url"))
        .send()
        .expect("GET the blob");
    assert_eq!(blob.status(), StatusCode::OK);

    let stats = wait_stats(&gateway, "two acknowledged", |s| {
        s["relays"][0]["acknowledged"] == 2
    });
    let relay_stats = &stats["relays"][0];
    assert_eq!(relay_stats["url"], relay.url.as_str());
    assert_eq!(relay_stats["state"], "connected");
    assert_eq!(
        (
            relay_stats["sent"].as_u64(),
            relay_stats["rejected"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(relay_stats["queued"], 0);
    assert_eq!(stats["announced_files"], 1);
    assert_eq!(stats["npub"], npub.as_str());
    let metrics = gateway.get("/metrics").text().unwrap();
    for line in [
        format!(
            "swarmgate_nostr_events_acknowledged_total{{relay=\"{}\"}} 2",
            relay.url
        ),
        format!(
            "swarmgate_nostr_relay_connected{{relay=\"{}\"}} 1",
            relay.url
        ),
        "swarmgate_nostr_files_announced_total 1".to_owned(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let health = gateway.get_json("/api/health", StatusCode::OK);
    let components = health["components"].as_array().unwrap();
    let nostr = components
        .iter()
        .find(|c| c["name"] == "nostr")
        .expect("a nostr component");
    assert_eq!(nostr["score"], 100, "{health}");
}

#[test]
fn the_key_file_is_private_and_kept_and_a_given_key_wins_and_stored_files_are_not_announced_again()
{
    let relay = Relay::start();
    let (_tmp, data) = workspace();
    let mut first = Gateway::start(&data, &["--nostr-relay", &relay.url]);
    let key_file = data.join("nostr.key");
    let text = std::fs::read_to_string(&key_file).expect("the key file");
    assert!(text.trim().starts_with("nsec1"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let author = pubkey(&first);
    assert_eq!(author, Keys::parse(text.trim()).unwrap().public_key());
    upload(&first, "kept.bin", vec![9u8; 3000]);
    relay.wait_for(
        &announcements_of(author),
        2,
        "the first gateway's announcements",
    );
    first.kill();

    let again = first.restart();
    assert_eq!(pubkey(&again), author, "the same key after a restart");
    wait_stats(&again, "connected", |s| {
        s["relays"][0]["state"] == "connected"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        relay.query(announcements_of(author)).len(),
        2,
        "no re-announcement"
    );
    assert_eq!(nostr_stats(&again)["relays"][0]["sent"], 0);
    drop(again);

    let given = Keys::generate();
    for form in [
        given.secret_key().to_secret_hex(),
        given.secret_key().to_bech32().unwrap(),
    ] {
        let (_tmp, data) = workspace();
        let gateway = Gateway::start(&data, &["--nostr-key", &form]);
        assert_eq!(pubkey(&gateway), given.public_key());
        assert!(
            !data.join("nostr.key").exists(),
            "a given key is not written"
        );
    }
}

#[test]
fn an_upload_while_the_relay_is_down_is_delivered_once_it_is_up() {
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--nostr-relay", &url]);
    upload(&gateway, "late.bin", vec![3u8; 4000]);
    let stats = wait_stats(&gateway, "waiting for the relay", |s| {
        s["relays"][0]["queued"] == 2 && s["relays"][0]["failures"].as_u64() >= Some(1)
    });
    assert_eq!(stats["relays"][0]["acknowledged"], 0);
    let health = gateway.get_json("/api/health", StatusCode::OK);
    let nostr = health["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "nostr")
        .cloned()
        .expect("a nostr component");
    assert_eq!(nostr["score"], 0, "{health}");

    let relay = Relay::start_with(RelayBuilder::default().port(port));
    assert_eq!(relay.url, url);
    let author = pubkey(&gateway);
    let started = Instant::now();
    let events = relay.wait_for(&announcements_of(author), 2, "delivered after the back-off");
    assert!(events.iter().all(|e| e.verify().is_ok()));
    let stats = wait_stats(&gateway, "acknowledged", |s| {
        s["relays"][0]["acknowledged"] == 2
    });
    assert_eq!(stats["relays"][0]["queued"], 0);
    eprintln!("delivered {:?} after the relay came up", started.elapsed());
}

#[test]
fn a_refusal_is_counted_with_its_reason_and_retried() {
    // No notes per minute: the relay takes a connection's first event and refuses the rest
    // with `rate-limited:`.
    let relay = Relay::start_with(RelayBuilder::default().rate_limit(RateLimit {
        max_reqs: 10,
        notes_per_minute: 0,
    }));
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--nostr-relay", &relay.url]);
    upload(&gateway, "refused.bin", vec![5u8; 2000]);
    let stats = wait_stats(&gateway, "a refusal", |s| {
        s["relays"][0]["rejected"].as_u64() >= Some(1)
    });
    let relay_stats = &stats["relays"][0];
    assert_eq!(relay_stats["acknowledged"], 1, "{stats:#}");
    let reason = relay_stats["last_rejection"].as_str().unwrap();
    assert!(reason.starts_with("rate-limited:"), "{reason}");
    assert!(relay_stats["retried"].as_u64() >= Some(1), "{stats:#}");
    let metrics = gateway.get("/metrics").text().unwrap();
    let line = format!(
        "swarmgate_nostr_events_rejected_total{{relay=\"{}\"}}",
        relay.url
    );
    assert!(
        metrics.lines().any(|l| l.starts_with(&line)),
        "{line} in\n{metrics}"
    );
}

#[test]
fn a_follower_lists_the_followed_gateways_uploads_and_drops_forged_and_malformed_events() {
    let relay = Relay::start();
    let publisher_key = Keys::generate();
    let (_tmp_a, data_a) = workspace();
    let a = Gateway::start(
        &data_a,
        &[
            "--nostr-relay",
            &relay.url,
            "--nostr-key",
            &publisher_key.secret_key().to_secret_hex(),
        ],
    );
    let (_tmp_b, data_b) = workspace();
    let npub = publisher_key.public_key().to_bech32().unwrap();
    let b = Gateway::start(
        &data_b,
        &["--nostr-relay", &relay.url, "--nostr-follow", &npub],
    );
    wait_stats(&b, "B connected", |s| {
        s["relays"][0]["state"] == "connected"
    });
    assert_eq!(
        nostr_stats(&b)["following"]["keys"][0],
        publisher_key.public_key().to_hex()
    );

    let answer = upload(&a, "shared.iso", vec![42u8; 70_000]);
    let uploaded = Instant::now();
    let deadline = uploaded + Duration::from_secs(5);
    let listed = loop {
        let page = b.get_json("/api/discovered?limit=10", StatusCode::OK);
        let item = &page["discovered"][0];
        // Both events merged (our kind 2003 alone is complete: it carries `sha256`).
        if item["complete"] == true && item["file_event"].is_string() {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "listed by B within 5 s: {page:#}\n{}",
            b.tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "listed by the follower {:?} after the upload answer",
        uploaded.elapsed()
    );
    assert_eq!(listed["total"], 1);
    assert_eq!(
        (listed["offset"].as_u64(), listed["limit"].as_u64()),
        (Some(0), Some(10))
    );
    let item = &listed["discovered"][0];
    assert_eq!(item["title"], "shared.iso");
    assert_eq!(item["size"], 70_000);
    assert_eq!(item["sha256"], answer["sha256"]);
    assert_eq!(item["info_hash"], answer["info_hash"]);
    assert_eq!(item["magnet"], answer["magnet"]);
    assert_eq!(item["webseed"], answer["webseed_url"]);
    assert_eq!(item["source"], publisher_key.public_key().to_hex());
    assert_eq!(item["source_npub"], npub.as_str());
    assert!(item["seen_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(item["torrent_event"].is_string() && item["file_event"].is_string());

    // A's key on an announcement signed by another key: the relay would refuse it, so it is
    // pushed to the subscribers unchecked, as a hostile relay would.
    let mut forged = EventBuilder::new(Kind::Torrent, "forged")
        .tags([
            Tag::custom(TagKind::custom("x"), ["ab".repeat(20)]),
            Tag::custom(TagKind::custom("title"), ["forged.bin".to_owned()]),
        ])
        .sign_with_keys(&Keys::generate())
        .unwrap();
    forged.pubkey = publisher_key.public_key();
    relay.push_unchecked(forged);
    // A well-signed kind 2003 of A's key without its `x` tag.
    let malformed = EventBuilder::new(Kind::Torrent, "no info-hash")
        .tags([Tag::custom(TagKind::custom("title"), ["nothing.bin"])])
        .sign_with_keys(&publisher_key)
        .unwrap();
    let (accepted, reason) = relay.publish(&malformed);
    assert!(accepted, "{reason}");
    let stats = wait_stats(&b, "forged and malformed counted", |s| {
        s["following"]["invalid"] == 1 && s["following"]["ignored"] == 1
    });
    assert_eq!(stats["following"]["discovered"], 1, "{stats:#}");
    let page = b.get_json("/api/discovered", StatusCode::OK);
    assert_eq!(page["total"], 1, "{page:#}");
    let metrics = b.get("/metrics").text().unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "swarmgate_nostr_followed_invalid_total 1"),
        "{metrics}"
    );
    let bad = b.get("/api/discovered?limit=0");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
