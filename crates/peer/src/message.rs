//! BEP 3 message framing, with the BEP 6 fast-extension and BEP 10 extended messages.
//!
//! A message is a 4-byte big-endian length, then (unless the length is 0, a keep-alive) an id
//! byte and a payload. The decoder checks the length prefix against [`Limits`] and the id's own
//! rules as soon as the 5-byte header is in hand, so a hostile prefix is refused before a single
//! payload byte is buffered, let alone allocated. [`decode`] takes complete frames off a
//! `BytesMut` receive buffer and hands bitfield, piece and extended payloads out as `Bytes`
//! slices of it, without copying.

use bytes::{BufMut, Bytes, BytesMut};
use swarmgate_core::{BLOCK_SIZE, BlockRef, PieceIndex};

use crate::error::WireError;

/// Message ids (BEP 3, BEP 5 port, BEP 6, BEP 10).
pub mod id {
    /// choke
    pub const CHOKE: u8 = 0;
    /// unchoke
    pub const UNCHOKE: u8 = 1;
    /// interested
    pub const INTERESTED: u8 = 2;
    /// not interested
    pub const NOT_INTERESTED: u8 = 3;
    /// have
    pub const HAVE: u8 = 4;
    /// bitfield
    pub const BITFIELD: u8 = 5;
    /// request
    pub const REQUEST: u8 = 6;
    /// piece
    pub const PIECE: u8 = 7;
    /// cancel
    pub const CANCEL: u8 = 8;
    /// port (BEP 5)
    pub const PORT: u8 = 9;
    /// suggest piece (BEP 6)
    pub const SUGGEST: u8 = 0x0D;
    /// have all (BEP 6)
    pub const HAVE_ALL: u8 = 0x0E;
    /// have none (BEP 6)
    pub const HAVE_NONE: u8 = 0x0F;
    /// reject request (BEP 6)
    pub const REJECT: u8 = 0x10;
    /// allowed fast (BEP 6)
    pub const ALLOWED_FAST: u8 = 0x11;
    /// extended (BEP 10)
    pub const EXTENDED: u8 = 20;
}

/// One peer wire message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// A zero-length frame.
    KeepAlive,
    /// The sender will not serve requests.
    Choke,
    /// The sender will serve requests.
    Unchoke,
    /// The sender wants pieces the receiver has.
    Interested,
    /// The sender wants nothing from the receiver.
    NotInterested,
    /// The sender now has this piece.
    Have(PieceIndex),
    /// The sender's pieces, high bit first (checked against the piece count by the session).
    Bitfield(Bytes),
    /// Asks for a block.
    Request(BlockRef),
    /// A block of data.
    Piece {
        /// The piece.
        piece: PieceIndex,
        /// The offset within the piece.
        offset: u32,
        /// The block's bytes.
        data: Bytes,
    },
    /// Withdraws a request.
    Cancel(BlockRef),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// BEP 6: the sender suggests downloading this piece.
    Suggest(PieceIndex),
    /// BEP 6: the sender has every piece.
    HaveAll,
    /// BEP 6: the sender has no piece.
    HaveNone,
    /// BEP 6: the sender will not serve this request.
    Reject(BlockRef),
    /// BEP 6: the sender will serve this piece even while choking.
    AllowedFast(PieceIndex),
    /// BEP 10: an extension message; id 0 is the extended handshake.
    Extended {
        /// The extension id, as the receiver numbered it.
        id: u8,
        /// The extension's payload.
        payload: Bytes,
    },
}

/// What the decoder accepts: the largest bitfield, block and extended payload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The largest bitfield payload in bytes.
    pub max_bitfield_len: usize,
    /// The largest block in a piece message.
    pub max_block_len: u32,
    /// The largest extended payload (extension id byte not counted).
    pub max_extended_len: usize,
}

/// The default extended payload cap: 1 MiB.
pub const MAX_EXTENDED_LEN: usize = 1 << 20;

impl Limits {
    /// The limits for a torrent of `piece_count` pieces: a bitfield of exactly
    /// `ceil(piece_count / 8)` bytes, 16 KiB blocks, 1 MiB extended payloads.
    pub fn for_pieces(piece_count: u32) -> Self {
        Limits {
            max_bitfield_len: piece_count.div_ceil(8) as usize,
            max_block_len: BLOCK_SIZE,
            max_extended_len: MAX_EXTENDED_LEN,
        }
    }

    /// The largest frame (id byte and payload, not the length prefix) these limits allow.
    pub fn max_frame_len(&self) -> usize {
        (1 + self.max_bitfield_len)
            .max(9 + self.max_block_len as usize)
            .max(2 + self.max_extended_len)
            .max(13)
    }
}

impl Default for Limits {
    /// For an unknown piece count: bitfields up to 2^21 pieces (256 KiB), 16 KiB blocks, 1 MiB
    /// extended payloads.
    fn default() -> Self {
        Limits {
            max_bitfield_len: (1 << 21) / 8,
            max_block_len: BLOCK_SIZE,
            max_extended_len: MAX_EXTENDED_LEN,
        }
    }
}

impl Message {
    /// The bytes [`encode`] writes for this message, length prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Port(_) => 3,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
        }
    }
}

/// Appends `msg`, framed, to `out`.
///
/// Payloads longer than a 32-bit length prefix can express are a caller bug; the session never
/// builds one.
pub fn encode(msg: &Message, out: &mut BytesMut) {
    let len = msg.encoded_len();
    out.reserve(len);
    out.put_u32((len - 4) as u32);
    match msg {
        Message::KeepAlive => {}
        Message::Choke => out.put_u8(id::CHOKE),
        Message::Unchoke => out.put_u8(id::UNCHOKE),
        Message::Interested => out.put_u8(id::INTERESTED),
        Message::NotInterested => out.put_u8(id::NOT_INTERESTED),
        Message::HaveAll => out.put_u8(id::HAVE_ALL),
        Message::HaveNone => out.put_u8(id::HAVE_NONE),
        Message::Have(piece) => put_index(out, id::HAVE, *piece),
        Message::Suggest(piece) => put_index(out, id::SUGGEST, *piece),
        Message::AllowedFast(piece) => put_index(out, id::ALLOWED_FAST, *piece),
        Message::Port(port) => {
            out.put_u8(id::PORT);
            out.put_u16(*port);
        }
        Message::Request(block) => put_block(out, id::REQUEST, block),
        Message::Cancel(block) => put_block(out, id::CANCEL, block),
        Message::Reject(block) => put_block(out, id::REJECT, block),
        Message::Bitfield(bits) => {
            out.put_u8(id::BITFIELD);
            out.put_slice(bits);
        }
        Message::Piece {
            piece,
            offset,
            data,
        } => {
            out.put_u8(id::PIECE);
            out.put_u32(piece.0);
            out.put_u32(*offset);
            out.put_slice(data);
        }
        Message::Extended { id: ext, payload } => {
            out.put_u8(id::EXTENDED);
            out.put_u8(*ext);
            out.put_slice(payload);
        }
    }
}

fn put_index(out: &mut BytesMut, id: u8, piece: PieceIndex) {
    out.put_u8(id);
    out.put_u32(piece.0);
}

fn put_block(out: &mut BytesMut, id: u8, block: &BlockRef) {
    out.put_u8(id);
    out.put_u32(block.piece.0);
    out.put_u32(block.offset);
    out.put_u32(block.length);
}

/// Checks a frame header. Returns the frame length (after the prefix) once the prefix, and the
/// id when there is one, are in hand and acceptable; `None` while they are not.
fn check_header(buf: &[u8], limits: &Limits) -> Result<Option<usize>, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let max = limits.max_frame_len();
    if length as usize > max {
        return Err(WireError::FrameTooLarge { length, max });
    }
    if length == 0 {
        return Ok(Some(0));
    }
    let Some(&msg_id) = buf.get(4) else {
        return Ok(None);
    };
    let payload = length as usize - 1;
    let bad = || WireError::BadLength { id: msg_id, length };
    let too_large = |max: usize| WireError::PayloadTooLarge {
        id: msg_id,
        length: payload,
        max,
    };
    match msg_id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => (payload == 0).then_some(()).ok_or_else(bad)?,
        id::HAVE | id::SUGGEST | id::ALLOWED_FAST => {
            (payload == 4).then_some(()).ok_or_else(bad)?
        }
        id::PORT => (payload == 2).then_some(()).ok_or_else(bad)?,
        id::REQUEST | id::CANCEL | id::REJECT => (payload == 12).then_some(()).ok_or_else(bad)?,
        id::BITFIELD if payload > limits.max_bitfield_len => {
            return Err(too_large(limits.max_bitfield_len));
        }
        id::BITFIELD => {}
        id::PIECE if payload < 8 => return Err(bad()),
        id::PIECE if payload - 8 > limits.max_block_len as usize => {
            return Err(WireError::PayloadTooLarge {
                id: msg_id,
                length: payload - 8,
                max: limits.max_block_len as usize,
            });
        }
        id::PIECE => {}
        id::EXTENDED if payload < 1 => return Err(bad()),
        id::EXTENDED if payload - 1 > limits.max_extended_len => {
            return Err(WireError::PayloadTooLarge {
                id: msg_id,
                length: payload - 1,
                max: limits.max_extended_len,
            });
        }
        id::EXTENDED => {}
        other => return Err(WireError::UnknownId { id: other }),
    }
    Ok(Some(length as usize))
}

/// Builds the message from a complete, header-checked frame (`frame` includes the prefix).
/// `slice` turns a byte range of `frame` into `Bytes`.
fn parse(frame: &[u8], slice: impl Fn(usize, usize) -> Bytes) -> Message {
    if frame.len() == 4 {
        return Message::KeepAlive;
    }
    let u32_at =
        |at: usize| u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]);
    let block = || BlockRef {
        piece: PieceIndex(u32_at(5)),
        offset: u32_at(9),
        length: u32_at(13),
    };
    match frame[4] {
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::HAVE => Message::Have(PieceIndex(u32_at(5))),
        id::SUGGEST => Message::Suggest(PieceIndex(u32_at(5))),
        id::ALLOWED_FAST => Message::AllowedFast(PieceIndex(u32_at(5))),
        id::PORT => Message::Port(u16::from_be_bytes([frame[5], frame[6]])),
        id::REQUEST => Message::Request(block()),
        id::CANCEL => Message::Cancel(block()),
        id::REJECT => Message::Reject(block()),
        id::BITFIELD => Message::Bitfield(slice(5, frame.len())),
        id::PIECE => Message::Piece {
            piece: PieceIndex(u32_at(5)),
            offset: u32_at(9),
            data: slice(13, frame.len()),
        },
        // check_header admitted only the ids above and EXTENDED.
        _ => Message::Extended {
            id: frame[5],
            payload: slice(6, frame.len()),
        },
    }
}

/// Takes one complete message off the front of `buf`; payloads are zero-copy slices of it.
///
/// `Ok(None)`: more bytes needed (nothing consumed). An error as soon as the length prefix
/// or the id shows the frame is illegal under `limits`, before its payload arrives.
pub fn decode(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Message>, WireError> {
    let Some(length) = check_header(buf, limits)? else {
        return Ok(None);
    };
    if buf.len() < 4 + length {
        return Ok(None);
    }
    let frame = buf.split_to(4 + length).freeze();
    Ok(Some(parse(&frame, |from, to| frame.slice(from..to))))
}

/// Reads one message from the front of `buf`, copying payloads; returns it and the bytes used.
pub fn decode_slice(buf: &[u8], limits: &Limits) -> Result<Option<(Message, usize)>, WireError> {
    let Some(length) = check_header(buf, limits)? else {
        return Ok(None);
    };
    let Some(frame) = buf.get(..4 + length) else {
        return Ok(None);
    };
    let msg = parse(frame, |from, to| Bytes::copy_from_slice(&frame[from..to]));
    Ok(Some((msg, 4 + length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_come_before_the_payload() {
        let limits = Limits::for_pieces(100);
        assert_eq!(
            decode_slice(&[0, 0, 0, 15, id::BITFIELD], &limits),
            Err(WireError::PayloadTooLarge {
                id: id::BITFIELD,
                length: 14,
                max: 13
            })
        );
        assert_eq!(
            decode_slice(&[0, 0, 0, 2, id::CHOKE], &limits),
            Err(WireError::BadLength {
                id: id::CHOKE,
                length: 2
            })
        );
        assert_eq!(
            decode_slice(&[0, 0, 0, 1, 42], &limits),
            Err(WireError::UnknownId { id: 42 })
        );
        assert_eq!(decode_slice(&[0, 0, 0, 5, id::HAVE, 0], &limits), Ok(None));
    }

    #[test]
    fn max_frame_follows_the_limits() {
        assert_eq!(Limits::for_pieces(8).max_frame_len(), 2 + MAX_EXTENDED_LEN);
        let tight = Limits {
            max_bitfield_len: 1,
            max_block_len: 16,
            max_extended_len: 0,
        };
        assert_eq!(tight.max_frame_len(), 25);
    }

    #[test]
    fn decode_slices_without_copying() {
        let mut out = BytesMut::new();
        let data = Bytes::from_static(&[1, 2, 3]);
        encode(
            &Message::Piece {
                piece: PieceIndex(1),
                offset: 0,
                data: data.clone(),
            },
            &mut out,
        );
        let base = out.as_ptr() as usize;
        let Ok(Some(Message::Piece { data: got, .. })) = decode(&mut out, &Limits::default())
        else {
            panic!("expected a piece");
        };
        assert_eq!(got, data);
        assert_eq!(got.as_ptr() as usize, base + 13);
        assert!(out.is_empty());
    }
}
