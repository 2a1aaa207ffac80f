//! Two sessions talking in memory: handshakes, piece state, choking, requests and timers.

use std::time::Duration;

use swarmgate_core::{Bitfield, BlockRef, PeerId, PieceIndex};
use swarmgate_peer::{
    Handshake, PeerError, PeerEvent, PeerSession, RequestError, Reserved, Role, Timeout,
    UT_METADATA_ID,
};

use crate::harness::{Pair, Side, config, data, geometry, with_reserved};

/// Both handshakes done, `b` has everything and has unchoked `a`, `a` is interested.
fn ready(reserved: Reserved) -> Pair {
    let g = Some(geometry());
    let mut pair = Pair::new(
        with_reserved(config(1, g), reserved),
        with_reserved(config(2, g), reserved),
    );
    assert!(pair.a.send_bitfield(&Bitfield::new(4)));
    assert!(pair.b.send_bitfield(&Bitfield::full(4)));
    pair.a.set_interested(true);
    pair.b.set_choking(false);
    pair.pump().unwrap();
    pair.take_a();
    pair.take_b();
    pair
}

fn block(piece: u32, index: u32) -> BlockRef {
    geometry().block(PieceIndex(piece), index).unwrap()
}

#[test]
fn handshake_as_initiator_and_responder() {
    let mut pair = Pair::new(config(1, None), config(2, None));
    assert!(pair.a.is_established() && pair.b.is_established());
    assert_eq!(pair.a.peer_id(), Some(PeerId([2; 20])));
    assert_eq!(pair.b.peer_id(), Some(PeerId([1; 20])));
    assert_eq!(pair.a.remote_reserved(), Some(Reserved::SWARMGATE));
    let a = pair.take_a();
    assert_eq!(
        a[0],
        PeerEvent::Handshake {
            peer_id: PeerId([2; 20]),
            reserved: Reserved::SWARMGATE
        }
    );
    assert!(a.contains(&PeerEvent::ExtendedHandshake));
    assert!(pair.take_b().contains(&PeerEvent::ExtendedHandshake));
}

#[test]
fn accepted_goes_on_as_if_the_handshake_had_arrived() {
    let now = std::time::Instant::now();
    let mut a = PeerSession::new(config(1, None), Role::Initiator, now);
    let first = a.poll_transmit().unwrap();
    let (theirs, used) = Handshake::decode(&first).unwrap().unwrap();
    let mut b = PeerSession::accepted(config(2, None), theirs, now);
    assert!(b.is_established());
    b.handle_bytes(now, &first[used..]).unwrap();
    a.handle_bytes(now, &b.poll_transmit().unwrap()).unwrap();
    assert!(a.is_established());
    assert_eq!(b.peer_id(), Some(PeerId([1; 20])));
    // a's extended handshake (sent once it saw b's handshake) reaches b.
    b.handle_bytes(now, &a.poll_transmit().unwrap()).unwrap();
    assert!(b.remote_extended().is_some() && a.remote_extended().is_some());
}

#[test]
fn extended_handshake_both_ways() {
    let mut seed = config(2, None);
    seed.metadata = Some(bytes::Bytes::from_static(b"d4:name1:xe"));
    seed.listen_port = Some(6881);
    seed.reqq = 123;
    let pair = Pair::new(config(1, None), seed);
    let theirs = pair.a.remote_extended().unwrap();
    assert_eq!(theirs.id("ut_metadata"), Some(UT_METADATA_ID));
    assert_eq!(theirs.metadata_size, Some(11));
    assert_eq!(theirs.listen_port, Some(6881));
    assert_eq!(theirs.reqq, Some(123));
    assert!(theirs.client.as_deref().unwrap().starts_with("Swarmgate"));
    assert_eq!(pair.a.max_outstanding(), 123);
    let ours = pair.b.remote_extended().unwrap();
    assert_eq!((ours.metadata_size, ours.reqq), (None, Some(500)));
    assert_eq!(pair.b.max_outstanding(), 500);
}

#[test]
fn no_extended_handshake_unless_both_set_the_bit() {
    let mut pair = Pair::new(
        with_reserved(config(1, None), Reserved::NONE),
        config(2, None),
    );
    assert!(pair.a.remote_extended().is_none() && pair.b.remote_extended().is_none());
    assert!(!pair.b.send_extended("ut_metadata", b"x"));
    assert_eq!(pair.b.max_outstanding(), 250);
    assert!(!pair.take_a().contains(&PeerEvent::ExtendedHandshake));
}

#[test]
fn have_all_with_fast_and_bitfield_without() {
    let g = Some(geometry());
    let mut pair = Pair::new(config(1, g), config(2, g));
    assert!(pair.b.send_bitfield(&Bitfield::full(4)));
    assert!(!pair.b.send_bitfield(&Bitfield::full(4)), "only once");
    pair.pump().unwrap();
    assert!(pair.take_a().contains(&PeerEvent::PiecesKnown));
    assert!(pair.a.is_seed());

    let plain = Reserved::NONE.with_extensions();
    let mut pair = Pair::new(with_reserved(config(1, g), plain), config(2, g));
    let mut some = Bitfield::new(4);
    some.set(PieceIndex(1));
    some.set(PieceIndex(3));
    assert!(!pair.b.send_bitfield(&Bitfield::new(5)), "wrong length");
    assert!(pair.b.send_bitfield(&some));
    pair.pump().unwrap();
    assert_eq!(pair.a.peer_pieces(), Some(&some));
    assert!(!pair.a.is_seed());
    pair.b.have(PieceIndex(0));
    pair.pump().unwrap();
    let events = pair.take_a();
    assert!(events.contains(&PeerEvent::Have(PieceIndex(0))));
    assert_eq!(pair.a.peer_pieces().unwrap().count(), 3);
}

#[test]
fn have_none_and_have_before_any_bitfield() {
    let g = Some(geometry());
    let mut pair = Pair::new(config(1, g), config(2, g));
    pair.b.send_bitfield(&Bitfield::new(4));
    pair.pump().unwrap();
    assert_eq!(pair.a.peer_pieces().map(Bitfield::count), Some(0));
    pair.b.have(PieceIndex(2));
    pair.pump().unwrap();
    assert!(pair.a.peer_pieces().unwrap().get(PieceIndex(2)));

    // A have with no bitfield at all (fast off): the set starts empty.
    let plain = Reserved::NONE;
    let mut pair = Pair::new(
        with_reserved(config(1, g), plain),
        with_reserved(config(2, g), plain),
    );
    pair.take_a();
    pair.b.have(PieceIndex(3));
    pair.pump().unwrap();
    assert_eq!(pair.take_a(), [PeerEvent::Have(PieceIndex(3))]);
}

#[test]
fn interest_and_unchoke_sent_only_on_change() {
    let g = Some(geometry());
    let mut pair = Pair::new(config(1, g), config(2, g));
    pair.take_a();
    pair.take_b();
    pair.a.set_interested(true);
    pair.pump().unwrap();
    assert_eq!(pair.take_b(), [PeerEvent::Interested]);
    assert!(pair.b.peer_interested() && pair.a.am_interested());
    pair.a.set_interested(true);
    assert!(pair.a.poll_transmit().is_none());
    pair.b.set_choking(false);
    pair.b.set_choking(false);
    pair.pump().unwrap();
    assert_eq!(pair.take_a(), [PeerEvent::Unchoked]);
    assert!(!pair.a.peer_choking() && !pair.b.am_choking());
    pair.a.set_interested(false);
    pair.pump().unwrap();
    assert_eq!(pair.take_b(), [PeerEvent::NotInterested]);
}

#[test]
fn request_serve_and_receive_a_block() {
    let mut pair = ready(Reserved::SWARMGATE);
    let wanted = block(3, 1); // the short last block: 20,000 - 16,384 bytes
    pair.a.request(pair.now, wanted).unwrap();
    assert_eq!(pair.a.outstanding(), 1);
    assert_eq!(pair.a.outstanding_blocks().collect::<Vec<_>>(), [wanted]);
    pair.pump().unwrap();
    assert_eq!(pair.take_b(), [PeerEvent::Request(wanted)]);
    assert_eq!(pair.b.queued_requests(), 1);
    assert!(!pair.b.send_block(wanted, data(10, 0)), "wrong length");
    assert!(pair.b.send_block(wanted, data(wanted.length, 7)));
    assert!(
        !pair.b.send_block(wanted, data(wanted.length, 7)),
        "served once"
    );
    pair.pump().unwrap();
    assert_eq!(
        pair.take_a(),
        [PeerEvent::Block {
            block: wanted,
            data: data(wanted.length, 7)
        }]
    );
    assert_eq!(pair.a.outstanding(), 0);
    assert_eq!(pair.a.downloaded_payload(), u64::from(wanted.length));
    assert_eq!(pair.b.uploaded_payload(), u64::from(wanted.length));
}

#[test]
fn requests_are_refused_before_they_reach_the_wire() {
    let g = Some(geometry());
    let mut fresh = Pair::new(config(1, g), config(2, g));
    let now = fresh.now;
    assert_eq!(fresh.a.request(now, block(0, 0)), Err(RequestError::Choked));
    let mut magnet = Pair::new(config(1, None), config(2, None));
    assert_eq!(
        magnet.a.request(now, block(0, 0)),
        Err(RequestError::NoGeometry)
    );
    let lone = PeerSession::new(config(1, g), Role::Initiator, now);
    let mut lone = lone;
    assert_eq!(
        lone.request(now, block(0, 0)),
        Err(RequestError::NotEstablished)
    );

    let mut pair = ready(Reserved::SWARMGATE);
    let outside = BlockRef {
        offset: 32_768 - 100,
        ..block(0, 1)
    };
    assert_eq!(
        pair.a.request(now, outside),
        Err(RequestError::InvalidBlock)
    );
    pair.a.request(now, block(0, 0)).unwrap();
    assert_eq!(
        pair.a.request(now, block(0, 0)),
        Err(RequestError::AlreadyOutstanding)
    );

    // A peer with only piece 1.
    let mut part = Pair::new(config(1, g), config(2, g));
    let mut one = Bitfield::new(4);
    one.set(PieceIndex(1));
    part.b.send_bitfield(&one);
    part.b.set_choking(false);
    part.pump().unwrap();
    assert_eq!(
        part.a.request(now, block(0, 0)),
        Err(RequestError::PeerLacksPiece)
    );
    part.a.request(now, block(1, 0)).unwrap();
}

#[test]
fn queue_full_at_the_peers_reqq() {
    let g = Some(geometry());
    let mut b = config(2, g);
    b.reqq = 2;
    let mut pair = Pair::new(config(1, g), b);
    pair.b.send_bitfield(&Bitfield::full(4));
    pair.b.set_choking(false);
    pair.pump().unwrap();
    assert_eq!(pair.a.max_outstanding(), 2);
    pair.a.request(pair.now, block(0, 0)).unwrap();
    pair.a.request(pair.now, block(0, 1)).unwrap();
    assert_eq!(
        pair.a.request(pair.now, block(1, 0)),
        Err(RequestError::QueueFull { max: 2 })
    );
}

#[test]
fn choke_without_fast_hands_requests_back() {
    let mut pair = ready(Reserved::NONE.with_extensions());
    let (x, y) = (block(0, 0), block(0, 1));
    pair.a.request(pair.now, x).unwrap();
    pair.a.request(pair.now, y).unwrap();
    pair.pump().unwrap();
    assert_eq!(pair.b.queued_requests(), 2);
    pair.b.set_choking(true);
    assert_eq!(pair.b.queued_requests(), 0);
    assert!(!pair.b.send_block(x, data(x.length, 1)));
    pair.pump().unwrap();
    assert_eq!(
        pair.take_a(),
        [PeerEvent::Choked {
            dropped: vec![x, y]
        }]
    );
    assert_eq!(pair.a.outstanding(), 0);
}

#[test]
fn choke_with_fast_rejects_each_request() {
    let mut pair = ready(Reserved::SWARMGATE);
    let (x, y) = (block(0, 0), block(0, 1));
    pair.a.request(pair.now, x).unwrap();
    pair.a.request(pair.now, y).unwrap();
    pair.pump().unwrap();
    pair.b.set_choking(true);
    pair.pump().unwrap();
    assert_eq!(
        pair.take_a(),
        [
            PeerEvent::Choked { dropped: vec![] },
            PeerEvent::Rejected(x),
            PeerEvent::Rejected(y)
        ]
    );
    assert_eq!(pair.a.outstanding(), 0);
}

#[test]
fn allowed_fast_requests_while_choked() {
    let g = Some(geometry());
    let mut pair = Pair::new(config(1, g), config(2, g));
    pair.b.send_bitfield(&Bitfield::full(4));
    pair.pump().unwrap();
    // b's session never sends allowed-fast itself; inject one as b would.
    let mut out = bytes::BytesMut::new();
    swarmgate_peer::encode(
        &swarmgate_peer::Message::AllowedFast(PieceIndex(2)),
        &mut out,
    );
    pair.a.handle_bytes(pair.now, &out).unwrap();
    assert_eq!(pair.a.allowed_fast(), [PieceIndex(2)]);
    assert!(pair.a.peer_choking());
    pair.a.request(pair.now, block(2, 0)).unwrap();
    assert_eq!(
        pair.a.request(pair.now, block(1, 0)),
        Err(RequestError::Choked)
    );
}

#[test]
fn cancel_withdraws_a_request() {
    let mut pair = ready(Reserved::SWARMGATE);
    let x = block(1, 0);
    pair.a.request(pair.now, x).unwrap();
    pair.pump().unwrap();
    assert!(pair.a.cancel(x));
    assert!(!pair.a.cancel(x));
    assert_eq!(pair.a.outstanding(), 0);
    pair.pump().unwrap();
    assert_eq!(
        pair.take_b(),
        [PeerEvent::Request(x), PeerEvent::Cancelled(x)]
    );
    assert!(!pair.b.send_block(x, data(x.length, 1)));
    // The fast extension answers the cancel with a reject, which a ignores quietly.
    assert!(pair.take_a().is_empty());
}

#[test]
fn reject_refuses_a_queued_request() {
    let mut pair = ready(Reserved::SWARMGATE);
    let x = block(2, 1);
    pair.a.request(pair.now, x).unwrap();
    pair.pump().unwrap();
    assert!(pair.b.reject(x));
    assert!(!pair.b.reject(x));
    pair.pump().unwrap();
    assert_eq!(pair.take_a(), [PeerEvent::Rejected(x)]);
    assert_eq!(pair.a.outstanding(), 0);
}

#[test]
fn keep_alive_after_the_interval() {
    let mut pair = ready(Reserved::SWARMGATE);
    let due = pair.a.poll_timeout().unwrap();
    assert_eq!(due, pair.now + Duration::from_secs(90));
    pair.now += Duration::from_secs(89);
    pair.a.handle_timeout(pair.now).unwrap();
    assert!(pair.a.poll_transmit().is_none());
    pair.now += Duration::from_secs(1);
    pair.a.handle_timeout(pair.now).unwrap();
    let ping = pair.a.poll_transmit().unwrap();
    assert_eq!(&ping[..], &[0u8, 0, 0, 0][..]);
    pair.b.handle_bytes(pair.now, &ping).unwrap();
    // b's own keep-alive is due too.
    pair.advance(Duration::ZERO).unwrap();
    // Keep-alives on both sides keep both sessions alive indefinitely.
    for _ in 0..10 {
        pair.advance(Duration::from_secs(90)).unwrap();
    }
}

#[test]
fn unanswered_requests_time_out() {
    let mut pair = ready(Reserved::SWARMGATE);
    let (x, y) = (block(0, 0), block(0, 1));
    pair.a.request(pair.now, x).unwrap();
    pair.a.request(pair.now, y).unwrap();
    pair.pump().unwrap();
    assert_eq!(
        pair.a.poll_timeout(),
        Some(pair.now + Duration::from_secs(30))
    );
    pair.advance(Duration::from_secs(29)).unwrap();
    assert!(pair.take_a().is_empty());
    pair.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(
        pair.take_a(),
        [PeerEvent::RequestsTimedOut { blocks: vec![x, y] }]
    );
    assert_eq!(pair.a.outstanding(), 0);
}

#[test]
fn idle_timeout() {
    let mut pair = ready(Reserved::SWARMGATE);
    let start = pair.now;
    // a's keep-alives reach b but b says nothing back.
    pair.now = start + Duration::from_secs(90);
    pair.a.handle_timeout(pair.now).unwrap();
    let ping = pair.a.poll_transmit().unwrap();
    pair.b.handle_bytes(pair.now, &ping).unwrap();
    let err = pair.a.handle_timeout(start + Duration::from_secs(180));
    assert!(matches!(
        err,
        Err(PeerError::TimedOut {
            what: Timeout::Idle
        })
    ));
    // b heard from a at 90 s: not idle yet at 180 s.
    pair.b
        .handle_timeout(start + Duration::from_secs(180))
        .unwrap();
}

#[test]
fn handshake_timeout() {
    let now = std::time::Instant::now();
    let mut lone = PeerSession::new(config(1, None), Role::Initiator, now);
    assert_eq!(lone.poll_timeout(), Some(now + Duration::from_secs(20)));
    lone.handle_timeout(now + Duration::from_secs(19)).unwrap();
    assert!(matches!(
        lone.handle_timeout(now + Duration::from_secs(20)),
        Err(PeerError::TimedOut {
            what: Timeout::Handshake
        })
    ));
    // Half a handshake does not stop the clock.
    let mut slow = PeerSession::new(config(2, None), Role::Responder, now);
    slow.handle_bytes(now, b"\x13BitTorrent").unwrap();
    assert!(slow.handle_timeout(now + Duration::from_secs(20)).is_err());
}

#[test]
fn unrequested_blocks_are_dropped_and_counted() {
    let mut pair = ready(Reserved::SWARMGATE);
    let x = block(0, 0);
    let mut out = bytes::BytesMut::new();
    swarmgate_peer::encode(
        &swarmgate_peer::Message::Piece {
            piece: x.piece,
            offset: x.offset,
            data: data(x.length, 3),
        },
        &mut out,
    );
    pair.a.handle_bytes(pair.now, &out).unwrap();
    assert!(pair.a.poll_event().is_none());
    assert_eq!(pair.a.unrequested_payload(), u64::from(x.length));
    assert_eq!(pair.a.downloaded_payload(), 0);
}

#[test]
fn a_failed_side_is_reported() {
    // Same peer id on both sides: each sees itself.
    let now = std::time::Instant::now();
    let mut a = PeerSession::new(config(1, None), Role::Initiator, now);
    let mut b = PeerSession::new(config(1, None), Role::Responder, now);
    let err = b
        .handle_bytes(now, &a.poll_transmit().unwrap())
        .unwrap_err();
    assert!(matches!(
        err,
        PeerError::Handshake(swarmgate_peer::HandshakeError::SelfConnection)
    ));
    let _ = Side::A(err);
    assert!(a.poll_event().is_none());
}
