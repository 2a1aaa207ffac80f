//! Integration tests of swarmgate-storage: real torrents (built with the metainfo crate's
//! builder, or hand-encoded) downloaded into temporary folders block by block.

mod cache;
mod download;
mod edges;
mod resume;

use std::path::{Path, PathBuf};

use swarmgate_core::{BlockRef, PieceIndex};
use swarmgate_metainfo::{Torrent, TorrentBuilder};
use swarmgate_storage::{StorageOptions, TorrentStorage};
use tempfile::TempDir;

/// A deterministic xorshift generator: shuffles and picks without a global RNG.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Bytes that are never all zero in any 16 KiB run, different per file.
pub(crate) fn pattern(seed: u32, length: usize) -> Vec<u8> {
    (0..length as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8 + 1)
        .collect()
}

/// A torrent built from files on disk, with the whole torrent byte space (pads as zeros) kept
/// for comparisons.
pub(crate) struct Fixture {
    pub(crate) source: TempDir,
    pub(crate) torrent: Torrent,
    /// The torrent's bytes end to end, pad files as zeros.
    pub(crate) space: Vec<u8>,
}

impl Fixture {
    /// A folder `album` with `files` (relative path, length) made into a torrent.
    pub(crate) fn build(files: &[(&str, usize)], piece_length: u64, hybrid: bool) -> Self {
        let source = tempfile::tempdir().unwrap();
        let folder = source.path().join("album");
        for (seed, (name, length)) in files.iter().enumerate() {
            let path = folder.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, pattern(seed as u32, *length)).unwrap();
        }
        let torrent = TorrentBuilder::new(&folder)
            .piece_length(piece_length)
            .hybrid(hybrid)
            .threads(2)
            .build()
            .unwrap()
            .torrent;
        Self::from_torrent(source, torrent)
    }

    /// The fixture of `torrent`, whose files stand under `source` (the builder's layout).
    pub(crate) fn from_torrent(source: TempDir, torrent: Torrent) -> Self {
        let mut space = Vec::new();
        for entry in torrent.files() {
            if entry.is_pad() {
                space.extend(std::iter::repeat_n(0, entry.length() as usize));
            } else if entry.length() > 0 {
                space.extend(std::fs::read(source.path().join(entry.path_buf())).unwrap());
            }
        }
        assert_eq!(space.len() as u64, torrent.total_length());
        Self {
            source,
            torrent,
            space,
        }
    }

    /// The original bytes of `block`.
    pub(crate) fn bytes(&self, block: BlockRef) -> &[u8] {
        let start = self.torrent.layout().geometry().piece_offset(block.piece) as usize
            + block.offset as usize;
        &self.space[start..start + block.length as usize]
    }

    /// The original of the file at index `file`.
    pub(crate) fn original(&self, file: usize) -> Vec<u8> {
        std::fs::read(
            self.source
                .path()
                .join(self.torrent.files()[file].path_buf()),
        )
        .unwrap()
    }

    /// Every block of the torrent, in order.
    pub(crate) fn blocks(&self) -> Vec<BlockRef> {
        let geometry = self.torrent.layout().geometry();
        (0..geometry.piece_count())
            .flat_map(|p| geometry.blocks(PieceIndex(p)).collect::<Vec<_>>())
            .collect()
    }

    /// A storage over a fresh download folder.
    pub(crate) fn storage(&self, max_open_files: usize) -> (TempDir, TorrentStorage) {
        let downloads = tempfile::tempdir().unwrap();
        let storage = TorrentStorage::open_with(
            downloads.path(),
            &self.torrent,
            &StorageOptions { max_open_files },
        )
        .unwrap();
        (downloads, storage)
    }

    /// Writes every block of `pieces` (in a shuffled order).
    pub(crate) fn write_pieces(&self, storage: &TorrentStorage, pieces: &[u32], rng: &mut Rng) {
        let geometry = self.torrent.layout().geometry();
        let mut blocks: Vec<BlockRef> = pieces
            .iter()
            .flat_map(|&p| geometry.blocks(PieceIndex(p)).collect::<Vec<_>>())
            .collect();
        rng.shuffle(&mut blocks);
        for block in blocks {
            storage
                .write_block(block.piece, block.offset, self.bytes(block))
                .unwrap();
        }
    }
}

/// Every file and folder under `root`, relative, sorted.
pub(crate) fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The storage type is shared between blocking threads.
#[test]
fn storage_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<TorrentStorage>();
}
