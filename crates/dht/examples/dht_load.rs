//! A KRPC get_peers load generator: how many valid answers a DHT node gives per second on
//! loopback (issue 13's goal: ours at least 1.2x libtorrent's, under the same load).
//!
//! ```text
//! cargo run --release -p swarmgate-dht --example dht_load -- TARGET_IP:PORT \
//!     [--seconds 10] [--warmup 2] [--sockets 64] [--window 16] [--hashes 1000] \
//!     [--stored 250] [--peers 8] [--seed 1]
//! ```
//!
//! First it stores peers: for each of the first `--stored` info-hashes, `--peers` announcers,
//! each on its own 127.0.(10+p).1 (a node may keep one peer an IP), ask get_peers for a token
//! and announce_peer with it, one at a time. It checks that every stored hash is now answered
//! with values. Then the load: `--sockets` UDP sockets, socket `s` on 127.0.(64 + s % 64).1, each
//! keeping `--window` get_peers queries in flight for info-hashes drawn uniformly from all
//! `--hashes` (so about stored/hashes of them have peers). A query unanswered after 500 ms is
//! counted lost and replaced. After `--warmup` seconds, it counts for `--seconds`: an answer is
//! valid when it decodes as a KRPC response to a query in flight from that socket, carries a
//! token, and (for a stored hash) values. It prints one `key=value` line a figure and exits
//! non-zero when nothing was answered. Every phase is bounded in time.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{Body, KrpcLimits, Message, Method, NodeId, Response};
use tokio::net::UdpSocket;

/// A query unanswered after this is lost (its slot in the window is reused).
const LOST_AFTER: Duration = Duration::from_millis(500);
/// How long the announce phase may wait for one answer.
const SETUP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
struct Settings {
    target: SocketAddr,
    seconds: u64,
    warmup: u64,
    sockets: usize,
    window: usize,
    hashes: usize,
    stored: usize,
    peers: usize,
    seed: u64,
}

fn parse_args() -> Result<Settings, String> {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .ok_or("usage: dht_load TARGET_IP:PORT [--seconds N] ...")?
        .parse()
        .map_err(|e| format!("the target: {e}"))?;
    let mut settings = Settings {
        target,
        seconds: 10,
        warmup: 2,
        sockets: 64,
        window: 16,
        hashes: 1_000,
        stored: 250,
        peers: 8,
        seed: 1,
    };
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .ok_or(format!("{flag} needs a value"))?
            .parse()
            .map_err(|e| format!("{flag}: {e}"))?;
        let small = |v: u64| usize::try_from(v).map_err(|e| e.to_string());
        match flag.as_str() {
            "--seconds" => settings.seconds = value.max(1),
            "--warmup" => settings.warmup = value,
            "--sockets" => settings.sockets = small(value)?.clamp(1, 4_096),
            "--window" => settings.window = small(value)?.clamp(1, 1_024),
            "--hashes" => settings.hashes = small(value)?.max(1),
            "--stored" => settings.stored = small(value)?,
            "--peers" => settings.peers = small(value)?.clamp(1, 200),
            "--seed" => settings.seed = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    settings.stored = settings.stored.min(settings.hashes);
    Ok(settings)
}

/// The info-hash number `index` of this run: the same for every target.
fn info_hash(index: usize) -> InfoHashV1 {
    let mut rng = SplitMix64::new(0x5eed_0000 ^ index as u64);
    let mut hash = [0u8; 20];
    for chunk in hash.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes()[..chunk.len()]);
    }
    InfoHashV1(hash)
}

fn get_peers(tid: u32, id: NodeId, hash: InfoHashV1) -> Vec<u8> {
    let method = Method::GetPeers {
        info_hash: hash,
        want: None,
        scrape: false,
        noseed: false,
    };
    let mut out = Vec::with_capacity(128);
    Message::query(tid.to_be_bytes().to_vec(), id, method).encode(&mut out);
    out
}

/// The response in `datagram` if it is one, with its transaction id as a number.
fn response(datagram: &[u8], limits: &KrpcLimits) -> Option<(u32, Response)> {
    let message = Message::decode(datagram, limits).ok()?;
    let tid = u32::from_be_bytes(message.transaction_id.as_slice().try_into().ok()?);
    match message.body {
        Body::Response(response) => Some((tid, response)),
        _ => None,
    }
}

/// One query and its answer, for the announce phase: `SETUP_TIMEOUT` at most.
async fn ask(socket: &UdpSocket, target: SocketAddr, query: &[u8], tid: u32) -> Option<Response> {
    socket.send_to(query, target).await.ok()?;
    let limits = KrpcLimits::default();
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let mut buf = vec![0u8; 2_048];
    loop {
        let (len, _) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        if let Some((got, answer)) = response(&buf[..len], &limits)
            && got == tid
        {
            return Some(answer);
        }
    }
}

/// Stores `peers` peers for each of the first `stored` hashes; returns how many announces the
/// target acknowledged.
async fn store_peers(settings: &Settings) -> std::io::Result<usize> {
    let mut acknowledged = 0;
    let mut rng = SplitMix64::new(settings.seed);
    for p in 0..settings.peers {
        let ip = Ipv4Addr::new(127, 0, 10 + p as u8, 1);
        let socket = UdpSocket::bind((ip, 0)).await?;
        let id = NodeId::random(&mut rng);
        for index in 0..settings.stored {
            let hash = info_hash(index);
            let tid = (index * 2) as u32;
            let Some(token) = ask(&socket, settings.target, &get_peers(tid, id, hash), tid)
                .await
                .and_then(|r| r.token)
            else {
                continue;
            };
            let method = Method::AnnouncePeer {
                info_hash: hash,
                port: 6_881 + p as u16,
                implied_port: false,
                token,
                seed: p % 2 == 0,
            };
            let mut query = Vec::with_capacity(160);
            Message::query((tid + 1).to_be_bytes().to_vec(), id, method).encode(&mut query);
            if ask(&socket, settings.target, &query, tid + 1)
                .await
                .is_some()
            {
                acknowledged += 1;
            }
        }
    }
    Ok(acknowledged)
}

/// How many stored hashes are answered with values, and the values in those answers.
async fn check_stored(settings: &Settings) -> std::io::Result<(usize, usize)> {
    let socket = UdpSocket::bind((Ipv4Addr::new(127, 0, 9, 1), 0)).await?;
    let id = NodeId::random(&mut SplitMix64::new(settings.seed ^ 9));
    let (mut with_values, mut values) = (0, 0);
    for index in 0..settings.stored {
        let tid = index as u32;
        let query = get_peers(tid, id, info_hash(index));
        if let Some(answer) = ask(&socket, settings.target, &query, tid).await
            && !answer.values.is_empty()
        {
            with_values += 1;
            values += answer.values.len();
        }
    }
    Ok((with_values, values))
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    valid: AtomicU64,
    with_values: AtomicU64,
    stored_asked: AtomicU64,
    invalid: AtomicU64,
    lost: AtomicU64,
}

/// One socket's loop: `window` queries in flight until `end`, counting from `measuring`.
async fn load(
    number: usize,
    settings: Settings,
    measuring: Arc<AtomicBool>,
    end: tokio::time::Instant,
    counts: Arc<Counts>,
) -> std::io::Result<()> {
    let ip = Ipv4Addr::new(127, 0, 64 + (number % 64) as u8, 1);
    let socket = UdpSocket::bind((ip, 0)).await?;
    let mut rng = SplitMix64::new(settings.seed.wrapping_mul(1_000_003) ^ number as u64);
    let id = NodeId::random(&mut rng);
    let limits = KrpcLimits::default();
    let mut in_flight: HashMap<u32, (Instant, usize, bool)> = HashMap::new();
    let mut next_tid = 0u32;
    let mut buf = vec![0u8; 2_048];
    while tokio::time::Instant::now() < end {
        while in_flight.len() < settings.window {
            let index = rng.below(settings.hashes);
            next_tid = next_tid.wrapping_add(1);
            socket
                .send_to(&get_peers(next_tid, id, info_hash(index)), settings.target)
                .await?;
            let counted = measuring.load(Ordering::Relaxed);
            if counted {
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            in_flight.insert(next_tid, (Instant::now(), index, counted));
        }
        let wait = tokio::time::timeout(LOST_AFTER / 5, socket.recv_from(&mut buf)).await;
        if let Ok(received) = wait {
            let (len, from) = received?;
            let answer = response(&buf[..len], &limits).filter(|_| from == settings.target);
            if let Some((tid, answer)) = answer
                && let Some((_, index, _)) = in_flight.remove(&tid)
                && measuring.load(Ordering::Relaxed)
            {
                let stored = index < settings.stored;
                if stored {
                    counts.stored_asked.fetch_add(1, Ordering::Relaxed);
                }
                if answer.token.is_some() && (!stored || !answer.values.is_empty()) {
                    counts.valid.fetch_add(1, Ordering::Relaxed);
                    if !answer.values.is_empty() {
                        counts.with_values.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    counts.invalid.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let now = Instant::now();
        in_flight.retain(|_, (sent, _, counted)| {
            let keep = now.duration_since(*sent) < LOST_AFTER;
            if !keep && *counted && measuring.load(Ordering::Relaxed) {
                counts.lost.fetch_add(1, Ordering::Relaxed);
            }
            keep
        });
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = parse_args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let acknowledged = store_peers(&settings).await?;
    let (stored_with_values, values) = check_stored(&settings).await?;
    println!(
        "announces_acknowledged={acknowledged} of {}",
        settings.stored * settings.peers
    );
    println!(
        "stored_hashes_with_values={stored_with_values} of {}",
        settings.stored
    );
    println!(
        "values_per_stored_answer={:.1}",
        values as f64 / stored_with_values.max(1) as f64
    );
    println!("setup_seconds={:.2}", started.elapsed().as_secs_f64());

    let counts = Arc::new(Counts::default());
    let measuring = Arc::new(AtomicBool::new(false));
    let begin = tokio::time::Instant::now();
    let end = begin + Duration::from_secs(settings.warmup + settings.seconds);
    let mut tasks = Vec::with_capacity(settings.sockets);
    for number in 0..settings.sockets {
        let task = load(
            number,
            settings.clone(),
            measuring.clone(),
            end,
            counts.clone(),
        );
        tasks.push(tokio::spawn(task));
    }
    tokio::time::sleep_until(begin + Duration::from_secs(settings.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    eprintln!("MEASURING");
    let measured_from = Instant::now();
    tokio::time::sleep_until(end).await;
    measuring.store(false, Ordering::Relaxed);
    let measured = measured_from.elapsed().as_secs_f64();
    for task in tasks {
        task.await??;
    }
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let valid = get(&counts.valid);
    println!("measured_seconds={measured:.2}");
    println!("queries_sent={}", get(&counts.sent));
    println!("valid_answers={valid}");
    println!("answers_per_second={:.0}", valid as f64 / measured);
    println!("answers_with_values={}", get(&counts.with_values));
    println!("stored_hash_queries_answered={}", get(&counts.stored_asked));
    println!("invalid_answers={}", get(&counts.invalid));
    println!("lost_queries={}", get(&counts.lost));
    if valid == 0 {
        return Err("no valid answer in the measured time".into());
    }
    Ok(())
}
