//! BEP 3 choking: tit-for-tat regular unchokes and the optimistic unchoke.
//!
//! As in BEP 3 and libtorrent's rate-based choker, the regular slots go to the interested peers
//! that give us the most: while leeching, those we download from fastest (reciprocation); while
//! seeding, those we upload to fastest (they take the data on quickest, as libtorrent's
//! "fastest upload" seeding choker does). Ties go by the peer score, then by id, so a choice is
//! deterministic. One more slot is rotated optimistically (every 30 s in the original client) to
//! a random choked, interested peer, so newcomers with nothing to offer yet get a start; peers
//! connected under a minute are three times as likely to win it, as in the original client. The
//! randomness is the caller's: a `u64` from its seeded RNG, so simulations replay exactly.

use std::time::Duration;

use crate::score::by_score_desc;

/// Peers connected for less than this are "new" and weigh [`NEW_PEER_WEIGHT`] times as much in
/// the optimistic draw.
pub const NEW_PEER_AGE: Duration = Duration::from_secs(60);

/// How much more likely a new peer is to win the optimistic unchoke.
pub const NEW_PEER_WEIGHT: u64 = 3;

/// One connected peer as the choker sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnchokeCandidate {
    /// The engine's id of the connection.
    pub id: u64,
    /// Whether the peer is interested in what we have.
    pub interested: bool,
    /// The rate we download from it, bytes per second.
    pub download_rate: u64,
    /// The rate we upload to it, bytes per second.
    pub upload_rate: u64,
    /// Its [`crate::score`], the first tie-breaker.
    pub score: f64,
    /// How long it has been connected.
    pub connected_for: Duration,
}

/// What we are doing with the torrent, which decides what a peer gives us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChokeMode {
    /// We still download: reward the peers that upload to us fastest.
    Leeching,
    /// We have every piece: serve the peers that take our uploads fastest.
    Seeding,
}

/// The ids to unchoke in the regular slots: at most `slots` interested peers, fastest first
/// (download rate while leeching, upload rate while seeding), ties by score then id.
pub fn choose_unchoked(candidates: &[UnchokeCandidate], slots: usize, mode: ChokeMode) -> Vec<u64> {
    let rate = |c: &UnchokeCandidate| match mode {
        ChokeMode::Leeching => c.download_rate,
        ChokeMode::Seeding => c.upload_rate,
    };
    let mut interested: Vec<&UnchokeCandidate> =
        candidates.iter().filter(|c| c.interested).collect();
    interested.sort_by(|a, b| {
        rate(b)
            .cmp(&rate(a))
            .then_with(|| by_score_desc(a.score, b.score))
            .then(a.id.cmp(&b.id))
    });
    interested.into_iter().take(slots).map(|c| c.id).collect()
}

/// The id for the optimistic unchoke: an interested peer not in `already` (the regular
/// unchokes), drawn with `random`; peers connected under [`NEW_PEER_AGE`] weigh
/// [`NEW_PEER_WEIGHT`] times as much. `None` when no peer qualifies. The draw does not depend on
/// the order of `candidates`.
pub fn choose_optimistic(
    candidates: &[UnchokeCandidate],
    already: &[u64],
    random: u64,
) -> Option<u64> {
    let mut eligible: Vec<(u64, u64)> = candidates
        .iter()
        .filter(|c| c.interested && !already.contains(&c.id))
        .map(|c| {
            let weight = if c.connected_for < NEW_PEER_AGE {
                NEW_PEER_WEIGHT
            } else {
                1
            };
            (c.id, weight)
        })
        .collect();
    eligible.sort_unstable();
    eligible.dedup_by_key(|(id, _)| *id);
    let total: u64 = eligible.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    // Multiply-shift maps the 64-bit draw onto [0, total) without modulo bias to speak of.
    let mut point = ((u128::from(random) * u128::from(total)) >> 64) as u64;
    for (id, weight) in eligible {
        if point < weight {
            return Some(id);
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: u64, download_rate: u64, upload_rate: u64) -> UnchokeCandidate {
        UnchokeCandidate {
            id,
            interested: true,
            download_rate,
            upload_rate,
            score: 0.5,
            connected_for: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_draw_covers_every_eligible_peer_in_id_order() {
        let peers = [candidate(9, 0, 0), candidate(4, 0, 0)];
        assert_eq!(choose_optimistic(&peers, &[], 0), Some(4));
        assert_eq!(choose_optimistic(&peers, &[], u64::MAX), Some(9));
        assert_eq!(choose_optimistic(&peers, &[4], 0), Some(9));
        assert_eq!(choose_optimistic(&peers, &[4, 9], 0), None);
        assert_eq!(choose_optimistic(&[], &[], 7), None);
    }

    #[test]
    fn rates_decide_then_score_then_id() {
        let mut peers = [candidate(1, 10, 0), candidate(2, 10, 0), candidate(3, 5, 0)];
        peers[1].score = 0.9;
        assert_eq!(choose_unchoked(&peers, 3, ChokeMode::Leeching), [2, 1, 3]);
        peers[1].score = 0.5;
        assert_eq!(choose_unchoked(&peers, 2, ChokeMode::Leeching), [1, 2]);
        assert_eq!(
            choose_unchoked(&peers, 0, ChokeMode::Leeching),
            Vec::<u64>::new()
        );
    }
}
