//! BEP 19 range planning: which byte range of which file to request from a web seed for each
//! piece of a torrent.
//!
//! A piece is cut from the concatenation of the torrent's files, so it may span several files;
//! a web seed serves files, one URL each, so a piece becomes one ranged request per file it
//! touches, in torrent order. Pad files (BEP 47) are never requested: they are zeros, and the
//! assembler leaves their bytes as the zeros the buffer starts with. Zero-length files take no
//! bytes and get no request.

use std::ops::Range;

use swarmgate_core::PieceIndex;
use swarmgate_metainfo::FileLayout;

/// One ranged GET of a piece plan: bytes `file_offset..file_offset + length` of file `file`,
/// which land at `piece_offset` in the piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRequest {
    /// The index of the file in the torrent's file list.
    pub file: usize,
    /// The first byte within that file.
    pub file_offset: u64,
    /// How many bytes (never zero).
    pub length: u64,
    /// Where those bytes go in the piece.
    pub piece_offset: u64,
}

impl FileRequest {
    /// The bytes of the file this request asks for.
    pub fn file_range(&self) -> Range<u64> {
        self.file_offset..self.file_offset + self.length
    }

    /// The bytes of the piece this request fills.
    pub fn piece_range(&self) -> Range<u64> {
        self.piece_offset..self.piece_offset + self.length
    }
}

/// The requests that fetch one piece from a web seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiecePlan {
    /// The piece.
    pub piece: PieceIndex,
    /// The piece's length in bytes (the last piece may be short).
    pub length: u32,
    /// The requests, in piece order, not overlapping; together with the pad-file bytes they
    /// cover the piece exactly.
    pub requests: Vec<FileRequest>,
}

/// The plan for piece `piece` of the torrent laid out as `layout`; `None` past the last piece.
pub fn plan_piece(layout: &FileLayout, piece: PieceIndex) -> Option<PiecePlan> {
    let length = layout.geometry().piece_size(piece)?;
    let start = layout.geometry().piece_offset(piece);
    let files = layout.files();
    let requests = layout
        .piece_spans(piece)
        .filter(|span| files.get(span.file).is_some_and(|f| !f.is_pad()))
        .map(|span| FileRequest {
            file: span.file,
            file_offset: span.file_offset,
            length: span.length,
            piece_offset: span.torrent_offset - start,
        })
        .collect();
    Some(PiecePlan {
        piece,
        length,
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_metainfo::Torrent;

    fn torrent(files: &[(&str, u64)], piece_length: u64) -> Torrent {
        let mut e = swarmgate_bencode::Encoder::new();
        let total: u64 = files.iter().map(|f| f.1).sum();
        let pieces = vec![0u8; 20 * total.div_ceil(piece_length) as usize];
        e.begin_dict()
            .key(b"info")
            .begin_dict()
            .key(b"files")
            .begin_list();
        for (name, length) in files {
            e.begin_dict().key(b"length").int(*length as i64);
            e.key(b"path").begin_list().str(name).end().end();
        }
        e.end().key(b"name").str("t");
        e.key(b"piece length").int(piece_length as i64);
        e.key(b"pieces").bytes(&pieces).end().end();
        Torrent::from_bytes(&e.finish().unwrap()).unwrap()
    }

    #[test]
    fn a_piece_across_files_and_an_empty_one() {
        let t = torrent(&[("a", 10), ("e", 0), ("b", 25), ("c", 5)], 16);
        let plan = plan_piece(t.layout(), PieceIndex(0)).unwrap();
        assert_eq!(plan.length, 16);
        assert_eq!(
            plan.requests,
            [
                FileRequest {
                    file: 0,
                    file_offset: 0,
                    length: 10,
                    piece_offset: 0
                },
                FileRequest {
                    file: 2,
                    file_offset: 0,
                    length: 6,
                    piece_offset: 10
                },
            ]
        );
        let last = plan_piece(t.layout(), PieceIndex(2)).unwrap();
        assert_eq!(last.length, 8);
        assert_eq!(last.requests[1].file_range(), 0..5);
        assert_eq!(last.requests[1].piece_range(), 3..8);
        assert_eq!(plan_piece(t.layout(), PieceIndex(3)), None);
    }
}
