//! serde: a torrent-shaped struct with borrowed fields, zero-copy, canonical output, the
//! decoder's rules (unsorted accepted, duplicates refused), and the types bencode cannot hold.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use swarmgate_bencode::{
    DecodeErrorKind, Limits, OwnedValue, SerdeError, decode, from_bytes, from_bytes_with, to_bytes,
};

use crate::common::{owned_value, sample_torrent, shuffled_tree};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Torrent<'a> {
    pub(crate) announce: Option<&'a str>,
    #[serde(rename = "announce-list", default)]
    pub(crate) announce_list: Option<Vec<Vec<&'a str>>>,
    #[serde(rename = "creation date")]
    pub(crate) creation_date: Option<i64>,
    #[serde(borrow)]
    pub(crate) info: Info<'a>,
}

// Fields deliberately not in key order: the serializer must sort them.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Info<'a> {
    pub(crate) name: &'a str,
    #[serde(rename = "piece length")]
    pub(crate) piece_length: u32,
    #[serde(with = "serde_bytes")]
    pub(crate) pieces: &'a [u8],
    pub(crate) length: Option<u64>,
    #[serde(borrow)]
    pub(crate) files: Option<Vec<File<'a>>>,
    pub(crate) private: Option<u8>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct File<'a> {
    pub(crate) length: u64,
    #[serde(borrow)]
    pub(crate) path: Vec<&'a str>,
}

fn torrent() -> Torrent<'static> {
    Torrent {
        announce: Some("http://127.0.0.1:9877/announce"),
        announce_list: Some(vec![vec!["http://a/announce"], vec!["udp://b:80"]]),
        creation_date: Some(1_700_000_000),
        info: Info {
            name: "dir",
            piece_length: 16384,
            pieces: &[7; 40],
            length: None,
            files: Some(vec![
                File {
                    length: 3,
                    path: vec!["a.txt"],
                },
                File {
                    length: 0,
                    path: vec!["sub", "b.txt"],
                },
            ]),
            private: Some(1),
        },
    }
}

#[test]
fn torrent_round_trip_is_canonical_and_zero_copy() {
    let bytes = to_bytes(&torrent()).unwrap();
    let doc = decode(&bytes).unwrap();
    assert_eq!(
        doc.unsorted_at(),
        None,
        "serializer output must be canonical"
    );
    let info = doc
        .root()
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    let keys: Vec<&[u8]> = info.iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            &b"files"[..],
            b"name",
            b"piece length",
            b"pieces",
            b"private"
        ]
    );
    let back: Torrent<'_> = from_bytes(&bytes).unwrap();
    assert_eq!(back, torrent());
    // Borrowed fields point into the input.
    let range = bytes.as_ptr_range();
    assert!(range.contains(&back.info.name.as_ptr()));
    assert!(range.contains(&back.info.pieces.as_ptr()));
    assert!(range.contains(&back.info.files.as_ref().unwrap()[1].path[1].as_ptr()));
}

#[test]
fn matches_serde_bencode_output() {
    #[derive(Serialize)]
    struct Owned {
        announce: String,
        #[serde(rename = "creation date")]
        creation_date: i64,
        info: OwnedInfo,
    }
    #[derive(Serialize)]
    struct OwnedInfo {
        name: String,
        #[serde(rename = "piece length")]
        piece_length: u32,
        #[serde(with = "serde_bytes")]
        pieces: Vec<u8>,
        length: u64,
    }
    let v = Owned {
        announce: "http://x/announce".into(),
        creation_date: -5,
        info: OwnedInfo {
            name: "n".into(),
            piece_length: 32768,
            pieces: vec![1; 20],
            length: 9,
        },
    };
    assert_eq!(to_bytes(&v).unwrap(), serde_bencode::to_bytes(&v).unwrap());
}

#[test]
fn reads_what_the_decoder_reads() {
    // Unknown fields ignored, unsorted keys accepted, absent options are None.
    let src = b"d4:infod6:pieces0:4:name1:x12:piece lengthi1e7:unknownld1:ai1eeee8:announce1:ue";
    let t: Torrent<'_> = from_bytes(src).unwrap();
    assert_eq!(
        (t.announce, t.info.name, t.info.piece_length),
        (Some("u"), "x", 1)
    );
    assert_eq!(
        (t.creation_date, t.info.length, t.info.files),
        (None, None, None)
    );
    // Duplicates are refused, exactly as `decode` refuses them.
    let dup = b"d4:infod4:name1:x4:name1:y12:piece lengthi1e6:pieces0:ee";
    match from_bytes::<Torrent<'_>>(dup) {
        Err(SerdeError::Decode(e)) => assert_eq!(e.kind(), &DecodeErrorKind::DuplicateKey),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_the_offset_of_the_value() {
    let src = b"d4:infod4:name1:x12:piece lengthi-1e6:pieces0:ee";
    let e = from_bytes::<Torrent<'_>>(src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value: integer `-1`, expected u32 (value at byte 32)"
    );
    let e = from_bytes::<Torrent<'_>>(b"d4:infod4:name1:xee").unwrap_err();
    assert_eq!(
        e.to_string(),
        "missing field `piece length` (value at byte 7)"
    );
    let e = from_bytes::<Info<'_>>(b"d4:name2:\xff\xfe12:piece lengthi1e6:pieces0:e").unwrap_err();
    assert!(e.to_string().ends_with("(value at byte 7)"), "{e}");
    assert!(matches!(
        from_bytes::<Torrent<'_>>(b"i1e"),
        Err(SerdeError::Custom {
            offset: Some(0),
            ..
        })
    ));
}

#[test]
fn types_bencode_cannot_hold() {
    assert_eq!(to_bytes(&true), Err(SerdeError::Unsupported("a bool")));
    assert_eq!(
        to_bytes(&1.5f64),
        Err(SerdeError::Unsupported("a floating-point number"))
    );
    assert_eq!(to_bytes(&()), Err(SerdeError::Unsupported("()")));
    assert!(matches!(
        to_bytes(&None::<i64>),
        Err(SerdeError::Unsupported(_))
    ));
    assert!(matches!(
        to_bytes(&vec![Some(1), None]),
        Err(SerdeError::Unsupported(_))
    ));
    assert_eq!(
        to_bytes(&u64::MAX),
        Err(SerdeError::IntegerOutOfRange(u64::MAX as i128))
    );
    assert_eq!(
        to_bytes(&(i64::MAX as u64)).unwrap(),
        b"i9223372036854775807e"
    );
    let mut by_int = BTreeMap::new();
    by_int.insert(1, 2);
    assert_eq!(
        to_bytes(&by_int),
        Err(SerdeError::KeyNotString("an integer"))
    );
    // bool is read leniently from i0e / i1e.
    assert_eq!(from_bytes::<bool>(b"i1e"), Ok(true));
    assert!(from_bytes::<bool>(b"i2e").is_err());
}

#[test]
fn none_fields_and_values_are_left_out() {
    let mut m = BTreeMap::new();
    m.insert("b", None);
    m.insert("a", Some(1));
    assert_eq!(to_bytes(&m).unwrap(), b"d1:ai1ee");
    assert_eq!(to_bytes(&Some(3)).unwrap(), b"i3e");
}

#[test]
fn maps_are_sorted_and_duplicates_refused() {
    let m: HashMap<String, i64> = (0..50).map(|i| (format!("k{i}"), i)).collect();
    let bytes = to_bytes(&m).unwrap();
    assert_eq!(decode(&bytes).unwrap().unsorted_at(), None);
    assert_eq!(from_bytes::<HashMap<String, i64>>(&bytes).unwrap(), m);
    // Two keys that serialize to the same bytes.
    #[derive(Serialize)]
    struct Twice {
        #[serde(rename = "k")]
        a: i64,
        #[serde(rename = "k")]
        b: i64,
    }
    assert_eq!(
        to_bytes(&Twice { a: 1, b: 2 }),
        Err(SerdeError::DuplicateKey(b"k".to_vec()))
    );
}

#[test]
fn enums_are_externally_tagged() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Msg<'a> {
        Ping,
        Find(&'a str),
        Pair(i64, i64),
        Announce { port: u16, token: &'a str },
    }
    for (msg, bytes) in [
        (Msg::Ping, &b"4:Ping"[..]),
        (Msg::Find("x"), b"d4:Find1:xe"),
        (Msg::Pair(1, -1), b"d4:Pairli1ei-1eee"),
        (
            Msg::Announce {
                port: 6881,
                token: "t",
            },
            b"d8:Announced4:porti6881e5:token1:tee",
        ),
    ] {
        assert_eq!(to_bytes(&msg).unwrap(), bytes);
        assert_eq!(from_bytes::<Msg<'_>>(bytes).unwrap(), msg);
    }
    assert!(from_bytes::<Msg<'_>>(b"d4:Pingi1ee").is_err());
    assert!(from_bytes::<Msg<'_>>(b"d4:Findi1e4:Pingi1ee").is_err());
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
    match from_bytes::<OwnedValue>(&deep) {
        Err(SerdeError::Decode(e)) => {
            assert_eq!(e.kind(), &DecodeErrorKind::DepthLimit { limit: 128 })
        }
        other => panic!("{other:?}"),
    }
    let limits = Limits::new().max_depth(4);
    assert!(from_bytes_with::<OwnedValue>(b"lllleeee", &limits).is_ok());
    assert!(from_bytes_with::<OwnedValue>(b"llllleeeee", &limits).is_err());
}

#[test]
fn typed_decode_of_a_generated_torrent() {
    let bytes = sample_torrent(10);
    let t: Torrent<'_> = from_bytes(&bytes).unwrap();
    let files = t.info.files.unwrap();
    assert_eq!(files.len(), 10);
    assert_eq!(files[9].path, ["dir", "file_9.bin"]);
    assert_eq!(files[9].length, 1009);
}

proptest! {
    #[test]
    fn serde_any_agrees_with_decode(v in owned_value()) {
        let bytes = v.encode();
        prop_assert_eq!(from_bytes::<OwnedValue>(&bytes)?, v.clone());
        prop_assert_eq!(to_bytes(&v)?, bytes);
    }

    #[test]
    fn serde_any_reads_unsorted_documents(t in shuffled_tree()) {
        prop_assert_eq!(from_bytes::<OwnedValue>(&t.encode())?, t.canonical());
    }
}
