//! The KRPC messages as Rust values (BEP 5, with the keys of BEP 32, 33, 42, 43 and 51).
//!
//! A [`Message`] is the envelope every datagram shares (`t`, `v`, `ip`, `ro`, `y`) around a
//! [`Body`]: a [`Query`], a [`Response`] or an error. A response is one struct for every query
//! because the wire does not say which query it answers: the node matches it by transaction id
//! and address, then reads the keys that query expects.
//!
//! The types hold what the wire can say, and a little it cannot, which a caller building
//! messages must avoid (the decoder never produces it): a [`Method::Unknown`] named like a
//! known method, an [`Method::AnnouncePeer`] with port 0 and no `implied_port`, and an IPv6
//! node in [`Response::nodes`] do not survive encoding and decoding unchanged.

use std::net::SocketAddr;

use swarmgate_core::InfoHashV1;

use crate::id::{NodeId, NodeInfo};

/// BEP 5 error 201: a generic error.
pub const ERROR_GENERIC: i64 = 201;
/// BEP 5 error 202: a server error.
pub const ERROR_SERVER: i64 = 202;
/// BEP 5 error 203: a protocol error (a malformed packet, invalid arguments or a bad token).
pub const ERROR_PROTOCOL: i64 = 203;
/// BEP 5 error 204: the method is unknown (libtorrent answers 203 here).
pub const ERROR_METHOD_UNKNOWN: i64 = 204;

/// Length of a BEP 33 scrape bloom filter (`BFsd`, `BFpe`): 256 bytes, 2,048 bits.
pub const BLOOM_LEN: usize = 256;

/// One KRPC datagram: the envelope shared by queries, responses and errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `t`: chosen by the querier, echoed byte for byte in the answer, whatever its length
    /// (libtorrent uses 2 bytes, aria2 4, some clients more, a few none).
    pub transaction_id: Vec<u8>,
    /// `v`: the sender's client and version, any length (usually 2 letters and 2 bytes).
    pub version: Option<Vec<u8>>,
    /// `ip` (BEP 42): the address the sender saw the receiver's query come from, in
    /// responses. Our external address as others see it.
    pub requester_ip: Option<SocketAddr>,
    /// `ro` (BEP 43): the sender is read-only; answer it, never add it to the routing table.
    pub read_only: bool,
    /// What the message says.
    pub body: Body,
}

/// The three kinds of KRPC message (`y`: `q`, `r`, `e`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `y = q`: a query.
    Query(Query),
    /// `y = r`: an answer to a query.
    Response(Response),
    /// `y = e`: an error answering a query.
    Error {
        /// The error code: [`ERROR_GENERIC`], [`ERROR_SERVER`], [`ERROR_PROTOCOL`],
        /// [`ERROR_METHOD_UNKNOWN`], or whatever the sender chose.
        code: i64,
        /// The human-readable message (bytes that are not UTF-8 are replaced).
        message: String,
    },
}

/// A query: who asks (`a.id`) and what (`q` with the rest of `a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The querying node's id.
    pub id: NodeId,
    /// The method and its arguments.
    pub method: Method,
}

/// The `want` argument (BEP 32): which address families' nodes the querier wants.
///
/// Carried as `Option<Want>`: `None` (no `want` key) means the family of the query's own
/// datagram, which only the node knows; `Some` lists the families asked for explicitly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Want {
    /// `n4`: IPv4 nodes (`nodes`).
    pub v4: bool,
    /// `n6`: IPv6 nodes (`nodes6`).
    pub v6: bool,
}

/// A query method with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// `ping` (BEP 5).
    Ping,
    /// `find_node` (BEP 5): the nodes closest to `target`.
    FindNode {
        /// The id looked for.
        target: NodeId,
        /// BEP 32 address families asked for.
        want: Option<Want>,
    },
    /// `get_peers` (BEP 5): the peers of `info_hash`, or the nodes closest to it, and a token.
    GetPeers {
        /// The torrent.
        info_hash: InfoHashV1,
        /// BEP 32 address families asked for.
        want: Option<Want>,
        /// BEP 33 `scrape=1`: answer with the `BFsd` and `BFpe` bloom filters.
        scrape: bool,
        /// BEP 33 `noseed=1`: leave seeds out of `values`.
        noseed: bool,
    },
    /// `announce_peer` (BEP 5): the querier is a peer of `info_hash`.
    AnnouncePeer {
        /// The torrent.
        info_hash: InfoHashV1,
        /// The peer's port; ignored when `implied_port` is set (then 0 if absent).
        port: u16,
        /// `implied_port=1`: the peer's port is the query's UDP source port (for peers behind
        /// NAT, or uTP on the DHT socket).
        implied_port: bool,
        /// The token from our earlier `get_peers` answer.
        token: Vec<u8>,
        /// BEP 33 `seed=1`: the peer is a seed.
        seed: bool,
    },
    /// `sample_infohashes` (BEP 51): a sample of the info-hashes we store, with nodes close to
    /// `target`.
    SampleInfohashes {
        /// Where the nodes returned should be close to.
        target: NodeId,
        /// BEP 32 address families asked for.
        want: Option<Want>,
    },
    /// A method we do not know (BEP 44 `get`/`put`, anything newer): the node answers it with
    /// an error, and still learns the querier from the query's `id`. The name is never one of
    /// the methods above.
    Unknown {
        /// The `q` value as sent.
        name: Vec<u8>,
    },
}

impl Method {
    /// The `q` value of this method.
    pub fn name(&self) -> &[u8] {
        match self {
            Method::Ping => b"ping",
            Method::FindNode { .. } => b"find_node",
            Method::GetPeers { .. } => b"get_peers",
            Method::AnnouncePeer { .. } => b"announce_peer",
            Method::SampleInfohashes { .. } => b"sample_infohashes",
            Method::Unknown { name } => name,
        }
    }
}

/// An answer (`r`) to any query: the keys each query's answer may carry.
///
/// ping and announce_peer answer with `id` alone; find_node with `nodes`/`nodes6`; get_peers
/// with a `token` and `values` or nodes (and BEP 33 blooms when scraped); sample_infohashes
/// (BEP 51) with `samples`, `num`, `interval` and nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The answering node's id.
    pub id: NodeId,
    /// `nodes`: compact IPv4 nodes (26 bytes each). An IPv4-mapped address is written as
    /// IPv4; an IPv6 entry is skipped when encoding (it belongs in `nodes6`).
    pub nodes: Vec<NodeInfo>,
    /// `nodes6` (BEP 32): compact IPv6 nodes (38 bytes each; an IPv4 address is written
    /// IPv4-mapped).
    pub nodes6: Vec<NodeInfo>,
    /// `values`: peers of the torrent, compact (6 bytes IPv4, 18 bytes IPv6) each.
    pub values: Vec<SocketAddr>,
    /// `token`: what an announce_peer to this node must present.
    pub token: Option<Vec<u8>>,
    /// `BFsd` (BEP 33): the bloom filter of the seeds' addresses.
    pub seeds_bloom: Option<Box<[u8; BLOOM_LEN]>>,
    /// `BFpe` (BEP 33): the bloom filter of the other peers' addresses.
    pub peers_bloom: Option<Box<[u8; BLOOM_LEN]>>,
    /// `samples` (BEP 51): info-hashes the node stores; always present in a
    /// sample_infohashes answer, even empty.
    pub samples: Option<Vec<[u8; 20]>>,
    /// `num` (BEP 51): how many info-hashes the node stores.
    pub num: Option<u32>,
    /// `interval` (BEP 51): seconds before the same node should be sampled again.
    pub interval: Option<u32>,
}

impl Response {
    /// An answer carrying only the answering node's `id` (what ping and announce_peer
    /// return); set the other fields as the query asks.
    pub fn new(id: NodeId) -> Self {
        Response {
            id,
            ..Response::default()
        }
    }
}

impl Message {
    /// A query with a transaction id and nothing else in the envelope.
    pub fn query(transaction_id: Vec<u8>, id: NodeId, method: Method) -> Self {
        Message::with_body(transaction_id, Body::Query(Query { id, method }))
    }

    /// A response echoing `transaction_id`.
    pub fn response(transaction_id: Vec<u8>, response: Response) -> Self {
        Message::with_body(transaction_id, Body::Response(response))
    }

    /// An error echoing `transaction_id`.
    pub fn error(transaction_id: Vec<u8>, code: i64, message: impl Into<String>) -> Self {
        let message = message.into();
        Message::with_body(transaction_id, Body::Error { code, message })
    }

    fn with_body(transaction_id: Vec<u8>, body: Body) -> Self {
        Message {
            transaction_id,
            version: None,
            requester_ip: None,
            read_only: false,
            body,
        }
    }
}
