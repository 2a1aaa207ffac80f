//! Piece and block geometry (BEP 3): how a torrent's bytes divide into pieces and 16 KiB blocks.
//!
//! Every component that moves data (picker, storage, web seed, verifier) asks the same questions:
//! how long is piece *i*, where does it start, which blocks make it up. One type answers them all,
//! with the short last piece handled in one place rather than re-derived in each caller.

use std::fmt;

use crate::error::GeometryError;

/// The block size every client requests: 16 KiB (BEP 3; larger requests are commonly refused).
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// The index of a piece within a torrent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct PieceIndex(pub u32);

impl PieceIndex {
    /// The index as a `usize`, for indexing piece tables.
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for PieceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One block request: `length` bytes at `offset` within piece `piece`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockRef {
    /// The piece the block belongs to.
    pub piece: PieceIndex,
    /// The byte offset of the block within its piece (a multiple of [`BLOCK_SIZE`]).
    pub offset: u32,
    /// The block's length: [`BLOCK_SIZE`], or less for the last block of the last piece.
    pub length: u32,
}

/// The division of `total_length` bytes into pieces of `piece_length` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    total_length: u64,
    piece_length: u32,
    piece_count: u32,
}

impl Geometry {
    /// Describes `total_length` bytes in pieces of `piece_length` bytes.
    pub fn new(total_length: u64, piece_length: u64) -> Result<Self, GeometryError> {
        let piece_length_u32 = u32::try_from(piece_length)
            .ok()
            .filter(|&p| p > 0)
            .ok_or(GeometryError::PieceLength(piece_length))?;
        let piece_count = u32::try_from(total_length.div_ceil(piece_length)).map_err(|_| {
            GeometryError::TooManyPieces {
                total_length,
                piece_length,
            }
        })?;
        Ok(Self {
            total_length,
            piece_length: piece_length_u32,
            piece_count,
        })
    }

    /// The total number of bytes.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// The nominal piece length (every piece but possibly the last).
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// The length of piece `index`; `None` past the end.
    pub fn piece_size(&self, index: PieceIndex) -> Option<u32> {
        if index.0 >= self.piece_count {
            return None;
        }
        let start = self.piece_offset(index);
        let remaining = self.total_length - start;
        Some(remaining.min(u64::from(self.piece_length)) as u32)
    }

    /// The byte offset where piece `index` starts (not checked against the end).
    pub fn piece_offset(&self, index: PieceIndex) -> u64 {
        u64::from(index.0) * u64::from(self.piece_length)
    }

    /// The piece holding byte `offset`; `None` past the end.
    pub fn piece_at(&self, offset: u64) -> Option<PieceIndex> {
        (offset < self.total_length)
            .then(|| PieceIndex((offset / u64::from(self.piece_length)) as u32))
    }

    /// The number of blocks in piece `index` (0 past the end).
    pub fn blocks_in_piece(&self, index: PieceIndex) -> u32 {
        self.piece_size(index)
            .map_or(0, |size| size.div_ceil(BLOCK_SIZE))
    }

    /// Block `block` of piece `piece`; `None` past the end of either.
    pub fn block(&self, piece: PieceIndex, block: u32) -> Option<BlockRef> {
        let size = self.piece_size(piece)?;
        let offset = block.checked_mul(BLOCK_SIZE).filter(|&o| o < size)?;
        Some(BlockRef {
            piece,
            offset,
            length: (size - offset).min(BLOCK_SIZE),
        })
    }

    /// The blocks of piece `piece`, in order (none past the end).
    pub fn blocks(&self, piece: PieceIndex) -> impl Iterator<Item = BlockRef> + '_ {
        (0..self.blocks_in_piece(piece)).filter_map(move |b| self.block(piece, b))
    }

    /// Whether `block` is a block this geometry could have produced: in range, aligned and of
    /// the exact length. A peer's request or piece message that fails this is a protocol error.
    pub fn is_valid_block(&self, block: BlockRef) -> bool {
        block.offset % BLOCK_SIZE == 0
            && self.block(block.piece, block.offset / BLOCK_SIZE) == Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_last_piece_and_block() {
        // 2.5 pieces of 32 KiB, the last one ending mid-block.
        let g = Geometry::new(32 * 1024 * 2 + 20_000, 32 * 1024).unwrap();
        assert_eq!(g.piece_count(), 3);
        assert_eq!(g.piece_size(PieceIndex(2)), Some(20_000));
        assert_eq!(g.piece_size(PieceIndex(3)), None);
        assert_eq!(g.blocks_in_piece(PieceIndex(0)), 2);
        assert_eq!(g.blocks_in_piece(PieceIndex(2)), 2);
        let last = g.block(PieceIndex(2), 1).unwrap();
        assert_eq!(
            (last.offset, last.length),
            (BLOCK_SIZE, 20_000 - BLOCK_SIZE)
        );
        assert_eq!(g.block(PieceIndex(2), 2), None);
        assert_eq!(
            g.blocks(PieceIndex(2)).map(|b| b.length).sum::<u32>(),
            20_000
        );
    }

    #[test]
    fn validates_blocks() {
        let g = Geometry::new(100_000, 65_536).unwrap();
        let good = g.block(PieceIndex(1), 2).unwrap();
        assert!(g.is_valid_block(good));
        assert!(!g.is_valid_block(BlockRef {
            length: good.length + 1,
            ..good
        }));
        assert!(!g.is_valid_block(BlockRef { offset: 1, ..good }));
        assert!(!g.is_valid_block(BlockRef {
            piece: PieceIndex(2),
            ..good
        }));
    }

    #[test]
    fn empty_and_degenerate() {
        let empty = Geometry::new(0, 16_384).unwrap();
        assert_eq!(empty.piece_count(), 0);
        assert_eq!(empty.piece_at(0), None);
        assert!(Geometry::new(10, 0).is_err());
        assert!(Geometry::new(u64::MAX, 1).is_err());
        assert_eq!(
            Geometry::new(10, 3).unwrap().piece_at(9),
            Some(PieceIndex(3))
        );
    }
}
