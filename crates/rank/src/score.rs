//! The peer score and the connection order (no BEP; ranks the BEP 3 / 5 / 11 peers we know of).
//!
//! The score is the weighted mean of the five factors, so it lies in [0, 1] whatever the
//! weights' scale. It is pure and deterministic: the same facts give the same score, and
//! [`connect_order`] breaks ties by address, so two runs of the engine dial peers in the same
//! order.

use std::cmp::Ordering;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::factors::{Source, freshness, history, load, proximity};
use crate::weights::Weights;

/// What the engine knows of one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerFacts {
    /// The peer's address.
    pub addr: SocketAddr,
    /// Where we learned of it.
    pub source: Source,
    /// Blocks received from it that passed their piece's hash (or are not yet hashed).
    pub blocks_received: u64,
    /// Pieces it contributed to that failed their hash.
    pub hash_failures: u32,
    /// Times it stopped sending while we had requests out (snubbed us).
    pub snubs: u32,
    /// Requests we have outstanding with it.
    pub outstanding: u32,
    /// The most requests it accepts at once (its `reqq`, or our own cap); 0 when unknown.
    pub max_outstanding: u32,
    /// Time since we last heard of or from it; `None` if never.
    pub since_seen: Option<Duration>,
}

impl PeerFacts {
    /// A peer we know nothing about yet but its address and source.
    pub fn new(addr: SocketAddr, source: Source) -> Self {
        Self {
            addr,
            source,
            blocks_received: 0,
            hash_failures: 0,
            snubs: 0,
            outstanding: 0,
            max_outstanding: 0,
            since_seen: None,
        }
    }
}

/// The peer's score in [0, 1]: the [`Weights`]-weighted mean of proximity, source reliability,
/// history, load and freshness. Weights that fail [`Weights::validate`] count as the defaults.
pub fn score(facts: &PeerFacts, local: &[IpAddr], weights: &Weights) -> f64 {
    let w = weights.normalized();
    let total = w.proximity * proximity(local, facts.addr.ip())
        + w.reliability * facts.source.reliability()
        + w.history * history(facts.blocks_received, facts.hash_failures, facts.snubs)
        + w.load * load(facts.outstanding, facts.max_outstanding)
        + w.freshness * freshness(facts.since_seen);
    total.clamp(0.0, 1.0)
}

/// The indices of `candidates`, best score first; equal scores in address order (then index),
/// so the order is the same on every run.
pub fn connect_order(candidates: &[PeerFacts], local: &[IpAddr], weights: &Weights) -> Vec<usize> {
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| score(c, local, weights))
        .collect();
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then_with(|| candidates[a].addr.cmp(&candidates[b].addr))
            .then(a.cmp(&b))
    });
    order
}

/// Orders by a score descending with NaN last, for the unchoke ranking.
pub(crate) fn by_score_desc(a: f64, b: f64) -> Ordering {
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    key(b).total_cmp(&key(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str, source: Source) -> PeerFacts {
        PeerFacts::new(addr.parse().unwrap(), source)
    }

    #[test]
    fn score_is_the_weighted_mean_of_the_factors() {
        let local: [IpAddr; 1] = ["10.0.0.2".parse().unwrap()];
        let facts = PeerFacts {
            blocks_received: 32,
            outstanding: 5,
            max_outstanding: 10,
            since_seen: Some(Duration::from_secs(600)),
            ..peer("10.0.0.7:6881", Source::Dht)
        };
        // 0.3 * 0.8 + 0.25 * 0.8 + 0.2 * 0.75 + 0.15 * 0.5 + 0.1 * 0.5
        let expected = 0.24 + 0.2 + 0.15 + 0.075 + 0.05;
        assert!((score(&facts, &local, &Weights::default()) - expected).abs() < 1e-12);
        // Scaled weights give the same score.
        let doubled = Weights::new(0.6, 0.5, 0.4, 0.3, 0.2).unwrap();
        assert!((score(&facts, &local, &doubled) - expected).abs() < 1e-12);
        // Only proximity counts: same /24.
        let only = Weights::new(1.0, 0.0, 0.0, 0.0, 0.0).unwrap();
        assert_eq!(score(&facts, &local, &only), 0.8);
    }

    #[test]
    fn ties_go_by_address() {
        let peers = [
            peer("10.0.0.9:1", Source::Pex),
            peer("10.0.0.3:2", Source::Pex),
            peer("10.0.0.3:1", Source::Pex),
            peer("10.0.0.5:1", Source::Tracker),
        ];
        let order = connect_order(&peers, &[], &Weights::default());
        assert_eq!(order, [3, 2, 1, 0]);
    }

    #[test]
    fn nan_scores_sort_last() {
        let mut scores = [0.2, f64::NAN, 0.9, 0.0];
        scores.sort_by(|a, b| by_score_desc(*a, *b));
        assert_eq!(scores[..3], [0.9, 0.2, 0.0]);
        assert!(scores[3].is_nan());
    }
}
