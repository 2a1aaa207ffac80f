//! The validation rules one at a time, on torrents made here (no corpus needed), and the builder's
//! output checked against the data it describes.

use std::collections::BTreeMap;

use swarmgate_bencode::{Encoder, OwnedValue};
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::{Magnet, MetainfoError, Torrent, TorrentBuilder, Warning};

use crate::support::{fixture_folder, pseudo_random};

fn dict(entries: &[(&str, OwnedValue)]) -> OwnedValue {
    OwnedValue::Dict(
        entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn list(items: &[&str]) -> OwnedValue {
    OwnedValue::List(items.iter().map(|s| OwnedValue::from(*s)).collect())
}

/// A multi-file v1 torrent around `files`, with the right number of (dummy) piece hashes.
fn multi_file(files: Vec<OwnedValue>, total: u64) -> Vec<u8> {
    let pieces = vec![0u8; (total.div_ceil(16384) * 20) as usize];
    dict(&[(
        "info",
        dict(&[
            ("files", OwnedValue::List(files)),
            ("name", "root".into()),
            ("piece length", OwnedValue::Int(16384)),
            ("pieces", OwnedValue::Bytes(pieces)),
        ]),
    )])
    .encode()
}

fn file(path: &[&str], length: i64) -> OwnedValue {
    dict(&[("length", OwnedValue::Int(length)), ("path", list(path))])
}

#[test]
fn traversal_paths_are_repaired_not_followed() {
    let bytes = multi_file(
        vec![
            file(&["..", "..", "etc", "passwd"], 10),
            file(&["/abs"], 10),
            file(&["ok"], 10),
        ],
        30,
    );
    let torrent = Torrent::from_bytes(&bytes).unwrap();
    let paths: Vec<String> = torrent.files().iter().map(|f| f.display_path()).collect();
    assert_eq!(paths, ["root/etc/passwd", "root/_abs", "root/ok"]);
    assert_eq!(
        torrent.warnings(),
        [
            Warning::PathSanitized { file: 0 },
            Warning::PathSanitized { file: 1 }
        ]
    );
}

#[test]
fn duplicate_paths_are_renamed() {
    let bytes = multi_file(vec![file(&["a.txt"], 1), file(&["a.txt"], 2)], 3);
    let torrent = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(torrent.files()[1].display_path(), "root/a.1.txt");
    assert_eq!(torrent.warnings(), [Warning::DuplicatePath { file: 1 }]);
}

#[test]
fn each_rule_names_its_field() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            multi_file(vec![file(&["a"], -1)], 0),
            "info.files[0].length",
        ),
        (multi_file(vec![], 0), "no files"),
        (
            multi_file(vec![dict(&[("length", OwnedValue::Int(1))])], 1),
            "info.files[0].path",
        ),
        (multi_file(vec![file(&[], 1)], 1), "empty path"),
        (multi_file(vec![file(&["a"], 0)], 0), "total length 0"),
        (multi_file(vec![file(&["a"], 20_000)], 10), "20 per piece"),
        (b"i5e".to_vec(), "not a dictionary"),
        (b"d4:infoi1ee".to_vec(), "missing field `info`"),
        (
            b"d4:infod4:name1:a12:piece lengthi0e6:pieces0:6:lengthi1eee".to_vec(),
            "piece length",
        ),
        (b"d4:infod4:name1:ae".to_vec(), "invalid bencode"),
        (b"d4:infod4:name1:a4:name1:bee".to_vec(), "invalid bencode"),
    ];
    for (bytes, needle) in cases {
        let err = Torrent::from_bytes(&bytes).unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "{err} does not mention {needle:?}"
        );
    }
    assert!(matches!(
        Torrent::from_bytes(b"d4:infod4:name1:a12:piece lengthi16384eee"),
        Err(MetainfoError::MissingField {
            field: "info.pieces"
        })
    ));
}

#[test]
fn top_level_fields_are_read_and_cleaned() {
    let pieces = OwnedValue::Bytes(vec![0; 20]);
    let info = dict(&[
        ("length", OwnedValue::Int(5)),
        ("name", "n".into()),
        ("piece length", OwnedValue::Int(16384)),
        ("pieces", pieces),
        ("private", OwnedValue::Int(1)),
    ]);
    let mut e = Encoder::new();
    e.begin_dict()
        .key(b"announce")
        .str("http://ignored/announce")
        .key(b"announce-list")
        .begin_list()
        .begin_list()
        .str(" http://a/announce ")
        .str("http://b/announce")
        .end()
        .begin_list()
        .str("http://a/announce")
        .end()
        .begin_list()
        .str("udp://c:80")
        .end()
        .end()
        .key(b"comment")
        .str("hi")
        .key(b"creation date")
        .int(1_700_000_000)
        .key(b"info")
        .raw(&info.encode())
        .key(b"nodes")
        .begin_list()
        .begin_list()
        .str("127.0.0.1")
        .int(6881)
        .end()
        .end()
        .key(b"url-list")
        .str("http://seed/n")
        .end();
    let torrent = Torrent::from_bytes(&e.finish().unwrap()).unwrap();
    assert_eq!(
        torrent.trackers(),
        [
            vec!["http://a/announce".to_string(), "http://b/announce".into()],
            vec!["udp://c:80".into()]
        ]
    );
    assert_eq!(torrent.web_seeds(), ["http://seed/n"]);
    assert_eq!(torrent.dht_nodes(), [("127.0.0.1".to_string(), 6881)]);
    assert!(torrent.is_private());
    assert_eq!(torrent.comment(), Some("hi"));
    assert_eq!(torrent.creation_date(), Some(1_700_000_000));
    assert_eq!(torrent.files()[0].display_path(), "n");
}

#[test]
fn built_torrents_describe_their_data() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = fixture_folder(tmp.path());
    for hybrid in [false, true] {
        let created = TorrentBuilder::new(&folder)
            .piece_length(16384)
            .hybrid(hybrid)
            .creation_date(None)
            .build()
            .unwrap();
        let torrent = &created.torrent;
        assert_eq!(torrent.name(), "fixture");
        assert_eq!(
            torrent.data_length(),
            100_000 + 16_384 + 1 + 300_001 + 65_537
        );
        // Every piece's SHA-1 matches the bytes the layout says it covers (pads read as zeros).
        for piece in 0..torrent.piece_count() {
            let mut data = Vec::new();
            for span in torrent.layout().piece_spans(PieceIndex(piece)) {
                let entry = &torrent.files()[span.file];
                if entry.is_pad() {
                    data.resize(data.len() + span.length as usize, 0);
                } else {
                    let bytes = std::fs::read(tmp.path().join(entry.path_buf())).unwrap();
                    data.extend_from_slice(
                        &bytes[span.file_offset as usize..][..span.length as usize],
                    );
                }
            }
            use sha1::Digest;
            let digest: [u8; 20] = sha1::Sha1::digest(&data).into();
            assert_eq!(
                Some(digest),
                torrent.piece_hash(PieceIndex(piece)),
                "hybrid={hybrid} piece {piece}"
            );
        }
        if hybrid {
            // Files start on piece boundaries, multi-piece files carry a verified piece layer.
            for entry in torrent
                .files()
                .iter()
                .filter(|f| !f.is_pad() && f.length() > 0)
            {
                assert_eq!(entry.offset() % 16384, 0, "{}", entry.display_path());
                let root = entry.pieces_root().expect("pieces root");
                if entry.length() > 16384 {
                    assert_eq!(
                        torrent.piece_layer(root).unwrap().len() as u64,
                        entry.length().div_ceil(16384)
                    );
                }
            }
        }
        // Deterministic: the same input gives the same bytes.
        let again = TorrentBuilder::new(&folder)
            .piece_length(16384)
            .hybrid(hybrid)
            .creation_date(None)
            .build()
            .unwrap();
        assert_eq!(again.bytes, created.bytes);
    }
}

#[test]
fn builder_refuses_what_it_cannot_make() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("zero"), b"").unwrap();
    assert!(
        TorrentBuilder::new(&empty)
            .build()
            .unwrap_err()
            .to_string()
            .contains("nothing to share")
    );
    assert!(
        TorrentBuilder::new(tmp.path().join("missing"))
            .build()
            .is_err()
    );
    let one = tmp.path().join("one");
    std::fs::write(&one, pseudo_random(1, 10)).unwrap();
    assert!(
        TorrentBuilder::new(&one)
            .piece_length(1000)
            .build()
            .is_err()
    );
    let progress = std::cell::Cell::new(0u64);
    TorrentBuilder::new(&one)
        .build_with_progress(|done, total| {
            assert!(done <= total);
            progress.set(done)
        })
        .unwrap();
    assert_eq!(progress.get(), 10);
}

#[test]
fn magnets_carry_both_hashes_of_hybrid_torrents() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, pseudo_random(2, 40_000)).unwrap();
    let torrent = TorrentBuilder::new(&file)
        .hybrid(true)
        .tracker("http://127.0.0.1:9/announce")
        .build()
        .unwrap()
        .torrent;
    let magnet = Magnet::from_torrent(&torrent);
    let text = magnet.to_string();
    assert!(
        text.contains("xt=urn:btih:") && text.contains("xt=urn:btmh:1220"),
        "{text}"
    );
    assert_eq!(Magnet::parse(&text).unwrap(), magnet);
}
