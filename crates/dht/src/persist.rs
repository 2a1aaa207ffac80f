//! The routing table saved between runs (issue 13: a restart needs no bootstrap router): the own
//! id and the good nodes of both families, as a bencoded dictionary `{id, nodes, nodes6}` with
//! nodes in their compact wire form (26 bytes IPv4, 38 bytes IPv6).
//!
//! The node restarts with the same id (libtorrent evicts a node whose id changes at the same
//! address) and the saved nodes as candidates: questionable until they answer. Saving is a pure
//! function returning bytes; the driver writes them to a file atomically (a temporary file, then
//! a rename). Reading a file that is damaged or hostile is an error naming the field, never a
//! panic; unknown keys are ignored so a later version's file still loads.

use std::time::Instant;

use swarmgate_bencode::{DecodeError, Encoder, decode};

use crate::id::{NodeId, NodeInfo};
use crate::routing::{Family, Insertion, RoutingTable};

/// What a saved table holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedTable {
    /// The node's id.
    pub id: NodeId,
    /// IPv4 nodes.
    pub nodes: Vec<NodeInfo>,
    /// IPv6 nodes.
    pub nodes6: Vec<NodeInfo>,
}

/// Why saved bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The bytes are not bencode (truncated, or not a saved table at all).
    #[error("not bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The top level is not a dictionary.
    #[error("top level is not a dictionary")]
    NotDictionary,
    /// A required field is absent.
    #[error("missing field `{field}`")]
    Missing {
        /// The field's name.
        field: &'static str,
    },
    /// A field is not a byte string.
    #[error("field `{field}` is not a byte string")]
    NotBytes {
        /// The field's name.
        field: &'static str,
    },
    /// A field's length is wrong.
    #[error("field `{field}` is {len} bytes, not {expected}")]
    Length {
        /// The field's name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// What its length should be.
        expected: &'static str,
    },
}

impl SavedTable {
    /// The own id and the good nodes of `tables` at `now`, each in its family's list.
    pub fn from_tables(now: Instant, id: NodeId, tables: &[&RoutingTable]) -> SavedTable {
        let mut saved = SavedTable {
            id,
            nodes: Vec::new(),
            nodes6: Vec::new(),
        };
        for table in tables {
            let list = match table.family() {
                Family::V4 => &mut saved.nodes,
                Family::V6 => &mut saved.nodes6,
            };
            list.extend(table.good_nodes(now));
        }
        saved
    }

    /// The bencoded file: `{"id": 20 bytes, "nodes": 26 per node, "nodes6": 38 per node}`.
    /// Nodes of the wrong family for their list are left out.
    pub fn encode(&self) -> Vec<u8> {
        let compact = |nodes: &[NodeInfo], family: Family| {
            let mut out = Vec::new();
            for node in nodes.iter().filter(|n| Family::of(&n.addr) == family) {
                node.encode(&mut out);
            }
            out
        };
        let mut encoder = Encoder::new();
        encoder
            .begin_dict()
            .key(b"id")
            .bytes(self.id.as_bytes())
            .key(b"nodes")
            .bytes(&compact(&self.nodes, Family::V4))
            .key(b"nodes6")
            .bytes(&compact(&self.nodes6, Family::V6))
            .end();
        encoder
            .finish()
            .expect("three sorted keys, each with a value, in one closed dictionary")
    }

    /// Reads a saved table back. `nodes` and `nodes6` may be absent (no nodes); unknown keys
    /// are ignored.
    pub fn decode(bytes: &[u8]) -> Result<SavedTable, PersistError> {
        let document = decode(bytes)?;
        let root = document.root();
        let dict = root.as_dict().ok_or(PersistError::NotDictionary)?;
        let field = |name: &'static str| -> Result<Option<&[u8]>, PersistError> {
            match dict.get(name.as_bytes()) {
                None => Ok(None),
                Some(value) => value
                    .as_bytes()
                    .map(Some)
                    .ok_or(PersistError::NotBytes { field: name }),
            }
        };
        // A field parsed by `parse`, or an error naming it with its length and `expected`.
        fn sized<T>(
            field: &'static str,
            bytes: &[u8],
            parse: impl Fn(&[u8]) -> Option<T>,
            expected: &'static str,
        ) -> Result<T, PersistError> {
            parse(bytes).ok_or(PersistError::Length {
                field,
                len: bytes.len(),
                expected,
            })
        }
        let id = field("id")?.ok_or(PersistError::Missing { field: "id" })?;
        let id = sized("id", id, NodeId::from_slice, "20")?;
        let nodes = field("nodes")?.unwrap_or_default();
        let nodes = sized("nodes", nodes, NodeInfo::decode_v4, "a multiple of 26")?;
        let nodes6 = field("nodes6")?.unwrap_or_default();
        let nodes6 = sized("nodes6", nodes6, NodeInfo::decode_v6, "a multiple of 38")?;
        Ok(SavedTable { id, nodes, nodes6 })
    }

    /// Offers the saved nodes of `table`'s family to it as candidates
    /// ([`RoutingTable::heard_of`]); how many it kept.
    pub fn restore_into(&self, now: Instant, table: &mut RoutingTable) -> usize {
        let nodes = match table.family() {
            Family::V4 => &self.nodes,
            Family::V6 => &self.nodes6,
        };
        nodes
            .iter()
            .filter(|node| {
                matches!(
                    table.heard_of(now, **node),
                    Insertion::Added | Insertion::Cached | Insertion::Updated
                )
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_canonical_bencode_with_three_keys() {
        let saved = SavedTable {
            id: NodeId([7; 20]),
            nodes: vec![NodeInfo {
                id: NodeId([1; 20]),
                addr: "192.0.2.1:6881".parse().unwrap(),
            }],
            nodes6: Vec::new(),
        };
        let bytes = saved.encode();
        assert!(bytes.starts_with(b"d2:id20:"));
        assert!(bytes.ends_with(b"6:nodes60:e"));
        assert_eq!(SavedTable::decode(&bytes).unwrap(), saved);
    }

    #[test]
    fn a_node_in_the_wrong_list_is_left_out() {
        let v6 = NodeInfo {
            id: NodeId([2; 20]),
            addr: "[2001:db8::1]:6881".parse().unwrap(),
        };
        let saved = SavedTable {
            id: NodeId([7; 20]),
            nodes: vec![v6],
            nodes6: Vec::new(),
        };
        let back = SavedTable::decode(&saved.encode()).unwrap();
        assert!(back.nodes.is_empty() && back.nodes6.is_empty());
    }
}
