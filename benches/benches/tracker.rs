//! The tracker server's request handlers in-process, without sockets: what one core can answer
//! when the network costs nothing. The loopback comparisons against opentracker and aquatic_udp
//! are the scripts in benches/scripts/ (tracker_http_vs_opentracker.sh,
//! tracker_udp_vs_aquatic.sh).
//!
//! The tracker holds 10,000 torrents and 100,000 peers (a third seeders) before measuring; each
//! measured request is an announce from a known peer of a random torrent, numwant 50, or a
//! scrape of one torrent.
//!
//! Run: `cargo bench -p swarmgate-benches --bench tracker -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use swarmgate_core::{InfoHashV1, PeerId, SplitMix64};
use swarmgate_tracker::{
    AnnounceEvent, AnnounceRequest, Tracker, TrackerConfig, UdpRequest, announce_url,
};

const TORRENTS: u64 = 10_000;
const PEERS: u64 = 100_000;

fn hash(n: u64) -> InfoHashV1 {
    let mut rng = SplitMix64::new(n);
    let mut hash = [0u8; 20];
    for chunk in hash.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
    }
    InfoHashV1(hash)
}

fn request(peer: u64) -> (AnnounceRequest, SocketAddr) {
    let mut id = [b'-'; 20];
    id[..8].copy_from_slice(&peer.to_le_bytes());
    let mut request = AnnounceRequest::new(hash(peer % TORRENTS), PeerId(id), 6881);
    request.left = if peer.is_multiple_of(3) { 0 } else { 1 << 20 };
    request.event = AnnounceEvent::None;
    request.numwant = Some(50);
    let source = SocketAddr::from(((0x0a00_0000u32 + peer as u32).to_be_bytes(), 6881));
    (request, source)
}

fn filled(now: Instant) -> Tracker {
    let tracker =
        Tracker::new(TrackerConfig::default(), now, [3; 16]).expect("a valid configuration");
    let mut out = Vec::new();
    for peer in 0..PEERS {
        let (request, source) = request(peer);
        out.clear();
        tracker
            .announce(now, &request, source, &mut out)
            .expect("an open tracker accepts");
    }
    tracker
}

/// A connection id for `source`, from a UDP connect.
fn connection_id(tracker: &Tracker, now: Instant, source: SocketAddr) -> u64 {
    let mut connect = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut connect);
    let mut reply = Vec::new();
    assert!(
        tracker
            .handle_udp(now, &connect, source, &mut reply)
            .is_send()
    );
    let mut id = [0u8; 8];
    id.copy_from_slice(&reply[8..16]);
    u64::from_be_bytes(id)
}

fn handlers(c: &mut Criterion) {
    let now = Instant::now();
    let tracker = filled(now);
    let mut rng = SplitMix64::new(7);
    let mut group = c.benchmark_group("tracker");
    group.throughput(Throughput::Elements(1));

    let mut out = Vec::with_capacity(2048);
    group.bench_function("udp announce", |b| {
        b.iter_batched_ref(
            || {
                let (request, source) = request(rng.next_u64() % PEERS);
                let mut packet = Vec::new();
                UdpRequest::Announce {
                    connection_id: connection_id(&tracker, now, source),
                    transaction_id: 2,
                    request,
                }
                .encode(&mut packet);
                (packet, source)
            },
            |(packet, source)| black_box(tracker.handle_udp(now, packet, *source, &mut out)),
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("http announce", |b| {
        b.iter_batched_ref(
            || {
                let (request, source) = request(rng.next_u64() % PEERS);
                (announce_url("/announce", &request), source)
            },
            |(target, source)| black_box(tracker.handle_http(now, target.as_bytes(), *source)),
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("udp scrape of one torrent", |b| {
        b.iter_batched_ref(
            || {
                let source = SocketAddr::from(([10, 9, 9, 9], 1));
                let mut packet = Vec::new();
                UdpRequest::Scrape {
                    connection_id: connection_id(&tracker, now, source),
                    transaction_id: 2,
                    info_hashes: vec![hash(rng.next_u64() % TORRENTS)],
                }
                .encode(&mut packet);
                (packet, source)
            },
            |(packet, source)| black_box(tracker.handle_udp(now, packet, *source, &mut out)),
            criterion::BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, handlers);
criterion_main!(benches);
