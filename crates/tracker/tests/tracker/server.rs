//! The tracker server's behaviour, driven in virtual time through its HTTP and UDP handlers and
//! read back with the crate's own client-side decoders.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    Access, AddressFamily, AnnounceEvent, AnnounceRequest, AnnounceResponse, ConfigError,
    RateLimit, ScrapeStats, Tracker, TrackerConfig, TrackerError, UdpAnswer, UdpDrop, UdpRequest,
    UdpResponse, announce_url, decode_announce_response, decode_scrape_response,
    scrape_request_url,
};

pub(crate) const HASH: InfoHashV1 = InfoHashV1([0xab; 20]);

/// The key of the connection ids of every tracker under test.
pub(crate) const SECRET: [u8; 16] = [7; 16];

pub(crate) fn config() -> TrackerConfig {
    TrackerConfig::default()
}

pub(crate) fn peer_id(n: u8) -> PeerId {
    let mut id = *b"-XX0000-000000000000";
    id[19] = n;
    PeerId(id)
}

pub(crate) fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 6881))
}

pub(crate) fn request(n: u8, left: u64, event: AnnounceEvent) -> AnnounceRequest {
    let mut request = AnnounceRequest::new(HASH, peer_id(n), 6881);
    request.left = left;
    request.event = event;
    request
}

/// Announces over HTTP and decodes the answer as a client would.
pub(crate) fn http(
    tracker: &Tracker,
    now: Instant,
    request: &AnnounceRequest,
    source: SocketAddr,
) -> Result<AnnounceResponse, TrackerError> {
    let url = announce_url("/announce", request);
    let answer = tracker.handle_http(now, url.as_bytes(), source);
    decode_announce_response(&answer.body)
}

fn failure(result: Result<AnnounceResponse, TrackerError>) -> String {
    match result {
        Err(TrackerError::Failure(text)) => text,
        other => panic!("expected a failure reason, got {other:?}"),
    }
}

fn scrape(
    tracker: &Tracker,
    now: Instant,
    hashes: &[InfoHashV1],
) -> Vec<(InfoHashV1, ScrapeStats)> {
    let url = scrape_request_url("/scrape", hashes);
    let answer = tracker.handle_http(now, url.as_bytes(), addr(99));
    decode_scrape_response(&answer.body).expect("a scrape answer")
}

#[test]
fn events_move_peers_and_count_downloads_once() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    let r = http(
        &tracker,
        now,
        &request(1, 100, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    assert_eq!((r.complete, r.incomplete), (Some(0), Some(1)));
    assert!(r.peers.is_empty(), "a peer is never sent itself");
    assert_eq!(r.interval, Duration::from_secs(1800));
    assert_eq!(r.min_interval, Some(Duration::from_secs(60)));

    let r = http(
        &tracker,
        now,
        &request(2, 0, AnnounceEvent::Started),
        addr(2),
    )
    .unwrap();
    assert_eq!((r.complete, r.incomplete), (Some(1), Some(1)));
    assert_eq!(r.peers, [addr(1)], "a seeder is sent the leecher");

    let r = http(
        &tracker,
        now,
        &request(1, 0, AnnounceEvent::Completed),
        addr(1),
    )
    .unwrap();
    assert_eq!((r.complete, r.incomplete), (Some(2), Some(0)));
    assert!(r.peers.is_empty(), "a seeder is not sent seeders");
    // A repeated `completed` is not a second download.
    http(
        &tracker,
        now,
        &request(1, 0, AnnounceEvent::Completed),
        addr(1),
    )
    .unwrap();
    assert_eq!(scrape(&tracker, now, &[HASH])[0].1.downloaded, 1);

    let r = http(&tracker, now, &request(3, 5, AnnounceEvent::None), addr(3)).unwrap();
    let mut peers = r.peers.clone();
    peers.sort();
    assert_eq!(peers, [addr(1), addr(2)], "a leecher is sent the seeders");

    let r = http(
        &tracker,
        now,
        &request(2, 0, AnnounceEvent::Stopped),
        addr(2),
    )
    .unwrap();
    assert!(r.peers.is_empty(), "`stopped` gets no peers");
    let stats = scrape(&tracker, now, &[HASH])[0].1;
    assert_eq!(
        (stats.complete, stats.incomplete, stats.downloaded),
        (1, 1, 1)
    );
    let totals = tracker.stats();
    assert_eq!(
        (totals.torrents, totals.seeders, totals.leechers),
        (1, 1, 1)
    );
}

#[test]
fn numwant_defaults_caps_and_zero() {
    let now = Instant::now();
    let mut config = config();
    config.numwant_default = 5;
    config.numwant_max = 8;
    let tracker = Tracker::new(config, now, SECRET).unwrap();
    for n in 1..=20 {
        http(
            &tracker,
            now,
            &request(n, 1, AnnounceEvent::Started),
            addr(n),
        )
        .unwrap();
    }
    let mut asking = request(21, 1, AnnounceEvent::None);
    assert_eq!(
        http(&tracker, now, &asking, addr(21)).unwrap().peers.len(),
        5
    );
    asking.numwant = Some(100);
    let peers = http(&tracker, now, &asking, addr(21)).unwrap().peers;
    assert_eq!(peers.len(), 8);
    assert!(!peers.contains(&addr(21)));
    asking.numwant = Some(0);
    assert!(
        http(&tracker, now, &asking, addr(21))
            .unwrap()
            .peers
            .is_empty()
    );
}

#[test]
fn silent_peers_expire_after_two_intervals_and_empty_swarms_go() {
    let start = Instant::now();
    let mut config = config();
    config.interval = Duration::from_secs(100);
    let tracker = Tracker::new(config, start, SECRET).unwrap();
    http(
        &tracker,
        start,
        &request(1, 1, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    let later = start + Duration::from_secs(150);
    http(
        &tracker,
        later,
        &request(2, 1, AnnounceEvent::Started),
        addr(2),
    )
    .unwrap();
    assert_eq!(tracker.maintain(start + Duration::from_secs(199)), 0);
    assert_eq!(tracker.maintain(start + Duration::from_secs(200)), 1);
    assert_eq!(tracker.stats().leechers, 1);
    assert_eq!(tracker.maintain(later + Duration::from_secs(200)), 1);
    assert_eq!(
        tracker.stats().torrents,
        0,
        "an empty open swarm is forgotten"
    );
}

#[test]
fn an_allow_list_tracks_only_what_is_on_it() {
    let now = Instant::now();
    let mut config = config();
    config.access = Access::AllowList;
    config.interval = Duration::from_secs(100);
    let tracker = Tracker::new(config, now, SECRET).unwrap();
    let refused = failure(http(
        &tracker,
        now,
        &request(1, 1, AnnounceEvent::Started),
        addr(1),
    ));
    assert_eq!(refused, "torrent not registered with this tracker");
    assert!(tracker.allow(HASH));
    assert!(!tracker.allow(HASH));
    assert!(tracker.is_allowed(&HASH));
    http(
        &tracker,
        now,
        &request(1, 1, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    let stats = tracker.stats();
    assert_eq!((stats.torrents, stats.allowed, stats.leechers), (1, 1, 1));
    let later = now + Duration::from_secs(1000);
    tracker.maintain(later);
    let stats = tracker.stats();
    assert_eq!(
        (stats.torrents, stats.allowed),
        (0, 1),
        "allowed, without peers"
    );
    http(
        &tracker,
        later,
        &request(2, 1, AnnounceEvent::Started),
        addr(2),
    )
    .unwrap();
    assert!(tracker.disallow(&HASH));
    assert!(!tracker.is_allowed(&HASH));
    let stats = tracker.stats();
    assert_eq!((stats.torrents, stats.allowed, stats.leechers), (0, 0, 0));
    assert!(
        http(
            &tracker,
            later,
            &request(1, 1, AnnounceEvent::None),
            addr(1)
        )
        .is_err()
    );
    assert!(!tracker.disallow(&HASH));
}

#[test]
fn a_peer_is_its_address_not_its_peer_id() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    let source = addr(1);
    http(
        &tracker,
        now,
        &request(1, 1, AnnounceEvent::Started),
        source,
    )
    .unwrap();
    // A restart with a new peer id from the same address and port is the same peer.
    let r = http(
        &tracker,
        now,
        &request(2, 1, AnnounceEvent::Started),
        source,
    )
    .unwrap();
    assert_eq!((r.incomplete, r.peers.len()), (Some(1), 0));
    // Another port on the same address is another peer (two clients behind one NAT).
    let mut other_port = request(3, 1, AnnounceEvent::Started);
    other_port.port = 7000;
    let r = http(&tracker, now, &other_port, source).unwrap();
    assert_eq!(r.incomplete, Some(2));
    assert_eq!(r.peers, [addr(1)]);
    // Nobody can remove a peer by announcing `stopped` with its peer id from elsewhere.
    http(
        &tracker,
        now,
        &request(2, 1, AnnounceEvent::Stopped),
        addr(9),
    )
    .unwrap();
    assert_eq!(tracker.stats().leechers, 2);
}

#[test]
fn the_ip_parameter_counts_only_when_trusted() {
    let now = Instant::now();
    let mut with_ip = request(1, 1, AnnounceEvent::Started);
    with_ip.ip = Some("192.0.2.9".parse().unwrap());
    for (trust, expected) in [(false, addr(1)), (true, "192.0.2.9:6881".parse().unwrap())] {
        let mut config = config();
        config.trust_ip = trust;
        let tracker = Tracker::new(config, now, SECRET).unwrap();
        http(&tracker, now, &with_ip, addr(1)).unwrap();
        assert_eq!(
            tracker.peers(&HASH),
            [(expected, false)],
            "trust_ip = {trust}"
        );
    }
}

#[test]
fn client_families_get_their_own_interval() {
    let now = Instant::now();
    let mut config = config();
    config.client_intervals = vec![("qbittorrent".to_owned(), Duration::from_secs(900))];
    config.interval = Duration::from_secs(100);
    let tracker = Tracker::new(config, now, SECRET).unwrap();
    let mut qb = AnnounceRequest::new(HASH, PeerId(*b"-qB4520-abcdefghijkl"), 1);
    qb.left = 1;
    assert_eq!(
        http(&tracker, now, &qb, addr(1))
            .unwrap()
            .interval
            .as_secs(),
        900
    );
    let mut tr = AnnounceRequest::new(HASH, PeerId(*b"-TR3000-abcdefghijkl"), 1);
    tr.left = 1;
    assert_eq!(
        http(&tracker, now, &tr, addr(2))
            .unwrap()
            .interval
            .as_secs(),
        100
    );
    // The qBittorrent peer outlives the Transmission one: 2 x 900 s against 2 x 100 s.
    assert_eq!(tracker.maintain(now + Duration::from_secs(200)), 1);
    assert_eq!(
        tracker.peers(&HASH),
        [("10.0.0.1:1".parse().unwrap(), false)]
    );

    let mut bad = TrackerConfig::default();
    bad.client_intervals = vec![("NoSuchClient".to_owned(), Duration::from_secs(900))];
    let err = Tracker::new(bad, now, SECRET).unwrap_err();
    assert_eq!(err, ConfigError::UnknownClient("NoSuchClient".to_owned()));
    let mut short = TrackerConfig::default();
    short.interval = Duration::from_secs(10);
    assert!(matches!(
        Tracker::new(short, now, SECRET),
        Err(ConfigError::Interval { .. })
    ));
}

#[test]
fn malformed_announces_get_a_failure_reason_naming_the_problem() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    let hash = "info_hash=%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB";
    let id = "peer_id=-XX0000-000000000001";
    let cases = [
        (
            format!("{id}&port=1"),
            "malformed request: missing field `info_hash`",
        ),
        (
            format!("{hash}&port=1"),
            "malformed request: missing field `peer_id`",
        ),
        (
            format!("{hash}&{id}"),
            "malformed request: missing field `port`",
        ),
        (
            format!("info_hash=abc&{id}&port=1"),
            "malformed request: info_hash: expected 20 bytes, got 3",
        ),
        (
            format!("{hash}&peer_id=short&port=1"),
            "malformed request: peer_id: expected 20 bytes, got 5",
        ),
        (
            format!("{hash}&{id}&port=70000"),
            "malformed request: field `port` is not a decimal number",
        ),
        (
            format!("{hash}&{id}&port=0"),
            "malformed request: port 0 is not a listening port",
        ),
        (
            format!("{hash}&{id}&port=1&left=lots"),
            "malformed request: field `left` is not a decimal number",
        ),
        (
            format!("{hash}&{id}&port=1&uploaded=-5"),
            "malformed request: field `uploaded` is not a decimal number",
        ),
        (
            format!("info_hash=%G1&{id}&port=1"),
            "malformed request: field `info_hash` is not valid percent-encoding",
        ),
    ];
    for (query, reason) in cases {
        let answer = tracker.handle_http(now, format!("/announce?{query}").as_bytes(), addr(1));
        assert_eq!(answer.status, 200, "{query}");
        let text = failure(decode_announce_response(&answer.body));
        assert_eq!(text, reason, "{query}");
    }
    assert_eq!(tracker.stats().refused, 10);
    assert_eq!(tracker.stats().torrents, 0, "nothing malformed is tracked");
    let answer = tracker.handle_http(now, b"/nothing-here", addr(1));
    assert_eq!(answer.status, 404);
}

#[test]
fn ipv6_peers_go_in_peers6_and_dictionaries_when_not_compact() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    let v6: SocketAddr = "[2001:db8::1]:7000".parse().unwrap();
    let v6_peer: SocketAddr = "[2001:db8::1]:6881".parse().unwrap();
    http(&tracker, now, &request(1, 0, AnnounceEvent::Started), v6).unwrap();
    let url = announce_url("/announce", &request(2, 1, AnnounceEvent::Started));
    let body = tracker
        .handle_http(now, url.as_bytes(), "[2001:db8::2]:1".parse().unwrap())
        .body;
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("5:peers0:6:peers6"), "{text}");
    assert_eq!(decode_announce_response(&body).unwrap().peers, [v6_peer]);

    // An IPv4 client is sent IPv4 peers: a v4-mapped source is IPv4.
    http(
        &tracker,
        now,
        &request(3, 0, AnnounceEvent::Started),
        addr(3),
    )
    .unwrap();
    let mapped: SocketAddr = "[::ffff:10.0.0.4]:1".parse().unwrap();
    let mut dictionary = request(4, 1, AnnounceEvent::Started);
    dictionary.compact = false;
    let url = announce_url("/announce", &dictionary);
    let body = tracker.handle_http(now, url.as_bytes(), mapped).body;
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("5:peersld2:ip8:10.0.0.34:porti6881eee"),
        "{text}"
    );
    assert_eq!(tracker.peers(&HASH).len(), 4);
    assert!(
        tracker
            .peers(&HASH)
            .contains(&("10.0.0.4:6881".parse().unwrap(), false))
    );
}

#[test]
fn scrapes_one_many_all_and_too_many() {
    let now = Instant::now();
    let other = InfoHashV1([0x11; 20]);
    let mut config = config();
    config.max_scrape_hashes = 3;
    let tracker = Tracker::new(config.clone(), now, SECRET).unwrap();
    http(
        &tracker,
        now,
        &request(1, 0, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    let mut elsewhere = request(2, 1, AnnounceEvent::Started);
    elsewhere.info_hash = other;
    http(&tracker, now, &elsewhere, addr(2)).unwrap();
    let unknown = InfoHashV1([0x22; 20]);
    let files = scrape(&tracker, now, &[HASH, other, unknown]);
    let expect = |complete, incomplete| ScrapeStats {
        complete,
        downloaded: 0,
        incomplete,
    };
    assert_eq!(
        files,
        [
            (other, expect(0, 1)),
            (unknown, expect(0, 0)),
            (HASH, expect(1, 0))
        ]
    );
    let too_many = scrape_request_url("/scrape", &[HASH; 4]);
    let body = tracker.handle_http(now, too_many.as_bytes(), addr(1)).body;
    assert_eq!(
        failure(decode_announce_response(&body)),
        "a scrape names 1 to 3 info-hashes, this one names 4"
    );
    let body = tracker.handle_http(now, b"/scrape", addr(1)).body;
    assert!(failure(decode_announce_response(&body)).starts_with("full scrape is disabled"));
    config.full_scrape = true;
    let open = Tracker::new(config, now, SECRET).unwrap();
    http(&open, now, &request(1, 0, AnnounceEvent::Started), addr(1)).unwrap();
    let body = open.handle_http(now, b"/scrape", addr(1)).body;
    assert_eq!(
        decode_scrape_response(&body).unwrap(),
        [(HASH, expect(1, 0))]
    );
    assert_eq!(open.stats().scrapes, 1);
}

#[test]
fn the_rate_limit_answers_429_then_lets_requests_through_again() {
    let now = Instant::now();
    let mut config = config();
    config.rate_limit = Some(RateLimit {
        per_second: 2,
        burst: 3,
    });
    let tracker = Tracker::new(config, now, SECRET).unwrap();
    let url = announce_url("/announce", &request(1, 1, AnnounceEvent::Started));
    for _ in 0..3 {
        assert_eq!(
            tracker.handle_http(now, url.as_bytes(), addr(1)).status,
            200
        );
    }
    let limited = tracker.handle_http(now, url.as_bytes(), addr(1));
    assert_eq!((limited.status, limited.retry_after), (429, Some(1)));
    assert!(failure(decode_announce_response(&limited.body)).starts_with("too many requests"));
    assert_eq!(
        tracker.handle_http(now, url.as_bytes(), addr(2)).status,
        200
    );
    let later = now + Duration::from_millis(500);
    assert_eq!(
        tracker.handle_http(later, url.as_bytes(), addr(1)).status,
        200
    );
    let stats = tracker.stats();
    assert_eq!((stats.refused, stats.rate_limited), (1, 1));
    assert!(matches!(
        Tracker::new(
            {
                let mut c = TrackerConfig::default();
                c.rate_limit = Some(RateLimit {
                    per_second: 0,
                    burst: 1,
                });
                c
            },
            now,
            SECRET
        ),
        Err(ConfigError::RateLimit)
    ));
}

#[test]
fn rates_are_measured_between_maintenance_calls() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    for n in 0..50 {
        http(
            &tracker,
            now,
            &request(n, 1, AnnounceEvent::Started),
            addr(n),
        )
        .unwrap();
    }
    scrape(&tracker, now, &[HASH]);
    tracker.maintain(now + Duration::from_secs(10));
    let stats = tracker.stats();
    assert_eq!(stats.announces, 50);
    assert!((stats.announces_per_second - 5.0).abs() < 1e-9);
    assert!((stats.scrapes_per_second - 0.1).abs() < 1e-9);
}

/// UDP: connect, then announce and scrape with the id, answers decoded by the client codec.
pub(crate) fn udp(
    tracker: &Tracker,
    now: Instant,
    request: &UdpRequest,
    source: SocketAddr,
) -> Option<UdpResponse> {
    let mut packet = Vec::new();
    request.encode(&mut packet);
    let mut out = Vec::new();
    if !tracker.handle_udp(now, &packet, source, &mut out).is_send() {
        return None;
    }
    Some(UdpResponse::decode(&out, AddressFamily::of(&source)).expect("a valid answer"))
}

pub(crate) fn connect(tracker: &Tracker, now: Instant, source: SocketAddr) -> u64 {
    match udp(
        tracker,
        now,
        &UdpRequest::Connect { transaction_id: 5 },
        source,
    ) {
        Some(UdpResponse::Connect {
            transaction_id: 5,
            connection_id,
        }) => connection_id,
        other => panic!("expected a connect answer, got {other:?}"),
    }
}

#[test]
fn udp_announce_scrape_and_connection_ids() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    http(
        &tracker,
        now,
        &request(1, 0, AnnounceEvent::Started),
        addr(1),
    )
    .unwrap();
    let connection_id = connect(&tracker, now, addr(2));
    let announce = |connection_id, at, source| {
        let request = UdpRequest::Announce {
            connection_id,
            transaction_id: 9,
            request: request(2, 10, AnnounceEvent::Started),
        };
        udp(&tracker, at, &request, source)
    };
    match announce(connection_id, now, addr(2)) {
        Some(UdpResponse::Announce {
            transaction_id: 9,
            response,
        }) => {
            assert_eq!(response.peers, [addr(1)]);
            assert_eq!((response.complete, response.incomplete), (Some(1), Some(1)));
            assert_eq!(response.interval.as_secs(), 1800);
        }
        other => panic!("expected an announce answer, got {other:?}"),
    }
    assert_eq!(
        announce(connection_id, now, addr(3)),
        None,
        "another address's id"
    );
    assert_eq!(
        announce(connection_id ^ 1, now, addr(2)),
        None,
        "a forged id"
    );
    let expired = now + Duration::from_secs(121);
    assert_eq!(
        announce(connection_id, expired, addr(2)),
        None,
        "an expired id"
    );
    assert!(announce(connection_id, now + Duration::from_secs(120), addr(2)).is_some());
    assert_eq!(tracker.stats().udp_bad_connection_id, 3);

    let scrape = UdpRequest::Scrape {
        connection_id,
        transaction_id: 4,
        info_hashes: vec![HASH, InfoHashV1([0; 20])],
    };
    let stats = |complete, incomplete| ScrapeStats {
        complete,
        downloaded: 0,
        incomplete,
    };
    assert_eq!(
        udp(&tracker, now, &scrape, addr(2)),
        Some(UdpResponse::Scrape {
            transaction_id: 4,
            stats: vec![stats(1, 1), stats(0, 0)]
        })
    );
    let empty = UdpRequest::Scrape {
        connection_id,
        transaction_id: 4,
        info_hashes: Vec::new(),
    };
    assert!(matches!(
        udp(&tracker, now, &empty, addr(2)),
        Some(UdpResponse::Error { message, .. }) if message.contains("names 0")
    ));
}

#[test]
fn udp_refusals_and_malformed_packets_get_an_error_only_with_a_valid_id() {
    let now = Instant::now();
    let mut config = config();
    config.access = Access::AllowList;
    let tracker = Tracker::new(config, now, SECRET).unwrap();
    let connection_id = connect(&tracker, now, addr(2));
    let announce = UdpRequest::Announce {
        connection_id,
        transaction_id: 1,
        request: request(2, 10, AnnounceEvent::Started),
    };
    assert_eq!(
        udp(&tracker, now, &announce, addr(2)),
        Some(UdpResponse::Error {
            transaction_id: 1,
            message: "torrent not registered with this tracker".to_owned()
        })
    );
    let mut out = Vec::new();
    let mut short = Vec::new();
    announce.encode(&mut short);
    short.truncate(60);
    assert_eq!(
        tracker.handle_udp(now, &short, addr(2), &mut out),
        UdpAnswer::Send
    );
    let answer = UdpResponse::decode(&out, AddressFamily::V4).unwrap();
    assert!(matches!(answer, UdpResponse::Error { message, .. }
        if message == "malformed request: UDP announce request: expected 98 bytes, got 60"));
    short[..8].copy_from_slice(&1u64.to_be_bytes());
    assert_eq!(
        tracker.handle_udp(now, &short, addr(2), &mut out),
        UdpAnswer::Drop(UdpDrop::BadConnectionId),
        "no id, no answer"
    );
    assert_eq!(
        tracker.handle_udp(now, &[0; 15], addr(2), &mut out),
        UdpAnswer::Drop(UdpDrop::NotTracker)
    );
    let mut bad_magic = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut bad_magic);
    bad_magic[0] ^= 1;
    assert_eq!(
        tracker.handle_udp(now, &bad_magic, addr(2), &mut out),
        UdpAnswer::Drop(UdpDrop::NotTracker)
    );
    let stats = tracker.stats();
    assert_eq!((stats.udp_not_tracker, stats.udp_bad_connection_id), (2, 1));
}

#[test]
fn udp_ipv6_answers_carry_18_byte_peers_and_at_most_80() {
    let now = Instant::now();
    let tracker = Tracker::new(config(), now, SECRET).unwrap();
    for n in 1..=100u8 {
        let source: SocketAddr = format!("[2001:db8::{n}]:1").parse().unwrap();
        http(
            &tracker,
            now,
            &request(n, 0, AnnounceEvent::Started),
            source,
        )
        .unwrap();
    }
    let source: SocketAddr = "[2001:db8::ff]:1".parse().unwrap();
    let connection_id = connect(&tracker, now, source);
    let mut asking = request(200, 1, AnnounceEvent::Started);
    asking.numwant = Some(150);
    let announce = UdpRequest::Announce {
        connection_id,
        transaction_id: 1,
        request: asking,
    };
    match udp(&tracker, now, &announce, source) {
        Some(UdpResponse::Announce { response, .. }) => {
            assert_eq!(response.peers.len(), 80);
            assert!(response.peers.iter().all(SocketAddr::is_ipv6));
        }
        other => panic!("expected an announce answer, got {other:?}"),
    }
}
