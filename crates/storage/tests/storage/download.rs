//! Downloads: blocks written in random order land byte for byte in the right files.

use std::sync::Arc;

use swarmgate_core::{BLOCK_SIZE, BlockRef, PieceIndex};

use crate::{Fixture, Rng, tree};

/// Files of awkward sizes: not block- or piece-aligned, one empty, one exactly a block, nested.
const FILES: &[(&str, usize)] = &[
    ("a.bin", 40_000),
    ("b.txt", 5),
    ("c/deep/c.bin", 70_001),
    ("empty", 0),
    ("d.bin", 16_384),
    ("e.bin", 33_000),
];

#[test]
fn hybrid_torrent_with_pads_downloads_in_random_order() {
    let fixture = Fixture::build(FILES, 32 * 1024, true);
    let torrent = &fixture.torrent;
    let pads = torrent.files().iter().filter(|f| f.is_pad()).count();
    assert!(pads >= 4, "the hybrid layout has pad files ({pads})");
    let (downloads, storage) = fixture.storage(64);
    // The zero-length file exists as soon as the storage is open; nothing else does yet.
    assert_eq!(
        tree(downloads.path()),
        ["album", "album/empty"].map(std::path::PathBuf::from)
    );

    let mut blocks = fixture.blocks();
    Rng::new(7).shuffle(&mut blocks);
    for block in &blocks {
        storage
            .write_block(block.piece, block.offset, fixture.bytes(*block))
            .unwrap();
    }
    storage.flush().unwrap();

    for piece in 0..torrent.piece_count() {
        assert!(storage.verify_piece(PieceIndex(piece)).unwrap(), "{piece}");
    }
    for (index, entry) in torrent.files().iter().enumerate() {
        let on_disk = downloads.path().join(entry.path_buf());
        if entry.is_pad() {
            assert!(
                !on_disk.exists(),
                "pad file {} was created",
                on_disk.display()
            );
        } else {
            assert_eq!(std::fs::read(&on_disk).unwrap(), fixture.original(index));
        }
    }
    // No `.pad` folder, nothing but the torrent's real files and their folders.
    let expected: Vec<_> = [
        "album",
        "album/a.bin",
        "album/b.txt",
        "album/c",
        "album/c/deep",
        "album/c/deep/c.bin",
        "album/d.bin",
        "album/e.bin",
        "album/empty",
    ]
    .map(std::path::PathBuf::from)
    .into();
    assert_eq!(tree(downloads.path()), expected);
    // Every block reads back as it was sent, pads as zeros.
    for block in fixture.blocks() {
        assert_eq!(storage.read_block(block).unwrap(), fixture.bytes(block));
    }
}

#[test]
fn single_file_torrent_lives_at_root_slash_name() {
    let source = tempfile::tempdir().unwrap();
    let data = crate::pattern(3, 50_000);
    std::fs::write(source.path().join("movie.mkv"), &data).unwrap();
    let torrent = swarmgate_metainfo::TorrentBuilder::new(source.path().join("movie.mkv"))
        .piece_length(16 * 1024)
        .build()
        .unwrap()
        .torrent;
    let downloads = tempfile::tempdir().unwrap();
    let root = downloads.path().join("not/yet/there");
    let storage = swarmgate_storage::TorrentStorage::open(&root, &torrent).unwrap();
    assert!(
        !root.exists(),
        "opening creates nothing for a torrent with data"
    );
    for (index, piece) in data.chunks(16 * 1024).enumerate().rev() {
        storage
            .write_block(PieceIndex(index as u32), 0, piece)
            .unwrap();
    }
    assert_eq!(std::fs::read(root.join("movie.mkv")).unwrap(), data);
    assert_eq!(storage.file_path(0), Some(root.join("movie.mkv").as_path()));
}

#[test]
fn a_read_block_crosses_file_boundaries() {
    // v1 (no pads): a.bin ends 40,000 bytes in, inside piece 1's second block.
    let fixture = Fixture::build(FILES, 32 * 1024, false);
    assert!(fixture.torrent.files().iter().all(|f| !f.is_pad()));
    let (_downloads, storage) = fixture.storage(64);
    let mut rng = Rng::new(11);
    let all: Vec<u32> = (0..fixture.torrent.piece_count()).collect();
    fixture.write_pieces(&storage, &all, &mut rng);

    let across = BlockRef {
        piece: PieceIndex(1),
        offset: 0,
        length: 32 * 1024,
    };
    // Torrent bytes 32,768..65,536: the end of a.bin, all of b.txt, the start of c.bin.
    let spans: Vec<_> = fixture
        .torrent
        .layout()
        .piece_spans(across.piece)
        .map(|s| s.file)
        .collect();
    assert_eq!(spans, [0, 1, 2]);
    let read = storage.read_block(across).unwrap();
    let mut expected = fixture.original(0)[32 * 1024..].to_vec();
    expected.extend(fixture.original(1));
    expected.extend(&fixture.original(2)[..32 * 1024 - 7232 - 5]);
    assert_eq!(read, expected);

    // read_into at an odd offset and length, across the same boundary.
    let mut buf = vec![0u8; 100];
    storage
        .read_into(PieceIndex(1), 7232 - 50, &mut buf)
        .unwrap();
    assert_eq!(&buf[..50], &fixture.original(0)[40_000 - 50..]);
    assert_eq!(&buf[50..55], fixture.original(1).as_slice());
    assert_eq!(&buf[55..], &fixture.original(2)[..45]);
}

#[test]
fn descriptor_lru_of_two_over_ten_files() {
    let names: Vec<String> = (0..10).map(|i| format!("f{i}.bin")).collect();
    let files: Vec<(&str, usize)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), 9_000 + i * 1_337))
        .collect();
    let fixture = Fixture::build(&files, 16 * 1024, false);
    let (downloads, storage) = fixture.storage(2);
    let mut rng = Rng::new(99);
    let all: Vec<u32> = (0..fixture.torrent.piece_count()).collect();
    fixture.write_pieces(&storage, &all, &mut rng);
    assert!(storage.open_file_count() <= 2);
    for piece in &all {
        assert!(storage.verify_piece(PieceIndex(*piece)).unwrap());
        assert!(storage.open_file_count() <= 2);
    }
    storage.flush().unwrap();
    for (index, entry) in fixture.torrent.files().iter().enumerate() {
        let on_disk = std::fs::read(downloads.path().join(entry.path_buf())).unwrap();
        assert_eq!(on_disk, fixture.original(index), "{}", entry.display_path());
    }
    assert_eq!(
        storage.check_existing(2, &mut |_, _| {}).unwrap().count(),
        all.len() as u32
    );
}

#[test]
fn threads_share_one_storage() {
    let fixture = Arc::new(Fixture::build(FILES, 16 * 1024, true));
    let (_downloads, storage) = fixture.storage(3);
    let storage = Arc::new(storage);
    let mut blocks = fixture.blocks();
    Rng::new(5).shuffle(&mut blocks);
    let chunks: Vec<Vec<BlockRef>> = blocks
        .chunks(blocks.len().div_ceil(4))
        .map(<[_]>::to_vec)
        .collect();
    std::thread::scope(|scope| {
        for chunk in &chunks {
            let storage = Arc::clone(&storage);
            let fixture = Arc::clone(&fixture);
            scope.spawn(move || {
                for block in chunk {
                    storage
                        .write_block(block.piece, block.offset, fixture.bytes(*block))
                        .unwrap();
                    // Read back through the shared handles while the others write.
                    assert_eq!(storage.read_block(*block).unwrap(), fixture.bytes(*block));
                }
            });
        }
    });
    for piece in 0..fixture.torrent.piece_count() {
        assert!(storage.verify_piece(PieceIndex(piece)).unwrap());
    }
}

#[test]
fn random_reads_match_the_torrent_byte_space() {
    use proptest::test_runner::{Config, TestRunner};

    let fixture = Fixture::build(FILES, 32 * 1024, true);
    let (_downloads, storage) = fixture.storage(2);
    let all: Vec<u32> = (0..fixture.torrent.piece_count()).collect();
    fixture.write_pieces(&storage, &all, &mut Rng::new(3));
    let geometry = fixture.torrent.layout().geometry();
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let pieces = geometry.piece_count();
    runner
        .run(
            &(0..pieces + 1, 0u32..40_000, 0usize..3 * BLOCK_SIZE as usize),
            |(piece, offset, length)| {
                let mut buf = vec![0xAA; length];
                let result = storage.read_into(PieceIndex(piece), offset, &mut buf);
                let size = geometry.piece_size(PieceIndex(piece));
                match size {
                    Some(size) if u64::from(offset) + length as u64 <= u64::from(size) => {
                        proptest::prop_assert!(result.is_ok());
                        let start =
                            geometry.piece_offset(PieceIndex(piece)) as usize + offset as usize;
                        proptest::prop_assert_eq!(&buf[..], &fixture.space[start..start + length]);
                    }
                    _ => {
                        let refused = matches!(
                            result,
                            Err(swarmgate_storage::StorageError::OutOfRange { .. })
                        );
                        proptest::prop_assert!(refused, "{result:?}");
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
