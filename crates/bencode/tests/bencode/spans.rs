//! Raw spans: every value knows its exact bytes in the input, which is what an info-hash needs.

use proptest::prelude::*;
use swarmgate_bencode::{Encoder, Kind, Value, decode};

use crate::common::{owned_value, sample_torrent, shuffled_tree, walk};

#[test]
fn info_span_of_a_non_canonical_document() {
    // Unsorted outer keys, and an info dictionary whose keys are unsorted too.
    let info: &[u8] =
        b"d6:pieces20:AAAAAAAAAAAAAAAAAAAA4:name4:test12:piece lengthi16384e6:lengthi5ee";
    let src = [
        &b"d8:announce3:url4:info"[..],
        info,
        b"7:comment2:hi13:creation datei1ee",
    ]
    .concat();
    let doc = decode(&src).unwrap();
    assert_eq!(doc.unsorted_at(), Some(0));
    let value = doc.root().as_dict().unwrap().get(b"info").unwrap();
    assert_eq!(value.span(), 22..22 + info.len());
    assert_eq!(value.raw(), info);
    let dict = value.as_dict().unwrap();
    assert_eq!((dict.raw(), dict.span()), (info, 22..22 + info.len()));
    assert!(!dict.is_sorted());
    // Re-encoding would sort the keys and change the hash: the raw bytes are what to hash.
    assert_ne!(value.to_owned_value().encode(), info);
    let pieces = dict.get(b"pieces").unwrap();
    assert_eq!(pieces.raw(), b"20:AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(pieces.span(), 22 + 9..22 + 9 + 23);
}

#[test]
fn encoder_raw_keeps_the_info_bytes() {
    let original = decode(b"d4:infod4:name1:x6:lengthi1eee").unwrap();
    let info = original.root().as_dict().unwrap().get(b"info").unwrap();
    let mut e = Encoder::new();
    e.begin_dict()
        .key(b"announce")
        .str("http://127.0.0.1/announce")
        .key(b"comment")
        .str("rewritten")
        .key(b"info")
        .raw(info.raw())
        .end();
    let rewritten = e.finish().unwrap();
    let doc = decode(&rewritten).unwrap();
    let again = doc.root().as_dict().unwrap().get(b"info").unwrap();
    assert_eq!(again.raw(), info.raw());
    assert_eq!(doc.unsorted_at(), Some(again.span().start));
}

#[test]
fn list_and_dict_spans_match_value_spans() {
    let src = sample_torrent(4);
    let doc = decode(&src).unwrap();
    let files = doc
        .root()
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    let files = files.get(b"files").unwrap();
    let list = files.as_list().unwrap();
    assert_eq!((list.raw(), list.span()), (files.raw(), files.span()));
    assert_eq!(list.len(), 4);
    check_spans(&src, doc.root()).unwrap();
}

fn offset_in(input: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - input.as_ptr() as usize
}

/// Every value's raw bytes are its span of the input, decode on their own to the same value, and
/// children tile their parent exactly.
fn check_spans(input: &[u8], root: Value<'_, '_>) -> Result<(), TestCaseError> {
    prop_assert_eq!(root.span(), 0..input.len());
    let mut result = Ok(());
    walk(root, &mut |v| {
        if result.is_err() {
            return;
        }
        result = (|| {
            let span = v.span();
            prop_assert_eq!(v.raw(), &input[span.clone()]);
            let alone = decode(v.raw()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(alone.root().to_owned_value(), v.to_owned_value());
            let mut at = span.start + 1;
            match v.kind() {
                Kind::Int => prop_assert!(v.raw().starts_with(b"i") && v.raw().ends_with(b"e")),
                Kind::Bytes => {
                    let payload = v.as_bytes().unwrap();
                    prop_assert_eq!(offset_in(input, payload) + payload.len(), span.end);
                    let header = format!("{}:", payload.len());
                    prop_assert_eq!(
                        &input[span.start..span.start + header.len()],
                        header.as_bytes()
                    );
                }
                Kind::List => {
                    for child in v.as_list().unwrap().iter() {
                        prop_assert_eq!(child.span().start, at);
                        at = child.span().end;
                    }
                    prop_assert_eq!(at, span.end - 1);
                }
                Kind::Dict => {
                    for (key, child) in v.as_dict().unwrap().iter() {
                        let header = format!("{}:", key.len());
                        prop_assert_eq!(&input[at..at + header.len()], header.as_bytes());
                        prop_assert_eq!(offset_in(input, key), at + header.len());
                        prop_assert_eq!(child.span().start, at + header.len() + key.len());
                        at = child.span().end;
                    }
                    prop_assert_eq!(at, span.end - 1);
                }
            }
            Ok(())
        })();
    });
    result
}

proptest! {
    #[test]
    fn spans_tile_canonical_documents(v in owned_value()) {
        let bytes = v.encode();
        let doc = decode(&bytes).unwrap();
        check_spans(&bytes, doc.root())?;
    }

    #[test]
    fn spans_tile_unsorted_documents(t in shuffled_tree()) {
        let bytes = t.encode();
        let doc = decode(&bytes).unwrap();
        check_spans(&bytes, doc.root())?;
    }
}
