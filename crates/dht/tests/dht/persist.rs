//! The saved routing table: a round trip through bytes into a restarted node's table, and
//! damaged or hostile files refused with an error naming the field, never a panic.

use std::net::SocketAddr;
use std::time::Instant;

use proptest::prelude::*;
use swarmgate_core::SplitMix64;
use swarmgate_dht::{
    Family, NodeId, NodeInfo, NodeStatus, PersistError, RoutingConfig, RoutingTable, SavedTable,
};

fn filled(family: Family, seed: u64, now: Instant) -> RoutingTable {
    let mut rng = SplitMix64::new(seed);
    let mut table = RoutingTable::new(
        NodeId::random(&mut rng),
        family,
        RoutingConfig::default(),
        now,
    );
    for n in 0..200u32 {
        let addr: SocketAddr = match family {
            Family::V4 => SocketAddr::from(([10, 1, (n >> 8) as u8, n as u8], 6881)),
            Family::V6 => format!("[fd00::{n:x}]:6881").parse().unwrap(),
        };
        let node = NodeInfo {
            id: NodeId::random(&mut rng),
            addr,
        };
        if n % 2 == 0 {
            table.answered(now, node, false);
        } else {
            table.heard_of(now, node);
        }
    }
    table
}

#[test]
fn a_saved_table_restores_the_id_and_the_good_nodes_of_both_families() {
    let now = Instant::now();
    let v4 = filled(Family::V4, 1, now);
    let v6 = filled(Family::V6, 2, now);
    let id = v4.own_id();
    let saved = SavedTable::from_tables(now, id, &[&v4, &v6]);
    assert_eq!(saved.nodes.len(), v4.good_nodes(now).len());
    assert_eq!(saved.nodes6.len(), v6.good_nodes(now).len());
    assert!(!saved.nodes.is_empty() && !saved.nodes6.is_empty());
    let bytes = saved.encode();
    let back = SavedTable::decode(&bytes).unwrap();
    assert_eq!(back, saved);
    // A restarted node: same id, the saved nodes as questionable candidates.
    let later = Instant::now();
    let mut restarted = RoutingTable::new(back.id, Family::V4, RoutingConfig::default(), later);
    assert_eq!(back.restore_into(later, &mut restarted), saved.nodes.len());
    assert_eq!(restarted.own_id(), id);
    for node in &saved.nodes {
        assert_eq!(
            restarted.status(later, &node.id),
            Some(NodeStatus::Questionable)
        );
    }
    let mut restarted6 = RoutingTable::new(back.id, Family::V6, RoutingConfig::default(), later);
    assert_eq!(
        back.restore_into(later, &mut restarted6),
        saved.nodes6.len()
    );
}

#[test]
fn unknown_keys_are_ignored_and_absent_lists_are_empty() {
    let id = [7u8; 20];
    let mut file = b"d2:id20:".to_vec();
    file.extend_from_slice(&id);
    file.extend_from_slice(b"5:zzzzzli1ei2ee1:ai3ee");
    // Keys out of order and unknown ones: accepted.
    let saved = SavedTable::decode(&file).unwrap();
    assert_eq!(saved.id, NodeId(id));
    assert!(saved.nodes.is_empty() && saved.nodes6.is_empty());
}

fn with_field(key: &str, value: &[u8]) -> Vec<u8> {
    let mut file = b"d".to_vec();
    let mut fields = vec![("id", vec![1u8; 20]), ("nodes", vec![]), ("nodes6", vec![])];
    for field in &mut fields {
        if field.0 == key {
            field.1 = value.to_vec();
        }
    }
    for (name, bytes) in fields {
        file.extend_from_slice(format!("{}:{}{}:", name.len(), name, bytes.len()).as_bytes());
        file.extend_from_slice(&bytes);
    }
    file.push(b'e');
    file
}

#[test]
fn wrong_lengths_are_refused_naming_the_field() {
    for (field, len) in [
        ("id", 19),
        ("id", 21),
        ("nodes", 25),
        ("nodes", 27),
        ("nodes6", 37),
        ("nodes6", 26),
    ] {
        let error = SavedTable::decode(&with_field(field, &vec![0; len])).unwrap_err();
        match &error {
            PersistError::Length {
                field: named,
                len: got,
                ..
            } => {
                assert_eq!((*named, *got), (field, len));
            }
            other => panic!("{field} {len}: {other:?}"),
        }
        assert!(error.to_string().contains(field));
    }
    assert_eq!(
        SavedTable::decode(b"d5:nodes0:e"),
        Err(PersistError::Missing { field: "id" })
    );
    assert_eq!(
        SavedTable::decode(b"d2:idi5ee"),
        Err(PersistError::NotBytes { field: "id" })
    );
    assert_eq!(SavedTable::decode(b"le"), Err(PersistError::NotDictionary));
    assert!(matches!(
        SavedTable::decode(b""),
        Err(PersistError::Bencode(_))
    ));
}

#[test]
fn every_truncation_of_a_saved_table_is_refused() {
    let now = Instant::now();
    let v4 = filled(Family::V4, 3, now);
    let bytes = SavedTable::from_tables(now, v4.own_id(), &[&v4]).encode();
    for cut in 0..bytes.len() {
        assert!(
            SavedTable::decode(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes"
        );
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = SavedTable::decode(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let now = Instant::now();
        let v4 = filled(Family::V4, seed % 4, now);
        let mut bytes = SavedTable::from_tables(now, v4.own_id(), &[&v4]).encode();
        for (at, byte) in flips {
            let len = bytes.len();
            bytes[at % len] = byte;
        }
        if let Ok(saved) = SavedTable::decode(&bytes) {
            prop_assert_eq!(SavedTable::decode(&saved.encode()), Ok(saved));
        }
    }
}
