//! Strategies and helpers shared by the test modules.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use swarmgate_bencode::{Kind, OwnedValue, Value};

/// Keys biased towards collisions and tricky orderings ("a" < "ab" < "b", bytes >= 0x80).
pub(crate) fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            b"".to_vec(), b"a".to_vec(), b"ab".to_vec(), b"b".to_vec(), b"info".to_vec(),
            b"length".to_vec(), b"path".to_vec(), vec![0x7f], vec![0x80], vec![0xff],
        ]),
        1 => vec(any::<u8>(), 0..6),
    ]
}

/// Arbitrary owned values: canonical by construction.
pub(crate) fn owned_value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        (-3i64..300).prop_map(OwnedValue::Int),
        Just(OwnedValue::Int(i64::MIN)),
        vec(any::<u8>(), 0..20).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(OwnedValue::List),
            btree_map(key(), inner, 0..6).prop_map(OwnedValue::Dict),
        ]
    })
}

/// A bencode tree whose dictionaries keep their entries in a chosen (maybe unsorted) order.
#[derive(Clone, Debug)]
pub(crate) enum Tree {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Dict(Vec<(Vec<u8>, Tree)>),
}

impl Tree {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Int(v) => out.extend(format!("i{v}e").bytes()),
            Tree::Bytes(b) => {
                out.extend(format!("{}:", b.len()).bytes());
                out.extend(b);
            }
            Tree::List(items) => {
                out.push(b'l');
                items.iter().for_each(|t| t.encode_into(out));
                out.push(b'e');
            }
            Tree::Dict(pairs) => {
                out.push(b'd');
                for (k, v) in pairs {
                    Tree::Bytes(k.clone()).encode_into(out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The canonical value this tree denotes.
    pub(crate) fn canonical(&self) -> OwnedValue {
        match self {
            Tree::Int(v) => OwnedValue::Int(*v),
            Tree::Bytes(b) => OwnedValue::Bytes(b.clone()),
            Tree::List(items) => OwnedValue::List(items.iter().map(Tree::canonical).collect()),
            Tree::Dict(pairs) => OwnedValue::Dict(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.canonical()))
                    .collect(),
            ),
        }
    }

    /// True when some dictionary's keys are not strictly ascending.
    pub(crate) fn has_unsorted(&self) -> bool {
        match self {
            Tree::Int(_) | Tree::Bytes(_) => false,
            Tree::List(items) => items.iter().any(Tree::has_unsorted),
            Tree::Dict(pairs) => {
                pairs.windows(2).any(|w| w[0].0 >= w[1].0)
                    || pairs.iter().any(|(_, v)| v.has_unsorted())
            }
        }
    }
}

/// Trees with unique keys per dictionary, in a shuffled order.
pub(crate) fn shuffled_tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Tree::Int),
        vec(any::<u8>(), 0..12).prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Tree::List),
            (btree_map(key(), inner, 0..6), any::<u64>()).prop_map(|(map, seed)| {
                let mut pairs: Vec<(Vec<u8>, Tree)> = map.into_iter().collect();
                shuffle(&mut pairs, seed);
                Tree::Dict(pairs)
            }),
        ]
    })
}

/// Fisher-Yates with a small LCG, so the shuffle is part of the (shrinkable) strategy input.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

/// One edit to a byte string.
#[derive(Clone, Debug)]
pub(crate) enum Edit {
    Replace(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Insert(prop::sample::Index, u8),
}

/// Bytes that matter to bencode, so edits often land on something structural.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => proptest::sample::select(b"ilde0123456789:-".to_vec()),
        1 => any::<u8>(),
    ]
}

pub(crate) fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), interesting_byte()).prop_map(|(i, b)| Edit::Replace(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        (any::<prop::sample::Index>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
    ];
    vec(edit, 1..4)
}

pub(crate) fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        match edit {
            Edit::Replace(i, b) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i.index(bytes.len()));
            }
            Edit::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            _ => {}
        }
    }
    bytes
}

/// A torrent-shaped canonical document with a multi-file info dictionary.
pub(crate) fn sample_torrent(files: usize) -> Vec<u8> {
    let mut file_list = Vec::new();
    for i in 0..files {
        let mut f = BTreeMap::new();
        f.insert(b"length".to_vec(), OwnedValue::Int(1000 + i as i64));
        f.insert(
            b"path".to_vec(),
            OwnedValue::List(vec![
                "dir".into(),
                OwnedValue::from(format!("file_{i}.bin")),
            ]),
        );
        file_list.push(OwnedValue::Dict(f));
    }
    let mut info = BTreeMap::new();
    info.insert(b"files".to_vec(), OwnedValue::List(file_list));
    info.insert(b"name".to_vec(), "sample".into());
    info.insert(b"piece length".to_vec(), OwnedValue::Int(16384));
    info.insert(b"pieces".to_vec(), OwnedValue::Bytes((0..60u8).collect()));
    let mut root = BTreeMap::new();
    root.insert(
        b"announce".to_vec(),
        "http://127.0.0.1:9877/announce".into(),
    );
    root.insert(b"creation date".to_vec(), OwnedValue::Int(1_700_000_000));
    root.insert(b"info".to_vec(), OwnedValue::Dict(info));
    OwnedValue::Dict(root).encode()
}

/// Visits every value of a document, parents before children.
pub(crate) fn walk<'d, 'a>(v: Value<'d, 'a>, f: &mut impl FnMut(Value<'d, 'a>)) {
    f(v);
    match v.kind() {
        Kind::List => v.as_list().unwrap().iter().for_each(|c| walk(c, f)),
        Kind::Dict => v.as_dict().unwrap().iter().for_each(|(_, c)| walk(c, f)),
        Kind::Int | Kind::Bytes => {}
    }
}
