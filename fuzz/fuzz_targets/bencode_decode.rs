//! Fuzzes swarmgate-bencode's decoder: no panics, `decode` and `decode_prefix` agree, every
//! value's span tiles its parent, and whatever decodes re-encodes to something that decodes to
//! the same value (and to the very same bytes when the input was canonical).

#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_bencode::{
    DecodeErrorKind, Document, Encoder, Kind, Limits, decode_prefix, decode_with,
};

fn check_spans(input: &[u8], doc: &Document<'_>) {
    let root = doc.root();
    assert_eq!(root.span(), 0..input.len());
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(v) = stack.pop() {
        seen += 1;
        let span = v.span();
        assert_eq!(v.raw(), &input[span.clone()]);
        let mut at = span.start + 1;
        match v.kind() {
            Kind::Int => assert!(v.as_int().is_some()),
            Kind::Bytes => {
                let b = v.as_bytes().unwrap();
                assert_eq!(
                    b.as_ptr() as usize - input.as_ptr() as usize + b.len(),
                    span.end
                );
            }
            Kind::List => {
                let list = v.as_list().unwrap();
                assert_eq!(list.len(), list.iter().count());
                for child in list.iter() {
                    assert_eq!(child.span().start, at);
                    at = child.span().end;
                    stack.push(child);
                }
                assert_eq!(at, span.end - 1);
            }
            Kind::Dict => {
                let dict = v.as_dict().unwrap();
                assert_eq!(dict.len(), dict.iter().count());
                for (key, child) in dict.iter() {
                    seen += 1; // keys are tokens too
                    assert_eq!(
                        key.as_ptr() as usize - input.as_ptr() as usize + key.len(),
                        child.span().start
                    );
                    assert!(dict.get(key).is_some());
                    at = child.span().end;
                    stack.push(child);
                }
                assert_eq!(at, span.end - 1);
            }
        }
    }
    assert_eq!(seen, doc.token_count());
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 32,
        max_tokens: 20_000,
    };
    let whole = decode_with(data, &limits);
    let streamed = decode_prefix(data, &limits);
    match (&whole, &streamed) {
        (Ok(_), Ok(Some((_, used)))) => assert_eq!(*used, data.len()),
        (Err(e), Ok(None)) => assert!(e.is_eof()),
        (Err(e), Ok(Some((doc, used)))) => {
            assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes);
            assert_eq!(e.offset(), *used);
            check_spans(&data[..*used], doc);
        }
        (Err(e), Err(e2)) => assert_eq!(e, e2),
        (w, s) => panic!("decode {w:?} but decode_prefix {s:?}"),
    }
    let Ok(doc) = whole else { return };
    check_spans(data, &doc);
    let _ = format!("{:?}", doc.root());

    let owned = doc.root().to_owned_value();
    let canonical = owned.encode();
    let again = decode_with(&canonical, &limits).expect("a re-encoding decodes");
    assert_eq!(again.unsorted_at(), None);
    assert_eq!(again.root().to_owned_value(), owned);
    if doc.unsorted_at().is_none() {
        assert_eq!(canonical, data, "canonical input must re-encode to itself");
    } else {
        let at = doc.unsorted_at().unwrap();
        assert_eq!(data[at], b'd');
    }

    let mut e = Encoder::new();
    e.begin_list().raw(data).end();
    let wrapped = e.finish().expect("a valid value can be spliced");
    assert_eq!(&wrapped[1..wrapped.len() - 1], data);
});
