//! `swarm tracker`: a standalone BitTorrent tracker, HTTP and UDP, on the swarmgate-tracker
//! server.
//!
//! The defaults are an open public tracker's: any info-hash is tracked unless an allow-list is
//! given, the `ip` parameter is ignored, full scrape is off, and there is no rate limit (add
//! one with `--rate-limit` when the tracker faces the internet). It runs until SIGINT or
//! SIGTERM and then prints what it served.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use swarmgate_core::InfoHashV1;
use swarmgate_tracker::{Access, RateLimit, Tracker, TrackerConfig, serve_http, serve_udp};
use tokio::net::TcpListener;
use tokio::sync::watch;

use swarmgate_service::wait_for_signal;

/// How often expired peers are forgotten and the request rates measured.
const MAINTENANCE: Duration = Duration::from_secs(5);

#[derive(Args, Debug)]
pub(crate) struct TrackerArgs {
    /// Serve HTTP announces and scrapes (/announce, /scrape) on this address.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve UDP (BEP 15) on this address.
    #[arg(long, value_name = "ADDR")]
    udp: Option<SocketAddr>,
    /// The announce interval sent to clients, in seconds; peers silent for twice this long are
    /// forgotten.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    interval: u64,
    /// The `min interval` sent to HTTP clients, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    min_interval: u64,
    /// An interval for one client family (BEP 20 peer-id prefix), e.g. `qBittorrent=900`.
    /// Repeatable.
    #[arg(long, value_name = "FAMILY=SECS", value_parser = parse_client_interval)]
    client_interval: Vec<(String, Duration)>,
    /// Peers sent when a client does not ask for a number.
    #[arg(long, value_name = "N", default_value_t = 50)]
    numwant: u32,
    /// The most peers sent in one answer.
    #[arg(long, value_name = "N", default_value_t = 200)]
    numwant_cap: u32,
    /// Track only this info-hash (40 hex or 32 base32 digits). Repeatable; with --allow-file, both count.
    #[arg(long, value_name = "HEX40", value_parser = parse_info_hash)]
    allow: Vec<InfoHashV1>,
    /// Track only the info-hashes in this file, one per line (40 hex digits; `#` comments).
    #[arg(long, value_name = "FILE")]
    allow_file: Option<PathBuf>,
    /// Answer a scrape that names no torrent with every torrent.
    #[arg(long)]
    full_scrape: bool,
    /// Believe the `ip` a client announces (only behind a proxy or on a private network).
    #[arg(long)]
    trust_ip: bool,
    /// Announces and scrapes per second one IP address may sustain (bursts of 10 times that);
    /// 0 turns the limit off.
    #[arg(long, value_name = "PER_SEC", default_value_t = 0)]
    rate_limit: u32,
    /// Worker threads for each of HTTP and UDP (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn parse_info_hash(text: &str) -> Result<InfoHashV1, String> {
    InfoHashV1::from_hex_or_base32(text.trim())
        .map_err(|e| format!("`{text}` is not an info-hash: {e}"))
}

fn parse_client_interval(text: &str) -> Result<(String, Duration), String> {
    let (family, secs) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FAMILY=SECS"))?;
    let secs: u64 = secs
        .parse()
        .map_err(|_| format!("`{secs}` is not a number of seconds"))?;
    Ok((family.to_owned(), Duration::from_secs(secs)))
}

fn allow_list(args: &TrackerArgs) -> anyhow::Result<Vec<InfoHashV1>> {
    let mut hashes = args.allow.clone();
    if let Some(path) = &args.allow_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let hash = parse_info_hash(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), number + 1))?;
            hashes.push(hash);
        }
    }
    Ok(hashes)
}

fn config(args: &TrackerArgs, allowed: &[InfoHashV1]) -> TrackerConfig {
    let mut config = TrackerConfig::default();
    config.interval = Duration::from_secs(args.interval);
    config.min_interval = Duration::from_secs(args.min_interval);
    config.client_intervals = args.client_interval.clone();
    config.numwant_default = args.numwant;
    config.numwant_max = args.numwant_cap;
    config.full_scrape = args.full_scrape;
    config.trust_ip = args.trust_ip;
    config.rate_limit = (args.rate_limit > 0).then(|| RateLimit {
        per_second: args.rate_limit,
        burst: args.rate_limit.saturating_mul(10),
    });
    if !allowed.is_empty() {
        config.access = Access::AllowList;
    }
    config
}

pub(crate) fn run_tracker(args: &TrackerArgs) -> anyhow::Result<()> {
    if args.http.is_none() && args.udp.is_none() {
        bail!("nothing to serve: give --http ADDR, --udp ADDR or both");
    }
    let allowed = allow_list(args)?;
    // The key of the UDP connection ids: new on every start (clients holding an old id simply
    // connect again).
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow::anyhow!("no OS randomness for the connection ids: {e}"))?;
    let tracker = Tracker::new(config(args, &allowed), Instant::now(), secret)
        .context("tracker configuration")?;
    for hash in allowed {
        tracker.allow(hash);
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, Arc::new(tracker), threads))
}

async fn serve(args: &TrackerArgs, tracker: Arc<Tracker>, threads: usize) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            // An error means the sender is gone, which also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = args.http {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for HTTP on {addr}"))?;
        let local = listener.local_addr()?;
        eprintln!("tracker: HTTP on http://{local}/announce");
        tasks.spawn(serve_http(listener, Arc::clone(&tracker), stopped()));
    }
    if let Some(addr) = args.udp {
        let socket =
            UdpSocket::bind(addr).with_context(|| format!("listening for UDP on {addr}"))?;
        eprintln!("tracker: UDP on udp://{}", socket.local_addr()?);
        tasks.spawn(serve_udp(socket, Arc::clone(&tracker), threads, stopped()));
    }
    let maintained = Arc::clone(&tracker);
    let stop_maintenance = stopped();
    tasks.spawn(async move {
        tokio::pin!(stop_maintenance);
        let mut tick = tokio::time::interval(MAINTENANCE);
        loop {
            tokio::select! {
                () = &mut stop_maintenance => return Ok(()),
                _ = tick.tick() => { maintained.maintain(Instant::now()); }
            }
        }
    });
    wait_for_signal().await;
    // Receivers may all be gone already; then there is nobody left to tell.
    let _ = stop_tx.send(true);
    while let Some(joined) = tasks.join_next().await {
        joined.context("a tracker task failed")??;
    }
    let stats = tracker.stats();
    eprintln!(
        "tracker: stopped after {} announces and {} scrapes ({} refused); {} torrents, {} seeders, {} leechers",
        stats.announces,
        stats.scrapes,
        stats.refused,
        stats.torrents,
        stats.seeders,
        stats.leechers
    );
    Ok(())
}
