//! A small swarm driven through `SimHost`: one leecher pulls a fixture from four seeders with
//! different upload rates using a toy request/response protocol, the way the engine's
//! simulation test will, and the faster seeders serve more of it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use swarmgate_testkit::{
    ConnId, Delivery, DeliveryKind, Fixture, NodeConfig, NodeId, RunOutcome, SimHost, SimNet,
    TorrentFixture,
};

/// Requests kept outstanding per seeder.
const DEPTH: usize = 4;

struct Swarm {
    fixture: Fixture,
    leecher: NodeId,
    /// Pieces not yet requested, in order.
    wanted: VecDeque<u32>,
    /// Per leecher end: outstanding requests and the bytes of a partial frame.
    links: BTreeMap<ConnId, (usize, Vec<u8>)>,
    /// Per seeder end: the bytes of a partial request.
    serving: BTreeMap<ConnId, Vec<u8>>,
    /// Pieces received, with the seeder that sent each.
    received: BTreeMap<u32, NodeId>,
    /// Progress sampled by the timer, every 250 ms.
    samples: Vec<(Duration, usize)>,
    next_sample: Instant,
}

impl Swarm {
    fn request_more(&mut self, net: &mut SimNet, conn: ConnId) {
        let Some((outstanding, _)) = self.links.get_mut(&conn) else {
            return;
        };
        while *outstanding < DEPTH {
            let Some(piece) = self.wanted.pop_front() else {
                break;
            };
            *outstanding += 1;
            net.send(conn, Bytes::copy_from_slice(&piece.to_be_bytes()))
                .expect("open connection");
        }
    }

    /// Leecher side: frames are `index u32, length u32, bytes`.
    fn on_data(&mut self, net: &mut SimNet, conn: ConnId, bytes: &[u8]) {
        let from = net.peer_node(conn).expect("known connection");
        let Some((outstanding, buffer)) = self.links.get_mut(&conn) else {
            return;
        };
        buffer.extend_from_slice(bytes);
        let mut done = Vec::new();
        while buffer.len() >= 8 {
            let index = u32::from_be_bytes(buffer[..4].try_into().expect("4 bytes"));
            let len = u32::from_be_bytes(buffer[4..8].try_into().expect("4 bytes")) as usize;
            if buffer.len() < 8 + len {
                break;
            }
            assert_eq!(
                &buffer[8..8 + len],
                self.fixture.piece(index),
                "piece {index}"
            );
            buffer.drain(..8 + len);
            *outstanding -= 1;
            done.push(index);
        }
        for index in done {
            assert!(
                self.received.insert(index, from).is_none(),
                "piece {index} twice"
            );
        }
        self.request_more(net, conn);
    }

    /// Seeder side: requests are 4-byte piece indexes.
    fn on_request(&mut self, net: &mut SimNet, conn: ConnId, bytes: &[u8]) {
        let buffer = self.serving.entry(conn).or_default();
        buffer.extend_from_slice(bytes);
        while buffer.len() >= 4 {
            let index = u32::from_be_bytes(buffer[..4].try_into().expect("4 bytes"));
            buffer.drain(..4);
            let piece = self.fixture.piece(index);
            let mut frame = BytesMut::with_capacity(8 + piece.len());
            frame.put_u32(index);
            frame.put_u32(piece.len() as u32);
            frame.put_slice(piece);
            net.send(conn, frame.freeze()).expect("open connection");
        }
    }
}

impl SimHost for Swarm {
    fn on_delivery(&mut self, net: &mut SimNet, delivery: Delivery) {
        let Delivery { node, conn, kind } = delivery;
        match kind {
            DeliveryKind::Connected => {
                self.links.insert(conn, (0, Vec::new()));
                self.request_more(net, conn);
            }
            DeliveryKind::Data(bytes) if node == self.leecher => self.on_data(net, conn, &bytes),
            DeliveryKind::Data(bytes) => self.on_request(net, conn, &bytes),
            DeliveryKind::Accepted { .. } | DeliveryKind::Refused | DeliveryKind::Closed => {}
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(self.next_sample)
    }

    fn on_timeout(&mut self, net: &mut SimNet) {
        self.samples.push((net.elapsed(), self.received.len()));
        self.next_sample = net.now() + Duration::from_millis(250);
    }

    fn is_done(&self) -> bool {
        self.received.len() as u32 == self.fixture.piece_count()
    }
}

/// Returns the swarm after the run, the time it took, and the seeders.
fn run_swarm(seed: u64) -> (Swarm, Duration, Vec<NodeId>) {
    let fixture = TorrentFixture::new(seed)
        .piece_length(16 * 1024)
        .file("payload.bin", 2 * 1024 * 1024)
        .build();
    let mut net = SimNet::new(seed);
    let leecher = net.add_node(NodeConfig::symmetric(u64::MAX, Duration::from_millis(20)));
    let rates = [100_000, 200_000, 400_000, 800_000];
    let seeders: Vec<NodeId> = rates
        .iter()
        .enumerate()
        .map(|(i, &rate)| {
            let latency = Duration::from_millis(10 + 10 * i as u64);
            net.add_node(NodeConfig::symmetric(rate, latency))
        })
        .collect();
    for &seeder in &seeders {
        net.connect(leecher, seeder).expect("connect");
    }
    let mut swarm = Swarm {
        wanted: (0..fixture.piece_count()).collect(),
        fixture,
        leecher,
        links: BTreeMap::new(),
        serving: BTreeMap::new(),
        received: BTreeMap::new(),
        samples: Vec::new(),
        next_sample: net.now(),
    };
    let report = net
        .drive(net.now() + Duration::from_secs(60), &mut swarm)
        .expect("run within the step limit");
    assert_eq!(report.outcome, RunOutcome::Done);
    (swarm, report.elapsed, seeders)
}

#[test]
fn faster_seeders_serve_more_and_the_swarm_finishes_at_the_sum_of_rates() {
    let (swarm, took, seeders) = run_swarm(11);
    assert_eq!(swarm.received.len(), 128);
    let served: Vec<usize> = seeders
        .iter()
        .map(|s| swarm.received.values().filter(|&&n| n == *s).count())
        .collect();
    assert!(served.windows(2).all(|w| w[0] < w[1]), "{served:?}");
    // 2 MiB at 1.5 MB/s is 1.40 s at best. Without an endgame the slowest seeder finishes
    // its last DEPTH pieces alone (4 x 16 KiB at 100 kB/s = 0.66 s), plus ~0.1 s of set-up.
    let took = took.as_secs_f64();
    assert!((1.40..2.15).contains(&took), "{took}");
    // The 800 kB/s seeder serves about 8/15 of the pieces.
    assert!((60..76).contains(&served[3]), "{served:?}");
    // The timer ran every 250 ms of virtual time, and progress never went backwards.
    assert!(swarm.samples.len() >= 6);
    assert!(
        swarm
            .samples
            .windows(2)
            .all(|w| w[1].0 - w[0].0 == Duration::from_millis(250))
    );
    assert!(swarm.samples.windows(2).all(|w| w[0].1 <= w[1].1));
}

#[test]
fn the_same_seed_gives_the_same_swarm() {
    let (a, took_a, _) = run_swarm(5);
    let (b, took_b, _) = run_swarm(5);
    assert_eq!(took_a, took_b);
    assert_eq!(a.received, b.received);
    assert_eq!(a.samples, b.samples);
}
