//! KRPC, the DHT's wire (BEP 5, with the keys of BEP 32, 33, 42, 43 and 51): bencoded
//! dictionaries over UDP, one message a datagram, sans-IO.
//!
//! [`Message::decode`] turns a datagram into a [`Message`] within [`KrpcLimits`], or says what
//! the node does next ([`KrpcError`]: drop silently, or answer a malformed query with error
//! 203); [`Message::encode`] writes canonical bencode. A datagram is whole, so there is no
//! "need more bytes" outcome: a truncated datagram is not KRPC.

mod decode;
mod encode;
mod error;
mod message;

pub use error::{IgnoreReason, InvalidField, KrpcError, Problem};
pub use message::{
    BLOOM_LEN, Body, ERROR_GENERIC, ERROR_METHOD_UNKNOWN, ERROR_PROTOCOL, ERROR_SERVER, Message,
    Method, Query, Response, Want,
};

/// Bounds on what [`Message::decode`] accepts; the defaults fit every client measured.
///
/// ```
/// let limits = swarmgate_dht::KrpcLimits { max_values: 50, ..Default::default() };
/// assert_eq!(limits.max_transaction_id_len, 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KrpcLimits {
    /// The longest datagram read (default 1,500 bytes, an Ethernet MTU: real messages stay
    /// under 1,024 bytes, BEP 32's cap).
    pub max_datagram_len: usize,
    /// The longest `t` accepted (default 32; libtorrent sends 2 bytes, aria2 and jech 4).
    pub max_transaction_id_len: usize,
    /// The most `nodes`, and separately `nodes6`, entries in one answer (default 32; K is 8,
    /// npm bittorrent-dht sends 20).
    pub max_nodes: usize,
    /// The most `values` in one answer (default 100, libtorrent's largest reply).
    pub max_values: usize,
    /// The most BEP 51 `samples` in one answer (default 100; a 1,500-byte datagram holds
    /// about 70).
    pub max_samples: usize,
    /// The deepest bencode nesting read (default 32; KRPC itself needs 3).
    pub max_depth: usize,
}

impl Default for KrpcLimits {
    fn default() -> Self {
        KrpcLimits {
            max_datagram_len: 1500,
            max_transaction_id_len: 32,
            max_nodes: 32,
            max_values: 100,
            max_samples: 100,
            max_depth: 32,
        }
    }
}
