//! Byte-for-byte goldens: the builder and the gateway write exactly the bytes they wrote before
//! the torrent writer (`InfoDictionary`, `TorrentFile`) replaced their hand-written encoders.
//! Each builder case is pinned by the SHA-1 of the whole `.torrent`; the gateway's torrent, small,
//! by its bytes; all were recorded from the encoders replaced. (testkit's fixtures have their
//! own goldens in `crates/testkit/tests/testkit/fixtures.rs`.)

use std::path::Path;

use sha1::{Digest, Sha1};
use swarmgate_metainfo::{InfoDictionary, Torrent, TorrentBuilder, TorrentFile};

use crate::support::{fixture_folder, pseudo_random};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The builder's cases: (label, builder).
fn builder_cases(root: &Path) -> Vec<(&'static str, TorrentBuilder)> {
    let folder = fixture_folder(root);
    let single = root.join("single.bin");
    std::fs::write(&single, pseudo_random(9, 200_000)).unwrap();
    let quiet = |path: &Path| {
        TorrentBuilder::new(path)
            .created_by(None)
            .creation_date(None)
            .threads(2)
    };
    vec![
        ("v1 folder, bare", quiet(&folder).piece_length(16_384)),
        ("v1 single file, bare", quiet(&single).piece_length(32_768)),
        (
            "v1 folder, every top-level field",
            quiet(&folder)
                .piece_length(65_536)
                .tracker("http://127.0.0.1:9877/announce")
                .tracker("udp://127.0.0.1:9877/announce")
                .web_seed("http://127.0.0.1:9877/webseed/a")
                .web_seed("http://127.0.0.1:9877/webseed/b")
                .private(true)
                .comment("a comment")
                .created_by(Some("golden/1.0".into()))
                .creation_date(Some(1_700_000_000)),
        ),
        (
            "v1 single file, one tracker",
            quiet(&single)
                .tracker("http://t/announce")
                .created_by(Some("golden/1.0".into())),
        ),
        (
            "hybrid folder",
            quiet(&folder).piece_length(16_384).hybrid(true),
        ),
        (
            "hybrid folder, private with trackers",
            quiet(&folder)
                .piece_length(32_768)
                .hybrid(true)
                .private(true)
                .tracker("http://a/announce")
                .tracker("http://b/announce")
                .web_seed("http://w/")
                .creation_date(Some(-5)),
        ),
        (
            "hybrid single file",
            quiet(&single).piece_length(16_384).hybrid(true),
        ),
    ]
}

#[test]
fn the_builder_writes_the_bytes_it_always_wrote() {
    let expected = [
        "2122306a2aec9c390b20ea868b904535d624dceb",
        "570e3b1ffe8564315e3633732e224d48bf4f7861",
        "0feec2fa36ee1ca5c352de38a8c89743d6d814d7",
        "ee1d1ba75ed1073c258b8ac94ad6475fb4391d94",
        "abb6df943bed3102315b072527fe42f935260737",
        "93578dd690c3308ae5ad92ad7afe237803a1ecce",
        "48b1eff375ca238418394f7d6a7ec23c875c2ce7",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let cases = builder_cases(tmp.path());
    assert_eq!(cases.len(), expected.len());
    let mut actual = Vec::new();
    for (label, builder) in cases {
        let created = builder.build().unwrap();
        let reparsed = Torrent::from_bytes(&created.bytes).unwrap();
        assert_eq!(reparsed.info_hash(), created.torrent.info_hash(), "{label}");
        actual.push((label, hex(&Sha1::digest(&created.bytes))));
    }
    for ((label, got), want) in actual.iter().zip(expected) {
        assert_eq!(got, want, "{label}: {actual:#?}");
    }
}

/// What `bins/gateway/src/links.rs` writes for its test's inputs (a 5 MB `video.mp4` in 2 MiB
/// pieces, an HTTP and a UDP tracker, one web seed), called the way it calls the writer.
#[test]
fn the_gateway_torrent_is_the_bytes_it_always_was() {
    let info = InfoDictionary::single_file(
        "video.mp4",
        5_000_000,
        1 << 21,
        &[[1; 20], [2; 20], [3; 20]],
    )
    .unwrap()
    .to_bytes();
    let mut golden_info =
        b"d6:lengthi5000000e4:name9:video.mp412:piece lengthi2097152e6:pieces60:".to_vec();
    for byte in 1..=3 {
        golden_info.extend([byte; 20]);
    }
    golden_info.push(b'e');
    assert_eq!(info, golden_info);

    let gateway = |trackers: &[&str], web_seed: &str, created: i64| {
        trackers
            .iter()
            .fold(TorrentFile::new(), |file, url| file.tracker(*url))
            .always_announce_list(true)
            .created_by(Some("swarmgate/0.1.0".into()))
            .creation_date(Some(created))
            .web_seed(web_seed)
            .write(&info)
            .unwrap()
    };
    let hex = "ab".repeat(32);
    // The recorded bytes: the head up to `info`, the info, the `url-list` up to the hash.
    let golden = |head: &[u8], url_list: &[u8]| {
        let tail = [url_list, hex.as_bytes(), b"ee"].concat();
        [head, &golden_info, &tail]
            .concat()
            .escape_ascii()
            .to_string()
    };
    let two_trackers = gateway(
        &[
            "http://127.0.0.1:9877/announce",
            "udp://127.0.0.1:9877/announce",
        ],
        &format!("http://127.0.0.1:9877/webseed/{hex}"),
        1_700_000_000,
    );
    let head = b"d8:announce30:http://127.0.0.1:9877/announce\
13:announce-listll30:http://127.0.0.1:9877/announceel29:udp://127.0.0.1:9877/announceee\
10:created by15:swarmgate/0.1.013:creation datei1700000000e4:info";
    let url_list = b"8:url-listl94:http://127.0.0.1:9877/webseed/";
    assert_eq!(
        two_trackers.escape_ascii().to_string(),
        golden(head, url_list)
    );

    // One tracker: still an `announce-list`, as the gateway always wrote one.
    let one_tracker = gateway(
        &["https://x.example/announce"],
        &format!("https://x.example/webseed/{hex}"),
        0,
    );
    let head = b"d8:announce26:https://x.example/announce\
13:announce-listll26:https://x.example/announceee\
10:created by15:swarmgate/0.1.013:creation datei0e4:info";
    let url_list = b"8:url-listl90:https://x.example/webseed/";
    assert_eq!(
        one_tracker.escape_ascii().to_string(),
        golden(head, url_list)
    );
}
