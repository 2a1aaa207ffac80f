//! What a node counts: traffic, lookups, announces, and every reason it dropped something.

use crate::krpc::KrpcError;
use crate::rate::RateStats;
use crate::routing::TableHealth;

/// Datagrams and queries dropped, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Drops {
    /// Not KRPC at all (not bencode, no transaction id, ...): dropped unanswered.
    pub not_krpc: u64,
    /// Malformed queries (answered with error 203 when the rate limit allows).
    pub malformed_query: u64,
    /// Malformed answers and errors (never answered).
    pub malformed_answer: u64,
    /// Answers to no query of ours, or from another address than asked.
    pub unexpected_answer: u64,
    /// Queries over the per-IP rate limit.
    pub rate_limited: u64,
    /// Queries received in read-only mode (BEP 43: not answered).
    pub read_only: u64,
    /// Queries not sent because too many were in flight.
    pub overloaded: u64,
    /// Answers trimmed to stay within the amplification bound.
    pub trimmed_answers: u64,
    /// Answers (and errors) not sent: even trimmed, they were over the amplification bound.
    pub oversized_answers: u64,
}

impl Drops {
    /// Counts a datagram the decoder refused.
    pub(crate) fn count_decode(&mut self, error: &KrpcError) {
        match error {
            KrpcError::Ignore { .. } => self.not_krpc += 1,
            KrpcError::Malformed { is_query: true, .. } => self.malformed_query += 1,
            KrpcError::Malformed { .. } => self.malformed_answer += 1,
        }
    }
}

/// A node's figures since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NodeStats {
    /// Well-formed queries received (rate-limited ones included).
    pub queries_received: u64,
    /// Answers sent.
    pub answers_sent: u64,
    /// Errors sent (bad token, unknown method, malformed query).
    pub errors_sent: u64,
    /// Queries sent.
    pub queries_sent: u64,
    /// Answers received to our queries.
    pub answers_received: u64,
    /// Errors received to our queries.
    pub errors_received: u64,
    /// Our queries that got nothing in time.
    pub timeouts: u64,
    /// announce_peer queries stored.
    pub announces_stored: u64,
    /// announce_peer queries refused for a bad or expired token.
    pub announces_bad_token: u64,
    /// Lookups started by the owner.
    pub lookups_started: u64,
    /// Lookups the owner started that ended.
    pub lookups_done: u64,
    /// Of those, lookups that found at least one peer.
    pub lookups_with_peers: u64,
    /// Of those, lookups that got at least one answer (a node cut off from the DHT gets none).
    pub lookups_answered: u64,
    /// Bootstrap rounds sent to the routers.
    pub bootstraps: u64,
    /// Own id changes to fit the external address (BEP 42).
    pub id_changes: u64,
    /// Bytes of datagrams sent.
    pub sent_bytes: u64,
    /// What was dropped, by reason.
    pub drops: Drops,
    /// The IPv4 routing table.
    pub table4: TableHealth,
    /// The IPv6 routing table.
    pub table6: TableHealth,
    /// Peers in the store.
    pub stored_peers: u64,
    /// Info-hashes in the store.
    pub stored_info_hashes: u64,
    /// The owner's own torrents, announced through this node and given in its answers.
    pub own_torrents: u64,
    /// Lookups running now (the owner's and refreshes).
    pub lookups_running: u64,
    /// The per-IP rate limit.
    pub rate: RateStats,
}
