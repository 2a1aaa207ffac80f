//! Peer ranking: pure scoring of peers for connection order and unchoke choice.
//!
//! The session engine asks this crate two questions: which known peers to dial first
//! ([`connect_order`], by [`score`]) and which connected peers to unchoke ([`choose_unchoked`]
//! for the BEP 3 tit-for-tat slots, [`choose_optimistic`] for the optimistic one). The score is
//! a weighted mean of five factors in [0, 1] ([`Weights`], defaults proximity 30 %, source
//! reliability 25 %, history 20 %, load 15 %, freshness 10 %); each factor is a public function,
//! so the engine can show why a peer ranks where it does.
//!
//! The crate is pure: no I/O, no clock (ages come in as `Duration`s), no global RNG (the
//! optimistic draw takes the caller's random `u64`), so the same inputs always give the same
//! answer. It does not keep peer state, measure rates or ban peers: the session does, and
//! passes [`PeerFacts`] and [`UnchokeCandidate`]s in. Proximity uses address heuristics only:
//! no geo-IP or AS data ships (see [`proximity`]).
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::Duration;
//! use swarmgate_rank::{
//!     ChokeMode, PeerFacts, Source, UnchokeCandidate, Weights, choose_unchoked, connect_order,
//! };
//!
//! let local: Vec<IpAddr> = vec!["192.168.1.10".parse()?];
//! let far = PeerFacts::new("203.0.113.9:6881".parse()?, Source::Pex);
//! let near = PeerFacts {
//!     since_seen: Some(Duration::from_secs(30)),
//!     ..PeerFacts::new("192.168.1.20:6881".parse()?, Source::Tracker)
//! };
//! let corrupt = PeerFacts { hash_failures: 3, ..near };
//! assert_eq!(connect_order(&[far, corrupt, near], &local, &Weights::default()), [2, 1, 0]);
//!
//! let peer = |id, rate| UnchokeCandidate {
//!     id,
//!     interested: true,
//!     download_rate: rate,
//!     upload_rate: 0,
//!     score: 0.5,
//!     connected_for: Duration::from_secs(120),
//! };
//! let unchoked = choose_unchoked(&[peer(1, 10), peer(2, 900), peer(3, 50)], 2, ChokeMode::Leeching);
//! assert_eq!(unchoked, [2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod choke;
mod factors;
mod score;
mod weights;

pub use choke::{
    ChokeMode, NEW_PEER_AGE, NEW_PEER_WEIGHT, UnchokeCandidate, choose_optimistic, choose_unchoked,
};
pub use factors::{FRESHNESS_HALF_LIFE, Source, freshness, history, load, proximity};
pub use score::{PeerFacts, connect_order, score};
pub use weights::{Weights, WeightsError};
