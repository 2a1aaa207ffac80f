//! [`InfoDictionary`]: the `info` dictionary of a v1 or hybrid torrent (BEP 3, 27, 47, 52),
//! written from parts already computed.
//!
//! The constructors check that the parts fit (one SHA-1 per piece, paths with no empty
//! component, for a hybrid torrent one `pieces root` per non-empty file, each on a piece
//! boundary and in path order), so [`InfoDictionary::to_bytes`] cannot fail. The v2 `file tree`
//! is derived from the v1 file list rather than given separately: the two views of a hybrid
//! torrent describe the same files, and deriving one from the other makes them agree by
//! construction.

use swarmgate_bencode::Encoder;

use super::tree::{self, TreeFile};
use crate::error::WriteError;

/// One entry of a multi-file torrent's `files` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoFile<'a> {
    /// A file: its path below the torrent's folder, one string per component, and its length.
    Data {
        /// The path components.
        path: &'a [String],
        /// The length in bytes.
        length: u64,
    },
    /// A BEP 47 pad file of zeros, written as `attr` `p` with the path `.pad/<length>`.
    Pad {
        /// The length in bytes.
        length: u64,
    },
}

impl<'a> InfoFile<'a> {
    /// `files` (path, length) end to end; with `align`, a pad after each non-empty file but the
    /// last one holding data, so that every non-empty file starts on a piece boundary (the v1
    /// view of a hybrid torrent, as libtorrent lays it out).
    pub fn laid_out(
        files: impl IntoIterator<Item = (&'a [String], u64)>,
        piece_length: u64,
        align: bool,
    ) -> Vec<InfoFile<'a>> {
        let files: Vec<(&'a [String], u64)> = files.into_iter().collect();
        let last_with_data = files.iter().rposition(|(_, length)| *length > 0);
        let mut out = Vec::with_capacity(if align { files.len() * 2 } else { files.len() });
        for (index, (path, length)) in files.into_iter().enumerate() {
            out.push(InfoFile::Data { path, length });
            let gap = match piece_length {
                0 => 0,
                p => (p - length % p) % p,
            };
            if align && length > 0 && gap > 0 && Some(index) != last_with_data {
                out.push(InfoFile::Pad { length: gap });
            }
        }
        out
    }

    /// The length in bytes.
    pub fn length(&self) -> u64 {
        match *self {
            InfoFile::Data { length, .. } | InfoFile::Pad { length } => length,
        }
    }
}

/// What the `info` dictionary says about the files.
#[derive(Clone, Copy, Debug)]
enum Files<'a> {
    /// A single-file torrent: `length`, the file named after the torrent.
    Single { length: u64 },
    /// A multi-file torrent: `files`.
    Multi(&'a [InfoFile<'a>]),
}

/// The `info` dictionary of a v1 or hybrid v1+v2 torrent, ready to be written.
///
/// ```
/// use swarmgate_metainfo::{InfoDictionary, InfoFile, Torrent, WriteError};
///
/// let a = vec!["a.bin".to_string()];
/// let b = vec!["sub".to_string(), "b.bin".to_string()];
/// let files = InfoFile::laid_out([(&a[..], 20_000), (&b[..], 5)], 16_384, true);
/// assert_eq!(files[1], InfoFile::Pad { length: 12_768 });
/// let pieces = [[1u8; 20], [2; 20], [3; 20]];
/// let info = InfoDictionary::multi_file("set", &files, 16_384, &pieces)?.private(true);
/// let torrent = Torrent::from_info_bytes(&info.to_bytes(), &Default::default())?;
/// assert_eq!(torrent.total_length(), 2 * 16_384 + 5);
/// assert!(torrent.is_private());
///
/// // Two hashes cannot describe three pieces.
/// let short = InfoDictionary::multi_file("set", &files, 16_384, &pieces[..2]);
/// assert_eq!(short.unwrap_err(), WriteError::PieceCount { expected: 3, actual: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct InfoDictionary<'a> {
    name: &'a str,
    piece_length: u64,
    pieces: &'a [[u8; 20]],
    files: Files<'a>,
    private: bool,
    /// A hybrid torrent's `pieces root`s, one per non-empty file in order.
    pieces_roots: Option<&'a [[u8; 32]]>,
}

impl<'a> InfoDictionary<'a> {
    /// A single-file torrent: the file `name` of `length` bytes, hashed in pieces of
    /// `piece_length` bytes into `pieces`.
    pub fn single_file(
        name: &'a str,
        length: u64,
        piece_length: u64,
        pieces: &'a [[u8; 20]],
    ) -> Result<Self, WriteError> {
        Self::new(name, Files::Single { length }, length, piece_length, pieces)
    }

    /// A multi-file torrent: the folder `name` holding `files` (pads included) end to end,
    /// hashed in pieces of `piece_length` bytes into `pieces`.
    pub fn multi_file(
        name: &'a str,
        files: &'a [InfoFile<'a>],
        piece_length: u64,
        pieces: &'a [[u8; 20]],
    ) -> Result<Self, WriteError> {
        if files.is_empty() {
            return Err(WriteError::NoFiles);
        }
        for (index, file) in files.iter().enumerate() {
            if let InfoFile::Data { path, .. } = file {
                if path.is_empty() || path.iter().any(String::is_empty) {
                    return Err(WriteError::EmptyPath { index });
                }
            }
        }
        let total = files
            .iter()
            .try_fold(0u64, |sum, file| sum.checked_add(file.length()))
            .ok_or(WriteError::TooLong)?;
        Self::new(name, Files::Multi(files), total, piece_length, pieces)
    }

    fn new(
        name: &'a str,
        files: Files<'a>,
        total: u64,
        piece_length: u64,
        pieces: &'a [[u8; 20]],
    ) -> Result<Self, WriteError> {
        if piece_length == 0 || piece_length > u64::from(u32::MAX) {
            return Err(WriteError::PieceLength(piece_length));
        }
        if i64::try_from(total).is_err() {
            return Err(WriteError::TooLong);
        }
        if total == 0 {
            return Err(WriteError::NoData);
        }
        let expected = total.div_ceil(piece_length);
        if pieces.len() as u64 != expected {
            return Err(WriteError::PieceCount {
                expected,
                actual: pieces.len(),
            });
        }
        Ok(Self {
            name,
            piece_length,
            pieces,
            files,
            private: false,
            pieces_roots: None,
        })
    }

    /// Marks the torrent private (BEP 27): `private` 1, or no key at all.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Makes the torrent a hybrid v1+v2 one (BEP 52): a `file tree` of the same files (pads
    /// left out) with `pieces_roots`, one per non-empty file in order, and `meta version` 2.
    /// The files must be in path order, each non-empty one on a piece boundary (see
    /// [`InfoFile::laid_out`]), and the piece length a power of two of at least 16 KiB. The
    /// matching `piece layers` go in the `.torrent` ([`crate::TorrentFile::piece_layers`]).
    pub fn hybrid(mut self, pieces_roots: &'a [[u8; 32]]) -> Result<Self, WriteError> {
        tree::check(&self.tree_files(), self.piece_length, pieces_roots)?;
        self.pieces_roots = Some(pieces_roots);
        Ok(self)
    }

    /// The files as the v2 tree holds them (pads left out), with their v1 offsets; a single
    /// file's path is the torrent's name.
    fn tree_files(&self) -> Vec<TreeFile<'a>> {
        let files = match self.files {
            Files::Single { length } => {
                return vec![TreeFile {
                    index: 0,
                    path: vec![self.name],
                    offset: 0,
                    length,
                }];
            }
            Files::Multi(files) => files,
        };
        let mut out = Vec::with_capacity(files.len());
        let mut offset = 0;
        for (index, file) in files.iter().enumerate() {
            if let InfoFile::Data { path, length } = *file {
                out.push(TreeFile {
                    index,
                    path: path.iter().map(String::as_str).collect(),
                    offset,
                    length,
                });
            }
            offset += file.length();
        }
        out
    }

    /// The bencoded dictionary, keys in sorted order. Its SHA-1 is the v1 info-hash, and for a
    /// hybrid torrent its SHA-256 the v2 one.
    pub fn to_bytes(&self) -> Vec<u8> {
        let files = match self.files {
            Files::Multi(files) => files.len(),
            Files::Single { .. } => 1,
        };
        let mut e = Encoder::with_capacity(self.pieces.len() * 20 + files * 96 + 256);
        e.begin_dict();
        if let Some(roots) = self.pieces_roots {
            e.key(b"file tree");
            tree::write(&mut e, &self.tree_files(), roots);
        }
        match self.files {
            Files::Multi(files) => {
                e.key(b"files").begin_list();
                for file in files {
                    write_file(&mut e, file);
                }
                e.end();
            }
            Files::Single { length } => {
                e.key(b"length").int(length as i64);
            }
        }
        if self.pieces_roots.is_some() {
            e.key(b"meta version").int(2);
        }
        e.key(b"name").str(self.name);
        e.key(b"piece length").int(self.piece_length as i64);
        e.key(b"pieces").bytes(self.pieces.as_flattened());
        if self.private {
            e.key(b"private").int(1);
        }
        e.end();
        e.finish()
            .expect("keys are written in sorted order, checked parts, one value each")
    }
}

/// One `files` entry: `attr` `p` for a pad, `length`, `path`.
fn write_file(e: &mut Encoder, file: &InfoFile<'_>) {
    e.begin_dict();
    if let InfoFile::Pad { .. } = file {
        e.key(b"attr").str("p");
    }
    e.key(b"length").int(file.length() as i64);
    e.key(b"path").begin_list();
    match *file {
        InfoFile::Data { path, .. } => path.iter().for_each(|component| {
            e.str(component);
        }),
        InfoFile::Pad { length } => {
            e.str(".pad").str(&length.to_string());
        }
    }
    e.end().end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::components;

    #[test]
    fn pads_follow_non_empty_files_but_the_last_with_data() {
        let (a, e, b, c) = (
            components("a"),
            components("e"),
            components("b"),
            components("c"),
        );
        let files = [(&a[..], 5), (&e[..], 0), (&b[..], 16), (&c[..], 3)];
        let laid = InfoFile::laid_out(files, 16, true);
        let lengths: Vec<(bool, u64)> = laid
            .iter()
            .map(|f| (matches!(f, InfoFile::Pad { .. }), f.length()))
            .collect();
        // 5 bytes get an 11-byte pad; the empty file none; 16 bytes are aligned; c is last.
        assert_eq!(
            lengths,
            [(false, 5), (true, 11), (false, 0), (false, 16), (false, 3)]
        );
        assert_eq!(InfoFile::laid_out(files, 16, false).len(), 4);
        assert_eq!(InfoFile::laid_out(files, 0, true).len(), 4);
    }

    #[test]
    fn a_multi_file_dictionary_has_sorted_keys_and_bep_47_pads() {
        let a = components("d/a");
        let files = [
            InfoFile::Data {
                path: &a,
                length: 3,
            },
            InfoFile::Pad { length: 13 },
        ];
        let pieces = [[7u8; 20]];
        let info = InfoDictionary::multi_file("n", &files, 16, &pieces).unwrap();
        let mut golden =
            b"d5:filesld6:lengthi3e4:pathl1:d1:aeed4:attr1:p6:lengthi13e4:pathl4:.pad2:13eee\
4:name1:n12:piece lengthi16e6:pieces20:"
                .to_vec();
        golden.extend([7; 20]);
        assert_eq!(info.clone().to_bytes(), [&golden[..], b"e"].concat());
        assert_eq!(
            info.private(true).to_bytes(),
            [&golden[..], b"7:privatei1ee"].concat()
        );
    }

    #[test]
    fn parts_that_do_not_fit_are_refused() {
        let one = [[0u8; 20]];
        let single = |length, piece_length, pieces| {
            InfoDictionary::single_file("a", length, piece_length, pieces).map(|_| ())
        };
        assert_eq!(single(1, 0, &one), Err(WriteError::PieceLength(0)));
        assert_eq!(
            single(1, 1 << 32, &one),
            Err(WriteError::PieceLength(1 << 32))
        );
        assert_eq!(single(0, 16, &[]), Err(WriteError::NoData));
        assert_eq!(single(u64::MAX, 1 << 31, &one), Err(WriteError::TooLong));
        let count = WriteError::PieceCount {
            expected: 2,
            actual: 1,
        };
        assert_eq!(single(17, 16, &one), Err(count));

        let (good, empty, hollow) = (components("a"), Vec::new(), components("a//b"));
        let multi =
            |files: &[InfoFile<'_>]| InfoDictionary::multi_file("n", files, 16, &one).map(|_| ());
        assert_eq!(multi(&[]), Err(WriteError::NoFiles));
        for bad in [&empty, &hollow] {
            let files = [
                InfoFile::Data {
                    path: &good,
                    length: 1,
                },
                InfoFile::Data {
                    path: bad,
                    length: 1,
                },
            ];
            assert_eq!(multi(&files), Err(WriteError::EmptyPath { index: 1 }));
        }
        let huge = [
            InfoFile::Pad { length: u64::MAX },
            InfoFile::Pad { length: 1 },
        ];
        assert_eq!(multi(&huge), Err(WriteError::TooLong));
    }
}
