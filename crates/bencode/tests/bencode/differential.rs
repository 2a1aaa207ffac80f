//! Differential tests against bendy, the strict canonical decoder: on canonical input we must
//! agree with it exactly; where bendy refuses a document only for unsorted keys we must still
//! decode it (and say so); on anything else, we must refuse whatever it refuses.

use std::borrow::Cow;

use bendy::decoding::{Decoder, FromBencode};
use bendy::value::Value as Bendy;
use proptest::prelude::*;
use swarmgate_bencode::{Limits, OwnedValue, decode_with};

use crate::common::{apply, edits, owned_value, sample_torrent, shuffled_tree};

fn from_bendy(v: Bendy<'_>) -> OwnedValue {
    match v {
        Bendy::Integer(i) => OwnedValue::Int(i),
        Bendy::Bytes(b) => OwnedValue::Bytes(b.into_owned()),
        Bendy::List(items) => OwnedValue::List(items.into_iter().map(from_bendy).collect()),
        Bendy::Dict(map) => OwnedValue::Dict(
            map.into_iter()
                .map(|(k, v)| (k.into_owned(), from_bendy(v)))
                .collect(),
        ),
    }
}

fn to_bendy(v: &OwnedValue) -> Bendy<'_> {
    match v {
        OwnedValue::Int(i) => Bendy::Integer(*i),
        OwnedValue::Bytes(b) => Bendy::Bytes(Cow::Borrowed(b)),
        OwnedValue::List(items) => Bendy::List(items.iter().map(to_bendy).collect()),
        OwnedValue::Dict(map) => Bendy::Dict(
            map.iter()
                .map(|(k, v)| (Cow::Borrowed(&k[..]), to_bendy(v)))
                .collect(),
        ),
    }
}

/// bendy's verdict on `bytes` as one complete document. (`Value::from_bencode` itself sets a
/// depth limit of zero and so refuses any list; the decoder is driven directly instead.)
pub(crate) fn bendy_decode(bytes: &[u8]) -> Result<OwnedValue, String> {
    let mut decoder = Decoder::new(bytes).with_max_depth(DEPTH);
    let value = {
        let object = decoder
            .next_object()
            .map_err(|e| e.to_string())?
            .ok_or("empty input")?;
        Bendy::decode_bencode_object(object).map_err(|e| e.to_string())?
    };
    match decoder.next_object() {
        Ok(None) => Ok(from_bendy(value)),
        Ok(Some(_)) => Err("trailing value".into()),
        Err(e) => Err(e.to_string()),
    }
}

const DEPTH: usize = 512;

/// The agreement rule for arbitrary bytes.
fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = decode_with(bytes, &Limits::new().max_depth(DEPTH));
    let theirs = bendy_decode(bytes);
    match (&ours, &theirs) {
        (Ok(doc), Ok(v)) => {
            prop_assert_eq!(
                doc.unsorted_at(),
                None,
                "bendy accepted an unsorted document"
            );
            prop_assert_eq!(&doc.root().to_owned_value(), v);
        }
        (Ok(doc), Err(e)) => prop_assert!(
            doc.unsorted_at().is_some(),
            "we accepted {:?}, bendy refused it ({}) and its keys are sorted",
            bytes.escape_ascii().to_string(),
            e
        ),
        (Err(e), Ok(_)) => prop_assert!(
            false,
            "bendy accepted {:?}, we refused it: {}",
            bytes.escape_ascii().to_string(),
            e
        ),
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

#[test]
fn bendy_value_from_bencode_refuses_lists() {
    // Documents why bendy_decode drives the decoder itself; if bendy changes, revisit it.
    assert!(Bendy::from_bencode(b"i1e").is_ok());
    assert!(Bendy::from_bencode(b"le").is_err());
}

#[test]
fn torrent_agrees() {
    let torrent = sample_torrent(50);
    agree(&torrent).unwrap();
    assert!(bendy_decode(&torrent).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Canonical input: same value as bendy, and both encoders write the same bytes.
    #[test]
    fn canonical_input_matches_bendy(v in owned_value()) {
        let bytes = v.encode();
        prop_assert_eq!(bendy_decode(&bytes), Ok(v.clone()));
        let doc = decode_with(&bytes, &Limits::new()).unwrap();
        prop_assert_eq!(doc.root().to_owned_value(), v.clone());
        let mut encoder = bendy::encoding::Encoder::new().with_max_depth(DEPTH);
        encoder.emit(to_bendy(&v)).unwrap();
        prop_assert_eq!(encoder.get_output().unwrap(), doc.root().to_owned_value().encode());
    }

    /// Unsorted keys: bendy refuses, we decode the same value and report the disorder.
    #[test]
    fn unsorted_input_is_ours_alone(t in shuffled_tree()) {
        let bytes = t.encode();
        let doc = decode_with(&bytes, &Limits::new()).unwrap();
        prop_assert_eq!(doc.root().to_owned_value(), t.canonical());
        prop_assert_eq!(doc.unsorted_at().is_some(), t.has_unsorted());
        prop_assert_eq!(bendy_decode(&bytes).is_err(), t.has_unsorted());
    }

    /// Near-valid input (valid documents with a few edits): the agreement rule holds.
    #[test]
    fn mutated_input_agrees(v in owned_value(), t in shuffled_tree(), e in edits()) {
        agree(&apply(v.encode(), &e))?;
        agree(&apply(t.encode(), &e))?;
    }

    /// Random bytes drawn from bencode's alphabet.
    #[test]
    fn alphabet_soup_agrees(bytes in proptest::collection::vec(
        proptest::sample::select(b"ilde0123456789:-".to_vec()), 0..40)) {
        agree(&bytes)?;
    }
}
