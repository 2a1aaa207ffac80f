use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use swarmgate_core::{BLOCK_SIZE, Geometry, InfoHashV1};
use swarmgate_peer::{PeerEvent, Reserved};

use super::peer::{MAX_BACKLOG, MAX_READS_IN_FLIGHT};
use super::*;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), port))
}

fn config() -> EngineConfig {
    let geometry = Geometry::new(4 * 32_768, 32_768).unwrap();
    let mut config = EngineConfig::new(InfoHashV1([7; 20]), PeerId::swarmgate([1; 12]), geometry);
    config.max_connecting = 2;
    config.max_peers = 3;
    config
}

/// Everything the engine has to say (commands and events alike), taken out of its queues.
fn drain(engine: &mut Engine) -> (Vec<EngineCommand>, Vec<EngineEvent>) {
    let commands = std::iter::from_fn(|| engine.poll_command()).collect();
    let events = std::iter::from_fn(|| engine.poll_event()).collect();
    (commands, events)
}

fn connects(engine: &mut Engine) -> Vec<(PeerKey, SocketAddr)> {
    drain(engine)
        .0
        .into_iter()
        .filter_map(|c| match c {
            EngineCommand::Connect { key, addr } => Some((key, addr)),
            _ => None,
        })
        .collect()
}

#[test]
fn dials_within_the_half_open_limit_and_retries_with_backoff() {
    let now = Instant::now();
    let mut engine = Engine::new(config(), Bitfield::new(4), now);
    engine.add_peers(now, [addr(1), addr(2), addr(3), addr(1)], Source::Tracker);
    let first = connects(&mut engine);
    assert_eq!(first.len(), 2, "two at a time");
    engine.handle_connect_failed(now, first[0].0);
    let second = connects(&mut engine);
    assert_eq!(second.len(), 1, "the third address fills the freed slot");
    assert_ne!(second[0].1, first[0].1);
    engine.handle_connect_failed(now, second[0].0);
    engine.handle_connect_failed(now, first[1].0);
    assert!(connects(&mut engine).is_empty(), "all failed once: wait");
    let retry = engine.poll_timeout().unwrap();
    assert!(retry > now && retry <= now + Duration::from_secs(15));
    engine.handle_timeout(now + Duration::from_secs(15));
    assert_eq!(connects(&mut engine).len(), 2);
}

#[test]
fn incoming_peers_for_another_torrent_or_beyond_the_limit_are_refused() {
    let now = Instant::now();
    let mut engine = Engine::new(config(), Bitfield::new(4), now);
    let handshake = |hash: [u8; 20], id: u8| Handshake {
        reserved: Reserved::SWARMGATE,
        info_hash: InfoHashV1(hash),
        peer_id: PeerId::swarmgate([id; 12]),
    };
    assert!(
        engine
            .handle_incoming(now, addr(9), handshake([8; 20], 2))
            .is_none()
    );
    for id in 2..5 {
        assert!(
            engine
                .handle_incoming(now, addr(u16::from(id)), handshake([7; 20], id))
                .is_some()
        );
    }
    assert!(
        engine
            .handle_incoming(now, addr(20), handshake([7; 20], 20))
            .is_none(),
        "max_peers is 3"
    );
}

/// A bare leecher session (peer id 9, from port 5) whose handshake `seeder` has taken in.
fn incoming_leecher(seeder: &mut Engine, now: Instant) -> (PeerKey, PeerSession) {
    let mut leecher_config = SessionConfig::new(InfoHashV1([7; 20]), PeerId::swarmgate([9; 12]));
    leecher_config.geometry = Some(Geometry::new(4 * 32_768, 32_768).unwrap());
    let mut leecher = PeerSession::new(leecher_config, Role::Initiator, now);
    let hello = leecher.poll_transmit().unwrap();
    let (theirs, used) = Handshake::decode(&hello).unwrap().unwrap();
    let key = seeder.handle_incoming(now, addr(5), theirs).unwrap();
    seeder.handle_peer_data(now, key, &hello[used..]);
    (key, leecher)
}

/// A seeding engine serves a block to a bare PeerSession, through a disk read.
#[test]
fn a_request_becomes_a_disk_read_and_then_a_block() {
    let now = Instant::now();
    let mut seeder = Engine::new(config(), Bitfield::full(4), now);
    let (key, mut leecher) = incoming_leecher(&mut seeder, now);

    let block = BlockRef {
        piece: PieceIndex(2),
        offset: BLOCK_SIZE,
        length: BLOCK_SIZE,
    };
    let mut requested = false;
    let mut served = None;
    for _ in 0..20 {
        while let Some((_, bytes)) = seeder.poll_transmit() {
            leecher.handle_bytes(now, &bytes).unwrap();
        }
        while let Some(command) = seeder.poll_command() {
            if let EngineCommand::ReadBlock { key, block } = command {
                seeder.handle_block_read(now, key, block, Bytes::from(vec![0xab; 16384]));
            }
        }
        while let Some(event) = leecher.poll_event() {
            match event {
                PeerEvent::PiecesKnown => leecher.set_interested(true),
                PeerEvent::Block { block, data } => served = Some((block, data)),
                _ => {}
            }
        }
        if !leecher.peer_choking() && !requested {
            leecher.request(now, block).unwrap();
            requested = true;
        }
        if let Some(bytes) = leecher.poll_transmit() {
            seeder.handle_peer_data(now, key, &bytes);
        }
        if served.is_some() {
            break;
        }
    }
    let (got, data) = served.expect("the block arrived");
    assert_eq!(got, block);
    assert!(data.iter().all(|&b| b == 0xab));
    assert_eq!(seeder.stats(now).uploaded, u64::from(BLOCK_SIZE));
}

fn fetches(engine: &mut Engine) -> Vec<(PeerKey, PieceIndex)> {
    drain(engine)
        .0
        .into_iter()
        .filter_map(|c| match c {
            EngineCommand::FetchPiece { key, piece } => Some((key, piece)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_web_seed_fetches_whole_pieces_one_at_a_time_until_complete() {
    let now = Instant::now();
    let mut engine = Engine::new(config(), Bitfield::new(4), now);
    let seed = engine.add_web_seed(now);
    let mut asked = fetches(&mut engine);
    let mut done = Vec::new();
    while let Some((key, piece)) = asked.pop() {
        assert!(asked.is_empty(), "one piece in flight per web seed");
        assert_eq!(key, seed);
        assert!(!done.contains(&piece), "never a piece twice");
        engine.handle_web_seed_piece(now, key, piece, Bytes::from(vec![0u8; 32_768]));
        let (commands, _) = drain(&mut engine);
        let writes = commands
            .iter()
            .filter(|c| matches!(c, EngineCommand::WriteBlock { .. }))
            .count();
        assert_eq!(writes, 2, "two 16 KiB blocks");
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, EngineCommand::VerifyPiece { .. }))
        );
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, EngineCommand::FetchPiece { .. })),
            "the next piece waits for this one's hash"
        );
        let passed = PieceCheck {
            passed: true,
            block_digests: None,
        };
        engine.handle_piece_checked(now, piece, passed);
        asked.extend(fetches(&mut engine));
        done.push(piece);
    }
    assert_eq!(done.len(), 4);
    assert!(engine.is_complete());
    assert_eq!(engine.stats(now).downloaded, 4 * 32_768);
}

#[test]
fn a_failing_or_lying_web_seed_rests_then_is_dropped() {
    let now = Instant::now();
    let mut engine = Engine::new(config(), Bitfield::new(4), now);
    let seed = engine.add_web_seed(now);
    let (key, piece) = fetches(&mut engine)[0];
    // A 503 with Retry-After: 30: nothing for 30 s, then the seed tries again.
    let wait = Duration::from_secs(30);
    engine.handle_web_seed_failed(
        now,
        key,
        piece,
        WebSeedFailure::Retry {
            retry_after: Some(wait),
        },
    );
    engine.handle_timeout(now + Duration::from_secs(29));
    assert!(fetches(&mut engine).is_empty(), "resting");
    assert!(engine.poll_timeout().is_some_and(|t| t <= now + wait));
    let later = now + wait;
    engine.handle_timeout(later);
    let (key, piece) = fetches(&mut engine)[0];
    assert_eq!(key, seed);
    // Without Retry-After it rests WEB_SEED_BACKOFF; the third failure in a row drops it.
    engine.handle_web_seed_failed(
        later,
        key,
        piece,
        WebSeedFailure::Retry { retry_after: None },
    );
    let again = later + WEB_SEED_BACKOFF;
    engine.handle_timeout(again);
    let (key, piece) = fetches(&mut engine)[0];
    engine.handle_web_seed_failed(
        again,
        key,
        piece,
        WebSeedFailure::Retry { retry_after: None },
    );
    engine.handle_timeout(again + Duration::from_secs(60));
    assert!(
        fetches(&mut engine).is_empty(),
        "given up after three failures"
    );
    assert_eq!(engine.web_seed_count(), 0);

    // A short body is a seed that cannot serve the torrent: dropped at once.
    let short = engine.add_web_seed(now);
    let (key, piece) = fetches(&mut engine)[0];
    assert_eq!(key, short);
    engine.handle_web_seed_piece(now, key, piece, Bytes::from(vec![0u8; 100]));
    assert_eq!(engine.web_seed_count(), 0);
    assert!(fetches(&mut engine).is_empty());

    let liar = engine.add_web_seed(now);
    assert_ne!(liar, seed);
    let (key, piece) = fetches(&mut engine)[0];
    engine.handle_web_seed_piece(now, key, piece, Bytes::from(vec![1u8; 32_768]));
    assert!(
        fetches(&mut engine).is_empty(),
        "nothing more before the hash"
    );
    let failed = PieceCheck {
        passed: false,
        block_digests: None,
    };
    engine.handle_piece_checked(now, piece, failed);
    assert_eq!(engine.web_seed_count(), 0, "the liar is dropped");
    assert!(fetches(&mut engine).is_empty(), "and gets nothing more");
    // A late answer from a dropped seed is ignored, not written.
    engine.handle_web_seed_piece(now, key, piece, Bytes::from(vec![1u8; 32_768]));
    let (commands, events) = drain(&mut engine);
    assert!(commands.is_empty() && events.is_empty());
    assert_eq!(engine.stats(now).hash_failures, 1);
}

/// A connection the driver dialled itself: our handshake goes first, the peer is served like any
/// other, it is refused beyond `max_peers` or twice, and once closed it is never redialled.
#[test]
fn a_dialled_peer_gets_our_handshake_first_and_is_never_redialled() {
    let now = Instant::now();
    let mut seeder = Engine::new(config(), Bitfield::full(4), now);
    let key = seeder
        .handle_dialled(now, addr(5), Source::Tracker)
        .expect("room for it");
    assert!(
        seeder
            .handle_dialled(now, addr(5), Source::Tracker)
            .is_none(),
        "already connected"
    );
    let (to, hello) = seeder.poll_transmit().expect("our handshake");
    assert_eq!(to, key);
    let (ours, _) = Handshake::decode(&hello).unwrap().unwrap();
    assert_eq!(ours.info_hash, InfoHashV1([7; 20]));

    // The leecher answers; our bitfield follows its handshake.
    let mut leecher_config = SessionConfig::new(InfoHashV1([7; 20]), PeerId::swarmgate([9; 12]));
    leecher_config.geometry = Some(Geometry::new(4 * 32_768, 32_768).unwrap());
    let mut leecher = PeerSession::accepted(leecher_config, ours, now);
    seeder.handle_peer_data(now, key, &leecher.poll_transmit().unwrap());
    while let Some((_, bytes)) = seeder.poll_transmit() {
        leecher.handle_bytes(now, &bytes).unwrap();
    }
    let events: Vec<PeerEvent> = std::iter::from_fn(|| leecher.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(e, PeerEvent::PiecesKnown)),
        "{events:?}"
    );
    assert!(leecher.peer_pieces().is_some_and(|p| p.is_full()));

    for port in 6..8 {
        assert!(
            seeder
                .handle_dialled(now, addr(port), Source::Tracker)
                .is_some()
        );
    }
    assert!(
        seeder
            .handle_dialled(now, addr(8), Source::Tracker)
            .is_none(),
        "max_peers is 3"
    );
    seeder.handle_peer_closed(now, key);
    assert_eq!(seeder.stats(now).peers, 2);
    // An hour on (the silent two time out meanwhile): nobody is dialled again.
    seeder.handle_timeout(now + Duration::from_secs(3600));
    let (commands, _) = drain(&mut seeder);
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, EngineCommand::Connect { .. })),
        "{commands:?}"
    );
}

/// Exchanges bytes between the engine and bare leecher sessions until both sides are quiet.
fn pump(engine: &mut Engine, leechers: &mut [(PeerKey, PeerSession)], now: Instant) {
    for _ in 0..10 {
        while let Some((key, bytes)) = engine.poll_transmit() {
            if let Some((_, leecher)) = leechers.iter_mut().find(|(k, _)| *k == key) {
                leecher.handle_bytes(now, &bytes).unwrap();
            }
        }
        for (key, leecher) in leechers.iter_mut() {
            while let Some(event) = leecher.poll_event() {
                if matches!(event, PeerEvent::PiecesKnown) {
                    leecher.set_interested(true);
                }
            }
            if let Some(bytes) = leecher.poll_transmit() {
                engine.handle_peer_data(now, *key, &bytes);
            }
        }
    }
}

/// A seed with more interested leechers than slots: when an unchoked one leaves, a waiting one
/// gets its slot at once, not at the next choking round.
#[test]
fn a_slot_freed_by_a_leaving_peer_goes_to_a_waiting_one_at_once() {
    let now = Instant::now();
    let mut config = config();
    config.unchoke_slots = 1;
    let mut seeder = Engine::new(config, Bitfield::full(4), now);
    let mut leechers = Vec::new();
    for id in 2..4 {
        let mut leecher_config =
            SessionConfig::new(InfoHashV1([7; 20]), PeerId::swarmgate([id; 12]));
        leecher_config.geometry = Some(Geometry::new(4 * 32_768, 32_768).unwrap());
        let mut leecher = PeerSession::new(leecher_config, Role::Initiator, now);
        let hello = leecher.poll_transmit().unwrap();
        let (theirs, used) = Handshake::decode(&hello).unwrap().unwrap();
        let key = seeder
            .handle_incoming(now, addr(u16::from(id)), theirs)
            .unwrap();
        seeder.handle_peer_data(now, key, &hello[used..]);
        leechers.push((key, leecher));
    }
    pump(&mut seeder, &mut leechers, now);
    let unchoked: Vec<bool> = leechers.iter().map(|(_, l)| !l.peer_choking()).collect();
    assert_eq!(unchoked, [true, false], "one slot, first come");

    let (gone, _) = leechers.remove(0);
    seeder.handle_peer_closed(now, gone);
    pump(&mut seeder, &mut leechers, now);
    assert!(!leechers[0].1.peer_choking(), "unchoked without a round");
}

/// `drive` goes round until the answers its io gives at once stop making output: each refused
/// dial frees a slot, and the engine dials the next candidate within the same call.
#[test]
fn drive_carries_out_what_answers_given_at_once_make() {
    struct Refuse(Vec<SocketAddr>);
    impl EngineIo for Refuse {
        fn transmit(&mut self, _: &mut Engine, _: Instant, key: PeerKey, _: Bytes) {
            panic!("no peer connected, yet bytes for {key:?}")
        }
        fn connect(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, addr: SocketAddr) {
            self.0.push(addr);
            engine.handle_connect_failed(now, key);
        }
        fn disconnect(&mut self, key: PeerKey, _: DisconnectReason) {
            panic!("nobody to disconnect, yet {key:?}")
        }
        fn write(&mut self, block: BlockRef, _: Bytes) {
            panic!("nothing to write, yet {block:?}")
        }
        fn verify(&mut self, _: &mut Engine, _: Instant, piece: PieceIndex, _: bool) {
            panic!("nothing to verify, yet {piece:?}")
        }
        fn read(&mut self, _: &mut Engine, _: Instant, key: PeerKey, block: BlockRef) {
            panic!("nothing to read, yet {block:?} for {key:?}")
        }
        fn fetch(&mut self, _: &mut Engine, _: Instant, key: PeerKey, piece: PieceIndex) {
            panic!("no web seed, yet {piece:?} from {key:?}")
        }
    }

    let now = Instant::now();
    let mut engine = Engine::new(config(), Bitfield::new(4), now);
    engine.add_peers(now, [addr(1), addr(2), addr(3)], Source::Tracker);
    let mut io = Refuse(Vec::new());
    drive(&mut engine, now, &mut io);
    let mut dialled = io.0.clone();
    dialled.sort_unstable();
    assert_eq!(
        dialled,
        [addr(1), addr(2), addr(3)],
        "two at a time, all in one call"
    );
    let (commands, _) = drain(&mut engine);
    assert!(commands.is_empty(), "{commands:?}");
}

/// A choked peer's requests waiting for a disk read are dropped with the session's queue: they
/// are not read, and a peer that requests again after each unchoke cannot grow the queue past
/// its `reqq`.
#[test]
fn choking_a_peer_drops_its_requests_waiting_for_a_read() {
    let mut now = Instant::now();
    let mut seeder = Engine::new(config(), Bitfield::full(4), now);
    let (key, leecher) = incoming_leecher(&mut seeder, now);
    let mut leechers = [(key, leecher)];
    pump(&mut seeder, &mut leechers, now);
    let leecher = &mut leechers[0].1;
    assert!(!leecher.peer_choking(), "unchoked");

    let blocks: Vec<BlockRef> = (0..4)
        .flat_map(|piece| {
            (0..2).map(move |i| BlockRef {
                piece: PieceIndex(piece),
                offset: i * BLOCK_SIZE,
                length: BLOCK_SIZE,
            })
        })
        .collect();
    for &block in &blocks {
        leecher.request(now, block).unwrap();
    }
    seeder.handle_peer_data(now, key, &leecher.poll_transmit().unwrap());
    let reads = |seeder: &mut Engine| -> Vec<BlockRef> {
        drain(seeder)
            .0
            .into_iter()
            .filter_map(|c| match c {
                EngineCommand::ReadBlock { block, .. } => Some(block),
                _ => None,
            })
            .collect()
    };
    let first = reads(&mut seeder);
    assert_eq!(first.len(), MAX_READS_IN_FLIGHT as usize, "reads in flight");

    // The peer loses interest; the next choking round chokes it.
    leecher.set_interested(false);
    seeder.handle_peer_data(now, key, &leecher.poll_transmit().unwrap());
    now += Duration::from_secs(11);
    seeder.handle_timeout(now);
    while let Some((_, bytes)) = seeder.poll_transmit() {
        leecher.handle_bytes(now, &bytes).unwrap();
    }
    assert!(leecher.peer_choking(), "choked by the round");

    for block in first {
        seeder.handle_block_read(now, key, block, Bytes::from(vec![0; 16_384]));
    }
    assert_eq!(reads(&mut seeder), [], "nothing read for a choked peer");
}

/// A peer that writes but never reads (here: requests while choked, each answered with a
/// reject) is dropped once more than `MAX_BACKLOG` of answers wait for its socket, so the
/// bytes the engine hands its driver for it stay bounded.
#[test]
fn a_peer_that_does_not_read_is_dropped_at_the_backlog_limit() {
    let now = Instant::now();
    let mut seeder = Engine::new(config(), Bitfield::full(4), now);
    let (key, mut leecher) = incoming_leecher(&mut seeder, now);
    while let Some((_, bytes)) = seeder.poll_transmit() {
        leecher.handle_bytes(now, &bytes).unwrap();
    }
    assert!(leecher.peer_choking(), "never interested, so choked");

    // From here on the peer reads nothing: its socket never reports a write.
    let block = BlockRef {
        piece: PieceIndex(0),
        offset: 0,
        length: BLOCK_SIZE,
    };
    let mut batch = bytes::BytesMut::new();
    for _ in 0..2_000 {
        swarmgate_peer::encode(&swarmgate_peer::Message::Request(block), &mut batch);
    }
    let mut handed = 0;
    let mut dropped = None;
    for _ in 0..400 {
        seeder.handle_peer_data(now, key, &batch);
        while let Some((_, bytes)) = seeder.poll_transmit() {
            handed += bytes.len();
        }
        dropped = drain(&mut seeder).0.into_iter().find_map(|c| match c {
            EngineCommand::Disconnect { key: k, reason } if k == key => Some(reason),
            _ => None,
        });
        if dropped.is_some() {
            break;
        }
    }
    let Some(DisconnectReason::Backlog { unsent }) = dropped else {
        panic!("not dropped for its backlog: {dropped:?} after {handed} bytes");
    };
    assert!(unsent > MAX_BACKLOG);
    // At most one batch's answers past the limit (2,000 rejects of 17 bytes).
    assert!(
        handed <= MAX_BACKLOG + 2 * 2_000 * 17,
        "{handed} bytes handed"
    );
    assert_eq!(seeder.stats(now).peers, 0);
}
