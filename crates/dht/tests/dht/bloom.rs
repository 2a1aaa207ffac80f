//! BEP 33's scrape bloom filter against the BEP's own vector, and carried through a scrape
//! answer's `BFsd` / `BFpe` keys.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use swarmgate_dht::{Body, KrpcLimits, Message, NodeId, Response, ScrapeBloom};

/// 192.0.2.0-255 and 2001:db8:: to 2001:db8::3e7: the addresses of BEP 33's test vector.
fn vector_addresses() -> Vec<IpAddr> {
    let v4 = (0..=255u8).map(|last| IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)));
    let base = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
    let v6 = (0..1000u128).map(|i| IpAddr::V6(Ipv6Addr::from(base + i)));
    v4.chain(v6).collect()
}

#[test]
fn bep33_vector() {
    let mut bloom = ScrapeBloom::new();
    for ip in vector_addresses() {
        bloom.insert(ip);
    }
    assert_eq!(
        bloom.as_bytes()[..8],
        [0xF6, 0xC3, 0xF5, 0xEA, 0xA0, 0x7F, 0xFD, 0x91]
    );
    let estimate = bloom.estimate();
    assert!((estimate - 1224.9308).abs() < 1e-4, "{estimate}");
    assert!(vector_addresses().into_iter().all(|ip| bloom.contains(ip)));
}

#[test]
fn union_of_parts_equals_the_whole() {
    let addresses = vector_addresses();
    let (first, second) = addresses.split_at(300);
    let mut whole = ScrapeBloom::new();
    let mut a = ScrapeBloom::new();
    let mut b = ScrapeBloom::new();
    for ip in first {
        whole.insert(*ip);
        a.insert(*ip);
    }
    for ip in second {
        whole.insert(*ip);
        b.insert(*ip);
    }
    assert_ne!(a, whole);
    a.union(&b);
    assert_eq!(a, whole);
    // Inserting again changes nothing: the filter counts distinct addresses.
    let before = whole.clone();
    whole.insert(addresses[0]);
    assert_eq!(whole, before);
}

#[test]
fn blooms_travel_in_a_scrape_answer() {
    let mut seeds = ScrapeBloom::new();
    let mut peers = ScrapeBloom::new();
    for last in 0..40u8 {
        seeds.insert(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last)));
        peers.insert(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)));
    }
    let mut response = Response::new(NodeId([1; 20]));
    response.token = Some(b"tk".to_vec());
    response.seeds_bloom = Some(Box::new(*seeds.as_bytes()));
    response.peers_bloom = Some(Box::new(*peers.as_bytes()));
    let mut bytes = Vec::new();
    Message::response(b"t1".to_vec(), response).encode(&mut bytes);
    assert!(
        bytes.len() < 1024,
        "a scrape answer fits BEP 32's 1,024 bytes"
    );
    let Body::Response(answer) = Message::decode(&bytes, &KrpcLimits::default())
        .unwrap()
        .body
    else {
        panic!("a response")
    };
    let seeds_back = ScrapeBloom::from_bytes(*answer.seeds_bloom.unwrap());
    let peers_back = ScrapeBloom::from(*answer.peers_bloom.unwrap());
    assert_eq!(seeds_back, seeds);
    assert_eq!(peers_back, peers);
    assert!((seeds_back.estimate() - 40.0).abs() < 3.0);
}
