//! One hostile address against the peer port (issue 15): python3-libtorrent and aria2c download
//! a stored file by its peer-only magnet from 127.0.0.1, first undisturbed, then while
//! 127.0.0.2 holds 2,000 idle connections and 127.0.0.3 runs a reconnect loop (16 sockets that
//! reconnect as soon as the gateway closes them). Each download under attack must finish
//! within twice its undisturbed time plus 2 s (the floor keeps a 0.2 s baseline from making a
//! flaky bound), and the gateway must show the refusals by reason in /api/p2p/stats and
//! /metrics. Every loop is bounded in count and time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use super::clients::{Program, download_all};
use super::support::{Gateway, small, workspace};
use super::uploads::{Stored, upload};

/// Idle connections the flood opens from 127.0.0.2.
const IDLE: usize = 2_000;
/// Concurrent reconnecting sockets from 127.0.0.3.
const RECONNECTING: usize = 16;
/// The attack ends by itself after this, whatever the test does.
const ATTACK_LIMIT: Duration = Duration::from_secs(300);

/// What the attacker thread reports.
#[derive(Default)]
struct Attack {
    stop: AtomicBool,
    /// Idle connections opened (by the kernel's handshake; the gateway may close them at once).
    opened: AtomicU64,
    /// Connections made by the reconnect loop.
    reconnects: AtomicU64,
}

/// A socket from `from` to `to` (every 127/8 address works on Linux loopback).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Until `stop` (or [`ATTACK_LIMIT`]): 2,000 idle connections from 127.0.0.2, held, and
/// [`RECONNECTING`] loops from 127.0.0.3 that wait for the gateway to close their socket and
/// connect again (10 ms apart after a refusal, so the attacker does not take a core from the
/// clients on a two-core machine).
fn attack(peer: SocketAddr, attack: Arc<Attack>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let deadline = tokio::time::Instant::now() + ATTACK_LIMIT;
            let mut loops = tokio::task::JoinSet::new();
            for _ in 0..RECONNECTING {
                let attack = Arc::clone(&attack);
                loops.spawn(async move {
                    while !attack.stop.load(Ordering::Relaxed)
                        && tokio::time::Instant::now() < deadline
                    {
                        let Ok(mut stream) = connect_from([127, 0, 0, 3], peer).await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        attack.reconnects.fetch_add(1, Ordering::Relaxed);
                        let started = tokio::time::Instant::now();
                        let mut buf = [0u8; 64];
                        let _ = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await;
                        if started.elapsed() < Duration::from_millis(10) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                });
            }
            let mut idle = Vec::with_capacity(IDLE);
            for _ in 0..IDLE {
                if let Ok(stream) = connect_from([127, 0, 0, 2], peer).await {
                    idle.push(stream);
                    attack.opened.fetch_add(1, Ordering::Relaxed);
                }
            }
            while !attack.stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            loops.shutdown().await;
            drop(idle);
        });
    })
}

/// Makes sure this process may hold the flood's sockets (raising the soft limit if needed).
fn enough_descriptors() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = (IDLE + RECONNECTING + 512) as u64;
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < needed) {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    }
    let limit = getrlimit(Resource::Nofile);
    assert!(
        limit.current.is_none_or(|current| current >= needed),
        "{needed} descriptors needed, the hard limit is {:?}",
        limit.maximum
    );
}

/// Downloads the file with each client, one after the other; their times.
fn both_clients(
    gateway: &Gateway,
    jobs: &[(&Stored, String)],
    work: &std::path::Path,
    step: &str,
) -> [Duration; 2] {
    [Program::Libtorrent, Program::Aria2].map(|program| {
        let started = Instant::now();
        download_all(program, gateway, jobs, work, step);
        started.elapsed()
    })
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn downloads_keep_their_speed_under_a_connection_flood() {
    enough_descriptors();
    let (tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let stored = upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    let jobs = [(&stored, stored.magnet_without_web_seed())];
    let work = tmp.path().join("clients");

    let baseline = both_clients(&gateway, &jobs, &work, "undisturbed");

    let state = Arc::new(Attack::default());
    let attacker = attack(gateway.peer, Arc::clone(&state));
    let flooded = Instant::now() + Duration::from_secs(60);
    while state.opened.load(Ordering::Relaxed) < IDLE as u64 {
        assert!(
            Instant::now() < flooded,
            "the flood did not open its connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let attacked = both_clients(&gateway, &jobs, &work, "under-attack");
    state.stop.store(true, Ordering::Relaxed);
    attacker.join().expect("the attacker thread");

    let p2p = gateway.get_json("/api/p2p/stats", StatusCode::OK);
    let refusals = &p2p["seeder"]["refusals"];
    eprintln!(
        "undisturbed {baseline:?}, under attack {attacked:?}; {} idle connections, {} reconnects; refusals {refusals}",
        state.opened.load(Ordering::Relaxed),
        state.reconnects.load(Ordering::Relaxed),
    );
    for ((program, base), under) in ["libtorrent", "aria2c"].iter().zip(baseline).zip(attacked) {
        let bound = base * 2 + Duration::from_secs(2);
        assert!(
            under <= bound,
            "{program}: {under:?} under attack, {base:?} undisturbed (bound {bound:?})"
        );
    }
    let per_ip = refusals["per_ip"].as_u64().expect("per_ip");
    assert!(per_ip >= (IDLE - 8) as u64, "{p2p}");
    let metrics = gateway.get("/metrics").text().expect("the metrics");
    let line = metrics
        .lines()
        .find(|line| line.starts_with("swarmgate_peer_refused_per_ip_total "))
        .unwrap_or_else(|| panic!("no per-address refusals in /metrics:\n{metrics}"));
    let exported: u64 = line
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(exported >= per_ip, "{line} vs {per_ip}");
}
