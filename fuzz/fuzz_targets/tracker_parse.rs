//! Fuzzes the tracker parsers: HTTP announce and scrape bodies, announce and scrape query
//! strings, UDP request and response packets (both address families), and the UDP client
//! machine fed hostile datagrams. Never panics; whatever decodes re-encodes to an equal value.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceRequest, UdpRequest, UdpResponse, UdpTrackerClient, announce_url,
    decode_announce_response, decode_scrape_response, encode_announce_response,
    encode_scrape_response, parse_announce_query, parse_scrape_query, scrape_request_url,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = decode_announce_response(data) {
        let dictionary = encode_announce_response(&response, false);
        assert_eq!(decode_announce_response(&dictionary).unwrap(), response);
        let compact = decode_announce_response(&encode_announce_response(&response, true)).unwrap();
        let mut partitioned = response.peers.clone();
        partitioned.sort_by_key(|p| p.is_ipv6());
        assert_eq!(compact.peers, partitioned);
    }
    if let Ok(mut files) = decode_scrape_response(data) {
        let mut again = decode_scrape_response(&encode_scrape_response(&files)).unwrap();
        files.sort_by_key(|(hash, _)| hash.0);
        again.sort_by_key(|(hash, _)| hash.0);
        assert_eq!(again, files);
    }
    if let Ok(request) = parse_announce_query(data) {
        let url = announce_url("http://t/announce", &request);
        let query = url.split_once('?').unwrap().1;
        assert_eq!(parse_announce_query(query.as_bytes()).unwrap(), request);
    }
    if let Ok(hashes) = parse_scrape_query(data) {
        let url = scrape_request_url("http://t/scrape", &hashes);
        let query = url.split_once('?').map_or("", |(_, q)| q);
        assert_eq!(parse_scrape_query(query.as_bytes()).unwrap(), hashes);
    }
    if let Ok(request) = UdpRequest::decode(data) {
        let mut packet = Vec::new();
        request.encode(&mut packet);
        assert_eq!(UdpRequest::decode(&packet).unwrap(), request);
    }
    for family in [AddressFamily::V4, AddressFamily::V6] {
        if let Ok(response) = UdpResponse::decode(data, family) {
            let mut packet = Vec::new();
            response.encode(family, &mut packet);
            assert_eq!(UdpResponse::decode(&packet, family).unwrap(), response);
        }
    }
    // The machine takes whatever arrives while it connects, then while it announces.
    let now = Instant::now();
    let mut client = UdpTrackerClient::new(1);
    client.announce(
        now,
        AnnounceRequest::new(InfoHashV1([1; 20]), PeerId([2; 20]), 1),
    );
    let connect = client.poll_transmit().unwrap();
    client.handle_datagram(now, data);
    let mut reply = data.to_vec();
    if reply.len() >= 8 {
        // Give the datagram the connect's transaction id so it reaches the decoder.
        reply[4..8].copy_from_slice(&connect[12..16]);
        client.handle_datagram(now, &reply);
        client.handle_datagram(now, &reply);
    }
    while client.poll_transmit().is_some() {}
    while client.poll_event().is_some() {}
});
