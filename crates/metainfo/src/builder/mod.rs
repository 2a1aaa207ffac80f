//! The torrent builder: v1 and hybrid v1+v2 torrents from a file or a folder.
//!
//! Folder contents are sorted by path so the same folder always gives the same info-hash;
//! symlinks and special files are skipped (a torrent of a folder carries its regular files).
//! Hybrid torrents align every file to a piece boundary with BEP 47 pad files, as libtorrent
//! does, so v1 and v2 clients share one swarm. Once the pieces are hashed, the crate's writer
//! ([`InfoDictionary`], [`TorrentFile`]) writes the torrent; the output is re-parsed by
//! [`Torrent::from_bytes`] before it is returned: the builder cannot emit a torrent that our own
//! parser refuses.

mod hasher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::WriteError;
use crate::merkle;
use crate::torrent::Torrent;
use crate::writer::{InfoDictionary, InfoFile, TorrentFile};
use hasher::{Access, Source, hash_pieces};

/// The smallest piece length the builder chooses or accepts: one 16 KiB block.
pub const MIN_PIECE_LENGTH: u64 = 16 * 1024;
/// The largest piece length the builder chooses on its own.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 * 1024 * 1024;
/// The largest piece length the builder accepts when asked.
pub const MAX_PIECE_LENGTH: u64 = 256 * 1024 * 1024;

/// Why a torrent could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Reading the input failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input holds no data: no regular file, or only empty ones.
    #[error("{path}: nothing to share (no data in any regular file)")]
    NoData {
        /// The input path.
        path: PathBuf,
    },
    /// The requested piece length is not a power of two between 16 KiB and 256 MiB.
    #[error("piece length {0} is not a power of two between 16 KiB and 256 MiB")]
    PieceLength(u64),
    /// A file name is not valid UTF-8, so it cannot be written into a torrent portably.
    #[error("{path}: file name is not valid UTF-8")]
    NonUtf8Name {
        /// The offending path.
        path: PathBuf,
    },
    /// A file shrank while it was being hashed.
    #[error("{path}: file changed while it was being hashed")]
    Changed {
        /// The file that changed.
        path: PathBuf,
    },
    /// The input is more than a torrent can describe (a total length beyond `i64`, more pieces
    /// than a `u32` counts).
    #[error("cannot write the torrent: {0}")]
    Write(#[from] WriteError),
}

impl BuildError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The piece length for `total` bytes: a power of two from 16 KiB to 16 MiB giving 1,250 to
/// 2,500 pieces where that range allows (fewer for small inputs, more for inputs over 40 GiB).
pub fn choose_piece_length(total: u64) -> u64 {
    let mut piece = MIN_PIECE_LENGTH;
    while piece < MAX_AUTO_PIECE_LENGTH && total.div_ceil(piece) > 2500 {
        piece *= 2;
    }
    piece
}

/// A torrent built by [`TorrentBuilder`]: its bytes, and the parsed view of them.
#[derive(Clone, Debug)]
pub struct CreatedTorrent {
    /// The `.torrent` file's bytes.
    pub bytes: Vec<u8>,
    /// The same torrent, parsed.
    pub torrent: Torrent,
}

/// Builds a `.torrent` for a file or a folder.
///
/// ```no_run
/// use swarmgate_metainfo::TorrentBuilder;
///
/// let created = TorrentBuilder::new("/data/video.mkv")
///     .tracker("http://127.0.0.1:9877/announce")
///     .hybrid(true)
///     .build()?;
/// std::fs::write("video.torrent", &created.bytes)?;
/// println!("{}", created.torrent.info_hash());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TorrentBuilder {
    root: PathBuf,
    piece_length: Option<u64>,
    /// Trackers, web seeds, comment, created by, creation date.
    top_level: TorrentFile,
    private: bool,
    hybrid: bool,
    threads: usize,
    memory_map: bool,
}

impl TorrentBuilder {
    /// A builder for the file or folder at `path`: v1, automatic piece length, no tracker,
    /// `created by` Swarmgate, `creation date` now, hashing on every core.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok();
        Self {
            root: path.into(),
            piece_length: None,
            top_level: TorrentFile::new()
                .created_by(Some(
                    concat!("Swarmgate/", env!("CARGO_PKG_VERSION")).into(),
                ))
                .creation_date(now.map(|d| d.as_secs() as i64)),
            private: false,
            hybrid: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_map: true,
        }
    }

    /// Sets the piece length (a power of two, 16 KiB to 256 MiB) instead of choosing one.
    pub fn piece_length(mut self, length: u64) -> Self {
        self.piece_length = Some(length);
        self
    }

    /// Adds a tracker in a tier of its own (BEP 12 `announce-list`).
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.top_level = self.top_level.tracker(url);
        self
    }

    /// Adds a web seed URL (BEP 19 `url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.top_level = self.top_level.web_seed(url);
        self
    }

    /// Marks the torrent private (BEP 27).
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Makes a hybrid v1+v2 torrent (BEP 52) instead of a v1 one.
    pub fn hybrid(mut self, hybrid: bool) -> Self {
        self.hybrid = hybrid;
        self
    }

    /// Sets the `comment`.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.top_level = self.top_level.comment(Some(comment.into()));
        self
    }

    /// Sets or clears `created by`.
    pub fn created_by(mut self, created_by: Option<String>) -> Self {
        self.top_level = self.top_level.created_by(created_by);
        self
    }

    /// Sets or clears `creation date` (clear it for reproducible output).
    pub fn creation_date(mut self, seconds: Option<i64>) -> Self {
        self.top_level = self.top_level.creation_date(seconds);
        self
    }

    /// Hashes on `threads` threads (default: every core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Hashes from read-only memory maps of the files (the default) or through `read()`.
    ///
    /// Mapping saves the kernel's copy, about a fifth of the CPU time when the files are in the
    /// page cache. Its cost: if another process truncates a file while it is being hashed, the
    /// process gets SIGBUS instead of an error. Turn it off when the files may shrink under you.
    pub fn memory_map(mut self, on: bool) -> Self {
        self.memory_map = on;
        self
    }

    /// Builds the torrent.
    pub fn build(self) -> Result<CreatedTorrent, BuildError> {
        self.build_with_progress(|_, _| {})
    }

    /// Builds the torrent, calling `progress(bytes_hashed, total_bytes)` from this thread about
    /// twenty times a second.
    pub fn build_with_progress(
        self,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<CreatedTorrent, BuildError> {
        let input = scan(&self.root)?;
        let data: u64 = input.files.iter().map(|f| f.length).sum();
        if data == 0 {
            return Err(BuildError::NoData {
                path: self.root.clone(),
            });
        }
        let piece_length = match self.piece_length {
            Some(p)
                if p.is_power_of_two() && (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&p) =>
            {
                p
            }
            Some(p) => return Err(BuildError::PieceLength(p)),
            None => choose_piece_length(data),
        };
        let files = InfoFile::laid_out(
            input
                .files
                .iter()
                .map(|f| (f.torrent_path.as_slice(), f.length)),
            piece_length,
            self.hybrid,
        );
        let sources = disk_sources(&input.files, &files);
        let hashes = hash_pieces(
            &sources,
            piece_length,
            self.hybrid,
            self.threads,
            if self.memory_map {
                Access::Map
            } else {
                Access::Read
            },
            &mut progress,
        )?;

        let (roots, layers) = match self.hybrid {
            true => v2_roots_and_layers(&files, &hashes.leaves, piece_length),
            false => (Vec::new(), BTreeMap::new()),
        };
        let mut info = match input.single_file {
            true => InfoDictionary::single_file(&input.name, data, piece_length, &hashes.sha1)?,
            false => InfoDictionary::multi_file(&input.name, &files, piece_length, &hashes.sha1)?,
        }
        .private(self.private);
        if self.hybrid {
            info = info.hybrid(&roots)?;
        }
        let bytes = self
            .top_level
            .piece_layers(layers)
            .write(&info.to_bytes())?;
        let torrent =
            Torrent::from_bytes(&bytes).expect("the builder emits torrents its own parser accepts");
        Ok(CreatedTorrent { bytes, torrent })
    }
}

/// A regular file to include: its path on disk, its path in the torrent, its length.
struct InputFile {
    disk_path: PathBuf,
    torrent_path: Vec<String>,
    length: u64,
}

struct Input {
    name: String,
    single_file: bool,
    files: Vec<InputFile>,
}

fn utf8_name(path: &Path, name: Option<&std::ffi::OsStr>) -> Result<String, BuildError> {
    name.and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| BuildError::NonUtf8Name {
            path: path.to_path_buf(),
        })
}

fn scan(root: &Path) -> Result<Input, BuildError> {
    let canonical = root.canonicalize().map_err(|e| BuildError::io(root, e))?;
    let name = utf8_name(root, canonical.file_name())?;
    let metadata = std::fs::metadata(&canonical).map_err(|e| BuildError::io(root, e))?;
    if metadata.is_file() {
        let file = InputFile {
            disk_path: canonical,
            torrent_path: vec![name.clone()],
            length: metadata.len(),
        };
        return Ok(Input {
            name,
            single_file: true,
            files: vec![file],
        });
    }
    let mut files = Vec::new();
    let mut stack = vec![(canonical, Vec::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, e))? {
            let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| BuildError::io(&path, e))?;
            let mut torrent_path: Vec<String> = prefix.clone();
            torrent_path.push(utf8_name(&path, Some(&entry.file_name()))?);
            if kind.is_dir() {
                stack.push((path, torrent_path));
            } else if kind.is_file() {
                let length = entry
                    .metadata()
                    .map_err(|e| BuildError::io(&path, e))?
                    .len();
                files.push(InputFile {
                    disk_path: path,
                    torrent_path,
                    length,
                });
            }
        }
    }
    files.sort_by(|a, b| a.torrent_path.cmp(&b.torrent_path));
    Ok(Input {
        name,
        single_file: false,
        files,
    })
}

/// What the hasher reads for each entry of `files`: the input file on disk, or zeros for a pad.
fn disk_sources(input: &[InputFile], files: &[InfoFile<'_>]) -> Vec<Source> {
    let mut input = input.iter();
    files
        .iter()
        .map(|file| Source {
            path: match file {
                InfoFile::Data { .. } => Some(
                    input
                        .next()
                        .expect("one input file per data entry")
                        .disk_path
                        .clone(),
                ),
                InfoFile::Pad { .. } => None,
            },
            length: file.length(),
        })
        .collect()
}

/// The BEP 52 `pieces root` of each non-empty file, and the piece layers of the files larger
/// than a piece, from the 16 KiB leaves of each piece.
fn v2_roots_and_layers(
    files: &[InfoFile<'_>],
    leaves: &[Vec<merkle::Hash32>],
    piece_length: u64,
) -> (Vec<merkle::Hash32>, BTreeMap<merkle::Hash32, Vec<u8>>) {
    let mut roots = Vec::new();
    let mut layers = BTreeMap::new();
    let mut offset = 0u64;
    for file in files {
        let start = offset;
        offset += file.length();
        let InfoFile::Data { length, .. } = *file else {
            continue;
        };
        if length == 0 {
            continue;
        }
        let first = (start / piece_length) as usize;
        let last = length.div_ceil(piece_length) as usize + first;
        let file_leaves: Vec<merkle::Hash32> = leaves[first..last].concat();
        let (layer, root) = merkle::layer_and_root(&file_leaves, length, piece_length);
        if !layer.is_empty() {
            layers.insert(root, layer.concat());
        }
        roots.push(root);
    }
    (roots, layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_length_aims_at_1250_to_2500_pieces() {
        assert_eq!(choose_piece_length(1), MIN_PIECE_LENGTH);
        for total in [100 << 20, 700 << 20, 2u64 << 30, 4u64 << 30, 20u64 << 30] {
            let p = choose_piece_length(total);
            let pieces = total.div_ceil(p);
            assert!(
                (1250..=2500).contains(&pieces),
                "{total} -> {p} -> {pieces}"
            );
        }
        assert_eq!(choose_piece_length(1u64 << 50), MAX_AUTO_PIECE_LENGTH);
    }
}
