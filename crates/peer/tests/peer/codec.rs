//! The message codec: hand-written spec vectors for every message, a round-trip property, a
//! truncation sweep, and hostile length prefixes refused before any payload is buffered.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use swarmgate_core::{BlockRef, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::{
    Handshake, Limits, Message, Reserved, WireError, decode, decode_slice, encode,
};

fn block(piece: u32, offset: u32, length: u32) -> BlockRef {
    BlockRef {
        piece: PieceIndex(piece),
        offset,
        length,
    }
}

/// Every message, with its bytes written out by hand from BEP 3, 5, 6 and 10.
fn vectors() -> Vec<(Message, Vec<u8>)> {
    let req = [0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0];
    let with = |head: &[u8], tail: &[u8]| [head, tail].concat();
    vec![
        (Message::KeepAlive, vec![0, 0, 0, 0]),
        (Message::Choke, vec![0, 0, 0, 1, 0]),
        (Message::Unchoke, vec![0, 0, 0, 1, 1]),
        (Message::Interested, vec![0, 0, 0, 1, 2]),
        (Message::NotInterested, vec![0, 0, 0, 1, 3]),
        (
            Message::Have(PieceIndex(0x0102_0304)),
            vec![0, 0, 0, 5, 4, 1, 2, 3, 4],
        ),
        (
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            vec![0, 0, 0, 3, 5, 0xff, 0x80],
        ),
        (
            Message::Request(block(1, 0x4000, 0x4000)),
            with(&[0, 0, 0, 13, 6], &req),
        ),
        (
            Message::Piece {
                piece: PieceIndex(1),
                offset: 0x4000,
                data: Bytes::from_static(b"abc"),
            },
            vec![0, 0, 0, 12, 7, 0, 0, 0, 1, 0, 0, 0x40, 0, b'a', b'b', b'c'],
        ),
        (
            Message::Cancel(block(1, 0x4000, 0x4000)),
            with(&[0, 0, 0, 13, 8], &req),
        ),
        (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1a, 0xe1]),
        (
            Message::Suggest(PieceIndex(7)),
            vec![0, 0, 0, 5, 0x0d, 0, 0, 0, 7],
        ),
        (Message::HaveAll, vec![0, 0, 0, 1, 0x0e]),
        (Message::HaveNone, vec![0, 0, 0, 1, 0x0f]),
        (
            Message::Reject(block(1, 0x4000, 0x4000)),
            with(&[0, 0, 0, 13, 0x10], &req),
        ),
        (
            Message::AllowedFast(PieceIndex(9)),
            vec![0, 0, 0, 5, 0x11, 0, 0, 0, 9],
        ),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"d1:md1:ai1eee"),
            },
            with(&[0, 0, 0, 15, 20, 0], b"d1:md1:ai1eee"),
        ),
    ]
}

#[test]
fn spec_vectors_encode_and_decode() {
    let limits = Limits::default();
    for (msg, wire) in vectors() {
        let mut out = BytesMut::new();
        encode(&msg, &mut out);
        assert_eq!(&out[..], &wire[..], "{msg:?}");
        assert_eq!(msg.encoded_len(), wire.len(), "{msg:?}");
        assert_eq!(
            decode_slice(&wire, &limits),
            Ok(Some((msg.clone(), wire.len())))
        );
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(decode(&mut buf, &limits), Ok(Some(msg)));
        assert!(buf.is_empty());
    }
}

#[test]
fn handshake_spec_vector() {
    let mut wire = b"\x13BitTorrent protocol".to_vec();
    wire.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    wire.extend_from_slice(&[0xaa; 20]);
    wire.extend_from_slice(b"-SG0001-123456789012");
    let hs = Handshake {
        reserved: Reserved::SWARMGATE.with_dht(),
        info_hash: InfoHashV1([0xaa; 20]),
        peer_id: PeerId(*b"-SG0001-123456789012"),
    };
    assert_eq!(hs.encode().to_vec(), wire);
    assert_eq!(Handshake::decode(&wire), Ok(Some((hs, 68))));
}

#[test]
fn truncation_sweep_never_fails_on_a_valid_stream() {
    let limits = Limits::default();
    let all = vectors();
    let stream: Vec<u8> = all.iter().flat_map(|(_, w)| w.clone()).collect();
    for cut in 0..=stream.len() {
        let prefix = &stream[..cut];
        // The slice decoder.
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((msg, used)) = decode_slice(&prefix[at..], &limits).expect("valid prefix") {
            got.push(msg);
            at += used;
        }
        assert_eq!(got.len(), count_complete(&all, cut));
        assert!(got.iter().zip(&all).all(|(g, (m, _))| g == m));
        // The zero-copy decoder agrees.
        let mut buf = BytesMut::from(prefix);
        let mut zero_copy = Vec::new();
        while let Some(msg) = decode(&mut buf, &limits).expect("valid prefix") {
            zero_copy.push(msg);
        }
        assert_eq!(zero_copy, got);
        assert_eq!(buf.len(), cut - at);
    }
}

fn count_complete(all: &[(Message, Vec<u8>)], cut: usize) -> usize {
    let mut end = 0;
    all.iter()
        .take_while(|(_, w)| {
            end += w.len();
            end <= cut
        })
        .count()
}

#[test]
fn four_gib_prefix_is_refused_from_four_bytes() {
    let limits = Limits::default();
    let prefix = [0xff, 0xff, 0xff, 0xff];
    let max = limits.max_frame_len();
    assert_eq!(
        decode_slice(&prefix, &limits),
        Err(WireError::FrameTooLarge {
            length: u32::MAX,
            max
        })
    );
    let mut buf = BytesMut::with_capacity(4);
    buf.extend_from_slice(&prefix);
    assert_eq!(
        decode(&mut buf, &limits),
        Err(WireError::FrameTooLarge {
            length: u32::MAX,
            max
        })
    );
    // Nothing consumed, nothing grown: the decoder never reserved room for the claim.
    assert_eq!((buf.len(), buf.capacity()), (4, 4));
    // Just over the limit is refused too; exactly at the limit is waited for.
    let over = (max as u32 + 1).to_be_bytes();
    assert!(decode_slice(&over, &limits).is_err());
    let at = [&(max as u32).to_be_bytes()[..], &[20]].concat();
    assert_eq!(decode_slice(&at, &limits), Ok(None));
}

#[test]
fn per_message_limits_apply_at_the_header() {
    let limits = Limits::for_pieces(16);
    // A 2-byte bitfield is right for 16 pieces; 3 is refused from the 5-byte header.
    assert!(matches!(
        decode_slice(&[0, 0, 0, 4, 5], &limits),
        Err(WireError::PayloadTooLarge { .. })
    ));
    // A piece message carrying more than 16 KiB.
    let len = (9 + 16 * 1024 + 1) as u32;
    let header = [&len.to_be_bytes()[..], &[7]].concat();
    assert!(matches!(
        decode_slice(&header, &Limits::default()),
        Err(WireError::PayloadTooLarge { .. }) | Err(WireError::FrameTooLarge { .. })
    ));
    // Fixed-size messages of the wrong size, and unknown ids.
    for (frame, id) in [
        (vec![0, 0, 0, 4, 4], 4),
        (vec![0, 0, 0, 12, 6], 6),
        (vec![0, 0, 0, 2, 9], 9),
        (vec![0, 0, 0, 2, 0x0e], 0x0e),
        (vec![0, 0, 0, 8, 7], 7),
        (vec![0, 0, 0, 1, 20], 20),
    ] {
        assert!(
            matches!(decode_slice(&frame, &limits), Err(WireError::BadLength { id: i, .. }) if i == id),
            "{frame:?}"
        );
    }
    for unknown in [10u8, 11, 12, 0x12, 19, 21, 255] {
        assert_eq!(
            decode_slice(&[0, 0, 0, 1, unknown], &limits),
            Err(WireError::UnknownId { id: unknown })
        );
    }
}

fn arb_block() -> impl Strategy<Value = BlockRef> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(p, o, l)| block(p, o, l))
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_message() -> impl Strategy<Value = Message> {
    let index = any::<u32>().prop_map(PieceIndex);
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        index.clone().prop_map(Message::Have),
        index.clone().prop_map(Message::Suggest),
        index.clone().prop_map(Message::AllowedFast),
        any::<u16>().prop_map(Message::Port),
        arb_block().prop_map(Message::Request),
        arb_block().prop_map(Message::Cancel),
        arb_block().prop_map(Message::Reject),
        arb_bytes(64).prop_map(Message::Bitfield),
        (index, any::<u32>(), arb_bytes(300)).prop_map(|(piece, offset, data)| Message::Piece {
            piece,
            offset,
            data
        }),
        (any::<u8>(), arb_bytes(300)).prop_map(|(id, payload)| Message::Extended { id, payload }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(msgs in proptest::collection::vec(arb_message(), 1..8)) {
        let limits = Limits::default();
        let mut out = BytesMut::new();
        for msg in &msgs {
            encode(msg, &mut out);
        }
        prop_assert_eq!(out.len(), msgs.iter().map(Message::encoded_len).sum::<usize>());
        let wire = out.to_vec();
        let mut at = 0;
        for msg in &msgs {
            let (got, used) = decode_slice(&wire[at..], &limits).unwrap().unwrap();
            prop_assert_eq!(&got, msg);
            at += used;
        }
        prop_assert_eq!(at, wire.len());
        for msg in &msgs {
            let got = decode(&mut out, &limits).unwrap();
            prop_assert_eq!(got.as_ref(), Some(msg));
        }
        prop_assert!(out.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let limits = Limits::for_pieces(40);
        let mut buf = BytesMut::from(&bytes[..]);
        for _ in 0..200 {
            match decode(&mut buf, &limits) {
                Ok(Some(msg)) => prop_assert!(msg.encoded_len() <= bytes.len()),
                Ok(None) | Err(_) => break,
            }
        }
        let _ = Handshake::decode(&bytes);
    }
}
