//! `swarm create`: a .torrent for a file or a folder, hashed on every core, with a progress bar.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use swarmgate_metainfo::{Magnet, TorrentBuilder};

use crate::format::{parse_bytes, size};
use crate::process::write_atomically;

/// Arguments of `swarm create`.
#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    /// The file or folder to share.
    path: PathBuf,
    /// Where to write the .torrent (default: NAME.torrent in the current folder).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// A tracker announce URL; repeat for more (each in its own tier).
    #[arg(short, long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// A web seed URL (BEP 19); repeat for more.
    #[arg(short, long = "web-seed", value_name = "URL")]
    web_seeds: Vec<String>,
    /// Piece length: a power of two from 16K to 256M (default: chosen for 1,250-2,500 pieces).
    #[arg(short = 'l', long, value_parser = parse_bytes)]
    piece_length: Option<u64>,
    /// Mark the torrent private (BEP 27): trackers only, no DHT or peer exchange.
    #[arg(long)]
    private: bool,
    /// Make a hybrid v1+v2 torrent (BEP 52), with pad files aligning every file to a piece.
    #[arg(long)]
    hybrid: bool,
    /// A comment to embed.
    #[arg(short, long)]
    comment: Option<String>,
    /// Leave out the creation date, so the same input always gives the same bytes.
    #[arg(long)]
    no_date: bool,
    /// Hashing threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Read the files with read() instead of memory-mapping them (slower; use it when a file may
    /// be truncated while it is hashed).
    #[arg(long)]
    no_mmap: bool,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    force: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

pub(crate) fn run(args: &CreateArgs) -> anyhow::Result<()> {
    let name = args
        .path
        .canonicalize()
        .with_context(|| format!("{}", args.path.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the path has no file name")?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.torrent")));
    if output.exists() && !args.force {
        bail!(
            "{}: already exists (use --force to overwrite)",
            output.display()
        );
    }

    let mut builder = TorrentBuilder::new(&args.path)
        .private(args.private)
        .hybrid(args.hybrid);
    if let Some(length) = args.piece_length {
        builder = builder.piece_length(length);
    }
    for url in &args.trackers {
        builder = builder.tracker(url);
    }
    for url in &args.web_seeds {
        builder = builder.web_seed(url);
    }
    if let Some(comment) = &args.comment {
        builder = builder.comment(comment);
    }
    if args.no_date {
        builder = builder.creation_date(None);
    }
    builder = builder.memory_map(!args.no_mmap);
    if let Some(threads) = args.threads {
        builder = builder.threads(threads);
    }

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("hashing {bar:40.cyan/blue} {percent:>3}% {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let created = builder
        .build_with_progress(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("{}", args.path.display()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    write_atomically(&output, &created.bytes)?;
    let torrent = &created.torrent;
    if !args.quiet {
        let rate = torrent.data_length() as f64 / elapsed.as_secs_f64().max(1e-9);
        eprintln!(
            "hashed {} in {:.2} s ({}/s), {} pieces of {}",
            size(torrent.data_length()),
            elapsed.as_secs_f64(),
            size(rate as u64),
            torrent.piece_count(),
            size(u64::from(torrent.piece_length()))
        );
    }
    println!("{}", output.display());
    if let Some(v1) = torrent.info_hash().v1() {
        println!("info-hash v1: {v1}");
    }
    if let Some(v2) = torrent.info_hash().v2() {
        println!("info-hash v2: {v2}");
    }
    println!("magnet: {}", Magnet::from_torrent(torrent));
    Ok(())
}
