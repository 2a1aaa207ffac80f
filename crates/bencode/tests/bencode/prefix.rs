//! Streaming and hostile input: `decode_prefix` on every prefix, a truncation sweep over valid
//! and mutated documents, and random bytes, none of which may panic.

use proptest::prelude::*;
use swarmgate_bencode::{DecodeErrorKind, Limits, OwnedValue, decode, decode_prefix, from_bytes};

use crate::common::{apply, edits, owned_value, sample_torrent, shuffled_tree};

/// Every strict prefix of a valid document is "need more"; the whole is one value; bytes after
/// it are left unconsumed.
fn check_prefixes(valid: &[u8]) -> Result<(), TestCaseError> {
    let limits = Limits::new();
    for n in 0..valid.len() {
        let prefix = &valid[..n];
        prop_assert!(
            decode_prefix(prefix, &limits)?.is_none(),
            "prefix of {} bytes",
            n
        );
        let e = decode(prefix).unwrap_err();
        prop_assert!(e.is_eof(), "prefix of {} bytes: {}", n, e);
        prop_assert_eq!(e.offset(), n);
    }
    let (doc, used) = decode_prefix(valid, &limits)?.expect("a complete document");
    prop_assert_eq!((used, doc.root().span()), (valid.len(), 0..valid.len()));
    for tail in [&b"x"[..], b"i1e", b"e", b"0:"] {
        let more = [valid, tail].concat();
        let (_, used) = decode_prefix(&more, &limits)?.expect("a complete document");
        prop_assert_eq!(used, valid.len());
        let e = decode(&more).unwrap_err();
        prop_assert_eq!(
            (e.offset(), e.kind()),
            (valid.len(), &DecodeErrorKind::TrailingBytes)
        );
    }
    Ok(())
}

/// Every prefix of any input: decode and decode_prefix agree, and an error, once found, stays
/// the same error however many bytes follow (validation is eager).
fn sweep(bytes: &[u8]) -> Result<(), TestCaseError> {
    let limits = Limits::new().max_depth(16).max_tokens(200);
    let mut settled: Option<Result<usize, swarmgate_bencode::DecodeError>> = None;
    for n in 0..=bytes.len() {
        let prefix = &bytes[..n];
        let whole = swarmgate_bencode::decode_with(prefix, &limits);
        let streamed = decode_prefix(prefix, &limits).map(|r| r.map(|(_, used)| used));
        match &whole {
            Ok(doc) => {
                prop_assert_eq!(&streamed, &Ok(Some(n)));
                prop_assert_eq!(doc.root().span(), 0..n);
            }
            Err(e) if e.is_eof() => prop_assert_eq!(&streamed, &Ok(None)),
            Err(e) if e.kind() == &DecodeErrorKind::TrailingBytes => {
                prop_assert_eq!(&streamed, &Ok(Some(e.offset())));
            }
            Err(e) => prop_assert_eq!(&streamed, &Err(e.clone())),
        }
        match (&settled, &whole) {
            (Some(Ok(end)), _) => {
                let e = whole.as_ref().expect_err("bytes after a complete value");
                prop_assert_eq!(
                    (e.offset(), e.kind()),
                    (*end, &DecodeErrorKind::TrailingBytes)
                );
            }
            (Some(Err(first)), _) => prop_assert_eq!(whole.as_ref().err(), Some(first)),
            (None, Ok(_)) => settled = Some(Ok(n)),
            (None, Err(e)) if !e.is_eof() => settled = Some(Err(e.clone())),
            (None, Err(_)) => {}
        }
    }
    Ok(())
}

#[test]
fn fixed_documents() {
    for doc in [
        &b"4:spam"[..],
        b"i-9223372036854775808e",
        b"i0e",
        b"0:",
        b"le",
        b"d3:cow3:moo4:spam4:eggse",
        b"d4:spaml1:a1:bee",
        b"lllleeee",
        b"d1:bi1e1:ai2ee",
        b"d2:abd1:xle1:wdeee",
    ] {
        check_prefixes(doc).unwrap();
        sweep(doc).unwrap();
    }
    let torrent = sample_torrent(20);
    check_prefixes(&torrent).unwrap();
}

proptest! {
    #[test]
    fn prefixes_of_canonical_documents(v in owned_value()) {
        check_prefixes(&v.encode())?;
    }

    #[test]
    fn prefixes_of_unsorted_documents(t in shuffled_tree()) {
        check_prefixes(&t.encode())?;
    }

    #[test]
    fn truncation_sweep_of_mutated_documents(v in owned_value(), t in shuffled_tree(), e in edits()) {
        sweep(&apply(v.encode(), &e))?;
        sweep(&apply(t.encode(), &e))?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits::new().max_depth(32);
        if let Ok(doc) = swarmgate_bencode::decode_with(&bytes, &limits) {
            let _ = format!("{:?}", doc.root());
            prop_assert_eq!(doc.root().to_owned_value().encode().is_empty(), false);
        }
        let _ = decode_prefix(&bytes, &limits);
        let _ = from_bytes::<OwnedValue>(&bytes);
        let _ = from_bytes::<crate::serde_tests::Torrent<'_>>(&bytes);
    }

    #[test]
    fn alphabet_soup_never_panics(bytes in proptest::collection::vec(
        proptest::sample::select(b"ilde0123456789:-".to_vec()), 0..200)) {
        sweep(&bytes)?;
        let _ = from_bytes::<OwnedValue>(&bytes);
        let _ = from_bytes::<crate::serde_tests::Torrent<'_>>(&bytes);
    }
}
