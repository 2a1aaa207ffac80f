//! The DHT's KRPC wire: decoding and encoding the two messages a node handles most, a
//! get_peers query (104 bytes) and a full get_peers answer (8 IPv4 nodes, 50 IPv4 values, a
//! token, `ip` and `v`: 714 bytes).
//!
//! Decoding includes everything the node needs from the datagram: the bencode token tape, the
//! checks, and the owned `Message`. Encoding appends to a reused buffer.
//!
//! Run: `cargo bench -p swarmgate-benches --bench dht -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use swarmgate_core::InfoHashV1;
use swarmgate_dht::{KrpcLimits, Message, Method, NodeId, NodeInfo, Response};

fn get_peers() -> Message {
    let mut message = Message::query(
        vec![0x4a, 0x7f],
        NodeId([0x11; 20]),
        Method::GetPeers {
            info_hash: InfoHashV1([0x22; 20]),
            want: None,
            scrape: false,
            noseed: false,
        },
    );
    message.version = Some(b"LT\x02\x00".to_vec());
    message
}

fn answer() -> Message {
    let mut response = Response::new(NodeId([0x33; 20]));
    response.nodes = (0..8u8)
        .map(|i| NodeInfo {
            id: NodeId([i; 20]),
            addr: SocketAddr::from(([198, 51, 100, i], 6881)),
        })
        .collect();
    response.values = (0..50u8)
        .map(|i| SocketAddr::from(([203, 0, 113, i], 51413)))
        .collect();
    response.token = Some(vec![0x5c; 8]);
    let mut message = Message::response(vec![0x4a, 0x7f], response);
    message.requester_ip = Some(SocketAddr::from(([192, 0, 2, 1], 6881)));
    message.version = Some(b"SG\x00\x01".to_vec());
    message
}

fn krpc(c: &mut Criterion) {
    let limits = KrpcLimits::default();
    let mut group = c.benchmark_group("dht krpc");
    group.throughput(Throughput::Elements(1));
    for (name, message) in [
        ("get_peers query", get_peers()),
        ("get_peers answer", answer()),
    ] {
        let mut bytes = Vec::new();
        message.encode(&mut bytes);
        assert_eq!(Message::decode(&bytes, &limits).unwrap(), message);
        group.bench_function(format!("decode {name} ({} B)", bytes.len()), |b| {
            b.iter(|| Message::decode(black_box(&bytes), &limits).unwrap())
        });
        let mut out = Vec::with_capacity(1500);
        group.bench_function(format!("encode {name} ({} B)", bytes.len()), |b| {
            b.iter(|| {
                out.clear();
                black_box(&message).encode(&mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, krpc);
criterion_main!(benches);
