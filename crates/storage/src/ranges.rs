//! Byte ranges cut from whole pieces (BEP 3 pieces, served as BEP 19 web seed ranges and HTTP
//! `Range` answers).
//!
//! A reader that keeps or verifies whole pieces (a piece cache, a SHA-1 check) still answers
//! byte ranges that start and end anywhere. [`read_by_pieces`] walks the pieces a range
//! overlaps, asks the caller for its part of each ([`PieceSpan`]) and joins the parts, so each
//! reader only decides where a part comes from (a cached piece, a verified load, a direct file
//! read) and the cutting is written once. A range inside one piece is the caller's bytes as they
//! are (a zero-copy slice of a cached piece); only a range across pieces is copied.

use std::io;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use swarmgate_core::{Geometry, PieceIndex};

/// The part of one piece a range covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceSpan {
    /// The piece.
    pub piece: PieceIndex,
    /// Where the part starts in the piece.
    pub start: u32,
    /// Where it ends in the piece (exclusive).
    pub end: u32,
    /// The piece's own length (shorter for the last piece).
    pub piece_size: u32,
    /// Where the piece starts in the torrent's byte space.
    pub piece_offset: u64,
}

impl PieceSpan {
    /// The part as a range of the piece's bytes.
    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The part's length.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// The part is empty (never, for spans [`read_by_pieces`] asks for).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The part is the whole piece.
    pub fn is_whole(&self) -> bool {
        self.start == 0 && self.end == self.piece_size
    }

    /// Where the part starts in the torrent's byte space.
    pub fn offset(&self) -> u64 {
        self.piece_offset + u64::from(self.start)
    }
}

/// The `length` bytes at `offset` of the torrent's byte space, from `part`, called once per
/// piece the range overlaps, in order, with the span it must return (exactly `span.len()`
/// bytes). A zero-length range asks for nothing; a range past the end is `UnexpectedEof`; a part
/// of the wrong length is `InvalidData`, never a short or padded answer.
pub fn read_by_pieces(
    geometry: &Geometry,
    offset: u64,
    length: usize,
    mut part: impl FnMut(PieceSpan) -> io::Result<Bytes>,
) -> io::Result<Bytes> {
    let end = offset
        .checked_add(length as u64)
        .filter(|end| *end <= geometry.total_length())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{length} bytes at {offset} reach past the end ({} bytes)",
                    geometry.total_length()
                ),
            )
        })?;
    if length == 0 {
        return Ok(Bytes::new());
    }
    let piece_length = u64::from(geometry.piece_length());
    let first = offset / piece_length;
    let last = (end - 1) / piece_length;
    let mut joined = (first != last).then(|| BytesMut::with_capacity(length));
    let mut only = Bytes::new();
    for index in first..=last {
        let piece = PieceIndex(u32::try_from(index).map_err(io::Error::other)?);
        let piece_offset = index * piece_length;
        let piece_size = geometry.piece_size(piece).unwrap_or(0);
        let span = PieceSpan {
            piece,
            start: (offset.max(piece_offset) - piece_offset) as u32,
            end: (end.min(piece_offset + u64::from(piece_size)) - piece_offset) as u32,
            piece_size,
            piece_offset,
        };
        let bytes = part(span)?;
        if bytes.len() != span.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "piece {} gave {} bytes for a part of {}",
                    piece.0,
                    bytes.len(),
                    span.len()
                ),
            ));
        }
        match &mut joined {
            Some(out) => out.extend_from_slice(&bytes),
            None => only = bytes,
        }
    }
    Ok(joined.map_or(only, BytesMut::freeze))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn ranges_within_and_across_pieces_are_cut_right() {
        let all = data(100_000);
        let geometry = Geometry::new(100_000, 16_384).unwrap();
        let cut = |offset: u64, length: usize| {
            let mut asked = Vec::new();
            let got = read_by_pieces(&geometry, offset, length, |span| {
                asked.push(span);
                let start = span.offset() as usize;
                Ok(Bytes::copy_from_slice(&all[start..start + span.len()]))
            })
            .unwrap();
            assert_eq!(&got[..], &all[offset as usize..offset as usize + length]);
            asked
        };
        let one = cut(5, 1_000);
        assert_eq!(one.len(), 1);
        assert!(!one[0].is_whole());
        assert_eq!(cut(16_384, 16_384)[0].range(), 0..16_384);
        assert!(cut(16_384, 16_384)[0].is_whole());
        let across = cut(16_380, 20_000);
        assert_eq!(across.len(), 3);
        assert_eq!((across[0].start, across[0].end), (16_380, 16_384));
        assert!(across[1].is_whole());
        let last = cut(99_999, 1);
        assert_eq!(last[0].piece_size, 100_000 - 6 * 16_384);
        cut(0, 100_000);
        assert!(cut(17, 0).is_empty());
    }

    #[test]
    fn past_the_end_and_wrong_lengths_are_errors() {
        let geometry = Geometry::new(1_000, 16_384).unwrap();
        let error = read_by_pieces(&geometry, 999, 2, |_| unreachable!()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let error = read_by_pieces(&geometry, u64::MAX, 2, |_| unreachable!()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let short = read_by_pieces(&geometry, 0, 10, |_| Ok(Bytes::from_static(b"abc")));
        assert_eq!(short.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
