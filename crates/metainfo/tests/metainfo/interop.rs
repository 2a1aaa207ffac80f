//! Interop with real programs: python3-libtorrent and mktorrent agree with us on info-hashes, both
//! ways (their torrents load in ours; ours load in theirs).

use std::path::{Path, PathBuf};
use std::process::Command;

use swarmgate_metainfo::{Torrent, TorrentBuilder};

use crate::support::{
    corpus_dir, fixture_folder, libtorrent_create, libtorrent_info, manifest, pseudo_random,
};

fn hex_v1(t: &Torrent) -> Option<String> {
    t.info_hash().v1().map(|h| h.to_hex())
}

fn hex_v2(t: &Torrent) -> Option<String> {
    t.info_hash().v2().map(|h| h.to_hex())
}

/// For every corpus torrent both libtorrent and we load, the info-hashes and piece counts agree.
#[test]
#[ignore = "needs python3-libtorrent and ../shared/corpus"]
fn corpus_info_hashes_equal_libtorrents() {
    let files: Vec<PathBuf> = manifest()
        .into_iter()
        .map(|(f, _)| corpus_dir().join(f))
        .collect();
    let theirs = libtorrent_info(&files);
    assert_eq!(theirs.len(), files.len());
    let mut compared = 0;
    for (path, lt) in files.iter().zip(&theirs) {
        let Ok(ours) = Torrent::from_bytes(&std::fs::read(path).unwrap()) else {
            continue;
        };
        if !lt.ok {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(hex_v1(&ours), lt.v1, "{name}: v1 info-hash");
        assert_eq!(hex_v2(&ours), lt.v2, "{name}: v2 info-hash");
        assert_eq!(
            Some(u64::from(ours.piece_count())),
            lt.num_pieces,
            "{name}: piece count"
        );
        assert_eq!(
            Some(ours.data_length()),
            lt.content_size,
            "{name}: bytes of file data"
        );
        compared += 1;
    }
    assert!(compared >= 60, "only {compared} torrents compared");
}

fn check_ours_in_libtorrent(dir: &Path, builder: TorrentBuilder, label: &str) -> Torrent {
    let created = builder.build().unwrap();
    let out = dir.join(format!("{label}.torrent"));
    std::fs::write(&out, &created.bytes).unwrap();
    let lt = &libtorrent_info(std::slice::from_ref(&out))[0];
    assert!(
        lt.ok,
        "{label}: libtorrent refuses our torrent: {:?}",
        lt.error
    );
    assert_eq!(hex_v1(&created.torrent), lt.v1, "{label}: v1");
    assert_eq!(hex_v2(&created.torrent), lt.v2, "{label}: v2");
    assert_eq!(
        Some(u64::from(created.torrent.piece_count())),
        lt.num_pieces,
        "{label}: pieces"
    );
    created.torrent
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn our_torrents_load_in_libtorrent_with_the_same_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = fixture_folder(tmp.path());
    let single = tmp.path().join("single.bin");
    std::fs::write(&single, pseudo_random(9, 1_000_003)).unwrap();

    check_ours_in_libtorrent(tmp.path(), TorrentBuilder::new(&single), "v1-single");
    check_ours_in_libtorrent(
        tmp.path(),
        TorrentBuilder::new(&folder).piece_length(32 * 1024),
        "v1-multi",
    );
    let hybrid = check_ours_in_libtorrent(
        tmp.path(),
        TorrentBuilder::new(&folder)
            .hybrid(true)
            .piece_length(32 * 1024),
        "hybrid-multi",
    );
    assert!(
        hybrid.files().iter().any(|f| f.is_pad()),
        "hybrid torrents carry pad files"
    );
    check_ours_in_libtorrent(
        tmp.path(),
        TorrentBuilder::new(&single).hybrid(true),
        "hybrid-single",
    );
    check_ours_in_libtorrent(
        tmp.path(),
        TorrentBuilder::new(&single)
            .private(true)
            .tracker("http://127.0.0.1:1/announce")
            .web_seed("http://127.0.0.1:2/"),
        "v1-private",
    );
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn libtorrents_torrents_load_in_ours_with_the_same_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = fixture_folder(tmp.path());
    let single = tmp.path().join("single.bin");
    std::fs::write(&single, pseudo_random(5, 300_000)).unwrap();
    let cases: &[(&Path, &[&str], &str)] = &[
        (&folder, &[], "lt-hybrid-multi"),
        (&folder, &["--v1-only"], "lt-v1-multi"),
        (&folder, &["--v2-only"], "lt-v2-multi"),
        (&single, &[], "lt-hybrid-single"),
        (
            &single,
            &["--v1-only", "--piece-size", "16384"],
            "lt-v1-single",
        ),
    ];
    for (input, flags, label) in cases {
        let out = tmp.path().join(format!("{label}.torrent"));
        libtorrent_create(input, &out, flags);
        let lt = &libtorrent_info(std::slice::from_ref(&out))[0];
        let ours = Torrent::from_bytes(&std::fs::read(&out).unwrap())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(hex_v1(&ours), lt.v1, "{label}: v1");
        assert_eq!(hex_v2(&ours), lt.v2, "{label}: v2");
        assert_eq!(
            Some(u64::from(ours.piece_count())),
            lt.num_pieces,
            "{label}: pieces"
        );
        assert_eq!(
            Some(ours.data_length()),
            lt.content_size,
            "{label}: data length"
        );
    }
}

#[test]
#[ignore = "needs mktorrent"]
fn mktorrents_torrents_load_in_ours_with_the_same_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = fixture_folder(tmp.path());
    let single = tmp.path().join("single.bin");
    std::fs::write(&single, pseudo_random(3, 2_000_000)).unwrap();
    for (input, piece_log2, label) in [(&single, 18, "mk-single"), (&folder, 15, "mk-multi")] {
        let out = tmp.path().join(format!("{label}.torrent"));
        let status = Command::new("mktorrent")
            .args([
                "-l",
                &piece_log2.to_string(),
                "-a",
                "http://127.0.0.1:6969/announce",
                "-o",
            ])
            .arg(&out)
            .arg(input)
            .output()
            .expect("run mktorrent");
        assert!(
            status.status.success(),
            "mktorrent: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let theirs = Torrent::from_bytes(&std::fs::read(&out).unwrap())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        // The same input with the same piece length must give the same info dictionary from us.
        let ours = TorrentBuilder::new(input)
            .piece_length(1 << piece_log2)
            .build()
            .unwrap()
            .torrent;
        assert_eq!(
            theirs.info_hash(),
            ours.info_hash(),
            "{label}: info-hash differs from our builder's"
        );
        assert_eq!(
            theirs.trackers(),
            [vec!["http://127.0.0.1:6969/announce".to_string()]]
        );
        // And independently of our builder, the piece hashes verify against the data.
        verify_pieces(&theirs, input.parent().unwrap());
    }
}

/// Re-hashes every piece from the files on disk and compares with the torrent's SHA-1s.
fn verify_pieces(torrent: &Torrent, parent: &Path) {
    use sha1::{Digest, Sha1};
    let layout = torrent.layout();
    for piece in 0..torrent.piece_count() {
        let piece = swarmgate_core::PieceIndex(piece);
        let mut hasher = Sha1::new();
        for span in layout.piece_spans(piece) {
            let entry = &torrent.files()[span.file];
            let data = std::fs::read(parent.join(entry.path_buf())).unwrap();
            hasher.update(
                &data[span.file_offset as usize..(span.file_offset + span.length) as usize],
            );
        }
        assert_eq!(
            <[u8; 20]>::from(hasher.finalize()),
            torrent.piece_hash(piece).unwrap(),
            "piece {piece}"
        );
    }
}
