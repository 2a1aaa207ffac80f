//! Peer ids (BEP 20): 20 bytes, Azureus style `-XXVVVV-` followed by random bytes.
//!
//! Ours start with `-SG0001-`. Telling clients apart matters to trackers (announce intervals per
//! client family) and to logs, so the parser here recognises the Azureus and the older
//! Shadow-style (`M7-2-1--`) conventions; it never fails, since any 20 bytes are a valid id.

use std::fmt;

use crate::error::LengthError;

/// Swarmgate's Azureus-style prefix: client code `SG`, version 0.0.0.1.
pub const SWARMGATE_PREFIX: &[u8; 8] = b"-SG0001-";

/// A 20-byte peer id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// A Swarmgate id: our prefix, then 12 caller-supplied random bytes mapped onto printable
    /// characters (some trackers and clients log or mangle non-printable ids).
    pub fn swarmgate(random: [u8; 12]) -> Self {
        const ALPHABET: &[u8; 64] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(SWARMGATE_PREFIX);
        for (slot, r) in id[8..].iter_mut().zip(random) {
            *slot = ALPHABET[usize::from(r & 63)];
        }
        Self(id)
    }

    /// Takes exactly 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
        bytes.try_into().map(Self).map_err(|_| LengthError {
            what: "peer id",
            expected: 20,
            actual: bytes.len(),
        })
    }

    /// The 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The client that made this id, when it follows a known convention.
    pub fn client(&self) -> Option<ClientId> {
        let id = &self.0;
        // Azureus style: '-', two letters, four version characters, '-'.
        if id[0] == b'-' && id[7] == b'-' && id[1..3].iter().all(u8::is_ascii_alphanumeric) {
            let version = &id[3..7];
            if version.iter().all(u8::is_ascii_alphanumeric) {
                return Some(ClientId {
                    code: [id[1], id[2]],
                    version: std::array::from_fn(|i| version[i]),
                });
            }
        }
        // Mainline style: a letter, then "digit-digit-digit--" or similar.
        if id[0].is_ascii_uppercase() && id[1].is_ascii_digit() && id[2] == b'-' {
            let mut version = [b'0'; 4];
            let mut n = 0;
            for &c in &id[1..8] {
                if c.is_ascii_digit() && n < 4 {
                    version[n] = c;
                    n += 1;
                }
            }
            return Some(ClientId {
                code: [id[0], b' '],
                version,
            });
        }
        None
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl fmt::Display for PeerId {
    /// Printable bytes as they are, others as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// A client identified from its peer id (BEP 20).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ClientId {
    /// The two-character client code (`SG`, `qB`, `TR`, `lt`, `AR`...); a mainline-style id gives
    /// its one letter and a space.
    pub code: [u8; 2],
    /// The four version characters as they appear in the id.
    pub version: [u8; 4],
}

impl ClientId {
    /// The client's family name, when the code is a well-known one.
    pub fn family(&self) -> Option<&'static str> {
        Some(match &self.code {
            b"SG" => "Swarmgate",
            b"qB" => "qBittorrent",
            b"TR" => "Transmission",
            b"lt" | b"LT" => "libtorrent",
            b"AR" | b"A2" => "aria2",
            b"UT" => "uTorrent",
            b"DE" => "Deluge",
            b"WW" => "WebTorrent",
            b"rq" | b"RQ" => "rqbit",
            b"AZ" => "Vuze",
            b"BI" => "BiglyBT",
            b"KT" => "KTorrent",
            b"M " => "BitTorrent mainline",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarmgate_ids_carry_the_prefix_and_are_printable() {
        let id = PeerId::swarmgate([0xff; 12]);
        assert_eq!(&id.0[..8], SWARMGATE_PREFIX);
        assert!(id.0.iter().all(u8::is_ascii_graphic));
        let client = id.client().unwrap();
        assert_eq!(client.family(), Some("Swarmgate"));
        assert_eq!(&client.version, b"0001");
    }

    #[test]
    fn recognises_common_clients() {
        let mut raw = *b"-TR3000-xxxxxxxxxxxx";
        assert_eq!(PeerId(raw).client().unwrap().family(), Some("Transmission"));
        raw[..8].copy_from_slice(b"-lt20F0-");
        assert_eq!(PeerId(raw).client().unwrap().family(), Some("libtorrent"));
        raw[..8].copy_from_slice(b"M7-2-1--");
        let mainline = PeerId(raw).client().unwrap();
        assert_eq!(mainline.family(), Some("BitTorrent mainline"));
        assert_eq!(&mainline.version, b"7210");
        assert_eq!(PeerId([0; 20]).client(), None);
    }

    #[test]
    fn display_escapes_binary() {
        let mut raw = [b'a'; 20];
        raw[0] = 0;
        assert!(PeerId(raw).to_string().starts_with("\\x00a"));
    }
}
