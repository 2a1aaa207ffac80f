//! Round-trip properties for every codec, and never-panic sweeps over truncated and arbitrary
//! input for every parser.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use proptest::prelude::*;
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats, UdpRequest,
    UdpResponse, announce_url, decode_announce_response, decode_scrape_response,
    encode_announce_response, encode_failure, encode_scrape_response, parse_announce_query,
    parse_scrape_query, scrape_request_url, scrape_url,
};

fn v4() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port)))
}

fn v6() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)))
}

fn event() -> impl Strategy<Value = AnnounceEvent> {
    prop_oneof![
        Just(AnnounceEvent::None),
        Just(AnnounceEvent::Started),
        Just(AnnounceEvent::Completed),
        Just(AnnounceEvent::Stopped),
    ]
}

fn hash() -> impl Strategy<Value = InfoHashV1> {
    any::<[u8; 20]>().prop_map(InfoHashV1)
}

fn ip() -> impl Strategy<Value = Option<IpAddr>> {
    prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|b| Some(IpAddr::from(b))),
        any::<[u8; 16]>().prop_map(|b| Some(IpAddr::from(b))),
    ]
}

prop_compose! {
    fn request()(
        info_hash in hash(),
        peer_id in any::<[u8; 20]>(),
        port in any::<u16>(),
        counts in any::<(u64, u64, u64)>(),
        event in event(),
        numwant in proptest::option::of(any::<u32>()),
        key in any::<u32>(),
        compact in any::<bool>(),
        tracker_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
        ip in ip(),
    ) -> AnnounceRequest {
        AnnounceRequest {
            info_hash,
            peer_id: PeerId(peer_id),
            port,
            uploaded: counts.0,
            downloaded: counts.1,
            left: counts.2,
            event,
            numwant,
            key,
            compact,
            tracker_id,
            ip,
        }
    }
}

prop_compose! {
    fn response()(
        interval in 0u64..=i64::MAX as u64,
        min_interval in proptest::option::of(0u64..100_000),
        complete in proptest::option::of(any::<u32>()),
        incomplete in proptest::option::of(any::<u32>()),
        downloaded in proptest::option::of(any::<u32>()),
        peers4 in proptest::collection::vec(v4(), 0..20),
        peers6 in proptest::collection::vec(v6(), 0..20),
        warning in proptest::option::of("\\PC{0,20}"),
        tracker_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
    ) -> AnnounceResponse {
        AnnounceResponse {
            interval: Duration::from_secs(interval),
            min_interval: min_interval.map(Duration::from_secs),
            complete,
            incomplete,
            downloaded,
            peers: peers4.into_iter().chain(peers6).collect(),
            warning,
            tracker_id,
        }
    }
}

fn stats() -> impl Strategy<Value = ScrapeStats> {
    any::<(u32, u32, u32)>().prop_map(|(complete, downloaded, incomplete)| ScrapeStats {
        complete,
        downloaded,
        incomplete,
    })
}

/// Every prefix of `bytes` and a few corruptions go through `parse` without panicking.
fn sweep(bytes: &[u8], mut parse: impl FnMut(&[u8])) {
    for end in 0..bytes.len() {
        parse(&bytes[..end]);
    }
    let mut flipped = bytes.to_vec();
    for i in (0..flipped.len()).step_by(7) {
        flipped[i] ^= 0x5a;
        parse(&flipped);
    }
}

fn decode_udp_response_both(bytes: &[u8]) {
    let _ = UdpResponse::decode(bytes, AddressFamily::V4);
    let _ = UdpResponse::decode(bytes, AddressFamily::V6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn announce_query_round_trips(request in request(), base in "[a-z]{1,8}(\\?k=v)?") {
        let url = announce_url(&format!("http://t/{base}"), &request);
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let query = query.strip_prefix("k=v&").unwrap_or(query);
        prop_assert_eq!(parse_announce_query(query.as_bytes()).unwrap(), request);
    }

    #[test]
    fn scrape_query_round_trips(hashes in proptest::collection::vec(hash(), 0..10)) {
        let url = scrape_request_url("http://t/scrape", &hashes);
        let query = url.split_once('?').unwrap().1;
        prop_assert_eq!(parse_scrape_query(query.as_bytes()).unwrap(), hashes);
    }

    #[test]
    fn announce_body_round_trips(response in response(), compact in any::<bool>()) {
        let body = encode_announce_response(&response, compact);
        prop_assert_eq!(decode_announce_response(&body).unwrap(), response);
        sweep(&body, |b| { let _ = decode_announce_response(b); });
    }

    #[test]
    fn scrape_body_round_trips(files in proptest::collection::btree_map(any::<[u8; 20]>(), stats(), 0..10)) {
        let files: Vec<(InfoHashV1, ScrapeStats)> =
            files.into_iter().map(|(h, s)| (InfoHashV1(h), s)).collect();
        let body = encode_scrape_response(&files);
        prop_assert_eq!(decode_scrape_response(&body).unwrap(), files);
        sweep(&body, |b| { let _ = decode_scrape_response(b); });
    }

    #[test]
    fn failure_bodies_round_trip(reason in "\\PC{0,40}") {
        let body = encode_failure(&reason);
        match decode_announce_response(&body) {
            Err(swarmgate_tracker::TrackerError::Failure(text)) => prop_assert_eq!(text, reason),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn udp_requests_round_trip(
        connection_id in any::<u64>(),
        transaction_id in any::<u32>(),
        mut request in request(),
        v4_ip in proptest::option::of(any::<[u8; 4]>().prop_filter("0 means none", |b| *b != [0; 4])),
        numwant in proptest::option::of(0..=i32::MAX as u32),
        hashes in proptest::collection::vec(hash(), 0..80),
    ) {
        // What UDP can carry: compact, no tracker id, an IPv4 `ip`, numwant up to i32::MAX.
        request.compact = true;
        request.tracker_id = None;
        request.ip = v4_ip.map(|b| IpAddr::V4(Ipv4Addr::from(b)));
        request.numwant = numwant;
        let packets = [
            UdpRequest::Connect { transaction_id },
            UdpRequest::Announce { connection_id, transaction_id, request },
            UdpRequest::Scrape { connection_id, transaction_id, info_hashes: hashes },
        ];
        for packet in packets {
            let mut bytes = Vec::new();
            packet.encode(&mut bytes);
            prop_assert_eq!(&UdpRequest::decode(&bytes).unwrap(), &packet);
            sweep(&bytes, |b| { let _ = UdpRequest::decode(b); });
        }
    }

    #[test]
    fn udp_responses_round_trip(
        transaction_id in any::<u32>(),
        connection_id in any::<u64>(),
        interval in any::<u32>(),
        counts in any::<(u32, u32)>(),
        peers4 in proptest::collection::vec(v4(), 0..30),
        peers6 in proptest::collection::vec(v6(), 0..30),
        all_stats in proptest::collection::vec(stats(), 0..30),
        message in "[^\\x00]{0,40}",
    ) {
        for (family, peers) in [(AddressFamily::V4, peers4), (AddressFamily::V6, peers6)] {
            let mut response = AnnounceResponse::new(Duration::from_secs(u64::from(interval)));
            response.complete = Some(counts.0);
            response.incomplete = Some(counts.1);
            response.peers = peers;
            let packets = [
                UdpResponse::Connect { transaction_id, connection_id },
                UdpResponse::Announce { transaction_id, response },
                UdpResponse::Scrape { transaction_id, stats: all_stats.clone() },
                UdpResponse::Error { transaction_id, message: message.clone() },
            ];
            for packet in packets {
                let mut bytes = Vec::new();
                packet.encode(family, &mut bytes);
                prop_assert_eq!(&UdpResponse::decode(&bytes, family).unwrap(), &packet);
                sweep(&bytes, decode_udp_response_both);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_announce_response(&bytes);
        let _ = decode_scrape_response(&bytes);
        let _ = parse_announce_query(&bytes);
        let _ = parse_scrape_query(&bytes);
        let _ = UdpRequest::decode(&bytes);
        decode_udp_response_both(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = scrape_url(text);
        }
    }
}
