//! The resume check: exactly the pieces on disk, whatever happened to the files since.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use swarmgate_core::{Bitfield, PieceIndex};
use swarmgate_storage::StorageError;

use crate::{Fixture, Rng};

const FILES: &[(&str, usize)] = &[
    ("one.bin", 100_000),
    ("two.bin", 7),
    ("sub/three.bin", 150_000),
    ("zero", 0),
    ("four.bin", 65_536),
];

fn ones(field: &Bitfield) -> BTreeSet<u32> {
    field.ones().map(|p| p.0).collect()
}

/// A fully written download of `FILES` as a hybrid (padded) torrent in 32 KiB pieces.
fn complete() -> (
    Fixture,
    tempfile::TempDir,
    swarmgate_storage::TorrentStorage,
) {
    let fixture = Fixture::build(FILES, 32 * 1024, true);
    let (downloads, storage) = fixture.storage(8);
    let all: Vec<u32> = (0..fixture.torrent.piece_count()).collect();
    fixture.write_pieces(&storage, &all, &mut Rng::new(1));
    storage.flush().unwrap();
    (fixture, downloads, storage)
}

#[test]
fn a_half_written_download_reports_exactly_the_written_pieces() {
    let fixture = Fixture::build(FILES, 32 * 1024, true);
    let pieces = fixture.torrent.piece_count();
    assert!(fixture.torrent.files().iter().any(|f| f.is_pad()));
    for seed in 1..=4u64 {
        let (_downloads, storage) = fixture.storage(4);
        let mut rng = Rng::new(seed);
        let mut all: Vec<u32> = (0..pieces).collect();
        rng.shuffle(&mut all);
        let written: Vec<u32> = all[..all.len() / 2].to_vec();
        fixture.write_pieces(&storage, &written, &mut rng);
        // The first block of a piece whose second block holds file data: not had.
        let layout = fixture.torrent.layout();
        let geometry = layout.geometry();
        let partial = all[all.len() / 2..]
            .iter()
            .copied()
            .find(|&p| {
                geometry.block(PieceIndex(p), 1).is_some_and(|b| {
                    let start = geometry.piece_offset(b.piece) + u64::from(b.offset);
                    layout
                        .spans(start..start + u64::from(b.length))
                        .any(|s| !fixture.torrent.files()[s.file].is_pad())
                })
            })
            .unwrap();
        let first = geometry.block(PieceIndex(partial), 0).unwrap();
        storage
            .write_block(first.piece, 0, fixture.bytes(first))
            .unwrap();

        let mut calls = Vec::new();
        let have = storage
            .check_existing(seed as usize, &mut |done, total| calls.push((done, total)))
            .unwrap();
        assert_eq!(
            ones(&have),
            written.iter().copied().collect(),
            "seed {seed}"
        );
        assert_eq!(have.len(), pieces);
        // Progress rises to the total and never goes back.
        let total = fixture.torrent.total_length();
        assert_eq!(calls.last(), Some(&(total, total)));
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}

#[test]
fn one_corrupted_byte_fails_exactly_its_piece() {
    let (fixture, downloads, storage) = complete();
    let pieces = fixture.torrent.piece_count();
    assert!(storage.check_existing(2, &mut |_, _| {}).unwrap().is_full());
    // Flip one byte of sub/three.bin, 50,000 bytes in.
    let index = fixture
        .torrent
        .files()
        .iter()
        .position(|f| f.display_path() == "album/sub/three.bin")
        .unwrap();
    let entry = &fixture.torrent.files()[index];
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(downloads.path().join(entry.path_buf()))
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, 50_000).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], 50_000).unwrap();
    let bad = fixture
        .torrent
        .layout()
        .geometry()
        .piece_at(entry.offset() + 50_000)
        .unwrap();

    let have = storage.check_existing(3, &mut |_, _| {}).unwrap();
    let expected: BTreeSet<u32> = (0..pieces).filter(|&p| p != bad.0).collect();
    assert_eq!(ones(&have), expected);
    assert!(!storage.verify_piece(bad).unwrap());
    assert!(storage.hash_piece(bad).unwrap().is_some());
}

#[test]
fn deleted_or_truncated_files_make_their_pieces_missing() {
    let (fixture, downloads, storage) = complete();
    let layout = fixture.torrent.layout();
    let geometry = layout.geometry();
    let files = fixture.torrent.files();
    let find = |name: &str| files.iter().position(|f| f.display_path() == name).unwrap();
    let one = find("album/one.bin");
    let three = find("album/sub/three.bin");

    // Delete one.bin; cut three.bin to 70,000 of its 150,000 bytes.
    std::fs::remove_file(downloads.path().join(files[one].path_buf())).unwrap();
    let cut = 70_000;
    OpenOptions::new()
        .write(true)
        .open(downloads.path().join(files[three].path_buf()))
        .unwrap()
        .set_len(cut)
        .unwrap();

    // Pieces needing a byte of one.bin, or of three.bin past the cut, are missing.
    let missing: BTreeSet<u32> = (0..geometry.piece_count())
        .filter(|&p| {
            layout
                .piece_spans(PieceIndex(p))
                .any(|s| s.file == one || (s.file == three && s.file_offset + s.length > cut))
        })
        .collect();
    let still_there: BTreeSet<u32> = (0..geometry.piece_count())
        .filter(|p| !missing.contains(p))
        .collect();
    // The cut keeps two whole pieces of three.bin (it starts on a piece boundary).
    assert!(
        layout
            .file_pieces(three)
            .filter(|p| still_there.contains(p))
            .count()
            == 2
    );
    assert!(missing.len() >= 4 + 3);

    let have = storage.check_existing(2, &mut |_, _| {}).unwrap();
    assert_eq!(ones(&have), still_there);
    for &piece in &missing {
        assert_eq!(storage.hash_piece(PieceIndex(piece)).unwrap(), None);
        assert!(!storage.verify_piece(PieceIndex(piece)).unwrap());
        // Block 0 of each such piece needs bytes that are gone (block 1 may be all padding).
        let read = storage.read_block(geometry.block(PieceIndex(piece), 0).unwrap());
        assert!(
            matches!(read, Err(StorageError::Missing { .. })),
            "piece {piece}: {read:?}"
        );
    }
    // Nothing was recreated by the check or the reads.
    assert!(!downloads.path().join(files[one].path_buf()).exists());
    assert_eq!(
        std::fs::metadata(downloads.path().join(files[three].path_buf()))
            .unwrap()
            .len(),
        cut
    );
}

#[test]
fn a_fresh_download_folder_has_no_pieces_and_reads_nothing() {
    let fixture = Fixture::build(FILES, 32 * 1024, true);
    let (downloads, storage) = fixture.storage(4);
    let mut last = (0, 0);
    let have = storage
        .check_existing(4, &mut |done, total| last = (done, total))
        .unwrap();
    assert!(have.is_clear());
    let total = fixture.torrent.total_length();
    assert_eq!(last, (total, total));
    assert!(matches!(
        storage.read_block(fixture.blocks()[0]),
        Err(StorageError::Missing { .. })
    ));
    assert_eq!(
        crate::tree(downloads.path()).len(),
        2,
        "only album/zero exists"
    );
}
