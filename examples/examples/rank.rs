//! Rank a handful of peers for dialling, then pick the unchoked and optimistic peers.
//!
//! `cargo run -p examples --example rank`

use std::net::IpAddr;
use std::time::Duration;

use swarmgate_rank::{
    ChokeMode, PeerFacts, Source, UnchokeCandidate, Weights, choose_optimistic, choose_unchoked,
    connect_order, score,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local: Vec<IpAddr> = vec!["192.168.1.10".parse()?, "2001:db8:1:2::5".parse()?];
    let seen = |secs| Some(Duration::from_secs(secs));
    let peers = [
        PeerFacts {
            since_seen: seen(20),
            ..PeerFacts::new("203.0.113.4:6881".parse()?, Source::Tracker)
        },
        PeerFacts {
            since_seen: seen(5),
            ..PeerFacts::new("192.168.1.33:51413".parse()?, Source::Dht)
        },
        PeerFacts {
            since_seen: seen(1800),
            ..PeerFacts::new("[2001:db8:1:2::99]:6881".parse()?, Source::Pex)
        },
        PeerFacts {
            blocks_received: 4_000,
            hash_failures: 2,
            since_seen: seen(1),
            ..PeerFacts::new("198.51.100.8:6881".parse()?, Source::Tracker)
        },
        PeerFacts::new("10.9.8.7:6881".parse()?, Source::Incoming),
    ];
    let weights = Weights::default();
    println!("dial order:");
    for index in connect_order(&peers, &local, &weights) {
        let peer = &peers[index];
        println!(
            "  {:.3}  {:<28} {:?}",
            score(peer, &local, &weights),
            peer.addr.to_string(),
            peer.source
        );
    }

    let connected: Vec<UnchokeCandidate> = peers
        .iter()
        .enumerate()
        .map(|(i, peer)| UnchokeCandidate {
            id: i as u64,
            interested: i != 2,
            download_rate: [50_000, 2_000_000, 0, 300_000, 0][i],
            upload_rate: [900_000, 10_000, 0, 40_000, 5_000][i],
            score: score(peer, &local, &weights),
            connected_for: Duration::from_secs([600, 300, 30, 1200, 10][i]),
        })
        .collect();
    for mode in [ChokeMode::Leeching, ChokeMode::Seeding] {
        let unchoked = choose_unchoked(&connected, 2, mode);
        // The caller's seeded RNG supplies the draw; a fixed value here.
        let optimistic = choose_optimistic(&connected, &unchoked, 0x5eed_5eed_5eed_5eed);
        println!("{mode:?}: unchoke {unchoked:?}, optimistic {optimistic:?}");
    }
    Ok(())
}
