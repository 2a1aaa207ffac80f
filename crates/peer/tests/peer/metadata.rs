//! BEP 9 between two sessions: one with the metadata serves it, the other assembles and verifies
//! it with a `MetadataFetcher`; corrupt metadata is caught. Plus codec vectors and sweeps.

use bytes::Bytes;
use proptest::prelude::*;
use sha1::{Digest, Sha1};
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_peer::{
    METADATA_PIECE_LEN, MetadataError, MetadataFetcher, MetadataMessage, PeerEvent, SessionConfig,
    UT_METADATA, metadata_piece,
};

use crate::harness::Pair;

/// A made-up info dictionary of about 40 KB (three metadata pieces).
fn info_dict() -> Vec<u8> {
    let mut info =
        b"d6:lengthi1048576e4:name8:test.bin12:piece lengthi16384e6:pieces1280:".to_vec();
    info.extend((0..1280u32).map(|i| (i * 7 % 251) as u8));
    info.extend_from_slice(b"7:padding38000:");
    info.extend(std::iter::repeat_n(b'x', 38_000));
    info.push(b'e');
    info
}

fn sha1(bytes: &[u8]) -> InfoHashV1 {
    InfoHashV1(Sha1::digest(bytes).into())
}

fn pair(served: Option<Vec<u8>>, info_hash: InfoHashV1) -> Pair {
    let leech = SessionConfig::new(info_hash, PeerId([1; 20]));
    let mut seed = SessionConfig::new(info_hash, PeerId([2; 20]));
    seed.metadata = served.map(Bytes::from);
    Pair::new(leech, seed)
}

/// Runs a fetch from `pair.b` to `pair.a`; returns the fetcher's final answer.
fn fetch(pair: &mut Pair, info_hash: InfoHashV1) -> Result<Option<Bytes>, MetadataError> {
    let size = pair.a.remote_extended().unwrap().metadata_size.unwrap();
    let mut fetcher = MetadataFetcher::new(info_hash, size, 1 << 20)?;
    assert_eq!(fetcher.piece_count(), 3);
    while let Some(piece) = fetcher.next_request() {
        let msg = MetadataMessage::Request { piece }.encode();
        assert!(pair.a.send_extended(UT_METADATA, &msg));
    }
    pair.pump().unwrap();
    let mut result = Ok(None);
    for event in pair.take_a() {
        if let PeerEvent::Metadata(MetadataMessage::Data {
            piece,
            total_size,
            data,
        }) = event
        {
            result = fetcher.handle_data(piece, total_size, data);
            if result.is_err() {
                break;
            }
        }
    }
    result
}

#[test]
fn served_fetched_and_verified() {
    let info = info_dict();
    let hash = sha1(&info);
    let mut pair = pair(Some(info.clone()), hash);
    assert_eq!(
        pair.a.remote_extended().unwrap().metadata_size,
        Some(info.len() as u64)
    );
    let got = fetch(&mut pair, hash).unwrap().expect("complete");
    assert_eq!(&got[..], &info[..]);
}

#[test]
fn corrupt_metadata_is_detected_and_cleared() {
    let info = info_dict();
    let hash = sha1(&info);
    let mut corrupt = info.clone();
    corrupt[20_000] ^= 1;
    let mut pair = pair(Some(corrupt), hash);
    assert_eq!(fetch(&mut pair, hash), Err(MetadataError::HashMismatch));
}

#[test]
fn without_metadata_requests_are_rejected() {
    let hash = InfoHashV1([3; 20]);
    let mut pair = pair(None, hash);
    assert_eq!(pair.a.remote_extended().unwrap().metadata_size, None);
    let msg = MetadataMessage::Request { piece: 0 }.encode();
    assert!(pair.a.send_extended(UT_METADATA, &msg));
    pair.pump().unwrap();
    let events = pair.take_a();
    assert!(events.contains(&PeerEvent::Metadata(MetadataMessage::Reject { piece: 0 })));
}

#[test]
fn fetcher_hands_out_each_piece_once_then_again_after_reset() {
    let mut f = MetadataFetcher::new(InfoHashV1([0; 20]), 40_000, 1 << 20).unwrap();
    assert_eq!(
        std::iter::from_fn(|| f.next_request()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    f.handle_reject(1);
    assert_eq!(f.next_request(), Some(1));
    assert_eq!(f.next_request(), None);
    f.reset_requests();
    assert_eq!(f.next_request(), Some(0));
}

#[test]
fn fetcher_checks_every_piece() {
    let info = info_dict();
    let mut f = MetadataFetcher::new(sha1(&info), info.len() as u64, 1 << 20).unwrap();
    let piece = |i: u32| match metadata_piece(&info, i) {
        Some(MetadataMessage::Data { data, .. }) => data,
        other => panic!("{other:?}"),
    };
    let size = info.len() as u64;
    assert!(matches!(
        f.handle_data(0, size + 1, piece(0)),
        Err(MetadataError::SizeMismatch { .. })
    ));
    assert!(matches!(
        f.handle_data(3, size, piece(0)),
        Err(MetadataError::PieceOutOfRange { piece: 3, count: 3 })
    ));
    assert!(matches!(
        f.handle_data(2, size, piece(0)),
        Err(MetadataError::PieceLength { piece: 2, .. })
    ));
    assert_eq!(f.handle_data(0, size, piece(0)), Ok(None));
    assert_eq!(f.handle_data(0, size, piece(0)), Ok(None), "duplicate");
    assert_eq!(f.received(), 1);
    assert_eq!(f.handle_data(2, size, piece(2)), Ok(None));
    assert_eq!(
        f.handle_data(1, size, piece(1)).unwrap().as_deref(),
        Some(&info[..])
    );
}

#[test]
fn message_truncation_sweep() {
    let data = MetadataMessage::Data {
        piece: 2,
        total_size: 40_000,
        data: Bytes::from(vec![5; METADATA_PIECE_LEN]),
    }
    .encode();
    let dict_len = data.len() - METADATA_PIECE_LEN;
    for cut in 0..data.len() {
        let got = MetadataMessage::decode(&Bytes::copy_from_slice(&data[..cut]));
        if cut < dict_len {
            assert!(got.is_err(), "cut {cut}");
        } else {
            assert!(
                matches!(got, Ok(MetadataMessage::Data { ref data, .. }) if data.len() == cut - dict_len)
            );
        }
    }
}

fn arb_metadata_message() -> impl Strategy<Value = MetadataMessage> {
    prop_oneof![
        any::<u32>().prop_map(|piece| MetadataMessage::Request { piece }),
        any::<u32>().prop_map(|piece| MetadataMessage::Reject { piece }),
        (
            any::<u32>(),
            0..i64::MAX as u64,
            proptest::collection::vec(any::<u8>(), 0..2000)
        )
            .prop_map(|(piece, total_size, data)| MetadataMessage::Data {
                piece,
                total_size,
                data: Bytes::from(data)
            }),
    ]
}

proptest! {
    #[test]
    fn metadata_messages_round_trip(msg in arb_metadata_message()) {
        let wire = Bytes::from(msg.encode());
        prop_assert_eq!(MetadataMessage::decode(&wire), Ok(msg));
    }

    #[test]
    fn metadata_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = MetadataMessage::decode(&Bytes::from(bytes.clone()));
        let _ = swarmgate_peer::ExtendedHandshake::decode(&bytes);
    }
}
