//! The BEP 3 handshake, with the reserved bits of BEP 5 (DHT), BEP 6 (fast) and BEP 10
//! (extension protocol).
//!
//! The handshake is 68 bytes: `\x13BitTorrent protocol`, 8 reserved bytes, the 20-byte info-hash
//! and the 20-byte peer id. [`Handshake::decode`] fails as soon as the bytes in hand show a wrong
//! protocol length or string, so a peer speaking something else (HTTP, an encrypted stream) is
//! dropped after its first byte rather than after 68.

use swarmgate_core::{InfoHashV1, PeerId};

use crate::error::HandshakeError;

/// The protocol string every BEP 3 handshake begins with (after its length byte, 19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// The length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 68;

/// The 8 reserved bytes of the handshake: one bit per protocol extension.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// No extension at all.
    pub const NONE: Reserved = Reserved([0; 8]);

    /// What Swarmgate sends by default: the extension protocol (BEP 10) and the fast extension
    /// (BEP 6). The DHT bit is off: set it with [`Reserved::with_dht`] when a DHT node runs.
    pub const SWARMGATE: Reserved = Reserved::NONE.with_extensions().with_fast();

    /// The extension protocol (BEP 10): byte 5, bit 0x10.
    pub const fn supports_extensions(&self) -> bool {
        self.0[5] & 0x10 != 0
    }

    /// The fast extension (BEP 6): byte 7, bit 0x04.
    pub const fn supports_fast(&self) -> bool {
        self.0[7] & 0x04 != 0
    }

    /// The DHT port message (BEP 5): byte 7, bit 0x01.
    pub const fn supports_dht(&self) -> bool {
        self.0[7] & 0x01 != 0
    }

    /// The same bits plus the extension protocol.
    #[must_use]
    pub const fn with_extensions(mut self) -> Self {
        self.0[5] |= 0x10;
        self
    }

    /// The same bits plus the fast extension.
    #[must_use]
    pub const fn with_fast(mut self) -> Self {
        self.0[7] |= 0x04;
        self
    }

    /// The same bits plus the DHT port message.
    #[must_use]
    pub const fn with_dht(mut self) -> Self {
        self.0[7] |= 0x01;
        self
    }
}

/// A BEP 3 handshake.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Handshake {
    /// The extension bits.
    pub reserved: Reserved,
    /// The torrent: a v1 info-hash, or a v2 info-hash truncated to 20 bytes
    /// (`InfoHash::wire()` picks).
    pub info_hash: InfoHashV1,
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// The 68 bytes on the wire.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0; HANDSHAKE_LEN];
        out[0] = PROTOCOL.len() as u8;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved.0);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Reads a handshake from the front of `buf`.
    ///
    /// `Ok(None)` while fewer than 68 bytes are in hand and those agree with the protocol
    /// string; `Ok(Some((handshake, 68)))` once complete; an error as soon as a byte disagrees.
    pub fn decode(buf: &[u8]) -> Result<Option<(Handshake, usize)>, HandshakeError> {
        let Some(&pstrlen) = buf.first() else {
            return Ok(None);
        };
        if usize::from(pstrlen) != PROTOCOL.len() {
            return Err(HandshakeError::ProtocolLength { found: pstrlen });
        }
        let seen = &buf[1..buf.len().min(20)];
        if seen != &PROTOCOL[..seen.len()] {
            return Err(HandshakeError::Protocol);
        }
        if buf.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        let mut reserved = [0; 8];
        reserved.copy_from_slice(&buf[20..28]);
        let mut info_hash = [0; 20];
        info_hash.copy_from_slice(&buf[28..48]);
        let mut peer_id = [0; 20];
        peer_id.copy_from_slice(&buf[48..68]);
        Ok(Some((
            Handshake {
                reserved: Reserved(reserved),
                info_hash: InfoHashV1(info_hash),
                peer_id: PeerId(peer_id),
            },
            HANDSHAKE_LEN,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bits_sit_where_the_beps_put_them() {
        assert_eq!(Reserved::SWARMGATE.0, [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert!(Reserved::SWARMGATE.supports_extensions());
        assert!(Reserved::SWARMGATE.supports_fast());
        assert!(!Reserved::SWARMGATE.supports_dht());
        assert_eq!(Reserved::NONE.with_dht().0[7], 0x01);
        assert!(!Reserved::NONE.supports_extensions());
    }

    #[test]
    fn rejects_other_protocols_from_the_first_byte_that_differs() {
        assert_eq!(
            Handshake::decode(b"G"),
            Err(HandshakeError::ProtocolLength { found: b'G' })
        );
        assert_eq!(Handshake::decode(b"\x13Bit"), Ok(None));
        assert_eq!(
            Handshake::decode(b"\x13BitX"),
            Err(HandshakeError::Protocol)
        );
        assert_eq!(Handshake::decode(b""), Ok(None));
    }

    #[test]
    fn round_trips() {
        let hs = Handshake {
            reserved: Reserved::SWARMGATE,
            info_hash: InfoHashV1([7; 20]),
            peer_id: PeerId([9; 20]),
        };
        let wire = hs.encode();
        assert_eq!(Handshake::decode(&wire), Ok(Some((hs, HANDSHAKE_LEN))));
        for cut in 0..HANDSHAKE_LEN {
            assert_eq!(Handshake::decode(&wire[..cut]), Ok(None));
        }
    }
}
