//! The torrent builder: v1 and hybrid v1+v2 torrents from a file or a folder.
//!
//! Folder contents are sorted by path so the same folder always gives the same info-hash;
//! symlinks and special files are skipped (a torrent of a folder carries its regular files).
//! Hybrid torrents align every file to a piece boundary with BEP 47 pad files, as libtorrent
//! does, so v1 and v2 clients share one swarm. The output is re-parsed by [`Torrent::from_bytes`]
//! before it is returned: the builder cannot emit a torrent that our own parser refuses.

mod hasher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use swarmgate_bencode::{Encoder, OwnedValue};

use crate::merkle;
use crate::torrent::Torrent;
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
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    private: bool,
    hybrid: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
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
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
            hybrid: false,
            comment: None,
            created_by: Some(concat!("Swarmgate/", env!("CARGO_PKG_VERSION")).to_string()),
            creation_date: now.map(|d| d.as_secs() as i64),
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
        self.trackers.push(vec![url.into()]);
        self
    }

    /// Adds a web seed URL (BEP 19 `url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
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
        self.comment = Some(comment.into());
        self
    }

    /// Sets or clears `created by`.
    pub fn created_by(mut self, created_by: Option<String>) -> Self {
        self.created_by = created_by;
        self
    }

    /// Sets or clears `creation date` (clear it for reproducible output).
    pub fn creation_date(mut self, seconds: Option<i64>) -> Self {
        self.creation_date = seconds;
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
        let sources = layout_sources(&input.files, piece_length, self.hybrid);
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
        let pieces: Vec<u8> = hashes.sha1.concat();

        let mut info = BTreeMap::new();
        info.insert(b"name".to_vec(), OwnedValue::from(input.name.as_str()));
        info.insert(
            b"piece length".to_vec(),
            OwnedValue::Int(piece_length as i64),
        );
        info.insert(b"pieces".to_vec(), OwnedValue::Bytes(pieces));
        if self.private {
            info.insert(b"private".to_vec(), OwnedValue::Int(1));
        }
        if input.single_file {
            info.insert(b"length".to_vec(), OwnedValue::Int(data as i64));
        } else {
            let files = sources
                .iter()
                .zip(source_paths(&input.files, &sources))
                .map(|(s, path)| {
                    let mut entry = BTreeMap::new();
                    if s.path.is_none() {
                        entry.insert(b"attr".to_vec(), OwnedValue::from("p"));
                    }
                    entry.insert(b"length".to_vec(), OwnedValue::Int(s.length as i64));
                    entry.insert(
                        b"path".to_vec(),
                        OwnedValue::List(
                            path.iter().map(|c| OwnedValue::from(c.as_str())).collect(),
                        ),
                    );
                    OwnedValue::Dict(entry)
                });
            info.insert(b"files".to_vec(), OwnedValue::List(files.collect()));
        }
        let mut layers = BTreeMap::new();
        if self.hybrid {
            let tree = v2_file_tree(&input, &sources, &hashes.leaves, piece_length, &mut layers);
            info.insert(b"file tree".to_vec(), tree);
            info.insert(b"meta version".to_vec(), OwnedValue::Int(2));
        }
        let info_bytes = OwnedValue::Dict(info).encode();
        let bytes = self.encode_top_level(&info_bytes, layers);
        let torrent =
            Torrent::from_bytes(&bytes).expect("the builder emits torrents its own parser accepts");
        Ok(CreatedTorrent { bytes, torrent })
    }

    fn encode_top_level(&self, info: &[u8], layers: BTreeMap<Vec<u8>, OwnedValue>) -> Vec<u8> {
        let mut e = Encoder::with_capacity(info.len() + 1024);
        e.begin_dict();
        if let Some(first) = self.trackers.first().and_then(|t| t.first()) {
            e.key(b"announce").str(first);
        }
        if self.trackers.len() > 1 {
            e.key(b"announce-list").begin_list();
            for tier in &self.trackers {
                e.begin_list();
                for url in tier {
                    e.str(url);
                }
                e.end();
            }
            e.end();
        }
        if let Some(comment) = &self.comment {
            e.key(b"comment").str(comment);
        }
        if let Some(created_by) = &self.created_by {
            e.key(b"created by").str(created_by);
        }
        if let Some(date) = self.creation_date {
            e.key(b"creation date").int(date);
        }
        e.key(b"info").raw(info);
        if !layers.is_empty() {
            e.key(b"piece layers")
                .raw(&OwnedValue::Dict(layers).encode());
        }
        if !self.web_seeds.is_empty() {
            e.key(b"url-list").begin_list();
            for url in &self.web_seeds {
                e.str(url);
            }
            e.end();
        }
        e.end();
        e.finish().expect("keys are written in sorted order")
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

/// The files end to end; for hybrid torrents, a pad after each non-empty file but the last so
/// that every file starts on a piece boundary.
fn layout_sources(files: &[InputFile], piece_length: u64, hybrid: bool) -> Vec<Source> {
    let mut out = Vec::with_capacity(files.len() * 2);
    let last_with_data = files.iter().rposition(|f| f.length > 0);
    for (index, file) in files.iter().enumerate() {
        out.push(Source {
            path: Some(file.disk_path.clone()),
            length: file.length,
        });
        let gap = (piece_length - file.length % piece_length) % piece_length;
        if hybrid && file.length > 0 && gap > 0 && Some(index) != last_with_data {
            out.push(Source {
                path: None,
                length: gap,
            });
        }
    }
    out
}

/// The torrent path of each source: the file's path below the root, or `.pad/N` for a pad.
fn source_paths(files: &[InputFile], sources: &[Source]) -> Vec<Vec<String>> {
    let mut files = files.iter();
    sources
        .iter()
        .map(|s| match s.path {
            Some(_) => files
                .next()
                .expect("one input file per file source")
                .torrent_path
                .clone(),
            None => vec![".pad".to_string(), s.length.to_string()],
        })
        .collect()
}

/// Builds the BEP 52 `file tree` and fills `layers` with the piece layers of multi-piece files.
fn v2_file_tree(
    input: &Input,
    sources: &[Source],
    leaves: &[Vec<merkle::Hash32>],
    piece_length: u64,
    layers: &mut BTreeMap<Vec<u8>, OwnedValue>,
) -> OwnedValue {
    let mut tree = BTreeMap::new();
    let mut offset = 0u64;
    let mut files = input.files.iter();
    for source in sources {
        let start = offset;
        offset += source.length;
        if source.path.is_none() {
            continue;
        }
        let file = files.next().expect("one input file per file source");
        let mut properties = BTreeMap::new();
        properties.insert(b"length".to_vec(), OwnedValue::Int(file.length as i64));
        if file.length > 0 {
            let first = (start / piece_length) as usize;
            let last = file.length.div_ceil(piece_length) as usize + first;
            let file_leaves: Vec<merkle::Hash32> = leaves[first..last].concat();
            let (layer, root) = merkle::layer_and_root(&file_leaves, file.length, piece_length);
            properties.insert(b"pieces root".to_vec(), OwnedValue::Bytes(root.to_vec()));
            if !layer.is_empty() {
                layers.insert(root.to_vec(), OwnedValue::Bytes(layer.concat()));
            }
        }
        insert_leaf(&mut tree, &file.torrent_path, properties);
    }
    OwnedValue::Dict(tree)
}

fn insert_leaf(
    tree: &mut BTreeMap<Vec<u8>, OwnedValue>,
    path: &[String],
    properties: BTreeMap<Vec<u8>, OwnedValue>,
) {
    let (first, rest) = path.split_first().expect("paths are never empty");
    let node = tree
        .entry(first.as_bytes().to_vec())
        .or_insert_with(|| OwnedValue::Dict(BTreeMap::new()));
    let OwnedValue::Dict(children) = node else {
        unreachable!("tree nodes are dictionaries")
    };
    if rest.is_empty() {
        children.insert(Vec::new(), OwnedValue::Dict(properties));
    } else {
        insert_leaf(children, rest, properties);
    }
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
