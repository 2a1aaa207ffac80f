//! Fuzzes swarmgate-peer: the message decoder with default limits (never panics; `decode` and
//! `decode_slice` agree; whatever decodes re-encodes to the very same bytes), and a responder
//! `PeerSession` fed the same bytes after a valid handshake, in chunks, answering what it asks
//! (never panics, whatever the peer sends).

#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use swarmgate_core::{Bitfield, Geometry, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::{
    Handshake, Limits, PeerEvent, PeerSession, Reserved, Role, SessionConfig, decode, decode_slice,
    encode,
};

fn codec(data: &[u8]) {
    let limits = Limits::default();
    let mut buf = BytesMut::from(data);
    let mut at = 0;
    loop {
        let zero_copy = decode(&mut buf, &limits);
        let sliced = decode_slice(&data[at..], &limits);
        match zero_copy {
            Ok(Some(msg)) => {
                let (same, used) = sliced.expect("agree").expect("agree");
                assert_eq!(msg, same);
                let mut out = BytesMut::new();
                encode(&msg, &mut out);
                assert_eq!(&out[..], &data[at..at + used]);
                assert_eq!(msg.encoded_len(), used);
                at += used;
            }
            Ok(None) => {
                assert_eq!(sliced, Ok(None));
                assert_eq!(buf.len(), data.len() - at);
                return;
            }
            Err(e) => {
                assert_eq!(sliced, Err(e));
                return;
            }
        }
    }
}

fn session(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunk, rest)) = rest.split_first() else {
        return;
    };
    let hash = InfoHashV1([5; 20]);
    let mut config = SessionConfig::new(hash, PeerId([1; 20]));
    let geometry = Geometry::new(1_000_000, 32_768).expect("valid");
    if flags & 1 != 0 {
        config.geometry = Some(geometry);
    }
    if flags & 2 != 0 {
        config.metadata = Some(Bytes::from(vec![b'x'; 20_000]));
    }
    config.reqq = 16;
    let mut now = Instant::now();
    let mut s = PeerSession::new(config, Role::Responder, now);
    if flags & 4 != 0 {
        let reserved = match flags >> 3 & 3 {
            0 => Reserved::NONE,
            1 => Reserved::NONE.with_extensions(),
            2 => Reserved::NONE.with_fast(),
            _ => Reserved::SWARMGATE,
        };
        let theirs = Handshake {
            reserved,
            info_hash: hash,
            peer_id: PeerId([2; 20]),
        };
        if s.handle_bytes(now, &theirs.encode()).is_err() {
            return;
        }
        if flags & 1 != 0 {
            s.send_bitfield(&Bitfield::full(geometry.piece_count()));
        }
        s.set_choking(false);
    }
    let step = usize::from(chunk % 64) + 1;
    for piece in rest.chunks(step) {
        now += Duration::from_secs(u64::from(piece[0] % 8));
        if s.handle_bytes(now, piece).is_err() || s.handle_timeout(now).is_err() {
            return;
        }
        while let Some(event) = s.poll_event() {
            match event {
                PeerEvent::Request(block) => {
                    let data = Bytes::from(vec![0; block.length as usize]);
                    // False when a cancel in the same chunk withdrew it.
                    let _ = s.send_block(block, data);
                }
                PeerEvent::PiecesKnown | PeerEvent::Unchoked => {
                    if let Some(block) = geometry.block(PieceIndex(u32::from(piece[0]) % 31), 0) {
                        let _ = s.request(now, block);
                    }
                }
                _ => {}
            }
        }
        let _ = s.poll_transmit();
        assert!(s.outstanding() <= s.max_outstanding());
        assert!(s.queued_requests() <= 16);
    }
}

fuzz_target!(|data: &[u8]| {
    codec(data);
    session(data);
});
