//! Tracker tiers (BEP 12): the `announce-list` order an announce walks.
//!
//! Each tier is shuffled once, when the list is built, with a seeded generator (so a test can
//! replay it). An announce tries the trackers of the first tier in order, then the next tier, and
//! stops at the first that answers; that tracker moves to the front of its tier and is tried
//! first next time. A torrent with only `announce` is one tier of one tracker. Empty URLs and
//! URLs already listed are dropped (libtorrent does the same), and so are tiers left empty.

use swarmgate_core::SplitMix64;

/// The trackers of one torrent, in BEP 12 tiers.
///
/// ```
/// use swarmgate_tracker::TrackerTiers;
///
/// let mut tiers = TrackerTiers::new(
///     vec![vec!["udp://a:1".into(), "udp://b:1".into()], vec!["http://c/announce".into()]],
///     42,
/// );
/// assert_eq!(tiers.len(), 3);
/// tiers.promote("udp://b:1");
/// let order: Vec<&str> = tiers.iter().collect();
/// assert_eq!(order, ["udp://b:1", "udp://a:1", "http://c/announce"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerTiers {
    tiers: Vec<Vec<String>>,
}

impl TrackerTiers {
    /// Builds the tiers from an `announce-list` (or `[[announce]]`), shuffling each tier with
    /// `seed`.
    pub fn new(tiers: Vec<Vec<String>>, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut seen = std::collections::HashSet::new();
        let tiers = tiers
            .into_iter()
            .filter_map(|tier| {
                let mut tier: Vec<String> = tier
                    .into_iter()
                    .filter(|url| !url.is_empty() && seen.insert(url.clone()))
                    .collect();
                rng.shuffle(&mut tier);
                (!tier.is_empty()).then_some(tier)
            })
            .collect();
        TrackerTiers { tiers }
    }

    /// Every tracker URL in the order an announce tries them: tier by tier, front first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().flatten().map(String::as_str)
    }

    /// The tiers as they stand (shuffled, with promotions applied).
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    /// Moves `url` to the front of its tier: it answered. Returns false if it is not listed.
    pub fn promote(&mut self, url: &str) -> bool {
        for tier in &mut self.tiers {
            if let Some(i) = tier.iter().position(|u| u == url) {
                tier[..=i].rotate_right(1);
                return true;
            }
        }
        false
    }

    /// How many trackers there are, over all tiers.
    pub fn len(&self) -> usize {
        self.tiers.iter().map(Vec::len).sum()
    }

    /// Whether there is no tracker at all.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn tiers_are_shuffled_within_and_kept_in_order_across() {
        let tiers = TrackerTiers::new(vec![urls(8, "a"), urls(8, "b")], 1);
        let order: Vec<&str> = tiers.iter().collect();
        assert!(order[..8].iter().all(|u| u.starts_with('a')));
        assert!(order[8..].iter().all(|u| u.starts_with('b')));
        assert_ne!(
            tiers.tiers()[0],
            urls(8, "a"),
            "seed 1 shuffles the first tier"
        );
        let mut sorted = tiers.tiers()[0].clone();
        sorted.sort();
        assert_eq!(sorted, urls(8, "a"));
        assert_eq!(
            TrackerTiers::new(vec![urls(8, "a"), urls(8, "b")], 1),
            tiers
        );
    }

    #[test]
    fn promotion_keeps_the_rest_of_the_tier_in_order() {
        let mut tiers = TrackerTiers::new(vec![urls(1, "x"), urls(4, "a")], 5);
        let before = tiers.tiers()[1].clone();
        assert!(tiers.promote(&before[2]));
        assert_eq!(
            tiers.tiers()[1],
            [&before[2], &before[0], &before[1], &before[3]].map(String::clone)
        );
        assert_eq!(tiers.tiers()[0], urls(1, "x"));
        assert!(!tiers.promote("nowhere"));
    }

    #[test]
    fn empty_and_repeated_urls_are_dropped() {
        let tiers = TrackerTiers::new(
            vec![vec![], vec!["".into(), "u".into()], vec!["u".into()]],
            0,
        );
        assert_eq!(tiers.tiers(), [vec!["u".to_string()]]);
        assert!(TrackerTiers::new(vec![vec![]], 0).is_empty());
    }
}
