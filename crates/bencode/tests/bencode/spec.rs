//! Spec vectors: BEP 3's examples, integer edges, every rejection rule with its offset, limits,
//! and (ignored unless ../shared is present) libtorrent's torrent corpus.

use swarmgate_bencode::{
    DecodeErrorKind, Kind, Limits, OwnedValue, decode, decode_prefix, decode_with,
};

fn owned(input: &[u8]) -> OwnedValue {
    decode(input)
        .unwrap_or_else(|e| panic!("{e}"))
        .root()
        .to_owned_value()
}

fn dict(pairs: &[(&str, OwnedValue)]) -> OwnedValue {
    OwnedValue::Dict(
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect(),
    )
}

/// "offset: message" of the error `decode` returns.
fn rejection(input: &[u8]) -> String {
    match decode(input) {
        Ok(doc) => panic!(
            "accepted {:?} as {:?}",
            input.escape_ascii().to_string(),
            doc.root()
        ),
        Err(e) => format!("{}: {}", e.offset(), e.kind()),
    }
}

#[test]
fn bep3_examples() {
    assert_eq!(owned(b"4:spam"), OwnedValue::from("spam"));
    assert_eq!(owned(b"0:"), OwnedValue::from(""));
    assert_eq!(owned(b"i3e"), OwnedValue::Int(3));
    assert_eq!(owned(b"i-3e"), OwnedValue::Int(-3));
    assert_eq!(owned(b"i0e"), OwnedValue::Int(0));
    assert_eq!(
        owned(b"l4:spam4:eggse"),
        OwnedValue::List(vec!["spam".into(), "eggs".into()])
    );
    assert_eq!(owned(b"le"), OwnedValue::List(vec![]));
    assert_eq!(
        owned(b"d3:cow3:moo4:spam4:eggse"),
        dict(&[("cow", "moo".into()), ("spam", "eggs".into())])
    );
    assert_eq!(
        owned(b"d4:spaml1:a1:bee"),
        dict(&[("spam", OwnedValue::List(vec!["a".into(), "b".into()]))])
    );
    assert_eq!(owned(b"de"), dict(&[]));
    // Strings are bytes: anything goes inside, including bencode syntax.
    assert_eq!(owned(b"3:i1e"), OwnedValue::from("i1e"));
    assert_eq!(owned(b"2:\x00\xff"), OwnedValue::Bytes(vec![0, 0xff]));
}

#[test]
fn integer_edges() {
    assert_eq!(owned(b"i-9223372036854775808e"), OwnedValue::Int(i64::MIN));
    assert_eq!(owned(b"i9223372036854775807e"), OwnedValue::Int(i64::MAX));
    assert_eq!(owned(b"i-1e"), OwnedValue::Int(-1));
    assert_eq!(owned(b"i10e"), OwnedValue::Int(10));
    assert_eq!(
        rejection(b"i9223372036854775808e"),
        "0: invalid integer: does not fit in 64 bits"
    );
    assert_eq!(
        rejection(b"i-9223372036854775809e"),
        "0: invalid integer: does not fit in 64 bits"
    );
    assert_eq!(
        rejection(b"li1ei18446744073709551616ee"),
        "4: invalid integer: does not fit in 64 bits"
    );
}

#[test]
fn rejections_name_the_offset() {
    for (input, want) in [
        (&b"i-0e"[..], "0: invalid integer: negative zero"),
        (b"i03e", "0: invalid integer: leading zero"),
        (b"ie", "0: invalid integer: no digits"),
        (b"i1.5e", "2: expected a digit or 'e', found '.'"),
        (b"i 1e", "1: expected a digit, found byte 0x20"),
        (b"03:abc", "0: invalid string length: leading zero"),
        (b"-3:abc", "0: expected a value, found '-'"),
        (b"l03:abce", "1: invalid string length: leading zero"),
        (b"d1:ai1e1:ai2ee", "7: duplicate dictionary key"),
        (b"d1:ai1e1:bi2e1:ai3ee", "13: duplicate dictionary key"),
        (b"l", "1: unexpected end of input, expected a value or 'e'"),
        (
            b"li1e",
            "4: unexpected end of input, expected a value or 'e'",
        ),
        (b"d1:ai1ex", "7: expected a string key or 'e', found 'x'"),
        (b"d1:ax", "4: expected a value, found 'x'"),
        (b"d3:cow", "6: unexpected end of input, expected a value"),
        (
            b"10:short",
            "8: unexpected end of input, expected string bytes",
        ),
        (
            b"4294967295:x",
            "12: unexpected end of input, expected string bytes",
        ),
        (b"di1ei2ee", "1: dictionary key is not a byte string"),
        (b"d1:ae", "4: dictionary key has no value"),
        (b"i1ei2e", "3: trailing bytes after the value"),
        (b"le ", "2: trailing bytes after the value"),
        (b"e", "0: expected a value, found 'e'"),
        (b"x", "0: expected a value, found 'x'"),
        (b"", "0: unexpected end of input, expected a value"),
    ] {
        assert_eq!(
            rejection(input),
            want,
            "{:?}",
            input.escape_ascii().to_string()
        );
    }
    let e = decode(b"l4:spami1x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid bencode at byte 9: expected a digit or 'e', found 'x'"
    );
    assert_eq!(
        e.kind(),
        &DecodeErrorKind::UnexpectedByte {
            expected: "a digit or 'e'",
            found: b'x'
        }
    );
}

#[test]
fn unsorted_keys_are_accepted_and_reported() {
    let src = b"d1:ai0e4:infod1:zi1e1:yi2ee1:zi0ee";
    let doc = decode(src).unwrap();
    assert_eq!(doc.unsorted_at(), Some(13));
    let root = doc.root().as_dict().unwrap();
    assert!(root.is_sorted());
    let info = root.get(b"info").unwrap().as_dict().unwrap();
    assert!(!info.is_sorted());
    assert_eq!(info.get(b"y").unwrap().as_int(), Some(2));
    assert_eq!(
        info.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        [&b"z"[..], b"y"]
    );
    assert_eq!(decode(b"d1:ai0e1:bi0ee").unwrap().unsorted_at(), None);
}

#[test]
fn depth_limit() {
    let nested = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    assert!(decode(&nested(128)).is_ok());
    let e = decode(&nested(129)).unwrap_err();
    assert_eq!(
        (e.offset(), e.kind()),
        (128, &DecodeErrorKind::DepthLimit { limit: 128 })
    );
    // Hostile nesting: a million levels hit the limit rather than the call stack.
    let e = decode(&vec![b'l'; 1_000_000]).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::DepthLimit { limit: 128 });
    let e = decode(&b"d1:a".repeat(200)).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::DepthLimit { limit: 128 });
    // ...and with the limit lifted, the explicit stack copes without recursion.
    let deep = nested(1_000_000);
    let doc = decode_with(&deep, &Limits::new().max_depth(usize::MAX)).unwrap();
    assert_eq!(doc.token_count(), 1_000_000);
    assert_eq!(doc.root().raw().len(), 2_000_000);
}

#[test]
fn token_limit() {
    let list = |n: usize| [b"l".to_vec(), b"i0e".repeat(n), b"e".to_vec()].concat();
    let limits = Limits {
        max_depth: 4,
        max_tokens: 11,
    };
    assert_eq!(decode_with(&list(10), &limits).unwrap().token_count(), 11);
    let e = decode_with(&list(11), &limits).unwrap_err();
    assert_eq!(
        (e.offset(), e.kind()),
        (31, &DecodeErrorKind::TokenLimit { limit: 11 })
    );
    // The default is four million: a five-million-entry list is refused.
    let e = decode(&list(5_000_000)).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::TokenLimit { limit: 4_000_000 });
}

#[test]
fn large_containers_report_their_length() {
    let n = 100_000;
    let src = [b"l".to_vec(), b"0:".repeat(n), b"e".to_vec()].concat();
    let doc = decode(&src).unwrap();
    let list = doc.root().as_list().unwrap();
    assert_eq!((list.len(), list.iter().count()), (n, n));
    assert_eq!(
        list.get(n - 1).unwrap().span(),
        src.len() - 3..src.len() - 1
    );
}

#[test]
fn kinds() {
    let doc = decode(b"li1e0:ledee").unwrap();
    let kinds: Vec<Kind> = doc
        .root()
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.kind())
        .collect();
    assert_eq!(kinds, [Kind::Int, Kind::Bytes, Kind::List, Kind::Dict]);
}

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/libtorrent")
}

/// Every torrent libtorrent loads decodes (libtorrent ignores bytes after the document, so the
/// corpus is read with `decode_prefix`), its info dictionary's raw bytes are a slice of the file,
/// and exactly the files bendy refuses for key order are the ones reported unsorted.
#[test]
#[ignore = "needs ../shared/corpus"]
fn libtorrent_corpus() {
    let manifest = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap();
    let (mut unsorted, mut trailing, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let mut fields = line.split('\t');
        let (name, verdict) = (fields.next().unwrap(), fields.next().unwrap_or(""));
        let bytes = std::fs::read(corpus_dir().join(name)).unwrap();
        let (doc, used) = match decode_prefix(&bytes, &Limits::default()) {
            Ok(Some(done)) => done,
            other => {
                assert_ne!(verdict, "loads", "{name}: {other:?}");
                invalid.push(name.to_string());
                continue;
            }
        };
        checked += 1;
        if used < bytes.len() {
            trailing.push(name.to_string());
            assert!(decode(&bytes).is_err());
        }
        let bytes = &bytes[..used];
        if verdict == "loads" {
            let info = doc
                .root()
                .as_dict()
                .and_then(|d| d.get(b"info"))
                .expect(name);
            assert_eq!(&bytes[info.span()], info.raw(), "{name}");
            assert_eq!(
                decode(info.raw()).unwrap().root().to_owned_value(),
                info.to_owned_value()
            );
        }
        if doc.unsorted_at().is_some() && verdict == "loads" {
            unsorted.push(name.to_string());
        }
        let bendy = crate::differential::bendy_decode(bytes);
        match doc.unsorted_at() {
            Some(_) => assert!(bendy.is_err(), "{name}: bendy accepted unsorted keys"),
            None => assert_eq!(bendy.as_ref(), Ok(&doc.root().to_owned_value()), "{name}"),
        }
    }
    unsorted.sort();
    // The three DESIGN.md names: loaded by libtorrent, refused by bendy for key order.
    assert_eq!(
        unsorted,
        [
            "pad_file.torrent",
            "pad_file_no_path.torrent",
            "unordered.torrent"
        ]
    );
    println!("trailing bytes: {trailing:?}; not bencode: {invalid:?}; decoded {checked}");
    assert_eq!(
        trailing,
        [
            "duplicate_files2.torrent",
            "large_piece_size.torrent",
            "v2_empty_filename.torrent",
            "v2_invalid_filename2.torrent",
            "v2_invalid_piece_layer_root.torrent",
            "v2_unknown_piece_layer_entry.torrent",
        ]
    );
    // Corrupt bytes, nesting past 128, an integer past 64 bits: all files libtorrent rejects.
    assert_eq!(
        invalid,
        [
            "bad_name.torrent",
            "v2_deep_recursion.torrent",
            "v2_overlong_integer.torrent"
        ]
    );
    assert!(checked >= 100, "only {checked} corpus files decoded");
}
