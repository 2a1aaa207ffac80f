//! `swarm download`: fetch a .torrent or a magnet link from the swarm, verify every piece, and
//! optionally keep seeding.
//!
//! The work is swarmgate-session's `run`; this module parses the arguments, resolves a magnet link
//! to its info dictionary, draws the progress bar and prints the summary. Ctrl+C stops cleanly:
//! peers closed, files flushed, `stopped` announced, and the next run resumes from what is on
//! disk. The exit code is 0 only when every piece is verified.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use swarmgate_core::PeerId;
use swarmgate_metainfo::{Magnet, Torrent};
use swarmgate_session::{MagnetOptions, Phase, Progress, RunConfig, Summary, resolve_magnet, run};
use tokio::net::TcpListener;

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
    let summary = runtime.block_on(download(args))?;
    print_summary(&summary);
    if !summary.complete {
        bail!(
            "stopped with {} of {} pieces verified; run the same command again to resume",
            summary.stats.pieces_have,
            summary.stats.pieces_total
        );
    }
    Ok(())
}

async fn download(args: &DownloadArgs) -> anyhow::Result<Summary> {
    let peer_id = PeerId::swarmgate(random_suffix()?);
    let listener = bind(args).await?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut trackers = Vec::new();
    let mut peers = args.peers.clone();
    let torrent = if args.source.starts_with("magnet:") {
        let magnet = Magnet::parse(&args.source)
            .with_context(|| format!("{}: not a valid magnet link", args.source))?;
        trackers = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
        peers.extend(magnet.peers.iter().copied());
        let options = MagnetOptions {
            peer_id,
            port,
            peers: peers.clone(),
            use_trackers: !args.no_trackers,
            timeout: Duration::from_secs(120),
        };
        if !args.quiet {
            eprintln!("fetching metadata for {}", magnet.info_hash);
        }
        resolve_magnet(&magnet, &options)
            .await
            .with_context(|| format!("{}: fetching the metadata", args.source))?
    } else {
        let bytes = std::fs::read(&args.source).with_context(|| args.source.clone())?;
        Torrent::from_bytes(&bytes).with_context(|| args.source.clone())?
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
        |p| draw(&bar, p, piece_length, total),
        shutdown,
    )
    .await;
    bar.finish_and_clear();
    result.with_context(|| format!("{}", args.output.display()))
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

fn draw(bar: &ProgressBar, progress: &Progress, piece_length: u64, total: u64) {
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
            bar.set_message(format!(
                "{state} {}/s up {}/s, {} peers",
                size(stats.download_rate),
                size(stats.upload_rate),
                stats.peers
            ));
        }
    }
}

fn print_summary(summary: &Summary) {
    let stats = &summary.stats;
    let seconds = summary.download_time.as_secs_f64().max(0.001);
    let fetched = stats.downloaded;
    eprintln!(
        "{}: {} in {:.1} s, average {}/s; {} of {} pieces fetched ({} were on disk), {} peers \
         used, {} uploaded, {} hash failures, {} peers banned",
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
    );
}
