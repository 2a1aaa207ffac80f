//! BEP 9 `ut_metadata`: fetching the info dictionary of a magnet link from peers.
//!
//! A message is a bencoded dictionary (`msg_type` 0 request, 1 data, 2 reject; `piece`;
//! `total_size` on data) followed, for data, by up to 16 KiB of raw metadata. [`MetadataFetcher`]
//! assembles the pieces and accepts the result only if its SHA-1 is the info-hash. It never
//! allocates more than the cap its caller sets, whatever size a peer claims.

use bytes::Bytes;
use sha1::{Digest, Sha1};
use swarmgate_bencode::{Encoder, Limits, decode_prefix};
use swarmgate_core::InfoHashV1;

use crate::error::MetadataError;

/// The size of a metadata piece; only the last piece is shorter.
pub const METADATA_PIECE_LEN: usize = 16384;

/// One `ut_metadata` message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MetadataMessage {
    /// msg_type 0: asks for a piece.
    Request {
        /// The piece index.
        piece: u32,
    },
    /// msg_type 1: a piece of the metadata.
    Data {
        /// The piece index.
        piece: u32,
        /// The length of the whole info dictionary.
        total_size: u64,
        /// The piece's bytes (at most 16 KiB).
        data: Bytes,
    },
    /// msg_type 2: the sender will not send this piece.
    Reject {
        /// The piece index.
        piece: u32,
    },
}

impl MetadataMessage {
    /// The extended-message payload: the bencoded dictionary, then the data of a data message.
    pub fn encode(&self) -> Vec<u8> {
        let (msg_type, piece) = match self {
            MetadataMessage::Request { piece } => (0, piece),
            MetadataMessage::Data { piece, .. } => (1, piece),
            MetadataMessage::Reject { piece } => (2, piece),
        };
        let mut e = Encoder::with_capacity(64);
        e.begin_dict();
        e.key(b"msg_type").int(msg_type);
        e.key(b"piece").int(i64::from(*piece));
        if let MetadataMessage::Data { total_size, .. } = self {
            e.key(b"total_size")
                .int(i64::try_from(*total_size).unwrap_or(i64::MAX));
        }
        e.end();
        // Sorted keys, complete values: the encoder cannot fail.
        let mut out = e.finish().unwrap_or_default();
        if let MetadataMessage::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }

    /// Reads a message; the data of a data message is a zero-copy slice of `payload`.
    ///
    /// [`MetadataError::UnknownType`] is for a `msg_type` BEP 9 says to ignore.
    pub fn decode(payload: &Bytes) -> Result<Self, MetadataError> {
        let limits = Limits::new().max_depth(4).max_tokens(64);
        let (doc, used) =
            decode_prefix(payload, &limits)?.ok_or(MetadataError::Malformed { key: "msg_type" })?;
        let dict = doc
            .root()
            .as_dict()
            .ok_or(MetadataError::Malformed { key: "msg_type" })?;
        let int = |key: &'static str| {
            dict.get(key.as_bytes())
                .and_then(|v| v.as_int())
                .ok_or(MetadataError::Malformed { key })
        };
        let msg_type = int("msg_type")?;
        let piece =
            u32::try_from(int("piece")?).map_err(|_| MetadataError::Malformed { key: "piece" })?;
        match msg_type {
            0 => Ok(MetadataMessage::Request { piece }),
            2 => Ok(MetadataMessage::Reject { piece }),
            1 => {
                let total_size = u64::try_from(int("total_size")?)
                    .map_err(|_| MetadataError::Malformed { key: "total_size" })?;
                let length = payload.len() - used;
                if length > METADATA_PIECE_LEN {
                    return Err(MetadataError::PieceTooLarge { length });
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data: payload.slice(used..),
                })
            }
            other => Err(MetadataError::UnknownType(other)),
        }
    }
}

/// The number of 16 KiB pieces `size` bytes of metadata make.
fn piece_count(size: u64) -> u32 {
    u32::try_from(size.div_ceil(METADATA_PIECE_LEN as u64)).unwrap_or(u32::MAX)
}

/// Piece `piece` of the info dictionary `info`, as a data message to serve; `None` past the end.
pub fn metadata_piece(info: &[u8], piece: u32) -> Option<MetadataMessage> {
    let start = (piece as usize).checked_mul(METADATA_PIECE_LEN)?;
    if start >= info.len() {
        return None;
    }
    let end = (start + METADATA_PIECE_LEN).min(info.len());
    Some(MetadataMessage::Data {
        piece,
        total_size: info.len() as u64,
        data: Bytes::copy_from_slice(&info[start..end]),
    })
}

/// Assembles and verifies the info dictionary from `ut_metadata` data messages.
#[derive(Debug)]
pub struct MetadataFetcher {
    info_hash: InfoHashV1,
    size: u64,
    pieces: Vec<Option<Bytes>>,
    requested: Vec<bool>,
    received: u32,
}

impl MetadataFetcher {
    /// A fetcher for `size` bytes of metadata hashing to `info_hash`; `size` is what a peer's
    /// extended handshake claimed, refused when 0 or above `max_size`.
    pub fn new(info_hash: InfoHashV1, size: u64, max_size: u64) -> Result<Self, MetadataError> {
        if size == 0 || size > max_size {
            return Err(MetadataError::BadSize {
                size,
                max: max_size,
            });
        }
        let count = piece_count(size) as usize;
        Ok(MetadataFetcher {
            info_hash,
            size,
            pieces: vec![None; count],
            requested: vec![false; count],
            received: 0,
        })
    }

    /// The metadata size this fetcher assembles.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The number of 16 KiB pieces.
    pub fn piece_count(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// The number of pieces received so far.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// The next piece to request: each missing piece once, until [`Self::reset_requests`] or a
    /// reject makes it available again.
    pub fn next_request(&mut self) -> Option<u32> {
        let index =
            (0..self.pieces.len()).find(|&i| self.pieces[i].is_none() && !self.requested[i])?;
        self.requested[index] = true;
        Some(index as u32)
    }

    /// Forgets which pieces were requested (the peer asked went away), so they are handed out
    /// again.
    pub fn reset_requests(&mut self) {
        self.requested.fill(false);
    }

    /// A peer refused `piece`: it may be requested again (from another peer).
    pub fn handle_reject(&mut self, piece: u32) {
        if let Some(flag) = self.requested.get_mut(piece as usize) {
            *flag = false;
        }
    }

    /// Stores a piece. Returns the whole info dictionary once every piece is in and its SHA-1
    /// is the info-hash; on a mismatch every piece is dropped and
    /// [`MetadataError::HashMismatch`] returned.
    pub fn handle_data(
        &mut self,
        piece: u32,
        total_size: u64,
        data: Bytes,
    ) -> Result<Option<Bytes>, MetadataError> {
        if total_size != self.size {
            return Err(MetadataError::SizeMismatch {
                expected: self.size,
                actual: total_size,
            });
        }
        let count = self.piece_count();
        let slot = self
            .pieces
            .get_mut(piece as usize)
            .ok_or(MetadataError::PieceOutOfRange { piece, count })?;
        let expected = if piece + 1 == count {
            (self.size - u64::from(piece) * METADATA_PIECE_LEN as u64) as usize
        } else {
            METADATA_PIECE_LEN
        };
        if data.len() != expected {
            return Err(MetadataError::PieceLength {
                piece,
                expected,
                actual: data.len(),
            });
        }
        if slot.replace(data).is_none() {
            self.received += 1;
        }
        if self.received < count {
            return Ok(None);
        }
        let mut whole = Vec::with_capacity(self.size as usize);
        let mut hasher = Sha1::new();
        for part in self.pieces.iter().flatten() {
            hasher.update(part);
            whole.extend_from_slice(part);
        }
        if hasher.finalize().as_slice() != self.info_hash.0 {
            self.pieces.fill(None);
            self.requested.fill(false);
            self.received = 0;
            return Err(MetadataError::HashMismatch);
        }
        Ok(Some(Bytes::from(whole)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        let request = MetadataMessage::Request { piece: 0 };
        assert_eq!(request.encode(), b"d8:msg_typei0e5:piecei0ee");
        let reject = MetadataMessage::Reject { piece: 3 };
        assert_eq!(reject.encode(), b"d8:msg_typei2e5:piecei3ee");
        let data = MetadataMessage::Data {
            piece: 0,
            total_size: 3,
            data: Bytes::from_static(b"xyz"),
        };
        let wire = data.encode();
        assert_eq!(wire, b"d8:msg_typei1e5:piecei0e10:total_sizei3eexyz");
        assert_eq!(MetadataMessage::decode(&Bytes::from(wire)).unwrap(), data);
        assert_eq!(
            MetadataMessage::decode(&Bytes::from_static(b"d8:msg_typei9e5:piecei0ee")),
            Err(MetadataError::UnknownType(9))
        );
    }

    #[test]
    fn fetcher_refuses_sizes_beyond_the_cap() {
        let hash = InfoHashV1([0; 20]);
        assert!(MetadataFetcher::new(hash, 0, 100).is_err());
        assert!(MetadataFetcher::new(hash, 101, 100).is_err());
        assert_eq!(
            MetadataFetcher::new(hash, 100, 100).unwrap().piece_count(),
            1
        );
    }

    #[test]
    fn serves_pieces() {
        let info = vec![7u8; METADATA_PIECE_LEN + 5];
        let Some(MetadataMessage::Data {
            data, total_size, ..
        }) = metadata_piece(&info, 1)
        else {
            panic!("piece 1 exists");
        };
        assert_eq!((data.len(), total_size), (5, info.len() as u64));
        assert_eq!(metadata_piece(&info, 2), None);
        assert_eq!(metadata_piece(&info, u32::MAX), None);
    }
}
