//! Edges: BEP 47 attributes in a hand-made torrent, out-of-range blocks, a full disk, a folder
//! where a file should be.

use sha1::{Digest, Sha1};
use swarmgate_bencode::Encoder;
use swarmgate_core::{BlockRef, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{StorageError, TorrentStorage};

use crate::{Fixture, Rng, pattern, tree};

/// A v1 torrent `hand` with a real file, a BEP 47 pad file, a symlink, an empty file in a
/// subfolder and a second real file, in 32 KiB pieces; the real files written under the
/// returned folder.
fn hand_built() -> Fixture {
    let piece_length = 32 * 1024u64;
    let a = pattern(1, 20_000);
    let b = pattern(2, 30_000);
    let pad = piece_length - a.len() as u64;
    let mut space = a.clone();
    space.extend(std::iter::repeat_n(0, pad as usize));
    space.extend(&b);
    let pieces: Vec<u8> = space
        .chunks(piece_length as usize)
        .flat_map(|p| <[u8; 20]>::from(Sha1::digest(p)))
        .collect();

    let mut info = Encoder::new();
    info.begin_dict().key(b"files").begin_list();
    info.begin_dict().key(b"length").int(a.len() as i64);
    info.key(b"path").begin_list().str("a.bin").end().end();
    info.begin_dict()
        .key(b"attr")
        .str("p")
        .key(b"length")
        .int(pad as i64);
    info.key(b"path")
        .begin_list()
        .str(".pad")
        .str(&pad.to_string())
        .end()
        .end();
    info.begin_dict()
        .key(b"attr")
        .str("l")
        .key(b"length")
        .int(0);
    info.key(b"path").begin_list().str("link").end();
    info.key(b"symlink path")
        .begin_list()
        .str("a.bin")
        .end()
        .end();
    info.begin_dict().key(b"length").int(0);
    info.key(b"path")
        .begin_list()
        .str("sub")
        .str("empty")
        .end()
        .end();
    info.begin_dict().key(b"length").int(b.len() as i64);
    info.key(b"path").begin_list().str("b.bin").end().end();
    info.end();
    info.key(b"name").str("hand");
    info.key(b"piece length").int(piece_length as i64);
    info.key(b"pieces").bytes(&pieces).end();
    let info = info.finish().unwrap();
    let mut top = Encoder::new();
    top.begin_dict().key(b"info").raw(&info).end();
    let torrent = Torrent::from_bytes(&top.finish().unwrap()).unwrap();

    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(source.path().join("hand")).unwrap();
    std::fs::write(source.path().join("hand/a.bin"), &a).unwrap();
    std::fs::write(source.path().join("hand/b.bin"), &b).unwrap();
    Fixture::from_torrent(source, torrent)
}

#[test]
fn pad_files_and_symlinks_are_never_created_empty_files_are() {
    let fixture = hand_built();
    let files = fixture.torrent.files();
    assert!(files[1].is_pad());
    assert!(files[2].attributes().symlink);
    assert_eq!(files[3].length(), 0);
    let (downloads, storage) = fixture.storage(2);
    let just_opened: Vec<_> = ["hand", "hand/sub", "hand/sub/empty"]
        .map(std::path::PathBuf::from)
        .into();
    assert_eq!(tree(downloads.path()), just_opened);

    fixture.write_pieces(&storage, &[1, 0], &mut Rng::new(2));
    storage.flush().unwrap();
    assert!(storage.verify_piece(PieceIndex(0)).unwrap());
    assert!(storage.verify_piece(PieceIndex(1)).unwrap());
    let done: Vec<_> = [
        "hand",
        "hand/a.bin",
        "hand/b.bin",
        "hand/sub",
        "hand/sub/empty",
    ]
    .map(std::path::PathBuf::from)
    .into();
    assert_eq!(tree(downloads.path()), done);
    assert_eq!(
        std::fs::read(downloads.path().join("hand/a.bin")).unwrap(),
        fixture.original(0)
    );
    assert_eq!(
        std::fs::read(downloads.path().join("hand/b.bin")).unwrap(),
        fixture.original(4)
    );
    // The pad's bytes read as zeros, and a block that is all padding needs no file.
    let pad_block = BlockRef {
        piece: PieceIndex(0),
        offset: 16 * 1024 + 4_000,
        length: 12_384,
    };
    assert_eq!(storage.read_block(pad_block).unwrap(), vec![0; 12_384]);
    assert!(storage.check_existing(1, &mut |_, _| {}).unwrap().is_full());

    // Non-zero bytes sent for the pad are dropped: the piece on disk still verifies.
    let mut noisy = fixture
        .bytes(BlockRef {
            piece: PieceIndex(0),
            offset: 0,
            length: 32 * 1024,
        })
        .to_vec();
    noisy[25_000] = 0xFF;
    storage.write_block(PieceIndex(0), 0, &noisy).unwrap();
    assert!(storage.verify_piece(PieceIndex(0)).unwrap());
}

#[test]
fn blocks_outside_the_geometry_are_refused_and_write_nothing() {
    let fixture = hand_built();
    let (downloads, storage) = fixture.storage(4);
    let before = tree(downloads.path());
    let last = PieceIndex(1);
    let last_size = 62_768 - 32_768;
    let out_of_range =
        |result: Result<(), StorageError>| matches!(result, Err(StorageError::OutOfRange { .. }));
    assert!(out_of_range(storage.write_block(PieceIndex(2), 0, &[1])));
    assert!(out_of_range(storage.write_block(
        PieceIndex(u32::MAX),
        0,
        &[1]
    )));
    assert!(out_of_range(storage.write_block(
        last,
        last_size - 9,
        &[1; 10]
    )));
    assert!(out_of_range(storage.write_block(last, u32::MAX, &[1])));
    assert!(out_of_range(storage.write_block(
        PieceIndex(0),
        1,
        &vec![1; 32 * 1024]
    )));
    assert_eq!(
        tree(downloads.path()),
        before,
        "a refused write created nothing"
    );

    let mut buf = [0u8; 2];
    assert!(out_of_range(storage.read_into(
        last,
        last_size - 1,
        &mut buf
    )));
    let block = BlockRef {
        piece: last,
        offset: 16 * 1024,
        length: 16 * 1024,
    };
    assert!(
        matches!(storage.read_block(block), Err(StorageError::OutOfRange { length, .. }) if length == 16_384)
    );
    assert!(matches!(
        storage.hash_piece(PieceIndex(2)),
        Err(StorageError::OutOfRange { .. })
    ));
    assert!(matches!(
        storage.verify_piece(PieceIndex(2)),
        Err(StorageError::OutOfRange { .. })
    ));

    // The very end of the last piece is in range, and so is an empty write.
    storage.write_block(last, last_size - 10, &[7; 10]).unwrap();
    storage.write_block(last, last_size, &[]).unwrap();
    let mut tail = [0u8; 10];
    storage.read_into(last, last_size - 10, &mut tail).unwrap();
    assert_eq!(tail, [7; 10]);
}

#[test]
fn a_folder_in_place_of_a_file_is_an_io_error_naming_it() {
    let fixture = hand_built();
    let (downloads, storage) = fixture.storage(4);
    let in_the_way = downloads.path().join("hand/b.bin");
    std::fs::create_dir_all(&in_the_way).unwrap();
    match storage.write_block(PieceIndex(1), 0, &[1; 100]) {
        Err(StorageError::Io { path, .. }) => assert_eq!(path, in_the_way),
        other => panic!("expected Io, got {other:?}"),
    }
    // Reading it is "not on disk", and the check skips it.
    assert!(matches!(
        storage.read_block(BlockRef {
            piece: PieceIndex(1),
            offset: 0,
            length: 100
        }),
        Err(StorageError::Missing { .. })
    ));
    assert!(
        !storage
            .check_existing(2, &mut |_, _| {})
            .unwrap()
            .get(PieceIndex(1))
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_disk_full() {
    // /dev/full answers every write with ENOSPC: point the torrent's file at it.
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("big.iso"), pattern(4, 20_000)).unwrap();
    let torrent = swarmgate_metainfo::TorrentBuilder::new(source.path().join("big.iso"))
        .piece_length(16 * 1024)
        .build()
        .unwrap()
        .torrent;
    let downloads = tempfile::tempdir().unwrap();
    let target = downloads.path().join("big.iso");
    std::os::unix::fs::symlink("/dev/full", &target).unwrap();
    let storage = TorrentStorage::open(downloads.path(), &torrent).unwrap();
    match storage.write_block(PieceIndex(0), 0, &[1; 1000]) {
        Err(StorageError::DiskFull { path }) => assert_eq!(path, target),
        other => panic!("expected DiskFull, got {other:?}"),
    }
}

#[test]
fn flush_reports_a_deleted_file_once() {
    let fixture = hand_built();
    let (downloads, storage) = fixture.storage(4);
    fixture.write_pieces(&storage, &[0, 1], &mut Rng::new(4));
    storage.flush().unwrap();
    storage.flush().unwrap();
    storage.write_block(PieceIndex(1), 0, &[5; 10]).unwrap();
    std::fs::remove_file(downloads.path().join("hand/b.bin")).unwrap();
    // The check closes the handle that still reached the deleted file.
    assert!(
        !storage
            .check_existing(1, &mut |_, _| {})
            .unwrap()
            .get(PieceIndex(1))
    );
    assert!(matches!(storage.flush(), Err(StorageError::Io { .. })));
    storage.flush().unwrap();
}
