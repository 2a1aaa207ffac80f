//! Encoding KRPC messages (BEP 5) as canonical bencode through swarmgate-bencode's
//! [`Encoder`]: keys sorted, every value written once, so a message decodes back to itself.
//!
//! Keys are written in their sorted order by construction (the encoder checks it as it goes).
//! Optional keys appear only when they say something: `ro` only in read-only mode, `ip` and
//! `v` when given, flags (`implied_port`, `seed`, `scrape`, `noseed`) only when set, `nodes`,
//! `nodes6` and `values` only when not empty, and BEP 51 `samples` whenever it is `Some`, even
//! empty, as the BEP requires.

use std::net::SocketAddr;

use swarmgate_bencode::Encoder;
use swarmgate_core::encode_compact_peer;

use super::message::{Body, Message, Method, Query, Response, Want};
use crate::id::{COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, NodeInfo};

impl Message {
    /// Appends the message's canonical bencoding to `out`.
    ///
    /// ```
    /// use swarmgate_dht::{Message, Method, NodeId};
    ///
    /// let ping = Message::query(b"aa".to_vec(), NodeId(*b"abcdefghij0123456789"), Method::Ping);
    /// let mut out = Vec::new();
    /// ping.encode(&mut out);
    /// assert_eq!(out, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut e = Encoder::with_capacity(self.encoded_len_hint());
        e.begin_dict();
        match &self.body {
            Body::Query(query) => {
                e.key(b"a");
                query_arguments(&mut e, query);
            }
            Body::Error { code, message } => {
                e.key(b"e").begin_list().int(*code).str(message).end();
            }
            Body::Response(_) => {}
        }
        if let Some(ip) = self.requester_ip {
            let mut compact = Vec::with_capacity(18);
            encode_compact_peer(ip, &mut compact);
            e.key(b"ip").bytes(&compact);
        }
        match &self.body {
            Body::Query(query) => {
                e.key(b"q").bytes(query.method.name());
            }
            Body::Response(response) => {
                e.key(b"r");
                response_values(&mut e, response);
            }
            Body::Error { .. } => {}
        }
        if self.read_only {
            e.key(b"ro").int(1);
        }
        e.key(b"t").bytes(&self.transaction_id);
        if let Some(version) = &self.version {
            e.key(b"v").bytes(version);
        }
        let kind: &[u8] = match self.body {
            Body::Query(_) => b"q",
            Body::Response(_) => b"r",
            Body::Error { .. } => b"e",
        };
        e.key(b"y").bytes(kind).end();
        let encoded = e
            .finish()
            .expect("KRPC keys are written in sorted order, each with one value");
        if out.is_empty() {
            *out = encoded;
        } else {
            out.extend_from_slice(&encoded);
        }
    }

    /// About how many bytes the encoding takes, so the encoder allocates once.
    fn encoded_len_hint(&self) -> usize {
        let body = match &self.body {
            Body::Query(query) => {
                let token = match &query.method {
                    Method::AnnouncePeer { token, .. } => token.len(),
                    _ => 0,
                };
                150 + query.method.name().len() + token
            }
            Body::Response(r) => {
                let blooms =
                    usize::from(r.seeds_bloom.is_some()) + usize::from(r.peers_bloom.is_some());
                80 + r.nodes.len() * (COMPACT_NODE_V4_LEN + 1)
                    + r.nodes6.len() * (COMPACT_NODE_V6_LEN + 1)
                    + r.values.len() * 21
                    + r.token.as_ref().map_or(0, Vec::len)
                    + blooms * 262
                    + r.samples.as_ref().map_or(0, |s| 20 + s.len() * 20)
            }
            Body::Error { message, .. } => 40 + message.len(),
        };
        let ip = if self.requester_ip.is_some() { 24 } else { 0 };
        body + ip + self.transaction_id.len() + self.version.as_ref().map_or(0, |v| v.len() + 6)
    }
}

fn query_arguments(e: &mut Encoder, query: &Query) {
    e.begin_dict().key(b"id").bytes(query.id.as_bytes());
    match &query.method {
        Method::Ping | Method::Unknown { .. } => {}
        Method::FindNode { target, want } | Method::SampleInfohashes { target, want } => {
            e.key(b"target").bytes(target.as_bytes());
            write_want(e, *want);
        }
        Method::GetPeers {
            info_hash,
            want,
            scrape,
            noseed,
        } => {
            e.key(b"info_hash").bytes(info_hash.as_bytes());
            write_flag(e, b"noseed", *noseed);
            write_flag(e, b"scrape", *scrape);
            write_want(e, *want);
        }
        Method::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
            seed,
        } => {
            write_flag(e, b"implied_port", *implied_port);
            e.key(b"info_hash").bytes(info_hash.as_bytes());
            e.key(b"port").int(i64::from(*port));
            write_flag(e, b"seed", *seed);
            e.key(b"token").bytes(token);
        }
    }
    e.end();
}

fn write_flag(e: &mut Encoder, key: &[u8], set: bool) {
    if set {
        e.key(key).int(1);
    }
}

fn write_want(e: &mut Encoder, want: Option<Want>) {
    if let Some(want) = want {
        e.key(b"want").begin_list();
        if want.v4 {
            e.bytes(b"n4");
        }
        if want.v6 {
            e.bytes(b"n6");
        }
        e.end();
    }
}

fn response_values(e: &mut Encoder, r: &Response) {
    e.begin_dict();
    if let Some(bloom) = &r.peers_bloom {
        e.key(b"BFpe").bytes(&bloom[..]);
    }
    if let Some(bloom) = &r.seeds_bloom {
        e.key(b"BFsd").bytes(&bloom[..]);
    }
    e.key(b"id").bytes(r.id.as_bytes());
    if let Some(interval) = r.interval {
        e.key(b"interval").int(i64::from(interval));
    }
    let mut compact = Vec::with_capacity(r.nodes.len().max(r.nodes6.len()) * COMPACT_NODE_V6_LEN);
    for node in r
        .nodes
        .iter()
        .filter(|n| n.addr.ip().to_canonical().is_ipv4())
    {
        node.encode(&mut compact);
    }
    if !compact.is_empty() {
        e.key(b"nodes").bytes(&compact);
    }
    compact.clear();
    for node in &r.nodes6 {
        encode_node_v6(node, &mut compact);
    }
    if !compact.is_empty() {
        e.key(b"nodes6").bytes(&compact);
    }
    if let Some(num) = r.num {
        e.key(b"num").int(i64::from(num));
    }
    if let Some(samples) = &r.samples {
        e.key(b"samples").bytes(samples.as_flattened());
    }
    if let Some(token) = &r.token {
        e.key(b"token").bytes(token);
    }
    if !r.values.is_empty() {
        e.key(b"values").begin_list();
        let mut peer = Vec::with_capacity(18);
        for value in &r.values {
            peer.clear();
            encode_compact_peer(*value, &mut peer);
            e.bytes(&peer);
        }
        e.end();
    }
    e.end();
}

/// A 38-byte `nodes6` entry whatever the address: an IPv4 address is written IPv4-mapped
/// (`NodeInfo::encode` would write it in 26 bytes, which has no place in `nodes6`).
fn encode_node_v6(node: &NodeInfo, out: &mut Vec<u8>) {
    let ip = match node.addr {
        SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped(),
        SocketAddr::V6(v6) => *v6.ip(),
    };
    out.extend_from_slice(node.id.as_bytes());
    out.extend_from_slice(&ip.octets());
    out.extend_from_slice(&node.addr.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;
    use crate::krpc::{BLOOM_LEN, KrpcLimits};

    fn node(byte: u8, addr: &str) -> NodeInfo {
        NodeInfo {
            id: NodeId([byte; 20]),
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn nodes6_entries_are_38_bytes_even_for_ipv4() {
        let mut out = Vec::new();
        encode_node_v6(&node(1, "192.0.2.1:6881"), &mut out);
        assert_eq!(out.len(), COMPACT_NODE_V6_LEN);
        assert_eq!(
            &out[20..36],
            &"::ffff:192.0.2.1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert_eq!(&out[36..], &6881u16.to_be_bytes());
    }

    #[test]
    fn ipv6_entries_in_nodes_are_skipped() {
        let mut response = Response::new(NodeId([0; 20]));
        response.nodes = vec![node(1, "192.0.2.1:1"), node(2, "[2001:db8::2]:2")];
        let message = Message::response(b"t".to_vec(), response);
        let mut out = Vec::new();
        message.encode(&mut out);
        let decoded = Message::decode(&out, &KrpcLimits::default()).unwrap();
        let Body::Response(decoded) = decoded.body else {
            panic!("a response")
        };
        assert_eq!(decoded.nodes, [node(1, "192.0.2.1:1")]);
    }

    #[test]
    fn the_length_hint_covers_the_largest_messages() {
        let mut response = Response::new(NodeId([0; 20]));
        response.nodes = (0..8).map(|i| node(i, "192.0.2.1:65535")).collect();
        response.nodes6 = (0..8).map(|i| node(i, "[2001:db8::1]:65535")).collect();
        response.values = (0..100)
            .map(|i| SocketAddr::from(([203, 0, 113, i], 65535)))
            .collect();
        response.token = Some(vec![0; 20]);
        response.seeds_bloom = Some(Box::new([0; BLOOM_LEN]));
        response.peers_bloom = Some(Box::new([0; BLOOM_LEN]));
        response.samples = Some(vec![[0; 20]; 20]);
        response.num = Some(u32::MAX);
        response.interval = Some(u32::MAX);
        let mut message = Message::response(vec![0xff; 32], response);
        message.version = Some(b"SG01".to_vec());
        message.requester_ip = Some("[2001:db8::9]:65535".parse().unwrap());
        message.read_only = true;
        let mut out = Vec::new();
        message.encode(&mut out);
        assert!(
            message.encoded_len_hint() >= out.len(),
            "{} < {}",
            message.encoded_len_hint(),
            out.len()
        );
        let hash = swarmgate_core::InfoHashV1([0; 20]);
        let want = Some(crate::krpc::Want { v4: true, v6: true });
        for method in [
            Method::Ping,
            Method::AnnouncePeer {
                info_hash: hash,
                port: 65535,
                implied_port: true,
                token: vec![0; 20],
                seed: true,
            },
            Method::GetPeers {
                info_hash: hash,
                want,
                scrape: true,
                noseed: true,
            },
            Method::SampleInfohashes {
                target: NodeId([0; 20]),
                want,
            },
        ] {
            let mut query = Message::query(vec![0xff; 32], NodeId([0; 20]), method);
            query.version = Some(b"SG01".to_vec());
            query.read_only = true;
            out.clear();
            query.encode(&mut out);
            assert!(query.encoded_len_hint() >= out.len(), "{query:?}");
        }
    }
}
