//! The BEP 10 extension protocol handshake: which extensions a peer speaks, under which ids.
//!
//! Each side numbers the extensions it *receives*: a message to a peer uses the id that peer put
//! in its `m` dictionary. An id of 0 there means the extension is disabled. Decoding is lenient
//! the way real clients need: unknown keys and values of the wrong type are ignored, only a
//! payload that is not a bencoded dictionary is an error.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use swarmgate_bencode::{Encoder, Limits, decode_prefix};

use crate::error::ExtensionError;

/// Extensions kept per peer, at most (libtorrent announces about ten): the `m` entries past it
/// are ignored, in one handshake or over several.
pub const MAX_EXTENSIONS: usize = 64;

/// The longest extension name kept, in bytes (`ut_metadata` has 11); longer ones are ignored.
pub const MAX_EXTENSION_NAME: usize = 64;

/// The longest client name (`v`) kept, in bytes; the rest is cut off.
pub const MAX_CLIENT_NAME: usize = 256;

/// The id under which we receive `ut_metadata` (BEP 9) messages. libtorrent uses 2; any fixed
/// non-zero id works, since each side reads the other's `m`.
pub const UT_METADATA_ID: u8 = 3;

/// The name of the BEP 9 metadata extension in `m`.
pub const UT_METADATA: &str = "ut_metadata";

/// A BEP 10 extended handshake (extended message id 0).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ExtendedHandshake {
    /// `m`: extension name to the id the sender receives it under (0 = disabled).
    pub extensions: BTreeMap<String, u8>,
    /// `v`: the client's name and version.
    pub client: Option<String>,
    /// `reqq`: how many outstanding requests the sender queues.
    pub reqq: Option<u32>,
    /// `yourip`: the address the sender sees us at.
    pub your_ip: Option<IpAddr>,
    /// `metadata_size` (BEP 9): the length of the info dictionary.
    pub metadata_size: Option<u64>,
    /// `p`: the sender's listen port.
    pub listen_port: Option<u16>,
}

impl ExtendedHandshake {
    /// The id the sender gave extension `name`, if it is enabled (non-zero).
    pub fn id(&self, name: &str) -> Option<u8> {
        self.extensions.get(name).copied().filter(|&id| id != 0)
    }

    /// Canonical bencode of the handshake.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(64 + 16 * self.extensions.len());
        e.begin_dict();
        e.key(b"m").begin_dict();
        for (name, id) in &self.extensions {
            e.key(name.as_bytes()).int(i64::from(*id));
        }
        e.end();
        if let Some(size) = self.metadata_size {
            e.key(b"metadata_size")
                .int(i64::try_from(size).unwrap_or(i64::MAX));
        }
        if let Some(port) = self.listen_port {
            e.key(b"p").int(i64::from(port));
        }
        if let Some(reqq) = self.reqq {
            e.key(b"reqq").int(i64::from(reqq));
        }
        if let Some(client) = &self.client {
            e.key(b"v").str(client);
        }
        if let Some(ip) = self.your_ip {
            match ip {
                IpAddr::V4(v4) => e.key(b"yourip").bytes(&v4.octets()),
                IpAddr::V6(v6) => e.key(b"yourip").bytes(&v6.octets()),
            };
        }
        e.end();
        // Keys are written in sorted order and every value is complete: the encoder cannot fail.
        e.finish().unwrap_or_default()
    }

    /// Reads an extended handshake payload; bytes after the dictionary are ignored.
    pub fn decode(payload: &[u8]) -> Result<Self, ExtensionError> {
        let limits = Limits::new().max_depth(8).max_tokens(4096);
        let (doc, _) = decode_prefix(payload, &limits)?.ok_or(ExtensionError::Truncated)?;
        let root = doc.root().as_dict().ok_or(ExtensionError::NotADict)?;
        let mut hs = ExtendedHandshake::default();
        if let Some(m) = root.get(b"m").and_then(|m| m.as_dict()) {
            for (name, id) in m.iter() {
                let (Ok(name), Some(id)) = (
                    std::str::from_utf8(name),
                    id.as_int().and_then(|i| u8::try_from(i).ok()),
                ) else {
                    continue;
                };
                if name.len() > MAX_EXTENSION_NAME {
                    continue;
                }
                hs.extensions.insert(name.to_owned(), id);
                if hs.extensions.len() == MAX_EXTENSIONS {
                    break;
                }
            }
        }
        let int = |key: &[u8]| root.get(key).and_then(|v| v.as_int());
        hs.client = root
            .get(b"v")
            .and_then(|v| v.as_bytes())
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(MAX_CLIENT_NAME)]).into_owned());
        hs.reqq = int(b"reqq").and_then(|i| u32::try_from(i).ok());
        hs.metadata_size = int(b"metadata_size").and_then(|i| u64::try_from(i).ok());
        hs.listen_port = int(b"p").and_then(|i| u16::try_from(i).ok());
        hs.your_ip = root
            .get(b"yourip")
            .and_then(|v| v.as_bytes())
            .and_then(|b| match b.len() {
                4 => <[u8; 4]>::try_from(b)
                    .ok()
                    .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
                16 => <[u8; 16]>::try_from(b)
                    .ok()
                    .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
                _ => None,
            });
        Ok(hs)
    }

    /// Applies a later handshake from the same peer (BEP 10 allows several): `m` entries are
    /// merged (an id of 0 disables), other fields replaced where the update carries them. New
    /// names beyond [`MAX_EXTENSIONS`] are ignored, so a peer cannot grow the map by sending
    /// handshakes.
    pub fn update(&mut self, later: ExtendedHandshake) {
        for (name, id) in later.extensions {
            if self.extensions.len() < MAX_EXTENSIONS || self.extensions.contains_key(&name) {
                self.extensions.insert(name, id);
            }
        }
        self.client = later.client.or(self.client.take());
        self.reqq = later.reqq.or(self.reqq);
        self.your_ip = later.your_ip.or(self.your_ip);
        self.metadata_size = later.metadata_size.or(self.metadata_size);
        self.listen_port = later.listen_port.or(self.listen_port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake whose `m` holds `names`, each with id 1.
    fn with_names(names: impl Iterator<Item = String>) -> Vec<u8> {
        let mut names: Vec<String> = names.collect();
        names.sort();
        let mut e = Encoder::new();
        e.begin_dict().key(b"m").begin_dict();
        for name in &names {
            e.key(name.as_bytes()).int(1);
        }
        e.end().key(b"v").str(&"c".repeat(10_000)).end();
        e.finish().unwrap()
    }

    #[test]
    fn a_peer_cannot_grow_its_extension_map_without_bound() {
        let first = with_names((0..1000).map(|i| format!("ext_{i:04}")));
        let mut hs = ExtendedHandshake::decode(&first).unwrap();
        assert_eq!(hs.extensions.len(), MAX_EXTENSIONS);
        assert_eq!(hs.client.as_ref().map(String::len), Some(MAX_CLIENT_NAME));
        for round in 0..10 {
            let later = with_names((0..1000).map(|i| format!("more_{round}_{i:04}")));
            hs.update(ExtendedHandshake::decode(&later).unwrap());
            assert_eq!(hs.extensions.len(), MAX_EXTENSIONS);
        }
        let long = with_names(std::iter::once("x".repeat(MAX_EXTENSION_NAME + 1)));
        assert!(
            ExtendedHandshake::decode(&long)
                .unwrap()
                .extensions
                .is_empty()
        );
        // A known name can still be changed or disabled once the map is full.
        let known = hs.extensions.keys().next().unwrap().clone();
        hs.update(ExtendedHandshake::decode(&with_names(std::iter::once(known.clone()))).unwrap());
        assert_eq!(hs.extensions[&known], 1);
    }

    #[test]
    fn spec_example_decodes() {
        // BEP 10's example, with yourip and metadata_size added.
        let wire = b"d1:md11:LT_metadatai1e6:ut_pexi2e11:ut_metadatai0ee13:metadata_sizei31235e\
                     1:pi6881e4:reqqi500e1:v13:\xc2\xb5Torrent 1.26:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtendedHandshake::decode(wire).unwrap();
        assert_eq!(hs.extensions.get("ut_pex"), Some(&2));
        assert_eq!(hs.id("ut_metadata"), None);
        assert_eq!(hs.id("LT_metadata"), Some(1));
        assert_eq!(hs.client.as_deref(), Some("\u{b5}Torrent 1.2"));
        assert_eq!(hs.listen_port, Some(6881));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.your_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn encodes_canonically_and_round_trips() {
        let hs = ExtendedHandshake {
            extensions: [(UT_METADATA.to_owned(), UT_METADATA_ID)].into(),
            client: Some("Swarmgate 0.1".into()),
            reqq: Some(500),
            your_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            metadata_size: Some(1234),
            listen_port: Some(6881),
        };
        let wire = hs.encode();
        assert!(wire.starts_with(b"d1:md11:ut_metadatai3ee13:metadata_sizei1234e1:pi6881e"));
        assert_eq!(ExtendedHandshake::decode(&wire).unwrap(), hs);
        assert_eq!(ExtendedHandshake::default().encode(), b"d1:mdee");
    }

    #[test]
    fn lenient_about_values_strict_about_shape() {
        let odd = b"d1:md1:ai300e1:bi-1e1:ci5ee4:reqqi-5e6:yourip3:abc1:pi70000ee";
        let hs = ExtendedHandshake::decode(odd).unwrap();
        assert_eq!(hs.extensions.len(), 1);
        assert_eq!((hs.reqq, hs.your_ip, hs.listen_port), (None, None, None));
        assert_eq!(
            ExtendedHandshake::decode(b"li1ee"),
            Err(ExtensionError::NotADict)
        );
        assert_eq!(
            ExtendedHandshake::decode(b"d1:m"),
            Err(ExtensionError::Truncated)
        );
        assert!(matches!(
            ExtendedHandshake::decode(b"x"),
            Err(ExtensionError::Bencode(_))
        ));
    }

    #[test]
    fn updates_merge() {
        let mut hs = ExtendedHandshake::decode(b"d1:md1:ai1e1:bi2ee1:v1:xe").unwrap();
        hs.update(ExtendedHandshake::decode(b"d1:md1:ai0eee").unwrap());
        assert_eq!((hs.id("a"), hs.id("b")), (None, Some(2)));
        assert_eq!(hs.client.as_deref(), Some("x"));
    }
}
