//! Helpers shared by the network tests.

use std::time::Duration;

use swarmgate_testkit::{ConnId, Delivery, DeliveryKind, NodeId, SimNet};

/// One delivery with the virtual time it happened at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Logged {
    pub(crate) at: Duration,
    pub(crate) delivery: Delivery,
}

/// Runs `net` until `secs` virtual seconds from now, logging every delivery; asserts the run
/// ends without hitting the step limit.
pub(crate) fn run_log(net: &mut SimNet, secs: f64) -> Vec<Logged> {
    let mut log = Vec::new();
    let deadline = net.now() + Duration::from_secs_f64(secs);
    net.run_until(deadline, |net, delivery| {
        log.push(Logged {
            at: net.elapsed(),
            delivery,
        })
    })
    .expect("run within the step limit");
    log
}

/// The bytes each end received, concatenated, keyed by end.
pub(crate) fn streams(log: &[Logged]) -> std::collections::BTreeMap<ConnId, Vec<u8>> {
    let mut out = std::collections::BTreeMap::<ConnId, Vec<u8>>::new();
    for entry in log {
        if let DeliveryKind::Data(bytes) = &entry.delivery.kind {
            out.entry(entry.delivery.conn)
                .or_default()
                .extend_from_slice(bytes);
        }
    }
    out
}

/// When the end `conn` had received `n` bytes (the time of the delivery that crossed `n`).
pub(crate) fn time_to_receive(log: &[Logged], conn: ConnId, n: usize) -> Option<Duration> {
    let mut total = 0;
    for entry in log {
        if entry.delivery.conn != conn {
            continue;
        }
        if let DeliveryKind::Data(bytes) = &entry.delivery.kind {
            total += bytes.len();
            if total >= n {
                return Some(entry.at);
            }
        }
    }
    None
}

/// Bytes delivered to `conn` up to and including time `at`.
pub(crate) fn received_by(log: &[Logged], conn: ConnId, at: Duration) -> usize {
    log.iter()
        .filter(|e| e.delivery.conn == conn && e.at <= at)
        .map(|e| match &e.delivery.kind {
            DeliveryKind::Data(bytes) => bytes.len(),
            _ => 0,
        })
        .sum()
}

/// The kinds delivered at `node`, data collapsed to its length, with times in milliseconds.
pub(crate) fn events_at(log: &[Logged], node: NodeId) -> Vec<(u128, String)> {
    log.iter()
        .filter(|e| e.delivery.node == node)
        .map(|e| {
            let kind = match &e.delivery.kind {
                DeliveryKind::Data(b) => format!("data {}", b.len()),
                other => format!("{other:?}"),
            };
            (e.at.as_millis(), kind)
        })
        .collect()
}

/// `len` bytes counting 0, 1, 2... mod 251 from `start`, so misordering and loss show.
pub(crate) fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

/// Asserts `actual` is within `tolerance` (a fraction) of `expected`.
pub(crate) fn assert_near(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let error = (actual - expected).abs() / expected;
    assert!(
        error <= tolerance,
        "{what}: {actual} is not within {:.1} % of {expected}",
        tolerance * 100.0
    );
}
