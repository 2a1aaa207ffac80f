//! Hostile and broken peers: every case is an error (drop the peer) or a quiet refusal, never a
//! panic and never a state change the peer was not entitled to.

use bytes::Bytes;
use swarmgate_core::{BitfieldError, BlockRef, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::{
    Handshake, HandshakeError, Message, PeerError, PeerEvent, PeerSession, ProtocolError, Reserved,
    Role, WireError,
};

use crate::harness::{HASH, Scripted, config, data, geometry};

fn seeder(reserved: Reserved) -> Scripted {
    let mut s = Scripted::new(config(2, Some(geometry())), reserved);
    s.session.set_choking(false);
    s.transmitted();
    s
}

fn protocol(result: Result<(), PeerError>) -> ProtocolError {
    match result {
        Err(PeerError::Protocol(e)) => e,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

fn req(piece: u32, offset: u32, length: u32) -> BlockRef {
    BlockRef {
        piece: PieceIndex(piece),
        offset,
        length,
    }
}

#[test]
fn bitfield_with_spare_bits() {
    let mut s = seeder(Reserved::SWARMGATE);
    let err = protocol(s.send(&[Message::Bitfield(Bytes::from_static(&[0xf8]))]));
    assert_eq!(
        err,
        ProtocolError::InvalidBitfield(BitfieldError::SpareBits { pieces: 4 })
    );
}

#[test]
fn bitfield_of_the_wrong_length() {
    let mut s = seeder(Reserved::SWARMGATE);
    let empty = protocol(s.send(&[Message::Bitfield(Bytes::new())]));
    assert!(matches!(
        empty,
        ProtocolError::InvalidBitfield(BitfieldError::Length { .. })
    ));
    let mut s = seeder(Reserved::SWARMGATE);
    assert!(matches!(
        s.send(&[Message::Bitfield(Bytes::from_static(&[0xf0, 0]))]),
        Err(PeerError::Wire(WireError::PayloadTooLarge { .. }))
    ));
}

#[test]
fn a_late_bitfield_adds_haves_and_a_late_have_none_takes_nothing_away() {
    // aria2 1.36 sends have-none, then a bitfield once it holds a piece: taken as haves.
    let mut s = seeder(Reserved::SWARMGATE);
    s.send(&[Message::HaveNone, Message::Have(PieceIndex(1))])
        .unwrap();
    s.send(&[Message::Bitfield(Bytes::from_static(&[0xc0]))])
        .unwrap();
    let pieces = s.session.peer_pieces().unwrap();
    assert!(pieces.get(PieceIndex(0)) && pieces.get(PieceIndex(1)));
    assert_eq!(pieces.count(), 2);
    s.send(&[Message::HaveNone]).unwrap();
    assert_eq!(s.session.peer_pieces().unwrap().count(), 2);
    s.send(&[Message::HaveAll]).unwrap();
    assert!(s.session.peer_pieces().unwrap().is_full());
    // A late bitfield with spare bits set is still an error.
    let err = protocol(s.send(&[Message::Bitfield(Bytes::from_static(&[0xf8]))]));
    assert!(matches!(err, ProtocolError::InvalidBitfield(_)), "{err:?}");
    // Interest and keep-alives before the bitfield are fine.
    let mut s = seeder(Reserved::SWARMGATE);
    s.send(&[
        Message::KeepAlive,
        Message::Interested,
        Message::Bitfield(Bytes::from_static(&[0xa0])),
    ])
    .unwrap();
}

#[test]
fn have_and_friends_out_of_range() {
    for msg in [
        Message::Have(PieceIndex(4)),
        Message::Suggest(PieceIndex(4)),
        Message::AllowedFast(PieceIndex(u32::MAX)),
        Message::Request(req(4, 0, 16_384)),
    ] {
        let mut s = seeder(Reserved::SWARMGATE);
        assert!(
            matches!(
                protocol(s.send(std::slice::from_ref(&msg))),
                ProtocolError::PieceOutOfRange { count: 4, .. }
            ),
            "{msg:?}"
        );
    }
}

#[test]
fn requests_outside_the_geometry_or_too_large() {
    for bad in [
        req(0, 32_768, 1),      // past the end of the piece
        req(3, 16_384, 16_384), // past the end of the short last piece
        req(0, 0, 0),           // empty
        req(0, u32::MAX, 2),    // overflowing
    ] {
        let mut s = seeder(Reserved::SWARMGATE);
        assert_eq!(
            protocol(s.send(&[Message::Request(bad)])),
            ProtocolError::InvalidRequest(bad)
        );
    }
    // Larger than 16 KiB: an error without the fast extension...
    let big = req(0, 0, 32_768);
    let mut s = seeder(Reserved::NONE);
    assert_eq!(
        protocol(s.send(&[Message::Request(big)])),
        ProtocolError::InvalidRequest(big)
    );
    // ...and a reject with it.
    let mut s = seeder(Reserved::SWARMGATE);
    s.send(&[Message::Request(big)]).unwrap();
    assert_eq!(s.transmitted(), [Message::Reject(big)]);
    assert!(s.events().is_empty());
    // Unaligned but inside the piece: served.
    let odd = req(1, 100, 1000);
    s.send(&[Message::Request(odd)]).unwrap();
    assert_eq!(s.events(), [PeerEvent::Request(odd)]);
}

#[test]
fn requests_while_choked_are_refused_not_fatal() {
    let mut s = Scripted::new(config(2, Some(geometry())), Reserved::SWARMGATE);
    s.send(&[Message::Request(req(0, 0, 16_384))]).unwrap();
    assert_eq!(s.transmitted(), [Message::Reject(req(0, 0, 16_384))]);
    let mut s = Scripted::new(config(2, Some(geometry())), Reserved::NONE);
    s.send(&[Message::Request(req(0, 0, 16_384))]).unwrap();
    assert!(s.transmitted().is_empty() && s.events().is_empty());
    assert_eq!(s.session.queued_requests(), 0);
}

#[test]
fn request_flood_beyond_our_reqq() {
    let mut cfg = config(2, Some(geometry()));
    cfg.reqq = 4;
    let mut s = Scripted::new(cfg, Reserved::SWARMGATE);
    s.session.set_choking(false);
    let flood: Vec<Message> = (0..4)
        .map(|p| Message::Request(req(p, 0, 16_384)))
        .collect();
    s.send(&flood).unwrap();
    // A duplicate is not a new request.
    s.send(&[Message::Request(req(0, 0, 16_384))]).unwrap();
    assert_eq!(s.session.queued_requests(), 4);
    assert_eq!(
        protocol(s.send(&[Message::Request(req(0, 16_384, 16_384))])),
        ProtocolError::RequestFlood { limit: 4 }
    );
}

#[test]
fn unrequested_piece_is_dropped_and_counted() {
    let mut s = seeder(Reserved::SWARMGATE);
    s.send(&[Message::Piece {
        piece: PieceIndex(0),
        offset: 0,
        data: data(100, 1),
    }])
    .unwrap();
    assert!(s.events().is_empty());
    assert_eq!(s.session.unrequested_payload(), 100);
}

#[test]
fn fast_messages_without_the_fast_bit() {
    for msg in [
        Message::HaveAll,
        Message::HaveNone,
        Message::Suggest(PieceIndex(0)),
        Message::Reject(req(0, 0, 16_384)),
        Message::AllowedFast(PieceIndex(0)),
    ] {
        let mut s = seeder(Reserved::NONE.with_extensions());
        assert!(
            matches!(
                protocol(s.send(std::slice::from_ref(&msg))),
                ProtocolError::FastNotNegotiated { .. }
            ),
            "{msg:?}"
        );
    }
}

#[test]
fn oversized_metadata_piece() {
    let mut s = seeder(Reserved::SWARMGATE);
    let mut payload = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    payload.extend_from_slice(&[0; 16_385]);
    let err = protocol(s.send(&[Message::Extended {
        id: swarmgate_peer::UT_METADATA_ID,
        payload: Bytes::from(payload),
    }]));
    assert!(matches!(err, ProtocolError::Metadata(_)));
}

#[test]
fn garbage_extended_handshake() {
    let mut s = seeder(Reserved::SWARMGATE);
    let err = protocol(s.send(&[Message::Extended {
        id: 0,
        payload: Bytes::from_static(b"i1e"),
    }]));
    assert!(matches!(err, ProtocolError::ExtendedHandshake(_)));
}

#[test]
fn magnet_sessions_tolerate_and_ignore_piece_state() {
    let mut s = Scripted::new(config(2, None), Reserved::SWARMGATE);
    s.send(&[
        Message::Bitfield(Bytes::from_static(&[0xff; 40])),
        Message::Have(PieceIndex(1_000_000)),
        Message::AllowedFast(PieceIndex(5)),
    ])
    .unwrap();
    assert!(s.session.peer_pieces().is_none());
    assert!(s.events().is_empty());
    // Requests are refused (rejected, with the fast extension).
    s.send(&[Message::Request(req(0, 0, 16_384))]).unwrap();
    assert_eq!(s.transmitted(), [Message::Reject(req(0, 0, 16_384))]);
}

fn handshake(info_hash: InfoHashV1, peer_id: PeerId) -> [u8; 68] {
    Handshake {
        reserved: Reserved::SWARMGATE,
        info_hash,
        peer_id,
    }
    .encode()
}

#[test]
fn wrong_info_hash() {
    let now = std::time::Instant::now();
    let other = InfoHashV1([0x22; 20]);
    let mut responder = PeerSession::new(config(2, None), Role::Responder, now);
    let err = responder.handle_bytes(now, &handshake(other, PeerId([5; 20])));
    assert!(matches!(
        err,
        Err(PeerError::Handshake(
            HandshakeError::InfoHashMismatch { .. }
        ))
    ));
    assert!(responder.poll_transmit().is_none(), "never answered");

    let mut initiator = PeerSession::new(config(1, None), Role::Initiator, now);
    assert!(
        initiator
            .handle_bytes(now, &handshake(other, PeerId([5; 20])))
            .is_err()
    );
    assert!(!initiator.is_established());
}

#[test]
fn connecting_to_ourselves() {
    let now = std::time::Instant::now();
    let mut s = PeerSession::new(config(1, None), Role::Initiator, now);
    let err = s.handle_bytes(now, &handshake(HASH, PeerId([1; 20])));
    assert!(matches!(
        err,
        Err(PeerError::Handshake(HandshakeError::SelfConnection))
    ));
    // A listener that routed our own handshake back to us.
    let ours = Handshake::decode(&handshake(HASH, PeerId([1; 20])))
        .unwrap()
        .unwrap()
        .0;
    let mut accepted = PeerSession::accepted(config(1, None), ours, now);
    assert!(!accepted.is_established());
    assert_eq!(accepted.poll_timeout(), Some(now));
    assert!(matches!(
        accepted.handle_timeout(now),
        Err(PeerError::Handshake(HandshakeError::SelfConnection))
    ));
    assert!(accepted.handle_bytes(now, &[0, 0, 0, 0]).is_err());
}

#[test]
fn not_bittorrent_at_all() {
    let now = std::time::Instant::now();
    let mut s = PeerSession::new(config(1, None), Role::Responder, now);
    assert!(matches!(
        s.handle_bytes(now, b"GET / HTTP/1.1\r\n"),
        Err(PeerError::Handshake(HandshakeError::ProtocolLength {
            found: b'G'
        }))
    ));
}

#[test]
fn hostile_length_prefix_after_the_handshake() {
    let mut s = seeder(Reserved::SWARMGATE);
    assert!(matches!(
        s.session.handle_bytes(s.now, &[0xff, 0xff, 0xff, 0xff]),
        Err(PeerError::Wire(WireError::FrameTooLarge { .. }))
    ));
}

#[test]
fn metadata_requests_without_reading_cannot_grow_our_buffer() {
    let mut cfg = config(2, None);
    cfg.metadata = Some(data(20_000, b'x'));
    let mut s = Scripted::new(cfg, Reserved::SWARMGATE);
    s.send(&[Message::Extended {
        id: 0,
        payload: Bytes::from_static(b"d1:md11:ut_metadatai7eee"),
    }])
    .unwrap();
    let request = Bytes::from(swarmgate_peer::MetadataMessage::Request { piece: 0 }.encode());
    let flood: Vec<Message> = (0..200)
        .map(|_| Message::Extended {
            id: swarmgate_peer::UT_METADATA_ID,
            payload: request.clone(),
        })
        .collect();
    s.send(&flood).unwrap();
    // 200 answers of 16 KiB would be 3.2 MiB; past 1 MiB the session rejects instead.
    let buffered = s.session.send_buffered();
    assert!(buffered < (1 << 20) + 17_000 + 200 * 64, "{buffered}");
    let sent = s.transmitted();
    assert!(
        sent.len() == 200
            && sent
                .iter()
                .all(|m| matches!(m, Message::Extended { id: 7, .. }))
    );
}
