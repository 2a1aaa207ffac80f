//! The tracker server against a model, and its handlers under hostile input: whatever arrives,
//! nothing panics and every answer is one a client can decode.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceEvent, AnnounceRequest, ScrapeStats, Tracker, TrackerError, UdpAnswer,
    UdpRequest, UdpResponse, announce_url, decode_announce_response, decode_scrape_response,
    encode_announce_response,
};

use super::server::{SECRET, config};

#[derive(Clone, Debug)]
struct Step {
    torrent: u8,
    peer: u8,
    v6: bool,
    left: u64,
    event: AnnounceEvent,
    advance: u16,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..2u8,
        0..48u8,
        any::<bool>(),
        prop_oneof![Just(0u64), 1..100u64],
        prop_oneof![
            Just(AnnounceEvent::None),
            Just(AnnounceEvent::Started),
            Just(AnnounceEvent::Completed),
            Just(AnnounceEvent::Stopped),
        ],
        prop_oneof![9 => 0..5u16, 1 => 0..700u16],
    )
        .prop_map(|(torrent, peer, v6, left, event, advance)| Step {
            torrent,
            peer,
            v6,
            left,
            event,
            advance,
        })
}

/// What the tracker should know of one peer in one torrent and family.
#[derive(Clone, Copy, Debug)]
struct Known {
    seeder: bool,
    expires: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Counts, peer lists and downloads follow a plain model through any sequence of
    /// announces, expiries included, in swarms small enough to be scanned and large enough to
    /// be indexed (32 peers and up).
    #[test]
    fn the_registry_follows_the_model(steps in proptest::collection::vec(step(), 1..300)) {
        let start = Instant::now();
        let mut config = config();
        config.interval = Duration::from_secs(300);
        let tracker = Tracker::new(config, start, SECRET).unwrap();
        let mut model: HashMap<(u8, u8, bool), Known> = HashMap::new();
        let mut downloaded: HashMap<u8, u32> = HashMap::new();
        let mut clock = 0u64;
        for s in steps {
            clock += u64::from(s.advance);
            let now = start + Duration::from_secs(clock);
            tracker.maintain(now);
            model.retain(|_, k| k.expires > clock);
            // An open swarm left without peers is forgotten, its download count with it.
            downloaded.retain(|t, _| model.keys().any(|(torrent, _, _)| torrent == t));
            let info_hash = InfoHashV1([s.torrent; 20]);
            let mut request = AnnounceRequest::new(info_hash, PeerId([s.peer; 20]), 6881);
            request.left = s.left;
            request.event = s.event;
            request.numwant = Some(200);
            let source: SocketAddr = if s.v6 {
                format!("[2001:db8::{:x}]:1", s.peer + 1).parse().unwrap()
            } else {
                SocketAddr::from(([10, 0, 0, s.peer + 1], 1))
            };
            let key = (s.torrent, s.peer, s.v6);
            let before = model.get(&key).copied();
            if s.event == AnnounceEvent::Completed && !before.is_some_and(|k| k.seeder) {
                *downloaded.entry(s.torrent).or_default() += 1;
            }
            if s.event == AnnounceEvent::Stopped {
                model.remove(&key);
            } else {
                model.insert(key, Known { seeder: s.left == 0, expires: clock + 600 });
            }
            let url = announce_url("/announce", &request);
            let answer = tracker.handle_http(now, url.as_bytes(), source);
            let response = decode_announce_response(&answer.body).unwrap();
            let in_torrent = |seeder: bool| {
                model.iter().filter(|((t, _, _), k)| *t == s.torrent && k.seeder == seeder).count()
            };
            prop_assert_eq!(response.complete, Some(in_torrent(true) as u32));
            prop_assert_eq!(response.incomplete, Some(in_torrent(false) as u32));
            // The peers sent: the rest of the torrent's family, seeders left out for a seeder.
            let mut expected: Vec<u8> = model
                .iter()
                .filter(|((t, p, v6), k)| {
                    *t == s.torrent && *v6 == s.v6 && *p != s.peer && !(s.left == 0 && k.seeder)
                })
                .map(|((_, p, _), _)| *p + 1)
                .collect();
            if s.event == AnnounceEvent::Stopped {
                expected.clear();
            }
            expected.sort_unstable();
            let mut sent: Vec<u8> = response
                .peers
                .iter()
                .map(|peer| match peer {
                    SocketAddr::V4(v4) => v4.ip().octets()[3],
                    SocketAddr::V6(v6) => v6.ip().octets()[15],
                })
                .collect();
            sent.sort_unstable();
            prop_assert_eq!(sent, expected);
            let scraped = tracker.scrape(&[info_hash])[0];
            prop_assert_eq!(scraped.downloaded, downloaded.get(&s.torrent).copied().unwrap_or(0));
        }
        let stats = tracker.stats();
        prop_assert_eq!(stats.seeders as usize, model.values().filter(|k| k.seeder).count());
        prop_assert_eq!(stats.leechers as usize, model.values().filter(|k| !k.seeder).count());
    }

    /// Any request target gets an answer: 404, or a body that decodes as an announce answer, a
    /// scrape answer or a failure reason.
    #[test]
    fn any_http_target_gets_a_decodable_answer(
        path in prop_oneof![Just("/announce?"), Just("/scrape?"), Just("/"), Just("")],
        query in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let now = Instant::now();
        let tracker = Tracker::new(config(), now, SECRET).unwrap();
        let mut target = path.as_bytes().to_vec();
        target.extend_from_slice(&query);
        let answer = tracker.handle_http(now, &target, SocketAddr::from(([10, 0, 0, 1], 1)));
        if answer.status != 404 {
            let announce = decode_announce_response(&answer.body);
            let scrape = decode_scrape_response(&answer.body);
            prop_assert!(
                announce.is_ok()
                    || scrape.is_ok()
                    || matches!(announce, Err(TrackerError::Failure(_))),
                "undecodable answer to {:?}", String::from_utf8_lossy(&target)
            );
        }
    }

    /// Any datagram, with or without a valid connection id in front: no panic, and every answer
    /// decodes with the client's codec and echoes the transaction id.
    #[test]
    fn any_datagram_gets_nothing_or_a_decodable_answer(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        with_id in any::<bool>(),
        v6 in any::<bool>(),
    ) {
        let now = Instant::now();
        let tracker = Tracker::new(config(), now, SECRET).unwrap();
        let source: SocketAddr = if v6 {
            "[2001:db8::1]:1".parse().unwrap()
        } else {
            SocketAddr::from(([10, 0, 0, 1], 1))
        };
        let mut packet = body.clone();
        if with_id && packet.len() >= 8 {
            let mut connect = Vec::new();
            UdpRequest::Connect { transaction_id: 1 }.encode(&mut connect);
            let mut out = Vec::new();
            prop_assert_eq!(tracker.handle_udp(now, &connect, source, &mut out), UdpAnswer::Send);
            packet[..8].copy_from_slice(&out[8..16]);
        }
        let mut out = Vec::new();
        if tracker.handle_udp(now, &packet, source, &mut out).is_send() {
            let answer = UdpResponse::decode(&out, AddressFamily::of(&source));
            prop_assert!(answer.is_ok(), "{:?}", answer);
            prop_assert_eq!(&answer.unwrap().transaction_id().to_be_bytes()[..], &packet[12..16]);
        }
        // Every truncation of the packet, too.
        for len in 0..packet.len() {
            if tracker.handle_udp(now, &packet[..len], source, &mut out).is_send() {
                prop_assert!(UdpResponse::decode(&out, AddressFamily::of(&source)).is_ok());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The handlers answer through the codecs the round-trip properties cover: an HTTP announce
    /// answer is byte for byte what `encode_announce_response` writes for what a client decodes
    /// from it (but for the empty `peers6` the tracker always sends an IPv6 client), and a UDP
    /// one what `UdpResponse::encode` writes for its decoding.
    #[test]
    fn announce_answers_are_what_the_public_encoders_write(
        swarm in proptest::collection::vec((any::<bool>(), 1..=250u8, any::<bool>()), 0..40),
        v6 in any::<bool>(),
        compact in any::<bool>(),
        left in prop_oneof![Just(0u64), Just(1u64)],
        numwant in proptest::option::of(0..60u32),
    ) {
        let now = Instant::now();
        let tracker = Tracker::new(config(), now, SECRET).unwrap();
        let address = |v6: bool, n: u8| -> SocketAddr {
            if v6 {
                format!("[2001:db8::{n:x}]:{}", 1000 + u16::from(n)).parse().unwrap()
            } else {
                SocketAddr::from(([10, 0, 0, n], 1000 + u16::from(n)))
            }
        };
        for (peer_v6, n, seeder) in swarm {
            let mut request = AnnounceRequest::new(InfoHashV1([1; 20]), PeerId([n; 20]), 6881);
            request.left = u64::from(!seeder);
            tracker.announce(now, &request, address(peer_v6, n), &mut Vec::new()).unwrap();
        }
        let source = address(v6, 0);
        let mut request = AnnounceRequest::new(InfoHashV1([1; 20]), PeerId([0; 20]), 6881);
        request.left = left;
        request.numwant = numwant;
        request.compact = compact;

        let url = announce_url("/announce", &request);
        let body = tracker.handle_http(now, url.as_bytes(), source).body;
        let decoded = decode_announce_response(&body).unwrap();
        let mut expected = encode_announce_response(&decoded, compact);
        if v6 && compact && decoded.peers.is_empty() {
            let peers = b"5:peers0:".len();
            let at = expected.windows(peers).position(|w| w == b"5:peers0:").unwrap() + peers;
            expected.splice(at..at, b"6:peers60:".iter().copied());
        }
        prop_assert_eq!(&body, &expected, "{}", String::from_utf8_lossy(&body));

        let mut connect = Vec::new();
        UdpRequest::Connect { transaction_id: 1 }.encode(&mut connect);
        let mut out = Vec::new();
        prop_assert_eq!(tracker.handle_udp(now, &connect, source, &mut out), UdpAnswer::Send);
        let mut id = [0u8; 8];
        id.copy_from_slice(&out[8..16]);
        let mut packet = Vec::new();
        let connection_id = u64::from_be_bytes(id);
        UdpRequest::Announce { connection_id, transaction_id: 2, request }.encode(&mut packet);
        prop_assert_eq!(tracker.handle_udp(now, &packet, source, &mut out), UdpAnswer::Send);
        let family = AddressFamily::of(&source);
        let mut again = Vec::new();
        UdpResponse::decode(&out, family).unwrap().encode(family, &mut again);
        prop_assert_eq!(again, out);
    }
}

#[test]
fn scrape_stats_of_an_unknown_torrent_are_zero() {
    let tracker = Tracker::new(config(), Instant::now(), SECRET).unwrap();
    assert_eq!(
        tracker.scrape(&[InfoHashV1([3; 20])]),
        [ScrapeStats::default()]
    );
}
