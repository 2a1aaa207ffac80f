//! BEP 3 / BEP 47 torrent fixtures: valid v1 torrents with deterministic random content.
//!
//! A [`TorrentFixture`] hashes the pieces with SHA-1, writes the torrent with
//! `swarmgate-metainfo`'s writer ([`InfoDictionary`], [`TorrentFile`], the one the torrent builder
//! uses) and parses the result back with [`Torrent::from_bytes`], so a fixture is always a
//! torrent the rest of Swarmgate accepts, and [`Fixture::data`] is always what its piece hashes
//! describe. Content comes from [`SimRng`] seeded with the fixture's seed: the same builder calls
//! give the same bytes and the same info-hash on every run.
//!
//! With [`TorrentFixture::pad_files`], every file but the last is followed by a BEP 47 pad file
//! (`attr` = `p`, path `.pad/<length>`) so the next file starts on a piece boundary: the v1 view
//! of a libtorrent 2.x hybrid torrent, which a v1 client must download with the pads as zeros.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use swarmgate_core::{BlockRef, InfoHash};
use swarmgate_metainfo::{InfoDictionary, InfoFile, Magnet, Torrent, TorrentFile};

use crate::error::FixtureError;
use crate::rng::SimRng;

/// A builder of test torrents with deterministic random content.
///
/// ```
/// use swarmgate_testkit::TorrentFixture;
///
/// let fixture = TorrentFixture::new(7)
///     .piece_length(16 * 1024)
///     .file("album/a.flac", 40_000)
///     .file("album/b.flac", 10_000)
///     .pad_files(true)
///     .build();
/// assert_eq!(fixture.torrent.name(), "fixture");
/// assert_eq!(fixture.torrent.files().len(), 3); // a.flac, a pad, b.flac
/// assert_eq!(fixture.data.len() as u64, fixture.torrent.total_length());
/// // Piece 2 holds the tail of a.flac, then the pad's zeros; b.flac starts piece 3.
/// assert!(fixture.piece(2)[40_000 - 2 * 16 * 1024..].iter().all(|&b| b == 0));
/// assert_eq!(fixture.torrent.files()[2].offset(), 3 * 16 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct TorrentFixture {
    seed: u64,
    piece_length: u64,
    name: String,
    files: Vec<(String, u64)>,
    pad_files: bool,
    trackers: Vec<String>,
    web_seeds: Vec<String>,
    private: bool,
}

/// A built fixture: the torrent, its file, and its content.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The torrent, as parsed back from [`Fixture::torrent_bytes`].
    pub torrent: Torrent,
    /// The `.torrent` file.
    pub torrent_bytes: Vec<u8>,
    /// The torrent's bytes laid end to end, pad files as zeros.
    pub data: Vec<u8>,
}

impl TorrentFixture {
    /// The default piece length: 32 KiB, two blocks.
    pub const DEFAULT_PIECE_LENGTH: u64 = 32 * 1024;

    /// A builder whose content is drawn from `seed`. Without [`TorrentFixture::file`] calls it
    /// builds a single-file torrent `fixture-<seed>.bin` of 8.5 pieces.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            piece_length: Self::DEFAULT_PIECE_LENGTH,
            name: "fixture".into(),
            files: Vec::new(),
            pad_files: false,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
        }
    }

    /// The piece length in bytes (v1 allows any length; real torrents use powers of two).
    pub fn piece_length(mut self, bytes: u64) -> Self {
        self.piece_length = bytes;
        self
    }

    /// Adds a file: `path` uses `/` between components. One file with a one-component path
    /// makes a single-file torrent named after it; anything else a multi-file torrent.
    pub fn file(mut self, path: impl Into<String>, length: u64) -> Self {
        self.files.push((path.into(), length));
        self
    }

    /// The name of a multi-file torrent (its root folder); default `fixture`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Aligns every file to a piece boundary with BEP 47 pad files (multi-file torrents).
    pub fn pad_files(mut self, pad: bool) -> Self {
        self.pad_files = pad;
        self
    }

    /// Adds a tracker (`announce`, and `announce-list` with one tier per tracker when several).
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.trackers.push(url.into());
        self
    }

    /// Adds a BEP 19 web seed (`url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }

    /// Marks the torrent private (BEP 27).
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Builds the fixture.
    ///
    /// # Panics
    ///
    /// When [`TorrentFixture::try_build`] fails: a test that asks for an impossible fixture is
    /// wrong, and says so at once.
    pub fn build(self) -> Fixture {
        match self.try_build() {
            Ok(fixture) => fixture,
            Err(e) => panic!("invalid torrent fixture: {e}"),
        }
    }

    /// Builds the fixture, or says why it cannot be built.
    pub fn try_build(self) -> Result<Fixture, FixtureError> {
        let p = self.piece_length;
        if p == 0 || p > u64::from(u32::MAX) {
            return Err(FixtureError::PieceLength(p));
        }
        let files = match self.files.is_empty() {
            true => vec![(format!("fixture-{}.bin", self.seed), 8 * p + p / 2)],
            false => self.files.clone(),
        };
        let paths = check_paths(&files)?;
        let single = files.len() == 1 && paths[0].len() == 1;

        let layout = InfoFile::laid_out(
            paths
                .iter()
                .zip(&files)
                .map(|(path, (_, length))| (&path[..], *length)),
            p,
            self.pad_files && !single,
        );
        let total = layout
            .iter()
            .try_fold(0u64, |sum, file| sum.checked_add(file.length()))
            .and_then(|t| usize::try_from(t).ok())
            .ok_or(FixtureError::PieceLength(p))?;
        if total == 0 {
            return Err(FixtureError::Empty);
        }

        let mut rng = SimRng::new(self.seed);
        let mut data = vec![0u8; total];
        let mut offset = 0usize;
        for file in &layout {
            let length = file.length() as usize;
            if let InfoFile::Data { .. } = file {
                rng.fill_bytes(&mut data[offset..offset + length]);
            }
            offset += length;
        }
        let pieces: Vec<[u8; 20]> = data
            .chunks(p as usize)
            .map(|piece| Sha1::digest(piece).into())
            .collect();

        let info = match single {
            true => InfoDictionary::single_file(&paths[0][0], total as u64, p, &pieces)?,
            false => InfoDictionary::multi_file(&self.name, &layout, p, &pieces)?,
        };
        let mut top_level = TorrentFile::new().created_by(Some("swarmgate-testkit".into()));
        for url in self.trackers {
            top_level = top_level.tracker(url);
        }
        for url in self.web_seeds {
            top_level = top_level.web_seed(url);
        }
        let torrent_bytes = top_level.write(&info.private(self.private).to_bytes())?;
        let torrent = Torrent::from_bytes(&torrent_bytes)?;
        Ok(Fixture {
            torrent,
            torrent_bytes,
            data,
        })
    }
}

/// Splits each path at `/` and rejects what the metainfo parser would rewrite or rename.
fn check_paths(files: &[(String, u64)]) -> Result<Vec<Vec<String>>, FixtureError> {
    let mut out: Vec<Vec<String>> = Vec::with_capacity(files.len());
    for (path, _) in files {
        let components: Vec<String> = path.split('/').map(str::to_string).collect();
        let plain = |c: &String| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.len() <= 240
                && !c.starts_with("_____padding_file_")
                && !c.chars().any(|ch| ch == '\\' || ch.is_control())
        };
        if !components.iter().all(plain) {
            return Err(FixtureError::BadPath { path: path.clone() });
        }
        out.push(components);
    }
    let mut taken: HashSet<&[String]> = HashSet::new();
    let mut dirs: HashSet<&[String]> = HashSet::new();
    for path in &out {
        for end in 1..path.len() {
            dirs.insert(&path[..end]);
        }
    }
    for (path, (text, _)) in out.iter().zip(files) {
        if !taken.insert(path.as_slice()) || dirs.contains(path.as_slice()) {
            return Err(FixtureError::DuplicatePath { path: text.clone() });
        }
    }
    Ok(out)
}

impl Fixture {
    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.torrent.piece_count()
    }

    /// The info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.torrent.info_hash()
    }

    /// The bytes of piece `index` (the last one may be short).
    ///
    /// # Panics
    ///
    /// When `index` is not below [`Fixture::piece_count`].
    pub fn piece(&self, index: u32) -> &[u8] {
        let p = self.torrent.piece_length() as usize;
        let start = index as usize * p;
        assert!(
            index < self.piece_count(),
            "piece {index} of a {}-piece fixture",
            self.piece_count()
        );
        &self.data[start..(start + p).min(self.data.len())]
    }

    /// The bytes of a block, as a seeder sends them in a `piece` message; `None` if the block
    /// lies outside the torrent.
    pub fn block(&self, block: BlockRef) -> Option<&[u8]> {
        let start = u64::from(block.piece.0)
            .checked_mul(u64::from(self.torrent.piece_length()))?
            .checked_add(u64::from(block.offset))?;
        let end = start.checked_add(u64::from(block.length))?;
        let range = usize::try_from(start).ok()?..usize::try_from(end).ok()?;
        self.data.get(range)
    }

    /// The content of file `index` of `torrent.files()` (zeros for a pad file).
    pub fn file_data(&self, index: usize) -> Option<&[u8]> {
        let file = self.torrent.files().get(index)?;
        let start = usize::try_from(file.offset()).ok()?;
        let end = usize::try_from(file.offset() + file.length()).ok()?;
        self.data.get(start..end)
    }

    /// A magnet link for the torrent (info-hash, name, trackers, web seeds).
    pub fn magnet(&self) -> Magnet {
        Magnet::from_torrent(&self.torrent)
    }

    /// Writes the files under `dir` as a seeder keeps them (pad files are not written) and
    /// returns the torrent's root: `dir/<name>`, the file itself for a single-file torrent.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        for (index, file) in self.torrent.files().iter().enumerate() {
            if file.is_pad() {
                continue;
            }
            let path = dir.join(file.path_buf());
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, self.file_data(index).unwrap_or_default())?;
        }
        Ok(dir.join(self.torrent.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_is_a_single_file_of_eight_and_a_half_pieces() {
        let f = TorrentFixture::new(1).build();
        assert!(!f.torrent.is_multi_file());
        assert_eq!(f.torrent.name(), "fixture-1.bin");
        assert_eq!(f.piece_count(), 9);
        assert_eq!(f.piece(8).len(), 16 * 1024);
        assert_eq!(f.data.len(), 8 * 32 * 1024 + 16 * 1024);
    }

    #[test]
    fn bad_paths_and_collisions_are_refused() {
        for path in [
            "",
            "a//b",
            "a/../b",
            "./a",
            "a\\b",
            "a/\u{0}",
            "_____padding_file_1",
        ] {
            let err = TorrentFixture::new(1).file(path, 10).try_build();
            assert!(matches!(err, Err(FixtureError::BadPath { .. })), "{path:?}");
        }
        let dup = TorrentFixture::new(1)
            .file("a/b", 1)
            .file("a/b", 2)
            .try_build();
        assert!(matches!(dup, Err(FixtureError::DuplicatePath { .. })));
        let dir = TorrentFixture::new(1)
            .file("a/b", 1)
            .file("a", 2)
            .try_build();
        assert!(matches!(dir, Err(FixtureError::DuplicatePath { .. })));
        let empty = TorrentFixture::new(1).file("a", 0).try_build();
        assert!(matches!(empty, Err(FixtureError::Empty)));
        let zero = TorrentFixture::new(1).piece_length(0).try_build();
        assert!(matches!(zero, Err(FixtureError::PieceLength(0))));
    }

    #[test]
    fn blocks_and_files_are_slices_of_the_data() {
        let f = TorrentFixture::new(2).file("x/a", 5).file("x/b", 7).build();
        assert_eq!(f.file_data(0), Some(&f.data[..5]));
        assert_eq!(f.file_data(1), Some(&f.data[5..12]));
        assert_eq!(f.file_data(2), None);
        let block = BlockRef {
            piece: swarmgate_core::PieceIndex(0),
            offset: 0,
            length: 12,
        };
        assert_eq!(f.block(block), Some(&f.data[..]));
        assert_eq!(
            f.block(BlockRef {
                length: 13,
                ..block
            }),
            None
        );
    }
}
