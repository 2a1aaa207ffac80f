//! `swarm download`: fetch a .torrent or a magnet link from the swarm, verify every piece, and
//! optionally keep seeding.
//!
//! The work is swarmgate-session's `run`; this module parses the arguments, starts the DHT node,
//! resolves a magnet link to its info dictionary, draws the progress bar and prints the
//! summary. Ctrl+C stops cleanly: peers closed, files flushed, `stopped` announced, the DHT's
//! routing table saved, and the next run resumes from what is on disk. The exit code is 0 only
//! when every piece is verified. A full disk (or a file size limit) stops it the same way, with
//! one line naming the file and saying what to do; the pieces verified so far stay on disk and
//! the next run's check keeps them (a piece cut short by the failure fails its hash there and
//! is fetched again).
//!
//! The DHT node (BEP 5) is on unless `--no-dht`: a UDP socket on the peer port's number (as
//! libtorrent does; any free port if that one is taken, or `--dht-port`), bound to `--bind`. It
//! finds peers while pieces are missing and keeps the torrent announced with the peer port. Its
//! routing table is kept in the user's cache folder between runs (see [`crate::dht`] for when).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use swarmgate_core::PeerId;
use swarmgate_dht::{Dht, DhtConfig};
use swarmgate_metainfo::{Magnet, Torrent};
use swarmgate_session::{
    MagnetOptions, Phase, Progress, RunConfig, RunError, Summary, resolve_magnet, run,
};
use swarmgate_storage::StorageError;
use tokio::net::TcpListener;

use crate::dht::{bootstrap_names, default_state_file, node_config, resolve_bootstrap};
use crate::format::size;

/// Arguments of `swarm download`.
#[derive(Args, Debug)]
pub(crate) struct DownloadArgs {
    /// A .torrent file or a magnet link.
    source: String,
    /// The folder to download into (the torrent's name is created inside it).
    #[arg(short, long, default_value = ".")]
    output: PathBuf,
    /// Keep seeding after the download completes, until Ctrl+C.
    #[arg(long)]
    seed: bool,
    /// The TCP port to accept peers on (default: the first free of 6881-6889).
    #[arg(long)]
    port: Option<u16>,
    /// The address to accept peers on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: std::net::IpAddr,
    /// Connected peers, at most.
    #[arg(long, default_value_t = 50)]
    max_peers: usize,
    /// A peer to connect to, IP:PORT; repeat for more.
    #[arg(long = "peer", value_name = "IP:PORT")]
    peers: Vec<SocketAddr>,
    /// Do not announce to the torrent's trackers (use --peer).
    #[arg(long)]
    no_trackers: bool,
    /// Do not fetch from the torrent's web seeds (its url-list, BEP 19).
    #[arg(long)]
    no_web_seeds: bool,
    /// Join the DHT through this node, HOST:PORT; repeatable (default: the saved routing table,
    /// then the public routers).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
    /// Do not use the DHT (BEP 5) to find peers or to announce.
    #[arg(long, conflicts_with_all = ["dht_bootstrap", "dht_port", "dht_state"])]
    no_dht: bool,
    /// The DHT node's UDP port (default: the peer port's number if free, else any free port).
    #[arg(long, value_name = "PORT")]
    dht_port: Option<u16>,
    /// Keep the DHT routing table in this file between runs (default, without
    /// --dht-bootstrap: $XDG_CACHE_HOME/swarmgate/dht.dat, else ~/.cache/swarmgate/dht.dat).
    #[arg(long, value_name = "FILE")]
    dht_state: Option<PathBuf>,
    /// Sync the files to disk (fdatasync) on completion, before exiting. Ctrl+C always syncs.
    #[arg(long)]
    sync: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

pub(crate) fn run_download(args: &DownloadArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (summary, used_dht) = runtime.block_on(async {
        // A write past a file size limit stops the download with the message below, not the
        // process with SIGXFSZ.
        swarmgate_service::survive_file_size_limit();
        download(args).await
    })?;
    print_summary(&summary, used_dht);
    if !summary.complete {
        bail!(
            "stopped with {} of {} pieces verified; run the same command again to resume",
            summary.stats.pieces_have,
            summary.stats.pieces_total
        );
    }
    Ok(())
}

/// What to download: a magnet link still to resolve, or a torrent read from a file.
enum Wanted {
    Magnet(Magnet),
    Torrent(Torrent),
}

impl Wanted {
    fn read(source: &str) -> anyhow::Result<Self> {
        if source.starts_with("magnet:") {
            let magnet = Magnet::parse(source)
                .with_context(|| format!("{source}: not a valid magnet link"))?;
            return Ok(Wanted::Magnet(magnet));
        }
        let bytes = std::fs::read(source).with_context(|| source.to_owned())?;
        let torrent = Torrent::from_bytes(&bytes).with_context(|| source.to_owned())?;
        Ok(Wanted::Torrent(torrent))
    }
}

/// Reads the source, starts the DHT node (not for a private torrent: BEP 27, trackers only),
/// downloads, and stops the node (saving its table) whatever happened.
async fn download(args: &DownloadArgs) -> anyhow::Result<(Summary, bool)> {
    let wanted = Wanted::read(&args.source)?;
    let listener = bind(args).await?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let private = matches!(&wanted, Wanted::Torrent(t) if t.is_private());
    let dht = if private {
        None
    } else {
        start_dht(args, port).await?
    };
    let result = download_with(args, wanted, listener, dht.clone()).await;
    let used_dht = dht.is_some();
    if let Some(dht) = dht {
        dht.shutdown().await?;
    }
    Ok((result?, used_dht))
}

async fn download_with(
    args: &DownloadArgs,
    wanted: Wanted,
    listener: TcpListener,
    dht: Option<Dht>,
) -> anyhow::Result<Summary> {
    let peer_id = PeerId::swarmgate(random_suffix()?);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut trackers = Vec::new();
    let mut peers = args.peers.clone();
    let torrent = match wanted {
        Wanted::Magnet(magnet) => {
            trackers = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
            peers.extend(magnet.peers.iter().copied());
            let options = MagnetOptions {
                peer_id,
                port,
                peers: peers.clone(),
                use_trackers: !args.no_trackers,
                dht: dht.clone(),
                timeout: Duration::from_secs(120),
            };
            if !args.quiet {
                eprintln!("fetching metadata for {}", magnet.info_hash);
            }
            resolve_magnet(&magnet, &options)
                .await
                .with_context(|| format!("{}: fetching the metadata", args.source))?
        }
        Wanted::Torrent(torrent) => torrent,
    };
    let torrent = Arc::new(torrent);

    let mut config = RunConfig::new(&args.output, peer_id);
    config.listener = Some(listener);
    config.peers = peers;
    config.trackers = trackers;
    config.use_trackers = !args.no_trackers;
    config.use_web_seeds = !args.no_web_seeds;
    config.seed = args.seed;
    config.max_peers = args.max_peers.max(1);
    config.sync_on_complete = args.sync;
    let use_dht = dht.is_some();
    config.dht = dht;

    let bar = progress_bar(args.quiet, torrent.total_length());
    if !args.quiet {
        eprintln!(
            "{}: {} in {} pieces, into {}",
            torrent.name(),
            size(torrent.data_length()),
            torrent.piece_count(),
            args.output.display()
        );
    }
    // Without a signal handler Ctrl+C (or a SIGTERM) would kill us mid-write; with one the run
    // stops cleanly: files flushed, `stopped` announced.
    let shutdown = swarmgate_service::wait_for_signal();
    let piece_length = u64::from(torrent.piece_length());
    let total = torrent.total_length();
    let result = run(
        Arc::clone(&torrent),
        config,
        |p| draw(&bar, p, piece_length, total, use_dht),
        shutdown,
    )
    .await;
    bar.finish_and_clear();
    match result {
        Err(RunError::Storage(StorageError::DiskFull { path })) => bail!(
            "no space left on device writing {}: free space and run the same command again; \
             verified pieces are kept",
            path.display()
        ),
        other => other.with_context(|| format!("{}", args.output.display())),
    }
}

async fn bind(args: &DownloadArgs) -> anyhow::Result<TcpListener> {
    if let Some(port) = args.port {
        return TcpListener::bind((args.bind, port))
            .await
            .with_context(|| format!("listening on {}:{port}", args.bind));
    }
    for port in 6881..=6889 {
        if let Ok(listener) = TcpListener::bind((args.bind, port)).await {
            return Ok(listener);
        }
    }
    TcpListener::bind((args.bind, 0))
        .await
        .with_context(|| format!("listening on {}", args.bind))
}

/// The DHT node, unless `--no-dht`: on `--bind`, at `--dht-port` or else the peer port's number
/// when free (any free port when not).
async fn start_dht(args: &DownloadArgs, peer_port: u16) -> anyhow::Result<Option<Dht>> {
    if args.no_dht {
        return Ok(None);
    }
    let bootstrap = resolve_bootstrap(&args.dht_bootstrap)
        .await
        .context("--dht-bootstrap")?;
    let state_file = args
        .dht_state
        .clone()
        .or_else(|| bootstrap.is_empty().then(default_state_file).flatten());
    let config = DhtConfig {
        node: node_config(args.bind, &bootstrap),
        bootstrap: bootstrap_names(&bootstrap),
        state_file: state_file.clone(),
        ..DhtConfig::default()
    };
    let at = |port| SocketAddr::new(args.bind, port);
    let dht = match args.dht_port {
        Some(port) => Dht::bind(at(port), config).await.context("--dht-port")?,
        None => match Dht::bind(at(peer_port), config.clone()).await {
            Ok(dht) => dht,
            Err(_) => Dht::bind(at(0), config).await?,
        },
    };
    if !args.quiet {
        let table = state_file.map_or("not kept".to_owned(), |p| p.display().to_string());
        eprintln!("DHT node on {} (routing table: {table})", dht.local_addr());
    }
    Ok(Some(dht))
}

fn random_suffix() -> anyhow::Result<[u8; 12]> {
    let mut suffix = [0u8; 12];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(suffix)
}

fn progress_bar(quiet: bool, total: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {bytes}/{total_bytes} {msg} ETA {eta}",
        )
        .expect("the template is valid"),
    );
    bar
}

fn draw(bar: &ProgressBar, progress: &Progress, piece_length: u64, total: u64, dht: bool) {
    match progress.phase {
        Phase::Checking(done, _) => {
            bar.set_position(done);
            bar.set_message("checking existing data");
        }
        Phase::Downloading | Phase::Seeding => {
            let stats = &progress.stats;
            bar.set_position((u64::from(stats.pieces_have) * piece_length).min(total));
            let state = if progress.phase == Phase::Seeding {
                "seeding"
            } else {
                "down"
            };
            let found = if dht {
                format!(" ({} found on the DHT)", progress.dht_peers)
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{state} {}/s up {}/s, {} peers{found}",
                size(stats.download_rate),
                size(stats.upload_rate),
                stats.peers
            ));
        }
    }
}

fn print_summary(summary: &Summary, dht: bool) {
    let stats = &summary.stats;
    let seconds = summary.download_time.as_secs_f64().max(0.001);
    let fetched = stats.downloaded;
    eprintln!(
        "{}: {} in {:.1} s, average {}/s; {} of {} pieces fetched ({} were on disk), {} peers \
         used, {} uploaded, {} hash failures, {} peers banned{}",
        if summary.complete {
            "complete"
        } else {
            "incomplete"
        },
        size(summary.size),
        seconds,
        size((fetched as f64 / seconds) as u64),
        stats.pieces_fetched,
        stats.pieces_total,
        summary.pieces_on_disk,
        stats.peers_used,
        size(stats.uploaded),
        stats.hash_failures,
        stats.banned,
        if dht {
            format!(", {} peers found on the DHT", summary.dht_peers)
        } else {
            String::new()
        },
    );
}
