//! Unit tests of the announcement events: what is signed, and what is read back.

use std::sync::Arc;

use nostr::{Event, Keys, Timestamp};
use swarmgate_blobstore::{ContentOptions, MemoryContentStore, MemoryStore};
use swarmgate_catalog::{Catalog, Entry, Links, PublishRequest};
use swarmgate_storage::PieceCache;

use super::*;

/// A catalog in memory with one published file (`name`, `body`).
pub(crate) fn published(name: &str, body: &[u8]) -> (Catalog, Arc<Entry>) {
    let (catalog, _) = Catalog::open(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryContentStore::new(ContentOptions::default())),
        Arc::new(PieceCache::new(1 << 20)),
        Links::new(
            "http://127.0.0.1:9877",
            Some("127.0.0.1:9877".parse().unwrap()),
        ),
    )
    .unwrap();
    let request = PublishRequest {
        name: name.into(),
        max_size: 1 << 20,
        ..PublishRequest::default()
    };
    let entry = catalog.publish(&mut &body[..], &request).unwrap().entry;
    (catalog, entry)
}

fn values<'a>(event: &'a Event, name: &str) -> Vec<&'a [String]> {
    event
        .tags
        .iter()
        .map(|tag| tag.as_slice())
        .filter(|tag| tag[0] == name)
        .map(|tag| &tag[1..])
        .collect()
}

#[test]
fn an_upload_is_announced_as_nip35_and_nip94_with_exact_standard_tags() {
    let (catalog, entry) = published("notes.md", &b"# words\n".repeat(50));
    let links = catalog.links();
    let keys = Keys::generate();
    let [torrent, file] =
        announcements(&entry, links, &keys, Timestamp::from(1_700_000_000)).unwrap();
    for event in [&torrent, &file] {
        event.verify().expect("signed and hashed");
        assert_eq!(event.pubkey, keys.public_key());
        assert_eq!(event.created_at.as_secs(), 1_700_000_000);
    }
    let info_hash = hex(&entry.info_hash.0);
    let sha256 = entry.sha256().to_hex();
    let size = entry.size().to_string();

    assert_eq!(torrent.kind.as_u16(), 2003);
    assert_eq!(values(&torrent, "title"), [["notes.md".to_owned()]]);
    assert_eq!(values(&torrent, "x"), [[info_hash.clone()]]);
    assert_eq!(
        values(&torrent, "file"),
        [["notes.md".to_owned(), size.clone()]]
    );
    assert_eq!(
        values(&torrent, "tracker"),
        [
            ["http://127.0.0.1:9877/announce".to_owned()],
            ["udp://127.0.0.1:9877/announce".to_owned()]
        ]
    );
    assert_eq!(entry.file.mime, "text/markdown");
    assert_eq!(
        values(&torrent, "t"),
        [["text".to_owned()], ["markdown".to_owned()]]
    );
    let magnet = links.magnet(entry.sha256(), entry.info_hash, "notes.md");
    assert!(magnet.contains("ws="), "{magnet}");
    assert_eq!(values(&torrent, "magnet"), [[magnet.clone()]]);
    assert_eq!(values(&torrent, "sha256"), [[sha256.clone()]]);
    assert_eq!(
        values(&torrent, "webseed"),
        [[links.webseed(entry.sha256())]]
    );

    assert_eq!(file.kind.as_u16(), 1063);
    assert_eq!(file.content, "notes.md");
    assert_eq!(values(&file, "url"), [[file_url(&entry, links)]]);
    assert_eq!(values(&file, "m"), [["text/markdown".to_owned()]]);
    assert_eq!(values(&file, "x"), [[sha256.clone()]]);
    assert_eq!(values(&file, "size"), [[size]]);
    assert_eq!(values(&file, "magnet"), [[magnet]]);
    assert_eq!(values(&file, "i"), [[info_hash]]);
    assert_eq!(values(&file, "fallback"), [[links.webseed(entry.sha256())]]);
}

#[test]
fn the_file_url_is_the_blossom_url_when_blossom_runs_else_the_download_url() {
    let (catalog, entry) = published("clip.mp4", &[0u8; 100]);
    let links = catalog.links();
    assert_eq!(file_url(&entry, links), links.download(entry.sha256()));
    let with_blossom = links.clone().with_blossom("http://127.0.0.1:8082/");
    let url = file_url(&entry, &with_blossom);
    assert_eq!(
        url,
        swarmgate_blossom::blob_url("http://127.0.0.1:8082", entry.sha256(), &entry.file.mime)
    );
    assert!(url.starts_with(&format!(
        "http://127.0.0.1:8082/{}.",
        entry.sha256().to_hex()
    )));
}

#[test]
fn announcements_read_back_as_what_was_announced() {
    let (catalog, entry) = published("clip.bin", &[7u8; 5000]);
    let keys = Keys::generate();
    let [torrent, file] = announcements(&entry, catalog.links(), &keys, Timestamp::now()).unwrap();
    let Announced::Torrent(torrent) = parse(&torrent).unwrap() else {
        panic!("a torrent");
    };
    assert_eq!(torrent.info_hash, entry.info_hash);
    assert_eq!(torrent.title.as_deref(), Some("clip.bin"));
    assert_eq!(torrent.size, Some(5000));
    assert_eq!(torrent.sha256, Some(*entry.sha256()));
    assert_eq!(torrent.trackers.len(), 2);
    let Announced::File(file) = parse(&file).unwrap() else {
        panic!("a file");
    };
    assert_eq!(
        (file.sha256, file.info_hash, file.size),
        (*entry.sha256(), entry.info_hash, 5000)
    );
    assert_eq!(file.name.as_deref(), Some("clip.bin"));
    assert_eq!(file.fallback, Some(catalog.links().webseed(entry.sha256())));
}

#[test]
fn other_kinds_and_missing_tags_are_ignored() {
    let keys = Keys::generate();
    let note = EventBuilder::text_note("hello")
        .sign_with_keys(&keys)
        .unwrap();
    assert_eq!(parse(&note), Err(Ignored::Kind(1)));
    let no_x = EventBuilder::new(TORRENT, "")
        .tags([tag("title", ["t"])])
        .sign_with_keys(&keys)
        .unwrap();
    assert_eq!(parse(&no_x), Err(Ignored::Tag("x")));
    let short_x = EventBuilder::new(TORRENT, "")
        .tags([tag("x", ["abcd"])])
        .sign_with_keys(&keys)
        .unwrap();
    assert_eq!(parse(&short_x), Err(Ignored::Tag("x")));
    let sha = "ab".repeat(32);
    let no_info_hash = EventBuilder::new(FILE_METADATA, "f")
        .tags([tag("x", [sha.as_str()]), tag("size", ["3"])])
        .sign_with_keys(&keys)
        .unwrap();
    assert_eq!(parse(&no_info_hash), Err(Ignored::Tag("i")));
    let bad_size = EventBuilder::new(FILE_METADATA, "f")
        .tags([
            tag("x", [sha.as_str()]),
            tag("i", ["cd".repeat(20).as_str()]),
            tag("size", ["three"]),
        ])
        .sign_with_keys(&keys)
        .unwrap();
    assert_eq!(parse(&bad_size), Err(Ignored::Tag("size")));
}

#[test]
fn a_plain_nip35_event_reads_with_only_its_standard_tags() {
    let keys = Keys::generate();
    let info_hash = "CD".repeat(20);
    let event = EventBuilder::new(TORRENT, "a film")
        .tags([
            tag("title", ["Film"]),
            tag("x", [info_hash.as_str()]),
            tag("file", ["film/a.mkv", "100"]),
            tag("file", ["film/b.srt", "20"]),
            tag("tracker", ["udp://tracker.example:1337"]),
        ])
        .sign_with_keys(&keys)
        .unwrap();
    let Announced::Torrent(part) = parse(&event).unwrap() else {
        panic!("a torrent");
    };
    assert_eq!(part.info_hash, InfoHashV1([0xcd; 20]));
    assert_eq!(part.size, Some(120));
    assert_eq!((part.magnet, part.sha256), (None, None));
    let magnet = magnet_of(part.info_hash, part.title.as_deref(), &part.trackers, None);
    assert!(magnet.starts_with("magnet:?xt=urn:btih:cdcd"), "{magnet}");
    assert!(
        magnet.contains("dn=Film") && magnet.contains("tr=udp"),
        "{magnet}"
    );
}

#[test]
fn media_types_become_categories() {
    assert_eq!(media_categories("video/mp4"), ["video", "mp4"]);
    assert_eq!(
        media_categories("text/markdown; charset=utf-8"),
        ["text", "markdown"]
    );
    assert_eq!(media_categories("image/svg+xml"), ["image", "svg"]);
    assert_eq!(
        media_categories("application/x-bittorrent"),
        ["application", "bittorrent"]
    );
    assert_eq!(
        media_categories("application/octet-stream"),
        ["application"]
    );
    assert!(media_categories("nonsense").is_empty());
}
