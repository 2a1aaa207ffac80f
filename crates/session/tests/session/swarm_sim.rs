//! The engine in a simulated swarm: rarest first, endgame, a liar banned, a peer that vanishes.

use std::time::Duration;

use swarmgate_core::{Bitfield, PieceIndex};
use swarmgate_session::{EngineEvent, EngineStats};
use swarmgate_testkit::{RunOutcome, SimNet, TorrentFixture};

use crate::sim::{Role, Swarm};

const PIECES: u32 = 64;
const PIECE_LENGTH: u64 = 128 * 1024;

fn fixture(seed: u64) -> swarmgate_testkit::Fixture {
    TorrentFixture::new(seed)
        .piece_length(PIECE_LENGTH)
        .file("data.bin", u64::from(PIECES) * PIECE_LENGTH - 5000)
        .build()
}

fn pieces(list: impl IntoIterator<Item = u32>) -> Bitfield {
    let mut field = Bitfield::new(PIECES);
    for p in list {
        field.set(PieceIndex(p));
    }
    field
}

fn leecher_stats(swarm: &mut Swarm, net: &SimNet) -> EngineStats {
    swarm.nodes[0].engine.stats(net.now())
}

fn run(swarm: &mut Swarm, net: &mut SimNet, limit: Duration) -> RunOutcome {
    let deadline = net.now() + limit;
    net.drive(deadline, swarm)
        .expect("within the step limit")
        .outcome
}

/// 20 peers with different rates and different pieces: two hold everything, and the rest hold
/// only the "common" pieces, so the 8 "rare" pieces are on 2 peers and the others on all 20.
#[test]
fn twenty_peers_rarest_first_and_endgame() {
    let fixture = fixture(1);
    let data = fixture.data.clone();
    let mut net = SimNet::new(7);
    let mut swarm = Swarm::new(fixture);
    let leecher = swarm.add(
        &mut net,
        (8_000_000, Duration::from_millis(10)),
        Role::Leecher,
        Bitfield::new(PIECES),
    );
    let rare: Vec<u32> = (0..PIECES).filter(|p| p % 8 == 3).collect();
    // The two seeds are added last: the leecher dials in address order, so by the time it meets
    // them it knows what the others have, and the rare pieces are measurably rare.
    for i in 0..20u64 {
        let have = if i >= 18 {
            Bitfield::full(PIECES)
        } else {
            pieces((0..PIECES).filter(|p| !rare.contains(p)))
        };
        // From 50 KB/s to about 1 MB/s, 5 to 100 ms away.
        let rate = 50_000 + i * 50_000;
        let node = swarm.add(
            &mut net,
            (rate, Duration::from_millis(5 + i * 5)),
            Role::Uploader,
            have,
        );
        swarm.introduce(&mut net, leecher, node);
    }

    assert_eq!(
        run(&mut swarm, &mut net, Duration::from_secs(120)),
        RunOutcome::Done
    );
    assert_eq!(
        swarm.nodes[leecher].data, data,
        "every byte as in the torrent"
    );

    // Rarest first: a seed is asked for every rare piece before it is asked for a common one.
    let started: Vec<(u32, u64, u32)> = swarm.nodes[leecher]
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            EngineEvent::PieceStarted {
                piece,
                peer,
                availability,
            } => Some((piece.0, peer.0, *availability)),
            _ => None,
        })
        .collect();
    assert_eq!(
        started.len(),
        PIECES as usize,
        "each piece started once: {started:?}"
    );
    let seeds: Vec<u64> = started
        .iter()
        .filter(|s| rare.contains(&s.0))
        .map(|s| s.1)
        .collect();
    let from_seeds: Vec<u32> = started
        .iter()
        .filter(|s| seeds.contains(&s.1))
        .map(|s| s.0)
        .collect();
    let first_common = from_seeds
        .iter()
        .position(|p| !rare.contains(p))
        .unwrap_or(from_seeds.len());
    assert_eq!(
        first_common,
        rare.len(),
        "the seeds were asked for {from_seeds:?}; the rare pieces are {rare:?}"
    );
    for &(piece, _, availability) in &started {
        if rare.contains(&piece) {
            assert!(
                availability <= 2,
                "rare piece {piece} seen on {availability} peers"
            );
        }
    }

    // Endgame: it began only once every piece was started, and duplicates were cancelled.
    let log = &swarm.nodes[leecher].log;
    let endgame_at = log
        .iter()
        .position(|(_, e)| matches!(e, EngineEvent::EndgameStarted))
        .expect("endgame happened");
    let started_before = log[..endgame_at]
        .iter()
        .filter(|(_, e)| matches!(e, EngineEvent::PieceStarted { .. }))
        .count();
    assert_eq!(started_before, PIECES as usize);
    let verified_before = log[..endgame_at]
        .iter()
        .filter(|(_, e)| matches!(e, EngineEvent::PieceVerified(_)))
        .count();
    assert!(
        verified_before > 0,
        "endgame from the first request is no endgame"
    );
    let stats = leecher_stats(&mut swarm, &net);
    assert!(stats.cancels_sent > 0, "{stats:?}");
    assert!(stats.wasted < stats.downloaded / 10, "{stats:?}");
    assert_eq!(stats.hash_failures, 0);
    assert!(stats.peers_used >= 10, "{stats:?}");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run_once = || {
        let mut net = SimNet::new(3);
        let mut swarm = Swarm::new(fixture(2));
        let leecher = swarm.add(
            &mut net,
            (4_000_000, Duration::from_millis(10)),
            Role::Leecher,
            Bitfield::new(PIECES),
        );
        for i in 0..5u64 {
            let node = swarm.add(
                &mut net,
                (200_000 * (i + 1), Duration::from_millis(20)),
                Role::Uploader,
                pieces((0..PIECES).filter(|p| u64::from(*p) % 5 != i)),
            );
            swarm.introduce(&mut net, leecher, node);
        }
        assert_eq!(
            run(&mut swarm, &mut net, Duration::from_secs(60)),
            RunOutcome::Done
        );
        let order: Vec<u32> = swarm.nodes[leecher]
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                EngineEvent::PieceVerified(p) => Some(p.0),
                _ => None,
            })
            .collect();
        (order, net.elapsed())
    };
    assert_eq!(run_once(), run_once());
}

#[test]
fn a_peer_sending_corrupt_blocks_is_banned_and_the_download_completes() {
    let fixture = fixture(3);
    let data = fixture.data.clone();
    let mut net = SimNet::new(11);
    let mut swarm = Swarm::new(fixture);
    let leecher = swarm.add(
        &mut net,
        (4_000_000, Duration::from_millis(10)),
        Role::Leecher,
        Bitfield::new(PIECES),
    );
    let liar = swarm.add(
        &mut net,
        (2_000_000, Duration::from_millis(5)),
        Role::Corrupter,
        Bitfield::full(PIECES),
    );
    let honest = swarm.add(
        &mut net,
        (500_000, Duration::from_millis(20)),
        Role::Uploader,
        Bitfield::full(PIECES),
    );
    swarm.introduce(&mut net, leecher, liar);
    swarm.introduce(&mut net, leecher, honest);

    assert_eq!(
        run(&mut swarm, &mut net, Duration::from_secs(120)),
        RunOutcome::Done
    );
    assert_eq!(swarm.nodes[leecher].data, data);
    let stats = leecher_stats(&mut swarm, &net);
    assert!(stats.hash_failures >= 1, "{stats:?}");
    assert_eq!(stats.banned, 1, "{stats:?}");
    let liar_addr = net.addr(swarm.nodes[liar].id).unwrap();
    let banned: Vec<_> = swarm.nodes[leecher]
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            EngineEvent::Banned(addr) => Some(*addr),
            _ => None,
        })
        .collect();
    assert_eq!(banned, [liar_addr], "the liar, and only the liar");
}

#[test]
fn a_peer_that_vanishes_mid_piece_has_its_requests_given_to_others() {
    let fixture = fixture(4);
    let data = fixture.data.clone();
    let mut net = SimNet::new(5);
    let mut swarm = Swarm::new(fixture);
    let leecher = swarm.add(
        &mut net,
        (4_000_000, Duration::from_millis(10)),
        Role::Leecher,
        Bitfield::new(PIECES),
    );
    let vanishing = swarm.add(
        &mut net,
        (1_000_000, Duration::from_millis(5)),
        Role::Uploader,
        Bitfield::full(PIECES),
    );
    let staying = swarm.add(
        &mut net,
        (300_000, Duration::from_millis(20)),
        Role::Uploader,
        Bitfield::full(PIECES),
    );
    swarm.introduce(&mut net, leecher, vanishing);
    swarm.introduce(&mut net, leecher, staying);

    // Run until a third of the torrent is in, then pull the plug on the fast peer.
    assert_eq!(
        run(&mut swarm, &mut net, Duration::from_secs(1)),
        RunOutcome::Deadline
    );
    let before = leecher_stats(&mut swarm, &net);
    assert!(
        before.pieces_have > 0 && before.pieces_have < PIECES,
        "{before:?}"
    );
    net.kill(swarm.nodes[vanishing].id).unwrap();

    assert_eq!(
        run(&mut swarm, &mut net, Duration::from_secs(120)),
        RunOutcome::Done
    );
    assert_eq!(swarm.nodes[leecher].data, data);
    let after = leecher_stats(&mut swarm, &net);
    assert_eq!(after.hash_failures, 0);
    assert!(after.downloaded >= data.len() as u64, "{after:?}");
}
