//! The file layout: where each file sits in the torrent's byte space, piece -> file spans and back.
//!
//! A torrent's pieces are cut from the concatenation of its files (pad files included), so a
//! piece may span several files and a file several pieces. Storage, web seeds and the verifier all
//! need "which file bytes make up torrent bytes [a, b)"; [`FileLayout::spans`] answers with a
//! binary search and an iterator, with no allocation, and skips zero-length files, which occupy
//! no bytes.

use std::ops::Range;
use std::path::PathBuf;

use swarmgate_core::{Geometry, GeometryError, PieceIndex};

/// BEP 47 file attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileAttributes {
    /// `p`: a pad file, never written, read as zeros.
    pub pad: bool,
    /// `x`: executable.
    pub executable: bool,
    /// `h`: hidden.
    pub hidden: bool,
    /// `l`: a symlink; its length is 0 and [`FileEntry::symlink_target`] names the target.
    pub symlink: bool,
}

impl FileAttributes {
    /// The attributes in a file dictionary's `attr` key (none when absent).
    pub(crate) fn of(dict: swarmgate_bencode::Dict<'_, '_>) -> Self {
        dict.get(b"attr")
            .and_then(|a| a.as_bytes())
            .map(Self::parse)
            .unwrap_or_default()
    }

    pub(crate) fn parse(attr: &[u8]) -> Self {
        Self {
            pad: attr.contains(&b'p'),
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            symlink: attr.contains(&b'l'),
        }
    }
}

impl std::fmt::Display for FileAttributes {
    /// The BEP 47 `attr` string: any of `x`, `h`, `p`, `l`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (set, c) in [
            (self.executable, 'x'),
            (self.hidden, 'h'),
            (self.pad, 'p'),
            (self.symlink, 'l'),
        ] {
            if set {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One file of a torrent, as it will be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub(crate) path: Vec<String>,
    pub(crate) length: u64,
    pub(crate) offset: u64,
    pub(crate) attributes: FileAttributes,
    pub(crate) symlink_target: Option<Vec<String>>,
    pub(crate) pieces_root: Option<[u8; 32]>,
}

impl FileEntry {
    /// The sanitised path relative to the download folder, torrent folder included for
    /// multi-file torrents. Every component is a normal name (no `..`, no separator).
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// [`Self::path`] as a relative `PathBuf`, ready for `download_dir.join(..)`.
    pub fn path_buf(&self) -> PathBuf {
        self.path.iter().collect()
    }

    /// The path joined with `/`, for display.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }

    /// The file's length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The offset of the file's first byte in the torrent's byte space.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The BEP 47 attributes.
    pub fn attributes(&self) -> FileAttributes {
        self.attributes
    }

    /// Whether this is a pad file (never written to disk).
    pub fn is_pad(&self) -> bool {
        self.attributes.pad
    }

    /// For a symlink, the sanitised target path, relative to the torrent's root.
    pub fn symlink_target(&self) -> Option<&[String]> {
        self.symlink_target.as_deref()
    }

    /// The v2 `pieces root` (SHA-256 merkle root of the file's 16 KiB blocks), when known.
    pub fn pieces_root(&self) -> Option<&[u8; 32]> {
        self.pieces_root.as_ref()
    }
}

/// A run of bytes that lies within one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// The index of the file in [`FileLayout::files`].
    pub file: usize,
    /// The offset within that file.
    pub file_offset: u64,
    /// The offset of the run in the torrent's byte space.
    pub torrent_offset: u64,
    /// The run's length (never zero).
    pub length: u64,
}

/// The files of a torrent placed in its byte space, with the piece geometry over them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLayout {
    files: Vec<FileEntry>,
    geometry: Geometry,
}

impl FileLayout {
    /// Places `files` end to end (their `offset`s are recomputed) and cuts the whole into
    /// `piece_length`-byte pieces.
    pub(crate) fn new(mut files: Vec<FileEntry>, piece_length: u64) -> Result<Self, GeometryError> {
        let mut offset = 0u64;
        for file in &mut files {
            file.offset = offset;
            offset = offset.saturating_add(file.length);
        }
        let geometry = Geometry::new(offset, piece_length)?;
        Ok(Self { files, geometry })
    }

    /// The files, pad files included, in torrent order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The piece geometry of the whole torrent.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The total length in bytes, pad files included.
    pub fn total_length(&self) -> u64 {
        self.geometry.total_length()
    }

    /// The file runs that make up torrent bytes `range` (clamped to the torrent's end).
    pub fn spans(&self, range: Range<u64>) -> FileSpans<'_> {
        let end = range.end.min(self.total_length());
        let start = range.start.min(end);
        // First file whose end lies past `start`: the file holding `start`.
        let first = self.files.partition_point(|f| f.offset + f.length <= start);
        FileSpans {
            files: &self.files,
            next_file: first,
            position: start,
            end,
        }
    }

    /// The file runs that make up piece `piece` (empty past the end).
    pub fn piece_spans(&self, piece: PieceIndex) -> FileSpans<'_> {
        let Some(size) = self.geometry.piece_size(piece) else {
            return self.spans(0..0);
        };
        let start = self.geometry.piece_offset(piece);
        self.spans(start..start + u64::from(size))
    }

    /// The pieces that hold bytes of file `file` (empty for a zero-length or unknown file).
    pub fn file_pieces(&self, file: usize) -> Range<u32> {
        let Some(entry) = self.files.get(file).filter(|f| f.length > 0) else {
            return 0..0;
        };
        let piece_length = u64::from(self.geometry.piece_length());
        let first = entry.offset / piece_length;
        let last = (entry.offset + entry.length - 1) / piece_length;
        first as u32..last as u32 + 1
    }
}

/// Iterator over the [`FileSpan`]s of a byte range; see [`FileLayout::spans`].
#[derive(Clone, Debug)]
pub struct FileSpans<'a> {
    files: &'a [FileEntry],
    next_file: usize,
    position: u64,
    end: u64,
}

impl Iterator for FileSpans<'_> {
    type Item = FileSpan;

    fn next(&mut self) -> Option<FileSpan> {
        while self.position < self.end {
            let index = self.next_file;
            let file = self.files.get(index)?;
            self.next_file += 1;
            let file_end = file.offset + file.length;
            if file_end <= self.position {
                continue; // zero-length file, or one before the range
            }
            let length = file_end.min(self.end) - self.position;
            let span = FileSpan {
                file: index,
                file_offset: self.position - file.offset,
                torrent_offset: self.position,
                length,
            };
            self.position += length;
            return Some(span);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, length: u64) -> FileEntry {
        FileEntry {
            path: vec![name.into()],
            length,
            offset: 0,
            attributes: FileAttributes::default(),
            symlink_target: None,
            pieces_root: None,
        }
    }

    #[test]
    fn spans_cross_files_and_skip_empty_ones() {
        let layout = FileLayout::new(
            vec![file("a", 10), file("empty", 0), file("b", 25), file("c", 5)],
            16,
        )
        .unwrap();
        assert_eq!(layout.total_length(), 40);
        let spans: Vec<_> = layout.piece_spans(PieceIndex(0)).collect();
        assert_eq!(
            spans,
            [
                FileSpan {
                    file: 0,
                    file_offset: 0,
                    torrent_offset: 0,
                    length: 10
                },
                FileSpan {
                    file: 2,
                    file_offset: 0,
                    torrent_offset: 10,
                    length: 6
                },
            ]
        );
        let last: Vec<_> = layout.piece_spans(PieceIndex(2)).collect();
        assert_eq!(
            last,
            [
                FileSpan {
                    file: 2,
                    file_offset: 22,
                    torrent_offset: 32,
                    length: 3
                },
                FileSpan {
                    file: 3,
                    file_offset: 0,
                    torrent_offset: 35,
                    length: 5
                },
            ]
        );
        assert_eq!(layout.piece_spans(PieceIndex(3)).count(), 0);
        assert_eq!(layout.file_pieces(2), 0..3);
        assert_eq!(layout.file_pieces(1), 0..0);
        assert_eq!(layout.spans(38..100).map(|s| s.length).sum::<u64>(), 2);
    }
}
