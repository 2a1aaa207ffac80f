//! Torrent fixtures: they parse, their piece hashes match their data, pads are zeros on piece
//! boundaries, files on disk are what a seeder has, and the metainfo builder agrees.

use sha1::{Digest, Sha1};
use swarmgate_core::{BlockRef, PieceIndex};
use swarmgate_metainfo::{Magnet, Torrent, TorrentBuilder};
use swarmgate_testkit::{Fixture, TorrentFixture};

/// Every piece hash in the torrent is the SHA-1 of that piece of `data`.
fn assert_hashes_match(fixture: &Fixture) {
    let torrent = &fixture.torrent;
    assert_eq!(fixture.data.len() as u64, torrent.total_length());
    for i in 0..fixture.piece_count() {
        let digest: [u8; 20] = Sha1::digest(fixture.piece(i)).into();
        assert_eq!(torrent.piece_hash(PieceIndex(i)), Some(digest), "piece {i}");
    }
    let reparsed = Torrent::from_bytes(&fixture.torrent_bytes).expect("parses");
    assert_eq!(reparsed.info_hash(), torrent.info_hash());
    assert!(torrent.warnings().is_empty(), "{:?}", torrent.warnings());
}

#[test]
fn single_file_fixtures_parse_and_hash_their_data() {
    for (seed, piece_length, length) in [(1, 16_384, 16_384), (2, 32_768, 100_000), (3, 1_000, 1)] {
        let fixture = TorrentFixture::new(seed)
            .piece_length(piece_length)
            .file("one.bin", length)
            .build();
        assert!(!fixture.torrent.is_multi_file());
        assert_eq!(fixture.torrent.name(), "one.bin");
        assert_eq!(fixture.torrent.total_length(), length);
        assert_eq!(
            u64::from(fixture.piece_count()),
            length.div_ceil(piece_length)
        );
        assert_hashes_match(&fixture);
    }
}

#[test]
fn multi_file_fixtures_span_pieces_across_files() {
    let fixture = TorrentFixture::new(4)
        .piece_length(16 * 1024)
        .name("set")
        .file("a.bin", 10_000)
        .file("dir/b.bin", 0)
        .file("dir/c.bin", 30_000)
        .build();
    let torrent = &fixture.torrent;
    assert!(torrent.is_multi_file());
    assert_eq!(torrent.name(), "set");
    let paths: Vec<String> = torrent.files().iter().map(|f| f.display_path()).collect();
    assert_eq!(paths, ["set/a.bin", "set/dir/b.bin", "set/dir/c.bin"]);
    assert_eq!(torrent.total_length(), 40_000);
    assert_eq!(fixture.piece_count(), 3);
    assert_eq!(fixture.file_data(2), Some(&fixture.data[10_000..]));
    assert_hashes_match(&fixture);
}

#[test]
fn the_same_seed_gives_the_same_torrent() {
    let build = |seed| {
        TorrentFixture::new(seed)
            .file("x/y", 50_000)
            .file("x/z", 7)
            .build()
    };
    let (a, b, c) = (build(9), build(9), build(10));
    assert_eq!(a.torrent_bytes, b.torrent_bytes);
    assert_eq!(a.data, b.data);
    assert_ne!(a.data, c.data);
    assert_ne!(a.info_hash(), c.info_hash());
}

#[test]
fn pad_files_align_every_file_to_a_piece_and_read_as_zeros() {
    let p = 16 * 1024u64;
    let fixture = TorrentFixture::new(5)
        .piece_length(p)
        .file("a", 20_000)
        .file("b", 16_384)
        .file("c", 0)
        .file("d", 5)
        .file("e", 3_000)
        .pad_files(true)
        .build();
    let files = fixture.torrent.files();
    let shape: Vec<(String, u64, bool)> = files
        .iter()
        .map(|f| {
            (
                f.path().last().cloned().unwrap_or_default(),
                f.length(),
                f.is_pad(),
            )
        })
        .collect();
    let expected = [
        ("a", 20_000, false),
        ("12768", 12_768, true),
        ("b", 16_384, false), // already aligned: no pad
        ("c", 0, false),      // empty: no pad
        ("d", 5, false),
        ("16379", 16_379, true),
        ("e", 3_000, false), // last: no pad
    ];
    let expected: Vec<(String, u64, bool)> = expected
        .iter()
        .map(|(n, l, pad)| (n.to_string(), *l, *pad))
        .collect();
    assert_eq!(shape, expected);
    for file in files.iter().filter(|f| !f.is_pad() && f.length() > 0) {
        assert_eq!(
            file.offset() % p,
            0,
            "{} starts on a piece",
            file.display_path()
        );
    }
    for (index, file) in files.iter().enumerate() {
        let data = fixture.file_data(index).expect("file");
        if file.is_pad() {
            assert_eq!(file.path()[1], ".pad");
            assert!(data.iter().all(|&b| b == 0));
        } else if file.length() > 64 {
            assert!(data.iter().any(|&b| b != 0));
        }
    }
    assert_eq!(fixture.torrent.data_length(), 20_000 + 16_384 + 5 + 3_000);
    assert_eq!(fixture.piece_count(), 5);
    assert_hashes_match(&fixture);
}

#[test]
fn a_single_file_needs_no_pad_and_a_padded_layout_matches_the_builder() {
    let single = TorrentFixture::new(6)
        .file("solo", 40_000)
        .pad_files(true)
        .build();
    assert_eq!(single.torrent.files().len(), 1);

    // libtorrent-style hybrid creation pads the same way: its v1 view equals our fixture's.
    let fixture = TorrentFixture::new(6)
        .piece_length(16 * 1024)
        .name("album")
        .file("a.flac", 40_000)
        .file("b.flac", 70_000)
        .pad_files(true)
        .build();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = fixture.write_to(dir.path()).expect("write");
    let created = TorrentBuilder::new(&root)
        .piece_length(16 * 1024)
        .hybrid(true)
        .build()
        .expect("build");
    let built = &created.torrent;
    assert_eq!(built.piece_count(), fixture.piece_count());
    for i in 0..fixture.piece_count() {
        assert_eq!(
            built.piece_hash(PieceIndex(i)),
            fixture.torrent.piece_hash(PieceIndex(i))
        );
    }
    let lengths = |t: &Torrent| {
        t.files()
            .iter()
            .map(|f| (f.length(), f.is_pad()))
            .collect::<Vec<_>>()
    };
    assert_eq!(lengths(built), lengths(&fixture.torrent));
}

#[test]
fn written_files_are_what_a_seeder_has_and_the_builder_recreates_the_torrent() {
    let fixture = TorrentFixture::new(7)
        .piece_length(32 * 1024)
        .name("show")
        .file("s01/e01.mkv", 90_000)
        .file("s01/e02.mkv", 45_678)
        .file("readme.txt", 300)
        .build();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = fixture.write_to(dir.path()).expect("write");
    assert_eq!(root, dir.path().join("show"));
    assert_eq!(
        std::fs::read(root.join("s01/e02.mkv")).expect("read"),
        fixture.file_data(1).expect("file")
    );
    assert_eq!(
        std::fs::read(root.join("readme.txt")).expect("read").len(),
        300
    );

    // A v1 torrent of the same files, piece length and name is the same torrent: the builder
    // orders files by path, so list them in that order for equal info-hashes.
    let sorted = TorrentFixture::new(7)
        .piece_length(32 * 1024)
        .name("show")
        .file("readme.txt", 300)
        .file("s01/e01.mkv", 90_000)
        .file("s01/e02.mkv", 45_678)
        .build();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = sorted.write_to(dir.path()).expect("write");
    let created = TorrentBuilder::new(&root)
        .piece_length(32 * 1024)
        .build()
        .expect("build");
    assert_eq!(created.torrent.info_hash(), sorted.info_hash());

    let single = TorrentFixture::new(8).build();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = single.write_to(dir.path()).expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), single.data);
}

#[test]
fn trackers_web_seeds_private_and_magnets() {
    let fixture = TorrentFixture::new(9)
        .tracker("http://127.0.0.1:9877/announce")
        .tracker("udp://127.0.0.1:9877")
        .web_seed("http://127.0.0.1:9877/webseed/")
        .private(true)
        .build();
    let torrent = &fixture.torrent;
    assert_eq!(torrent.trackers().len(), 2);
    assert_eq!(torrent.trackers()[0], ["http://127.0.0.1:9877/announce"]);
    assert_eq!(torrent.web_seeds(), ["http://127.0.0.1:9877/webseed/"]);
    assert!(torrent.is_private());
    assert_eq!(torrent.created_by(), Some("swarmgate-testkit"));

    let magnet: Magnet = fixture.magnet().to_string().parse().expect("magnet");
    assert_eq!(magnet.info_hash, fixture.info_hash());
    assert_eq!(magnet.display_name.as_deref(), Some(torrent.name()));
    assert_eq!(magnet.trackers.len(), 2);
}

#[test]
fn blocks_are_what_a_seeder_sends() {
    let fixture = TorrentFixture::new(10)
        .piece_length(32 * 1024)
        .file("f", 40_000)
        .build();
    let geometry = fixture.torrent.layout().geometry();
    let mut joined = Vec::new();
    for piece in 0..fixture.piece_count() {
        for block in geometry.blocks(PieceIndex(piece)) {
            joined.extend_from_slice(fixture.block(block).expect("inside the torrent"));
        }
    }
    assert_eq!(joined, fixture.data);
    let past = BlockRef {
        piece: PieceIndex(2),
        offset: 0,
        length: 1,
    };
    assert_eq!(fixture.block(past), None);
}

#[test]
#[should_panic(expected = "piece 9 of a 9-piece fixture")]
fn asking_for_a_piece_past_the_end_panics_with_a_message() {
    let fixture = TorrentFixture::new(11).build();
    let _ = fixture.piece(9);
}

/// The SHA-1 of each case's `.torrent`, recorded from the hand-written encoder that the metainfo
/// crate's torrent writer replaced: fixtures keep their exact bytes (and so their info-hashes).
#[test]
fn fixtures_keep_the_bytes_they_always_had() {
    let cases = [
        (
            "default",
            TorrentFixture::new(1),
            "d669af57ed3df94ebd88e8675ddf4ccf0f7ff54d",
        ),
        (
            "single file, odd piece length",
            TorrentFixture::new(2)
                .piece_length(1_000)
                .file("one.bin", 4_321),
            "4aec66b6edca26f0c7c3d10dd3784d399e068b12",
        ),
        (
            "multi-file with an empty file",
            TorrentFixture::new(4)
                .piece_length(16 * 1024)
                .name("set")
                .file("a.bin", 10_000)
                .file("dir/b.bin", 0)
                .file("dir/c.bin", 30_000),
            "42f2c5c1f12d64c25a5f335b6fa01517fbb4f48b",
        ),
        (
            "pad files",
            TorrentFixture::new(5)
                .piece_length(16 * 1024)
                .file("album/a.flac", 40_000)
                .file("album/empty", 0)
                .file("album/b.flac", 10_000)
                .file("album/c.flac", 16 * 1024)
                .file("album/d.flac", 5)
                .pad_files(true),
            "5bad94fe19dbbef342b536dc6248f1b164a1f2ae",
        ),
        (
            "one tracker",
            TorrentFixture::new(6).tracker("http://127.0.0.1:9877/announce"),
            "60647732b6c8174df1ffd5c782e16c6af3abee5c",
        ),
        (
            "trackers, web seeds, private",
            TorrentFixture::new(9)
                .file("d/x", 3)
                .tracker("http://127.0.0.1:9877/announce")
                .tracker("udp://127.0.0.1:9877")
                .web_seed("http://127.0.0.1:9877/webseed/")
                .web_seed("http://127.0.0.1:9878/")
                .private(true),
            "72e9f458ac68ae47c87899002b4144c7bb148e48",
        ),
    ];
    let actual: Vec<(&str, String)> = cases
        .iter()
        .map(|(label, builder, _)| {
            let bytes = builder.clone().build().torrent_bytes;
            let hex = Sha1::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (*label, hex)
        })
        .collect();
    for ((label, got), (_, _, want)) in actual.iter().zip(&cases) {
        assert_eq!(got, want, "{label}: {actual:#?}");
    }
}
