//! Fuzzes the tracker server's handlers: any HTTP request target and any UDP datagram (raw,
//! and with a valid connection id spliced in so it reaches the request decoder), from IPv4 and
//! IPv6 sources, against one tracker whose swarms accumulate across inputs of a run (up to
//! its caps: 64 torrents of 64 peers). Never panics; every answer decodes with the
//! client-side codecs.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use swarmgate_tracker::{
    AddressFamily, Tracker, TrackerConfig, TrackerError, UdpAnswer, UdpRequest, UdpResponse,
    decode_announce_response, decode_scrape_response,
};

fn tracker() -> &'static (Tracker, Instant) {
    static TRACKER: OnceLock<(Tracker, Instant)> = OnceLock::new();
    TRACKER.get_or_init(|| {
        let now = Instant::now();
        let mut config = TrackerConfig::default();
        config.full_scrape = true;
        // Small caps: the swarms still accumulate and the refusals of a full registry are
        // reached, while a full scrape (an answer per torrent, decoded again below) stays a few
        // kilobytes, so the run keeps its speed over millions of inputs. With 2,000 torrents
        // each full scrape cost 200 KB twice and the run fell to 71 inputs a second.
        config.max_torrents = 64;
        config.max_peers_per_torrent = 64;
        (
            Tracker::new(config, now, [1; 16]).expect("a valid configuration"),
            now,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (tracker, now) = tracker();
    let now = *now;
    let sources: [SocketAddr; 2] = [
        "10.1.2.3:4000".parse().unwrap(),
        "[2001:db8::7]:4000".parse().unwrap(),
    ];
    for source in sources {
        let mut target = b"/announce?".to_vec();
        if data.first().is_some_and(|b| b & 1 == 1) {
            target = b"/scrape?".to_vec();
        }
        target.extend_from_slice(data);
        let answer = tracker.handle_http(now, &target, source);
        let announce = decode_announce_response(&answer.body);
        assert!(
            announce.is_ok()
                || matches!(announce, Err(TrackerError::Failure(_)))
                || decode_scrape_response(&answer.body).is_ok()
        );

        let family = AddressFamily::of(&source);
        let mut out = Vec::new();
        if tracker.handle_udp(now, data, source, &mut out).is_send() {
            assert!(UdpResponse::decode(&out, family).is_ok());
        }
        if data.len() >= 16 {
            let mut connect = Vec::new();
            UdpRequest::Connect { transaction_id: 0 }.encode(&mut connect);
            assert_eq!(
                tracker.handle_udp(now, &connect, source, &mut out),
                UdpAnswer::Send
            );
            let mut packet = data.to_vec();
            packet[..8].copy_from_slice(&out[8..16]);
            if tracker.handle_udp(now, &packet, source, &mut out).is_send() {
                let answer = UdpResponse::decode(&out, family).expect("a decodable answer");
                assert_eq!(answer.transaction_id().to_be_bytes(), packet[12..16]);
            }
        }
    }
});
