//! Unit tests of the merged records and of the hand-off to the mirror.

use nostr::{EventBuilder, Keys, Kind, Tag, TagKind, Timestamp};
use tokio::sync::mpsc;

use super::super::events::announcements;
use super::super::events::tests::published;
use super::super::follow::Follower;
use super::*;

/// Our two announcements of a file, signed by `keys`.
fn announced(keys: &Keys, name: &str) -> [nostr::Event; 2] {
    let (catalog, entry) = published(name, name.repeat(100).as_bytes());
    announcements(&entry, catalog.links(), keys, Timestamp::now()).unwrap()
}

#[test]
fn a_torrent_and_its_file_event_merge_into_one_complete_record_in_either_order() {
    let keys = Keys::generate();
    for reversed in [false, true] {
        let [torrent, file] = announced(&keys, "film.mkv");
        let follower = Follower::new([keys.public_key()], None);
        let (first, second) = if reversed {
            (file, torrent)
        } else {
            (torrent, file)
        };
        follower.receive(first.clone(), "ws://a");
        let (page, total) = follower.store.page(0, 10);
        assert_eq!(total, 1);
        assert_eq!(page[0].title, "film.mkv");
        follower.receive(second, "ws://a");
        follower.receive(first, "ws://b");
        let (page, total) = follower.store.page(0, 10);
        assert_eq!(total, 1, "one record for both events");
        let item = &page[0];
        assert!(item.complete && item.torrent_event.is_some() && item.file_event.is_some());
        assert_eq!(item.size, Some(800));
        assert_eq!(item.source, keys.public_key().to_hex());
        assert!(item.magnet.starts_with("magnet:?xt=urn:btih:"));
        assert!(item.webseed.as_deref().unwrap().contains("/webseed/"));
        let answer = follower.answer();
        assert_eq!(
            (answer.received, answer.duplicates, answer.complete),
            (3, 1, 1)
        );
    }
}

#[test]
fn forged_foreign_and_malformed_events_are_dropped_and_counted() {
    let followed = Keys::generate();
    let stranger = Keys::generate();
    let follower = Follower::new([followed.public_key()], None);
    let [torrent, _] = announced(&followed, "a.bin");
    let mut forged = torrent.clone();
    forged.content = "changed after signing".to_owned();
    follower.receive(forged, "ws://a");
    let mut resigned = torrent.clone();
    resigned.sig = announced(&followed, "b.bin")[0].sig;
    follower.receive(resigned, "ws://a");
    let [foreign, _] = announced(&stranger, "c.bin");
    follower.receive(foreign, "ws://a");
    let note = EventBuilder::text_note("hi")
        .sign_with_keys(&followed)
        .unwrap();
    follower.receive(note, "ws://a");
    let no_x = EventBuilder::new(Kind::Torrent, "")
        .tags([Tag::custom(TagKind::custom("title"), ["t"])])
        .sign_with_keys(&followed)
        .unwrap();
    follower.receive(no_x, "ws://a");
    let answer = follower.answer();
    assert_eq!((answer.received, answer.invalid, answer.ignored), (5, 2, 3));
    assert_eq!(follower.store.page(0, 10).1, 0, "nothing listed");
}

#[test]
fn the_mirror_gets_each_completed_record_once_and_only_when_given() {
    let keys = Keys::generate();
    let [torrent, file] = announced(&keys, "x.iso");
    let (sender, mut receiver) = mpsc::channel(4);
    let follower = Follower::new(
        [keys.public_key()],
        Some(Box::new(move |d| sender.try_send(d).is_ok())),
    );
    // Our own 2003 carries sha256 and size: complete on its own.
    follower.receive(torrent.clone(), "ws://a");
    follower.receive(file.clone(), "ws://a");
    follower.receive(torrent.clone(), "ws://b");
    let handed = receiver.try_recv().expect("one record");
    assert!(receiver.try_recv().is_err(), "only once");
    assert_eq!(handed.title, "x.iso");
    assert_eq!(handed.size, 500);
    assert_eq!(handed.source.0, keys.public_key().to_bytes());
    assert_eq!(handed.torrent_event, Some(torrent.id.to_hex()));
    assert!(handed.webseed.is_some() && handed.magnet.contains(&hex(&handed.info_hash.0)));
    assert_eq!(follower.answer().mirrored, 1);

    let unmirrored = Follower::new([keys.public_key()], None);
    unmirrored.receive(torrent, "ws://a");
    unmirrored.receive(file, "ws://a");
    assert_eq!(unmirrored.answer().mirrored, 0);
    assert!(unmirrored.store.page(0, 1).0[0].complete);
}

#[test]
fn a_full_mirror_channel_never_blocks_and_is_counted() {
    let keys = Keys::generate();
    let (sender, _receiver) = mpsc::channel(1);
    let follower = Follower::new(
        [keys.public_key()],
        Some(Box::new(move |d| sender.try_send(d).is_ok())),
    );
    for name in ["1.bin", "2.bin", "3.bin"] {
        let [torrent, _] = announced(&keys, name);
        follower.receive(torrent, "ws://a");
    }
    let answer = follower.answer();
    assert_eq!((answer.mirrored, answer.mirror_dropped), (1, 2));
}

#[test]
fn the_store_pages_newest_first_and_evicts_the_oldest() {
    let store = DiscoveredStore::with_capacity(4);
    let source = Keys::generate().public_key();
    let part = |i: u8| {
        Announced::Torrent(TorrentPart {
            info_hash: InfoHashV1([i; 20]),
            title: Some(format!("t{i}")),
            size: None,
            trackers: Vec::new(),
            magnet: None,
            webseed: None,
            sha256: None,
        })
    };
    for i in 0..5u8 {
        let id = EventId::from_byte_array([i; 32]);
        assert_eq!(store.add(source, id, part(i), u64::from(i)), Added::New);
    }
    let (page, total) = store.page(1, 2);
    assert_eq!(total, 4, "t0 evicted");
    let titles: Vec<&str> = page.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["t3", "t2"]);
    assert!(!page[0].complete && page[0].sha256.is_none());
    let all: Vec<String> = store.page(0, 10).0.into_iter().map(|a| a.title).collect();
    assert_eq!(all, ["t4", "t3", "t2", "t1"]);
    assert_eq!(store.page(10, 5).0.len(), 0);
    let again = store.add(source, EventId::from_byte_array([4; 32]), part(4), 9);
    assert_eq!(again, Added::Known);
}
