//! The BEP 15 client machine under fake time: `now` is a base instant plus seconds we choose.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceRequest, AnnounceResponse, MAX_SCRAPE_HASHES, ScrapeStats, TrackerError,
    UdpClientConfig, UdpEvent, UdpRequest, UdpResponse, UdpTrackerClient,
};

fn request() -> AnnounceRequest {
    AnnounceRequest::new(InfoHashV1([1; 20]), PeerId([2; 20]), 6881)
}

fn respond(client: &mut UdpTrackerClient, now: Instant, response: &UdpResponse) {
    let mut packet = Vec::new();
    response.encode(AddressFamily::V4, &mut packet);
    client.handle_datagram(now, &packet);
}

fn sent(client: &mut UdpTrackerClient) -> UdpRequest {
    let packet = client.poll_transmit().expect("a packet to send");
    assert!(client.poll_transmit().is_none(), "one packet at a time");
    UdpRequest::decode(&packet).expect("the client sends valid packets")
}

fn connect_reply(request: &UdpRequest, connection_id: u64) -> UdpResponse {
    assert!(matches!(request, UdpRequest::Connect { .. }), "{request:?}");
    UdpResponse::Connect {
        transaction_id: request.transaction_id(),
        connection_id,
    }
}

fn announce_reply(request: &UdpRequest) -> UdpResponse {
    let mut response = AnnounceResponse::new(Duration::from_secs(1800));
    response.complete = Some(1);
    response.incomplete = Some(0);
    response.peers = vec!["10.0.0.9:6881".parse::<SocketAddr>().unwrap()];
    UdpResponse::Announce {
        transaction_id: request.transaction_id(),
        response,
    }
}

fn announced(client: &mut UdpTrackerClient) -> AnnounceResponse {
    match client.poll_event() {
        Some(UdpEvent::Announced(r)) => r,
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn retransmits_at_15_30_60_seconds_and_gives_up_after_the_last() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(1);
    client.announce(t0, request());
    let first = sent(&mut client);
    let mut send_times = vec![0];
    // Nine sends (n = 0..=8) and one final timeout; the bound leaves room for a wrong count.
    for _ in 0..20 {
        let Some(deadline) = client.poll_timeout() else {
            break;
        };
        // Just before the deadline nothing happens.
        client.handle_timeout(deadline - Duration::from_millis(1));
        assert!(client.poll_transmit().is_none());
        client.handle_timeout(deadline);
        if let Some(packet) = client.poll_transmit() {
            assert_eq!(
                UdpRequest::decode(&packet).unwrap(),
                first,
                "same packet, same id"
            );
            send_times.push((deadline - t0).as_secs());
        }
    }
    let waits: Vec<u64> = send_times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1920]);
    assert_eq!(*send_times.last().unwrap(), 3825);
    assert!(matches!(
        client.poll_event(),
        Some(UdpEvent::Failed(TrackerError::Timeout))
    ));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn the_schedule_is_configurable() {
    let t0 = Instant::now();
    let config = UdpClientConfig {
        retransmit_base: Duration::from_millis(100),
        max_retransmits: 1,
        ..UdpClientConfig::default()
    };
    let mut client = UdpTrackerClient::with_config(1, config);
    client.announce(t0, request());
    sent(&mut client);
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_millis(100)));
    client.handle_timeout(t0 + Duration::from_millis(100));
    sent(&mut client);
    assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_millis(300)));
    client.handle_timeout(t0 + Duration::from_millis(300));
    assert!(matches!(
        client.poll_event(),
        Some(UdpEvent::Failed(TrackerError::Timeout))
    ));
}

#[test]
fn connection_id_is_reused_for_60_seconds_then_fetched_again() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(2);
    client.announce(t0, request());
    let connect = sent(&mut client);
    respond(&mut client, t0, &connect_reply(&connect, 0xc0ffee));
    let announce = sent(&mut client);
    let UdpRequest::Announce { connection_id, .. } = &announce else {
        panic!("{announce:?}");
    };
    assert_eq!(*connection_id, 0xc0ffee);
    assert_ne!(announce.transaction_id(), connect.transaction_id());
    respond(&mut client, t0, &announce_reply(&announce));
    assert_eq!(announced(&mut client).peers.len(), 1);

    // 59 s later: straight to the announce.
    let t1 = t0 + Duration::from_secs(59);
    client.announce(t1, request());
    let again = sent(&mut client);
    assert!(matches!(
        again,
        UdpRequest::Announce {
            connection_id: 0xc0ffee,
            ..
        }
    ));
    respond(&mut client, t1, &announce_reply(&again));
    announced(&mut client);

    // 60 s after the connect: a new connection id first.
    let t2 = t0 + Duration::from_secs(60);
    client.announce(t2, request());
    let reconnect = sent(&mut client);
    respond(&mut client, t2, &connect_reply(&reconnect, 0xbeef));
    assert!(matches!(
        sent(&mut client),
        UdpRequest::Announce {
            connection_id: 0xbeef,
            ..
        }
    ));
}

#[test]
fn a_connection_that_expires_during_retransmission_is_fetched_again() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(3);
    client.announce(t0, request());
    let connect = sent(&mut client);
    respond(&mut client, t0, &connect_reply(&connect, 1));
    let announce = sent(&mut client);
    // Retransmissions at 15 and 45 s reuse the id; at 105 s it is stale.
    for at in [15, 45] {
        client.handle_timeout(t0 + Duration::from_secs(at));
        assert_eq!(sent(&mut client), announce);
    }
    client.handle_timeout(t0 + Duration::from_secs(105));
    let reconnect = sent(&mut client);
    assert!(matches!(reconnect, UdpRequest::Connect { .. }));
    let t = t0 + Duration::from_secs(106);
    respond(&mut client, t, &connect_reply(&reconnect, 2));
    let resent = sent(&mut client);
    assert!(matches!(
        resent,
        UdpRequest::Announce {
            connection_id: 2,
            ..
        }
    ));
    // The counter went on (n = 3 at the reconnect), it did not restart: a 120 s wait.
    assert_eq!(client.poll_timeout(), Some(t + Duration::from_secs(120)));
}

#[test]
fn mismatched_transactions_and_actions_are_ignored() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(4);
    client.announce(t0, request());
    let connect = sent(&mut client);
    let id = connect.transaction_id();
    // Wrong transaction id: ignored, still waiting.
    respond(
        &mut client,
        t0,
        &UdpResponse::Connect {
            transaction_id: id.wrapping_add(1),
            connection_id: 5,
        },
    );
    assert!(client.poll_transmit().is_none());
    // Right id, wrong action for this stage: ignored.
    respond(&mut client, t0, &announce_reply(&connect));
    respond(
        &mut client,
        t0,
        &UdpResponse::Scrape {
            transaction_id: id,
            stats: vec![],
        },
    );
    // Right id, an action no tracker sends: ignored too.
    let mut unknown = vec![0, 0, 0, 7];
    unknown.extend_from_slice(&id.to_be_bytes());
    client.handle_datagram(t0, &unknown);
    assert!(client.poll_transmit().is_none() && client.poll_event().is_none());
    // Too short to carry an id: ignored.
    client.handle_datagram(t0, &[0, 0, 0]);
    respond(&mut client, t0, &connect_reply(&connect, 5));
    let announce = sent(&mut client);
    // A late duplicate connect answer is now the wrong transaction: ignored.
    respond(&mut client, t0, &connect_reply(&connect, 6));
    assert!(client.poll_transmit().is_none());
    respond(&mut client, t0, &announce_reply(&announce));
    announced(&mut client);
}

#[test]
fn an_error_action_fails_the_request_with_its_message() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(5);
    client.announce(t0, request());
    client.announce(t0, request());
    let connect = sent(&mut client);
    respond(
        &mut client,
        t0,
        &UdpResponse::Error {
            transaction_id: connect.transaction_id(),
            message: "go away".into(),
        },
    );
    match client.poll_event() {
        Some(UdpEvent::Failed(TrackerError::Failure(m))) => assert_eq!(m, "go away"),
        other => panic!("{other:?}"),
    }
    // The queued second announce starts at once.
    assert!(matches!(sent(&mut client), UdpRequest::Connect { .. }));
}

#[test]
fn an_undecodable_answer_with_our_id_fails_the_request() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(6);
    client.announce(t0, request());
    let connect = sent(&mut client);
    respond(&mut client, t0, &connect_reply(&connect, 1));
    let announce = sent(&mut client);
    let mut packet = Vec::new();
    announce_reply(&announce).encode(AddressFamily::V4, &mut packet);
    packet.push(0);
    client.handle_datagram(t0, &packet);
    assert!(matches!(
        client.poll_event(),
        Some(UdpEvent::Failed(TrackerError::InvalidResponse { .. }))
    ));
}

#[test]
fn large_scrapes_go_out_in_batches_and_come_back_as_one() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(7);
    let hashes: Vec<InfoHashV1> = (0..100u8).map(|i| InfoHashV1([i; 20])).collect();
    client.scrape(t0, hashes.clone());
    let connect = sent(&mut client);
    respond(&mut client, t0, &connect_reply(&connect, 9));
    let mut asked = Vec::new();
    for _ in 0..3 {
        let Some(packet) = client.poll_transmit() else {
            break;
        };
        let UdpRequest::Scrape {
            info_hashes,
            transaction_id,
            ..
        } = UdpRequest::decode(&packet).unwrap()
        else {
            panic!("not a scrape");
        };
        assert!(info_hashes.len() <= MAX_SCRAPE_HASHES);
        let stats = info_hashes
            .iter()
            .map(|h| ScrapeStats {
                complete: u32::from(h.0[0]),
                downloaded: 0,
                incomplete: 1,
            })
            .collect();
        asked.extend(info_hashes);
        respond(
            &mut client,
            t0,
            &UdpResponse::Scrape {
                transaction_id,
                stats,
            },
        );
    }
    assert_eq!(asked, hashes);
    match client.poll_event() {
        Some(UdpEvent::Scraped(stats)) => {
            let seeders: Vec<u32> = stats.iter().map(|s| s.complete).collect();
            assert_eq!(seeders, (0..100).collect::<Vec<u32>>());
        }
        other => panic!("{other:?}"),
    }
    // A scrape of nothing needs no packet.
    client.scrape(t0, vec![]);
    assert!(matches!(client.poll_event(), Some(UdpEvent::Scraped(s)) if s.is_empty()));
    assert!(client.poll_transmit().is_none());
}

#[test]
fn a_short_scrape_answer_is_invalid() {
    let t0 = Instant::now();
    let mut client = UdpTrackerClient::new(8);
    client.scrape(t0, vec![InfoHashV1([1; 20]), InfoHashV1([2; 20])]);
    let connect = sent(&mut client);
    respond(&mut client, t0, &connect_reply(&connect, 9));
    let scrape = sent(&mut client);
    respond(
        &mut client,
        t0,
        &UdpResponse::Scrape {
            transaction_id: scrape.transaction_id(),
            stats: vec![ScrapeStats::default()],
        },
    );
    assert!(matches!(
        client.poll_event(),
        Some(UdpEvent::Failed(TrackerError::InvalidResponse { .. }))
    ));
}

#[test]
fn transaction_ids_come_from_the_seed() {
    let ids = |seed| {
        let mut client = UdpTrackerClient::new(seed);
        client.announce(Instant::now(), request());
        sent(&mut client).transaction_id()
    };
    assert_eq!(ids(11), ids(11));
    assert_ne!(ids(11), ids(12));
}
