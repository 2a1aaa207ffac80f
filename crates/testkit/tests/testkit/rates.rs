//! The bandwidth model: upload rates, fair sharing, download caps, the window, latency.

use std::time::Duration;

use bytes::Bytes;
use swarmgate_testkit::{ConnId, NodeConfig, NodeId, SimConfig, SimNet};

use crate::support::{assert_near, pattern, received_by, run_log, streams, time_to_receive};

const MB: u64 = 1_000_000;

fn up(rate: u64) -> NodeConfig {
    NodeConfig {
        upload_rate: rate,
        ..NodeConfig::unlimited()
    }
}

fn down(rate: u64) -> NodeConfig {
    NodeConfig {
        download_rate: rate,
        ..NodeConfig::unlimited()
    }
}

/// Connects `from` to each of `to` and queues `lens[i]` bytes on connection `i`; returns the
/// receiving ends.
fn fan_out(net: &mut SimNet, from: NodeId, to: &[NodeId], lens: &[usize]) -> Vec<ConnId> {
    to.iter()
        .zip(lens)
        .map(|(&t, &len)| {
            let (x, y) = net.connect(from, t).expect("connect");
            net.send(x, Bytes::from(pattern(0, len))).expect("send");
            y
        })
        .collect()
}

fn secs(d: Option<Duration>) -> f64 {
    d.expect("everything arrived").as_secs_f64()
}

#[test]
fn a_1_mb_s_uploader_moves_10_mb_in_10_s() {
    let mut net = SimNet::new(1);
    let seeder = net.add_node(up(MB));
    let leecher = net.add_node(NodeConfig::unlimited());
    let ends = fan_out(&mut net, seeder, &[leecher], &[10 * MB as usize]);
    let log = run_log(&mut net, 60.0);
    assert_near(
        secs(time_to_receive(&log, ends[0], 10 * MB as usize)),
        10.0,
        0.01,
        "10 MB",
    );
    assert_near(
        received_by(&log, ends[0], Duration::from_secs(4)) as f64,
        4e6,
        0.01,
        "at 4 s",
    );
    assert_eq!(net.node_stats(seeder).map(|s| s.bytes_sent), Some(10 * MB));
    assert_eq!(
        net.node_stats(leecher).map(|s| s.bytes_received),
        Some(10 * MB)
    );
}

#[test]
fn two_connections_share_an_uplink_fairly() {
    let mut net = SimNet::new(2);
    let seeder = net.add_node(up(MB));
    let l1 = net.add_node(NodeConfig::unlimited());
    let l2 = net.add_node(NodeConfig::unlimited());
    let ends = fan_out(&mut net, seeder, &[l1, l2], &[5 * MB as usize; 2]);
    let log = run_log(&mut net, 60.0);
    for &end in &ends {
        assert_near(
            secs(time_to_receive(&log, end, 5 * MB as usize)),
            10.0,
            0.01,
            "5 MB each",
        );
        let half_time = received_by(&log, end, Duration::from_secs(5)) as f64;
        assert_near(half_time, 2.5e6, 0.02, "half-way");
    }
}

#[test]
fn an_idle_connection_leaves_its_share_to_the_others() {
    let mut net = SimNet::new(3);
    let seeder = net.add_node(up(MB));
    let leechers: Vec<NodeId> = (0..3)
        .map(|_| net.add_node(NodeConfig::unlimited()))
        .collect();
    let lens = [MB as usize, 5 * MB as usize, 5 * MB as usize];
    let ends = fan_out(&mut net, seeder, &leechers, &lens);
    let log = run_log(&mut net, 60.0);
    // Three ways until the small one is done at 3 s, then two ways: 11 MB in 11 s.
    assert_near(
        secs(time_to_receive(&log, ends[0], lens[0])),
        3.0,
        0.02,
        "small",
    );
    assert_near(
        secs(time_to_receive(&log, ends[1], lens[1])),
        11.0,
        0.01,
        "big",
    );
    assert_near(
        secs(time_to_receive(&log, ends[2], lens[2])),
        11.0,
        0.01,
        "big",
    );
}

#[test]
fn many_connections_stay_within_a_chunk_of_each_other() {
    let mut net = SimNet::new(4);
    let seeder = net.add_node(up(MB));
    let leechers: Vec<NodeId> = (0..5)
        .map(|_| net.add_node(NodeConfig::unlimited()))
        .collect();
    let ends = fan_out(&mut net, seeder, &leechers, &[2 * MB as usize; 5]);
    let log = run_log(&mut net, 60.0);
    let chunk = SimConfig::DEFAULT_MAX_CHUNK;
    for second in [1, 3, 5, 7, 9] {
        let got: Vec<usize> = ends
            .iter()
            .map(|&e| received_by(&log, e, Duration::from_secs(second)))
            .collect();
        let spread =
            got.iter().max().copied().unwrap_or(0) - got.iter().min().copied().unwrap_or(0);
        assert!(spread <= chunk, "at {second} s: {got:?}");
        assert_near(
            got.iter().sum::<usize>() as f64,
            second as f64 * 1e6,
            0.02,
            "total",
        );
    }
}

#[test]
fn a_download_cap_limits_what_a_node_receives() {
    let mut net = SimNet::new(5);
    let leecher = net.add_node(down(MB));
    let seeders: Vec<NodeId> = (0..3)
        .map(|_| net.add_node(NodeConfig::unlimited()))
        .collect();
    let ends: Vec<ConnId> = seeders
        .iter()
        .flat_map(|&s| fan_out(&mut net, s, &[leecher], &[2 * MB as usize]))
        .collect();
    let log = run_log(&mut net, 60.0);
    for &end in &ends {
        assert_near(
            secs(time_to_receive(&log, end, 2 * MB as usize)),
            6.0,
            0.02,
            "2 MB each",
        );
        let mid = received_by(&log, end, Duration::from_secs(3)) as f64;
        assert_near(mid, 1e6, 0.05, "a third of the cap each");
    }
    assert_eq!(
        net.node_stats(leecher).map(|s| s.bytes_received),
        Some(6 * MB)
    );
}

#[test]
fn the_slower_link_sets_the_pace() {
    let mut net = SimNet::new(6);
    let seeder = net.add_node(up(2 * MB));
    let leecher = net.add_node(down(MB / 2));
    let ends = fan_out(&mut net, seeder, &[leecher], &[5 * MB as usize]);
    let log = run_log(&mut net, 60.0);
    assert_near(
        secs(time_to_receive(&log, ends[0], 5 * MB as usize)),
        10.0,
        0.01,
        "5 MB",
    );
}

#[test]
fn a_slow_receiver_does_not_hog_its_senders_uplink() {
    let config = SimConfig {
        window: 64 * 1024,
        ..SimConfig::default()
    };
    let mut net = SimNet::with_config(7, config);
    let seeder = net.add_node(up(MB));
    let slow = net.add_node(down(100_000));
    let fast = net.add_node(NodeConfig::unlimited());
    let ends = fan_out(&mut net, seeder, &[slow, fast], &[20 * MB as usize; 2]);
    let log = run_log(&mut net, 10.0);
    let ten = Duration::from_secs(10);
    assert_near(
        received_by(&log, ends[0], ten) as f64,
        1e6,
        0.05,
        "slow gets its cap",
    );
    assert_near(
        received_by(&log, ends[1], ten) as f64,
        9e6,
        0.03,
        "fast gets the rest",
    );
}

#[test]
fn latency_is_added_once_per_delivery() {
    let mut net = SimNet::new(8);
    let a = net.add_node(NodeConfig {
        upload_rate: MB,
        download_rate: u64::MAX,
        latency: Duration::from_millis(50),
    });
    let b = net.add_node(down(MB / 2));
    let (x, y) = net.connect(a, b).expect("connect");
    let mut log = run_log(&mut net, 1.0);
    net.send(x, Bytes::from(pattern(0, 16_000))).expect("send");
    log.extend(run_log(&mut net, 1.0));
    // 16 ms on the uplink, 50 ms on the way, 32 ms through the downlink.
    assert_eq!(
        time_to_receive(&log, y, 16_000),
        Some(Duration::from_millis(1_098))
    );
}

#[test]
fn a_new_rate_applies_from_the_next_chunk() {
    let mut net = SimNet::new(9);
    let seeder = net.add_node(up(MB));
    let leecher = net.add_node(NodeConfig::unlimited());
    let ends = fan_out(&mut net, seeder, &[leecher], &[6 * MB as usize]);
    let mut log = run_log(&mut net, 2.0);
    net.set_config(seeder, up(2 * MB)).expect("node");
    log.extend(run_log(&mut net, 30.0));
    // 2 MB in the first 2 s, the other 4 MB at twice the rate.
    assert_near(
        secs(time_to_receive(&log, ends[0], 6 * MB as usize)),
        4.0,
        0.01,
        "6 MB",
    );
    assert_eq!(
        streams(&log).get(&ends[0]).map(Vec::len),
        Some(6 * MB as usize)
    );
}
