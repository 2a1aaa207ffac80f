//! Spec vectors, written out by hand: URLs (BEP 3), bodies (BEP 3/7/23/48), packets (BEP 15).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError,
    UdpRequest, UdpResponse, announce_url, decode_announce_response, decode_scrape_response,
    encode_announce_response, encode_scrape_response, parse_announce_query, parse_scrape_query,
    scrape_request_url, scrape_url,
};

/// The classic example hash 123456789abcdef123456789abcdef123456789a.
fn hash() -> InfoHashV1 {
    "123456789abcdef123456789abcdef123456789a".parse().unwrap()
}

fn peer_id() -> PeerId {
    let mut id = *b"-SG0001-............";
    id[8..].copy_from_slice(b"ab c~.-_/+\x00\xff");
    PeerId(id)
}

fn request() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: hash(),
        peer_id: peer_id(),
        port: 6881,
        uploaded: 1,
        downloaded: 2,
        left: 3,
        event: AnnounceEvent::Started,
        numwant: Some(50),
        key: 0x1a2b_3c4d,
        compact: true,
        tracker_id: Some(b"t 1".to_vec()),
        ip: Some("192.0.2.7".parse().unwrap()),
    }
}

const HASH_ENCODED: &str = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";

#[test]
fn announce_url_encodes_raw_bytes() {
    let url = announce_url("http://tracker.example:6969/announce", &request());
    assert_eq!(
        url,
        "http://tracker.example:6969/announce?info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A\
         &peer_id=-SG0001-ab%20c~.-_%2F%2B%00%FF&port=6881&uploaded=1&downloaded=2&left=3\
         &compact=1&event=started&numwant=50&key=1A2B3C4D&trackerid=t%201&ip=192.0.2.7"
    );
    let query = url.split_once('?').unwrap().1;
    assert_eq!(parse_announce_query(query.as_bytes()).unwrap(), request());
}

#[test]
fn announce_url_appends_to_an_existing_query() {
    let mut r = AnnounceRequest::new(hash(), peer_id(), 1);
    r.compact = false;
    r.ip = Some("2001:db8::1".parse().unwrap());
    let url = announce_url("https://t.example/announce.php?passkey=abc", &r);
    assert_eq!(
        url,
        format!(
            "https://t.example/announce.php?passkey=abc&info_hash={HASH_ENCODED}\
             &peer_id=-SG0001-ab%20c~.-_%2F%2B%00%FF&port=1&uploaded=0&downloaded=0&left=0\
             &compact=0&key=00000000&ip=2001%3Adb8%3A%3A1"
        )
    );
    let query = url.split_once('?').unwrap().1;
    assert_eq!(parse_announce_query(query.as_bytes()).unwrap(), r);
}

#[test]
fn scrape_request_lists_every_hash() {
    let url = scrape_request_url("http://t.example/scrape", &[hash(), InfoHashV1([b'a'; 20])]);
    assert_eq!(
        url,
        format!("http://t.example/scrape?info_hash={HASH_ENCODED}&info_hash=aaaaaaaaaaaaaaaaaaaa")
    );
    let query = url.split_once('?').unwrap().1;
    assert_eq!(
        parse_scrape_query(query.as_bytes()).unwrap(),
        [hash(), InfoHashV1([b'a'; 20])]
    );
}

#[test]
fn scrape_url_follows_bep_48_examples() {
    let cases = [
        (
            "http://example.com/announce",
            Some("http://example.com/scrape"),
        ),
        (
            "http://example.com/x/announce",
            Some("http://example.com/x/scrape"),
        ),
        (
            "http://example.com/announce.php",
            Some("http://example.com/scrape.php"),
        ),
        ("http://example.com/a", None),
        (
            "http://example.com/announce?x2%0644",
            Some("http://example.com/scrape?x2%0644"),
        ),
        ("http://example.com/announce?x=2/4", None),
        ("http://example.com/x%064announce", None),
    ];
    for (announce, scrape) in cases {
        assert_eq!(scrape_url(announce).as_deref(), scrape, "{announce}");
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn compact_peers_with_min_interval_and_counts() {
    let body = b"d8:completei5e10:incompletei7e8:intervali1800e12:min intervali60e\
                 5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\x02\xc8\xd5e";
    let r = decode_announce_response(body).unwrap();
    assert_eq!(
        r,
        AnnounceResponse {
            interval: Duration::from_secs(1800),
            min_interval: Some(Duration::from_secs(60)),
            complete: Some(5),
            incomplete: Some(7),
            downloaded: None,
            peers: vec![addr("10.0.0.1:6881"), addr("192.168.1.2:51413")],
            warning: None,
            tracker_id: None,
        }
    );
    assert_eq!(encode_announce_response(&r, true), body);
}

#[test]
fn dictionary_peers_with_peer_ids() {
    let body = b"d8:intervali900e5:peersld2:ip8:10.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa\
                 4:porti6881eed2:ip3:::14:porti443eeee";
    let r = decode_announce_response(body).unwrap();
    assert_eq!(r.peers, [addr("10.0.0.1:6881"), addr("[::1]:443")]);
    let written = encode_announce_response(&r, false);
    assert_eq!(
        written,
        b"d8:intervali900e5:peersld2:ip8:10.0.0.14:porti6881eed2:ip3:::14:porti443eeee"
    );
}

#[test]
fn peers6_follow_ipv4_peers() {
    let mut body = b"d8:intervali60e5:peers6:\x7f\x00\x00\x01\x00\x50\
                     6:peers636:"
        .to_vec();
    body.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1,
    ]);
    body.extend_from_slice(&[0; 15]);
    body.extend_from_slice(&[1, 0, 80]);
    body.push(b'e');
    let r = decode_announce_response(&body).unwrap();
    assert_eq!(
        r.peers,
        [
            addr("127.0.0.1:80"),
            addr("[2001:db8::1]:6881"),
            addr("[::1]:80")
        ]
    );
    assert_eq!(encode_announce_response(&r, true), body);
}

#[test]
fn failure_reason_wins_over_everything() {
    let body = b"d14:failure reason17:torrent not found8:intervali60ee";
    match decode_announce_response(body) {
        Err(TrackerError::Failure(reason)) => assert_eq!(reason, "torrent not found"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn warning_and_tracker_id() {
    let body = b"d8:intervali60e5:peers0:10:tracker id3:xyz15:warning message11:be careful!e";
    let r = decode_announce_response(body).unwrap();
    assert_eq!(r.warning.as_deref(), Some("be careful!"));
    assert_eq!(r.tracker_id.as_deref(), Some(&b"xyz"[..]));
    assert_eq!(encode_announce_response(&r, true), body);
}

#[test]
fn scrape_files_are_keyed_by_raw_hash() {
    let mut body = b"d5:filesd20:".to_vec();
    body.extend_from_slice(hash().as_bytes());
    body.extend_from_slice(b"d8:completei5e10:downloadedi50e10:incompletei10eeee");
    let stats = ScrapeStats {
        complete: 5,
        downloaded: 50,
        incomplete: 10,
    };
    assert_eq!(decode_scrape_response(&body).unwrap(), [(hash(), stats)]);
    assert_eq!(encode_scrape_response(&[(hash(), stats)]), body);
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn encoded(request: &UdpRequest) -> Vec<u8> {
    let mut out = Vec::new();
    request.encode(&mut out);
    out
}

fn encoded_response(response: &UdpResponse, family: AddressFamily) -> Vec<u8> {
    let mut out = Vec::new();
    response.encode(family, &mut out);
    out
}

#[test]
fn udp_connect_packets() {
    let request = UdpRequest::Connect {
        transaction_id: 0x1234_5678,
    };
    let bytes = hex("00000417 27101980 00000000 12345678");
    assert_eq!(encoded(&request), bytes);
    assert_eq!(UdpRequest::decode(&bytes).unwrap(), request);

    let response = UdpResponse::Connect {
        transaction_id: 0x1234_5678,
        connection_id: 0x0102_0304_0506_0708,
    };
    let bytes = hex("00000000 12345678 01020304 05060708");
    assert_eq!(encoded_response(&response, AddressFamily::V4), bytes);
    assert_eq!(
        UdpResponse::decode(&bytes, AddressFamily::V4).unwrap(),
        response
    );
}

#[test]
fn udp_announce_request() {
    let mut r = AnnounceRequest::new(hash(), PeerId(*b"-SG0001-abcdefghijkl"), 6881);
    r.downloaded = 0x10;
    r.left = 0x20;
    r.uploaded = 0x30;
    r.event = AnnounceEvent::Completed;
    r.ip = Some(IpAddr::from([192, 0, 2, 7]));
    r.key = 0xdead_beef;
    r.numwant = Some(50);
    let request = UdpRequest::Announce {
        connection_id: 0x0102_0304_0506_0708,
        transaction_id: 7,
        request: r,
    };
    let bytes = hex("0102030405060708 00000001 00000007
         123456789abcdef123456789abcdef123456789a
         2d5347303030312d6162636465666768696a6b6c
         0000000000000010 0000000000000020 0000000000000030
         00000001 c0000207 deadbeef 00000032 1ae1");
    assert_eq!(bytes.len(), 98);
    assert_eq!(encoded(&request), bytes);
    assert_eq!(UdpRequest::decode(&bytes).unwrap(), request);

    // numwant -1 and ip 0 are "the tracker's choice"; BEP 41 options after the request are ignored.
    let mut defaults = bytes.clone();
    defaults[84..88].copy_from_slice(&[0; 4]);
    defaults[92..96].copy_from_slice(&[0xff; 4]);
    defaults.extend_from_slice(&[2, 5, b'/', b'a', b'n', b'n', b'o', 0]);
    let UdpRequest::Announce { request, .. } = UdpRequest::decode(&defaults).unwrap() else {
        panic!("not an announce");
    };
    assert_eq!((request.ip, request.numwant), (None, None));
}

#[test]
fn udp_announce_responses_v4_and_v6() {
    let mut response = AnnounceResponse::new(Duration::from_secs(1800));
    response.incomplete = Some(2);
    response.complete = Some(3);
    response.peers = vec![addr("10.0.0.1:6881")];
    let v4 = UdpResponse::Announce {
        transaction_id: 9,
        response: response.clone(),
    };
    let bytes = hex("00000001 00000009 00000708 00000002 00000003 0a000001 1ae1");
    assert_eq!(encoded_response(&v4, AddressFamily::V4), bytes);
    assert_eq!(UdpResponse::decode(&bytes, AddressFamily::V4).unwrap(), v4);

    response.peers = vec![addr("[2001:db8::1]:51413")];
    let v6 = UdpResponse::Announce {
        transaction_id: 9,
        response,
    };
    let bytes = hex("00000001 00000009 00000708 00000002 00000003
         20010db8000000000000000000000001 c8d5");
    assert_eq!(encoded_response(&v6, AddressFamily::V6), bytes);
    assert_eq!(UdpResponse::decode(&bytes, AddressFamily::V6).unwrap(), v6);
    // Over IPv4 an IPv6 peer cannot be sent: it is left out.
    assert_eq!(encoded_response(&v6, AddressFamily::V4).len(), 20);
}

#[test]
fn udp_scrape_packets() {
    let request = UdpRequest::Scrape {
        connection_id: 0x0102_0304_0506_0708,
        transaction_id: 3,
        info_hashes: vec![hash(), InfoHashV1([0xff; 20])],
    };
    let bytes = hex("0102030405060708 00000002 00000003
         123456789abcdef123456789abcdef123456789a
         ffffffffffffffffffffffffffffffffffffffff");
    assert_eq!(encoded(&request), bytes);
    assert_eq!(UdpRequest::decode(&bytes).unwrap(), request);

    let response = UdpResponse::Scrape {
        transaction_id: 3,
        stats: vec![
            ScrapeStats {
                complete: 1,
                downloaded: 2,
                incomplete: 3,
            },
            ScrapeStats::default(),
        ],
    };
    let bytes = hex("00000002 00000003 00000001 00000002 00000003 00000000 00000000 00000000");
    assert_eq!(encoded_response(&response, AddressFamily::V4), bytes);
    assert_eq!(
        UdpResponse::decode(&bytes, AddressFamily::V4).unwrap(),
        response
    );
}

#[test]
fn udp_error_packet() {
    let response = UdpResponse::Error {
        transaction_id: 0xabcd,
        message: "unregistered torrent".into(),
    };
    let mut bytes = hex("00000003 0000abcd");
    bytes.extend_from_slice(b"unregistered torrent");
    assert_eq!(encoded_response(&response, AddressFamily::V4), bytes);
    assert_eq!(
        UdpResponse::decode(&bytes, AddressFamily::V4).unwrap(),
        response
    );
    // Some trackers end the message with a NUL.
    bytes.push(0);
    assert_eq!(
        UdpResponse::decode(&bytes, AddressFamily::V6).unwrap(),
        response
    );
}
