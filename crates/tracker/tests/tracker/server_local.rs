//! What a process embedding the tracker relies on: its own seeder announced without limits
//! (`Tracker::announce_local`), and every client announce reported to its observer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swarmgate_tracker::{
    Access, AnnounceEvent, AnnounceObserver, AnnounceSeen, RateLimit, Refusal, Tracker, UdpRequest,
    UdpResponse,
};

use crate::server::{HASH, SECRET, addr, config, connect, http, peer_id, request, udp};

#[derive(Default)]
struct Seen(Mutex<Vec<AnnounceSeen>>);

impl AnnounceObserver for Seen {
    fn announced(&self, seen: &AnnounceSeen) {
        self.0.lock().unwrap().push(*seen);
    }
}

#[test]
fn the_observer_hears_accepted_http_and_udp_announces_and_not_refused_ones() {
    let now = Instant::now();
    let mut config = config();
    config.access = Access::AllowList;
    let seen = Arc::new(Seen::default());
    let tracker = Tracker::new(config, now, SECRET)
        .unwrap()
        .with_observer(seen.clone());
    // Not on the allow-list: refused, not reported.
    assert!(
        http(
            &tracker,
            now,
            &request(1, 5, AnnounceEvent::Started),
            addr(1)
        )
        .is_err()
    );
    assert!(seen.0.lock().unwrap().is_empty());

    tracker.allow(HASH);
    http(
        &tracker,
        now,
        &request(1, 5, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    let id = connect(&tracker, now, addr(2));
    let mut udp_request = request(2, 0, AnnounceEvent::Completed);
    udp_request.port = 51413;
    let answer = udp(
        &tracker,
        now,
        &UdpRequest::Announce {
            connection_id: id,
            transaction_id: 1,
            request: udp_request,
        },
        addr(2),
    );
    assert!(
        matches!(answer, Some(UdpResponse::Announce { .. })),
        "{answer:?}"
    );
    let seen = seen.0.lock().unwrap();
    assert_eq!(
        *seen,
        [
            AnnounceSeen {
                info_hash: HASH,
                peer: addr(1),
                peer_id: peer_id(1),
                seeder: false,
                event: AnnounceEvent::Started,
            },
            AnnounceSeen {
                info_hash: HASH,
                peer: SocketAddr::new(addr(2).ip(), 51413),
                peer_id: peer_id(2),
                seeder: true,
                event: AnnounceEvent::Completed,
            },
        ]
    );
}

#[test]
fn a_local_seeder_skips_the_rate_limit_and_is_handed_to_leechers_only_while_fresh() {
    let now = Instant::now();
    let mut config = config();
    config.access = Access::AllowList;
    config.interval = Duration::from_secs(60);
    config.rate_limit = Some(RateLimit {
        per_second: 1,
        burst: 1,
    });
    let seen = Arc::new(Seen::default());
    let tracker = Tracker::new(config, now, SECRET)
        .unwrap()
        .with_observer(seen.clone());
    let gateway: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let own = request(9, 0, AnnounceEvent::Started);
    assert_eq!(
        tracker.announce_local(now, &own, gateway),
        Err(Refusal::NotAllowed)
    );
    tracker.allow(HASH);
    // Far more often than the limit allows one address: none refused.
    for _ in 0..5 {
        let announced = tracker.announce_local(now, &own, gateway).unwrap();
        assert_eq!((announced.complete, announced.peers), (1, 0));
    }
    assert!(
        seen.0.lock().unwrap().is_empty(),
        "local announces are not observed"
    );
    assert_eq!(tracker.stats().rate_limited, 0);

    // A leecher from the same host (listening on another port) gets the gateway as a peer.
    let leecher = SocketAddr::from(([127, 0, 0, 1], 40000));
    let mut leeching = request(1, 5, AnnounceEvent::Started);
    leeching.port = 51413;
    let response = http(&tracker, now, &leeching, leecher).unwrap();
    assert_eq!(response.peers, [gateway]);
    // Not re-announced for twice the interval: forgotten.
    let later = now + Duration::from_secs(121);
    tracker.maintain(later);
    leeching.event = AnnounceEvent::None;
    let response = http(&tracker, later, &leeching, leecher).unwrap();
    assert!(response.peers.is_empty(), "{:?}", response.peers);
}

#[test]
fn a_client_announcing_left_0_still_gets_the_local_seeder_but_no_other_seeder() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    // Another seeder, then the local one.
    http(
        &tracker,
        now,
        &request(2, 0, AnnounceEvent::Started),
        addr(2),
    )
    .unwrap();
    let gateway: SocketAddr = "10.0.0.9:6881".parse().unwrap();
    tracker
        .announce_local(now, &request(9, 0, AnnounceEvent::Started), gateway)
        .unwrap();
    // A magnet client without the metadata says left=0 (aria2 does): it gets the local seeder
    // only, once, over HTTP and UDP alike.
    let mut magnet = request(1, 0, AnnounceEvent::Started);
    magnet.port = 7000;
    let response = http(&tracker, now, &magnet, addr(1)).unwrap();
    assert_eq!(response.peers, [gateway]);
    let id = connect(&tracker, now, addr(3));
    let answer = udp(
        &tracker,
        now,
        &UdpRequest::Announce {
            connection_id: id,
            transaction_id: 2,
            request: request(3, 0, AnnounceEvent::Started),
        },
        addr(3),
    );
    match answer {
        Some(UdpResponse::Announce { response, .. }) => assert_eq!(response.peers, [gateway]),
        other => panic!("expected an announce answer, got {other:?}"),
    }
    // A leecher gets everyone, the local seeder listed once.
    let response = http(
        &tracker,
        now,
        &request(4, 10, AnnounceEvent::Started),
        addr(4),
    )
    .unwrap();
    assert_eq!(response.peers.iter().filter(|p| **p == gateway).count(), 1);
    // Once the local seeder stops, a seeder gets no seeders again.
    tracker
        .announce_local(now, &request(9, 0, AnnounceEvent::Stopped), gateway)
        .unwrap();
    let response = http(&tracker, now, &magnet, addr(1)).unwrap();
    assert!(
        response
            .peers
            .iter()
            .all(|p| *p != gateway && *p != addr(2)),
        "{:?}",
        response.peers
    );
}
