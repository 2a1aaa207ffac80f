//! Unit tests of the datagram network: latency, ordering, loss and jitter, silent and killed
//! hosts, address reuse and wake-ups.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn host(net: &mut SimUdp, latency_ms: u32) -> (HostId, SocketAddr) {
    let id = net.add_host(HostConfig::with_latency(latency_ms * MS));
    (id, net.addr(id).expect("just added"))
}

/// Every event until `deadline`, with the virtual time (since the epoch) it came at.
fn drain(net: &mut SimUdp, deadline: Duration) -> Vec<(Duration, UdpEvent)> {
    let deadline = net.epoch() + deadline;
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(event) = net.next_event(deadline) else {
            return out;
        };
        out.push((net.elapsed(), event));
    }
    panic!("more than 100,000 events");
}

fn datagram(to: HostId, from: SocketAddr, payload: &[u8]) -> UdpEvent {
    UdpEvent::Datagram(Datagram {
        to,
        from,
        payload: payload.to_vec(),
    })
}

#[test]
fn a_datagram_takes_the_senders_latency_and_a_round_trip_both() {
    let mut net = SimUdp::new(1);
    let (a, a_addr) = host(&mut net, 10);
    let (b, b_addr) = host(&mut net, 140);
    assert_eq!(a_addr.to_string(), "10.0.0.1:6881");
    net.send(a, b_addr, b"q".to_vec()).expect("send");
    let events = drain(&mut net, 9 * MS);
    assert!(events.is_empty(), "not there yet: {events:?}");
    assert_eq!(net.elapsed(), 9 * MS, "the clock moved to the deadline");
    let events = drain(&mut net, 10 * MS);
    assert_eq!(events, [(10 * MS, datagram(b, a_addr, b"q"))]);
    net.send(b, a_addr, b"r".to_vec()).expect("send");
    let events = drain(&mut net, Duration::from_secs(1));
    assert_eq!(events, [(150 * MS, datagram(a, b_addr, b"r"))]);
    let stats = net.stats();
    assert_eq!((stats.sent, stats.delivered), (2, 2));
    let b_stats = net.host_stats(b).expect("b");
    assert_eq!((b_stats.sent, b_stats.received), (1, 1));
    assert_eq!((b_stats.bytes_sent, b_stats.bytes_received), (1, 1));
}

#[test]
fn simultaneous_events_come_in_the_order_they_were_scheduled() {
    let mut net = SimUdp::new(2);
    let (a, a_addr) = host(&mut net, 20);
    let (b, b_addr) = host(&mut net, 20);
    let (c, c_addr) = host(&mut net, 0);
    let at = net.now() + 20 * MS;
    net.set_wake(c, Some(at)).expect("wake");
    net.send(a, c_addr, b"1".to_vec()).expect("send");
    net.send(b, c_addr, b"2".to_vec()).expect("send");
    net.send(a, c_addr, b"3".to_vec()).expect("send");
    let events: Vec<UdpEvent> = drain(&mut net, Duration::from_secs(1))
        .into_iter()
        .map(|(t, e)| {
            assert_eq!(t, 20 * MS);
            e
        })
        .collect();
    assert_eq!(
        events,
        [
            UdpEvent::Wake { host: c },
            datagram(c, a_addr, b"1"),
            datagram(c, b_addr, b"2"),
            datagram(c, a_addr, b"3"),
        ]
    );
}

/// A run with loss and jitter, as (time, receiver, payload).
fn lossy_run(seed: u64, test_draws: bool) -> Vec<(Duration, HostId, Vec<u8>)> {
    let config = UdpConfig {
        jitter: 50 * MS,
        loss: 0.25,
    };
    let mut net = SimUdp::with_config(seed, config);
    let hosts: Vec<(HostId, SocketAddr)> = (0..4).map(|i| host(&mut net, 10 + i)).collect();
    for n in 0..400u32 {
        if test_draws {
            net.rng().next_u64();
        }
        let (from, _) = hosts[n as usize % 4];
        let (_, to) = hosts[(n as usize + 1) % 4];
        net.send(from, to, n.to_be_bytes().to_vec()).expect("send");
    }
    drain(&mut net, Duration::from_secs(1))
        .into_iter()
        .map(|(t, e)| match e {
            UdpEvent::Datagram(d) => (t, d.to, d.payload),
            UdpEvent::Wake { .. } => panic!("no wake-up was set"),
        })
        .collect()
}

#[test]
fn loss_and_jitter_are_seeded_and_apart_from_the_tests_draws() {
    let run = lossy_run(5, false);
    // 400 datagrams, each lost with probability 1/4: 300 expected, sd 8.7.
    assert!((260..340).contains(&run.len()), "{}", run.len());
    assert_eq!(run, lossy_run(5, false), "same seed, same run");
    assert_eq!(run, lossy_run(5, true), "the test's draws move nothing");
    assert_ne!(run, lossy_run(6, false), "another seed, another run");
    // Jitter lets later datagrams overtake earlier ones.
    let order: Vec<u32> = run
        .iter()
        .map(|(_, _, p)| u32::from_be_bytes(p.as_slice().try_into().expect("4 bytes")))
        .collect();
    assert!(order.windows(2).any(|w| w[0] > w[1]), "no reordering");
    assert!(run.iter().all(|(t, _, _)| *t >= 10 * MS && *t <= 63 * MS));
    let mut all_lost = SimUdp::with_config(
        1,
        UdpConfig {
            loss: 1.0,
            ..UdpConfig::default()
        },
    );
    let (a, a_addr) = host(&mut all_lost, 1);
    all_lost.send(a, a_addr, b"x".to_vec()).expect("send");
    assert!(drain(&mut all_lost, Duration::from_secs(1)).is_empty());
    assert_eq!(all_lost.stats().lost, 1);
}

#[test]
fn a_silent_host_drops_what_it_receives_but_may_send() {
    let mut net = SimUdp::new(3);
    let (a, a_addr) = host(&mut net, 5);
    let (b, b_addr) = host(&mut net, 5);
    net.set_silent(b, true).expect("silence");
    assert_eq!(net.state(b), Ok(HostState::Silent));
    net.send(a, b_addr, b"lost".to_vec()).expect("send");
    net.send(b, a_addr, b"out".to_vec())
        .expect("a silent host sends");
    let events = drain(&mut net, Duration::from_secs(1));
    assert_eq!(events, [(5 * MS, datagram(a, b_addr, b"out"))]);
    assert_eq!(net.stats().dropped_silent, 1);
    assert_eq!(net.host_stats(b).map(|s| s.dropped_silent), Ok(1));
    net.set_silent(b, false).expect("unsilence");
    net.send(a, b_addr, b"back".to_vec()).expect("send");
    let events = drain(&mut net, Duration::from_secs(2));
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn a_killed_host_is_gone_but_what_it_sent_arrives_and_its_address_may_be_reused() {
    let mut net = SimUdp::new(4);
    let (a, a_addr) = host(&mut net, 10);
    let (b, b_addr) = host(&mut net, 10);
    net.send(b, a_addr, b"last words".to_vec()).expect("send");
    net.send(a, b_addr, b"to the dead".to_vec()).expect("send");
    net.set_wake(b, Some(net.now() + 5 * MS)).expect("wake");
    net.kill(b).expect("kill");
    assert_eq!(net.state(b), Ok(HostState::Killed));
    assert_eq!(net.host_at(b_addr), None);
    assert_eq!(
        net.send(b, a_addr, b"x".to_vec()),
        Err(UdpError::HostDown { host: b })
    );
    assert_eq!(net.set_silent(b, true), Err(UdpError::HostDown { host: b }));
    assert_eq!(net.kill(b), Err(UdpError::HostDown { host: b }));
    let events = drain(&mut net, Duration::from_secs(1));
    assert_eq!(events, [(10 * MS, datagram(a, b_addr, b"last words"))]);
    assert_eq!(net.stats().unroutable, 1);
    // A newcomer takes the address; a datagram already on its way there reaches it.
    net.send(a, b_addr, b"hello?".to_vec()).expect("send");
    let c = net
        .add_host_at(b_addr, HostConfig::default())
        .expect("the address is free");
    assert_eq!(net.host_at(b_addr), Some(c));
    let events = drain(&mut net, Duration::from_secs(2));
    assert_eq!(events, [(1010 * MS, datagram(c, a_addr, b"hello?"))]);
    assert_eq!(
        net.add_host_at(a_addr, HostConfig::default()),
        Err(UdpError::AddrInUse {
            addr: a_addr,
            holder: a
        })
    );
    let stranger = HostId(99);
    assert_eq!(
        net.addr(stranger),
        Err(UdpError::UnknownHost { host: stranger })
    );
    assert_eq!(net.hosts(), 3);
}

#[test]
fn automatic_addresses_skip_the_ones_taken_by_hand() {
    let mut net = SimUdp::new(5);
    let taken: SocketAddr = "10.0.0.2:6881".parse().expect("addr");
    net.add_host_at(taken, HostConfig::default()).expect("free");
    let (_, first) = host(&mut net, 0);
    let (_, second) = host(&mut net, 0);
    assert_eq!(first.to_string(), "10.0.0.1:6881");
    assert_eq!(second.to_string(), "10.0.0.3:6881");
}

#[test]
fn a_wake_up_fires_once_and_may_be_moved_or_cancelled() {
    let mut net = SimUdp::new(6);
    let (a, _) = host(&mut net, 0);
    let (b, _) = host(&mut net, 0);
    let start = net.now();
    net.set_wake(a, Some(start + 30 * MS)).expect("wake");
    net.set_wake(a, Some(start + 10 * MS))
        .expect("moved earlier");
    net.set_wake(b, Some(start + 20 * MS)).expect("wake");
    net.set_wake(b, None).expect("cancelled");
    let events = drain(&mut net, Duration::from_secs(1));
    assert_eq!(events, [(10 * MS, UdpEvent::Wake { host: a })]);
    // A wake-up in the past fires at once, at the current time.
    net.set_wake(a, Some(start)).expect("wake");
    let events = drain(&mut net, Duration::from_secs(2));
    assert_eq!(
        events,
        [(Duration::from_secs(1), UdpEvent::Wake { host: a })]
    );
    assert_eq!(net.next_event_at(), None);
    // The clock never runs backwards.
    assert_eq!(net.next_event(start), None);
    assert_eq!(net.elapsed(), Duration::from_secs(2));
}
