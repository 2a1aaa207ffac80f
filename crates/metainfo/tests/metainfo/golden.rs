//! Byte-for-byte goldens: the builder writes exactly the bytes it wrote before the torrent writer
//! (`swarmgate_metainfo::InfoDictionary`, `TorrentFile`) took over its last step. Each case is
//! pinned by the SHA-1 of the whole `.torrent`, recorded from the hand-written encoder it replaced.

use std::path::Path;

use sha1::{Digest, Sha1};
use swarmgate_metainfo::{Torrent, TorrentBuilder};

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
