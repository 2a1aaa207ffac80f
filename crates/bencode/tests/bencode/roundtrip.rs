//! Round trips: owned value -> bytes -> document -> owned value, canonical bytes survive
//! decode + encode unchanged, and the streaming encoder writes what `OwnedValue::encode` writes.

use proptest::prelude::*;
use swarmgate_bencode::{EncodeError, Encoder, Kind, OwnedValue, Value, decode};

use crate::common::{owned_value, shuffled_tree};

fn count(v: &OwnedValue) -> usize {
    1 + match v {
        OwnedValue::List(items) => items.iter().map(count).sum(),
        OwnedValue::Dict(map) => map.values().map(|v| 1 + count(v)).sum(),
        _ => 0,
    }
}

/// Writes `v` through the streaming encoder.
fn stream(e: &mut Encoder, v: &OwnedValue) {
    match v {
        OwnedValue::Int(i) => drop(e.int(*i)),
        OwnedValue::Bytes(b) => drop(e.bytes(b)),
        OwnedValue::List(items) => {
            e.begin_list();
            items.iter().for_each(|item| stream(e, item));
            e.end();
        }
        OwnedValue::Dict(map) => {
            e.begin_dict();
            for (k, v) in map {
                e.key(k);
                stream(e, v);
            }
            e.end();
        }
    }
}

/// Rebuilds a document from a decoded one, splicing each child of the root with `raw`.
fn rebuild_with_raw(v: Value<'_, '_>) -> Vec<u8> {
    let mut e = Encoder::new();
    match v.kind() {
        Kind::List => {
            e.begin_list();
            v.as_list().unwrap().iter().for_each(|c| {
                e.raw(c.raw());
            });
            e.end();
        }
        Kind::Dict => {
            e.begin_dict();
            v.as_dict().unwrap().iter().for_each(|(k, c)| {
                e.key(k).raw(c.raw());
            });
            e.end();
        }
        _ => drop(e.raw(v.raw())),
    }
    e.finish().unwrap()
}

#[test]
fn non_canonical_input_is_canonicalised_by_owned_values() {
    let doc = decode(b"d1:bi0e1:ai0ee").unwrap();
    assert_eq!(doc.root().to_owned_value().encode(), b"d1:ai0e1:bi0ee");
}

#[test]
fn encode_into_appends() {
    let mut out = b"prefix".to_vec();
    OwnedValue::from(-12).encode_into(&mut out);
    OwnedValue::from(&b"ab"[..]).encode_into(&mut out);
    assert_eq!(out, b"prefixi-12e2:ab");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn owned_encode_decode_round_trip(v in owned_value()) {
        let bytes = v.encode();
        let doc = decode(&bytes).unwrap();
        prop_assert_eq!(doc.unsorted_at(), None);
        prop_assert_eq!(doc.token_count(), count(&v));
        let back = doc.root().to_owned_value();
        prop_assert_eq!(&back, &v);
        // Canonical bytes survive decode + encode unchanged.
        prop_assert_eq!(back.encode(), bytes.clone());
        prop_assert_eq!(rebuild_with_raw(doc.root()), bytes);
    }

    #[test]
    fn streaming_encoder_matches_owned_encode(v in owned_value()) {
        let mut e = Encoder::with_capacity(16);
        stream(&mut e, &v);
        prop_assert_eq!(e.finish().unwrap(), v.encode());
    }

    #[test]
    fn streaming_encoder_refuses_unsorted_keys(t in shuffled_tree()) {
        // Replaying an unsorted document through the encoder must fail on its first bad key.
        fn replay(e: &mut Encoder, v: Value<'_, '_>) {
            match v.kind() {
                Kind::Int => drop(e.int(v.as_int().unwrap())),
                Kind::Bytes => drop(e.bytes(v.as_bytes().unwrap())),
                Kind::List => {
                    e.begin_list();
                    v.as_list().unwrap().iter().for_each(|c| replay(e, c));
                    e.end();
                }
                Kind::Dict => {
                    e.begin_dict();
                    v.as_dict().unwrap().iter().for_each(|(k, c)| {
                        e.key(k);
                        replay(e, c);
                    });
                    e.end();
                }
            }
        }
        let bytes = t.encode();
        let doc = decode(&bytes).unwrap();
        let mut e = Encoder::new();
        replay(&mut e, doc.root());
        match e.finish() {
            Ok(out) => {
                prop_assert!(!t.has_unsorted());
                prop_assert_eq!(out, bytes);
            }
            Err(EncodeError::UnsortedKey { key, previous }) => {
                prop_assert!(t.has_unsorted());
                prop_assert!(previous > key);
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }
}
