//! Tracker protocol without a network: an HTTP announce URL and a parsed reply, BEP 48 scrape
//! URLs, and a BEP 15 exchange between the sans-IO UDP client and a tracker played here.
//!
//! `cargo run -p examples --example tracker`

use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceEvent, AnnounceRequest, AnnounceResponse, UdpEvent, UdpRequest,
    UdpResponse, UdpTrackerClient, announce_url, decode_announce_response, scrape_url,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let info_hash: InfoHashV1 = "123456789abcdef123456789abcdef123456789a".parse()?;
    let mut request = AnnounceRequest::new(info_hash, PeerId::swarmgate(*b"example-peer"), 6881);
    request.event = AnnounceEvent::Started;
    request.left = 5_000_000;
    request.numwant = Some(50);
    let announce = "http://tracker.example:6969/announce";
    println!("GET {}", announce_url(announce, &request));
    println!("scrape at {:?}", scrape_url(announce));

    let body = b"d8:completei3e10:incompletei5e8:intervali1800e12:min intervali300e\
                 5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\xc8\xd5e";
    let reply = decode_announce_response(body)?;
    println!(
        "HTTP reply: every {:?} (at least {:?}), {:?} seeders, peers {:?}",
        reply.interval, reply.min_interval, reply.complete, reply.peers
    );

    // BEP 15 under a clock we choose: the client sends, the "tracker" below answers.
    let now = Instant::now();
    let mut client = UdpTrackerClient::new(2024);
    client.announce(now, request);
    for round in 0..4 {
        let Some(packet) = client.poll_transmit() else {
            break;
        };
        let asked = UdpRequest::decode(&packet)?;
        let answer = match &asked {
            UdpRequest::Connect { transaction_id } => UdpResponse::Connect {
                transaction_id: *transaction_id,
                connection_id: 0x0123_4567_89ab_cdef,
            },
            UdpRequest::Announce { transaction_id, .. } => {
                let mut response = AnnounceResponse::new(Duration::from_secs(900));
                response.complete = Some(1);
                response.incomplete = Some(2);
                response.peers = vec!["10.0.0.7:51413".parse()?];
                UdpResponse::Announce {
                    transaction_id: *transaction_id,
                    response,
                }
            }
            UdpRequest::Scrape { transaction_id, .. } => UdpResponse::Error {
                transaction_id: *transaction_id,
                message: "not in this example".into(),
            },
        };
        let mut datagram = Vec::new();
        answer.encode(AddressFamily::V4, &mut datagram);
        println!(
            "UDP round {round}: sent {} bytes ({}), got {} bytes back",
            packet.len(),
            if matches!(asked, UdpRequest::Connect { .. }) {
                "connect"
            } else {
                "announce"
            },
            datagram.len()
        );
        client.handle_datagram(now, &datagram);
    }
    match client.poll_event() {
        Some(UdpEvent::Announced(response)) => {
            println!(
                "UDP reply: every {:?}, peers {:?}",
                response.interval, response.peers
            )
        }
        other => println!("UDP exchange ended otherwise: {other:?}"),
    }
    Ok(())
}
