//! Uploading the fixtures and checking the answer: the JSON fields, the links in it (a .torrent
//! and a magnet that name this gateway's trackers and web seed and the same info-hash).

use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_metainfo::{Magnet, Torrent};

use super::support::{Fixture, Gateway, MIB, big, json_of, small};

/// A file the gateway acknowledged, with its answer.
pub(crate) struct Stored {
    pub(crate) fixture: &'static Fixture,
    /// The name it was uploaded under.
    pub(crate) name: &'static str,
    pub(crate) answer: Value,
}

impl Stored {
    /// A field of the answer.
    pub(crate) fn field(&self, key: &str) -> &str {
        self.answer[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {}", self.answer))
    }

    /// The magnet without its `ws=` parameter: only the trackers and the peers can deliver.
    pub(crate) fn magnet_without_web_seed(&self) -> String {
        let magnet = self.field("magnet");
        let (head, query) = magnet.split_once('?').expect("a magnet query");
        let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with("ws=")).collect();
        let peer_only = format!("{head}?{}", kept.join("&"));
        let parsed = Magnet::parse(&peer_only).expect("still a magnet");
        assert!(parsed.web_seeds.is_empty() && !parsed.trackers.is_empty());
        peer_only
    }
}

/// Uploads the 5 MiB fixture raw and the 300 MiB one as multipart; asserts 201 and checks both
/// answers.
pub(crate) fn upload_both(gateway: &Gateway) -> [Stored; 2] {
    let small = upload(gateway, small(), "small.bin", false, StatusCode::CREATED);
    let big = upload(gateway, big(), "big.bin", true, StatusCode::CREATED);
    [small, big]
}

/// Uploads `fixture` as `name` (multipart or raw), asserts `status` and checks the answer.
pub(crate) fn upload(
    gateway: &Gateway,
    fixture: &'static Fixture,
    name: &'static str,
    multipart: bool,
    status: StatusCode,
) -> Stored {
    let response = if multipart {
        gateway.upload_multipart(fixture, name)
    } else {
        gateway.upload_raw(fixture, name)
    };
    let answer = json_of(response, status, &format!("upload of {name}"));
    let stored = Stored {
        fixture,
        name,
        answer,
    };
    check_answer(gateway, &stored);
    stored
}

/// The answer's fields and links against the fixture and this gateway's addresses.
pub(crate) fn check_answer(gateway: &Gateway, stored: &Stored) {
    let fixture = stored.fixture;
    let sha = &fixture.sha256;
    let answer = &stored.answer;
    assert_eq!(stored.field("sha256"), sha, "{answer}");
    assert_eq!(answer["size"], fixture.size, "{answer}");
    let storage = if fixture.size >= 100 * MIB {
        "chunked"
    } else {
        "blob"
    };
    assert_eq!(stored.field("storage"), storage, "{answer}");
    let info_hash = stored.field("info_hash");
    assert!(
        info_hash.len() == 40 && info_hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{answer}"
    );
    assert_eq!(
        stored.field("download_url"),
        gateway.at(&format!("/api/download/{sha}"))
    );
    assert_eq!(
        stored.field("webseed_url"),
        gateway.at(&format!("/webseed/{sha}"))
    );
    assert_eq!(
        stored.field("torrent_url"),
        gateway.at(&format!("/api/torrent/{sha}.torrent"))
    );
    let announce = gateway.at("/announce");
    let udp = format!("udp://{}/announce", gateway.udp);

    let magnet = Magnet::parse(stored.field("magnet")).expect("a valid magnet");
    assert_eq!(
        magnet.info_hash.v1().map(|h| h.to_hex()).as_deref(),
        Some(info_hash)
    );
    assert_eq!(magnet.trackers, [announce.clone(), udp.clone()]);
    assert_eq!(magnet.web_seeds, [stored.field("webseed_url")]);
    assert_eq!(magnet.exact_sources, [stored.field("torrent_url")]);
    assert_eq!(magnet.display_name.as_deref(), Some(stored.field("name")));

    let response = gateway.get(&format!("/api/torrent/{sha}.torrent"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-bittorrent"
    );
    let bytes = response.bytes().expect("the .torrent");
    let torrent = Torrent::from_bytes(&bytes).expect("a valid .torrent");
    assert_eq!(
        torrent.info_hash().v1().map(|h| h.to_hex()).as_deref(),
        Some(info_hash)
    );
    assert_eq!(torrent.name(), stored.field("name"));
    assert_eq!(torrent.total_length(), fixture.size);
    assert_eq!(torrent.piece_length(), 2 << 20);
    assert_eq!(torrent.trackers(), [vec![announce], vec![udp]]);
    assert_eq!(torrent.web_seeds(), [stored.field("webseed_url")]);
}
