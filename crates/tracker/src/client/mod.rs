//! Tracker clients over real sockets (BEP 3, 12, 15, 48), behind the `client` feature.
//!
//! [`HttpTracker`] speaks HTTP(S) through reqwest; [`UdpTracker`] drives the sans-IO
//! [`UdpTrackerClient`](crate::UdpTrackerClient) on a tokio socket with the real clock;
//! [`Announcer`] is what a torrent engine holds: one per torrent, over all its trackers.

mod announcer;
mod http;
mod udp;

pub use announcer::{Announcer, AnnouncerConfig, Progress};
pub use http::{HttpTracker, MAX_BODY};
pub use udp::UdpTracker;

use swarmgate_core::InfoHashV1;

use crate::announce::ScrapeStats;

/// Lines up scrape answers with the hashes asked for; a torrent the tracker left out has zero
/// counts (trackers omit torrents they do not know).
fn in_request_order(
    asked: &[InfoHashV1],
    answered: &[(InfoHashV1, ScrapeStats)],
) -> Vec<ScrapeStats> {
    asked
        .iter()
        .map(|hash| {
            answered
                .iter()
                .find(|(h, _)| h == hash)
                .map(|(_, stats)| *stats)
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_answers_follow_the_request_order() {
        let (a, b, c) = (
            InfoHashV1([1; 20]),
            InfoHashV1([2; 20]),
            InfoHashV1([3; 20]),
        );
        let stats = |n| ScrapeStats {
            complete: n,
            ..ScrapeStats::default()
        };
        let answered = [(c, stats(3)), (a, stats(1))];
        assert_eq!(
            in_request_order(&[a, b, c], &answered),
            [stats(1), ScrapeStats::default(), stats(3)]
        );
    }
}
