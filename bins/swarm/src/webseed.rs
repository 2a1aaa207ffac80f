//! `swarm webseed`: serve a file or a folder as a BEP 19 web seed, and write the .torrent whose
//! `url-list` points at it.
//!
//! The listener is bound first, so that `--addr 127.0.0.1:0` works: the torrent's `url-list`
//! carries the port the system chose (`http://ADDR/`; BEP 19 clients append the name, and for a
//! folder the file's path). The torrent is v1 only, with no pad files: aria2c reads only v1
//! torrents and would ask the web seed for pad files as if they were real ones. The files are
//! served through swarmgate-webseed's router (reads on the async workers, as nginx does: local
//! files are usually in the page cache), by default through a piece cache (`--cache`, see
//! `webseed_cache`), until SIGINT or SIGTERM; then answers in flight get a few seconds to
//! finish, the cache's hit ratio is printed and the command exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use swarmgate_metainfo::TorrentBuilder;
use swarmgate_storage::PieceCache;
use swarmgate_webseed::{DirectorySource, ServerConfig, router, serve};
use tokio::net::TcpListener;

use crate::format::{parse_bytes, size};
use swarmgate_service::wait_for_signal;

use crate::process::write_atomically;
use crate::webseed_cache::CachedSource;

/// How long answers in flight may run on after SIGINT or SIGTERM.
const DRAIN: Duration = Duration::from_secs(5);

/// Arguments of `swarm webseed`.
#[derive(Args, Debug)]
pub(crate) struct WebseedArgs {
    /// The file or folder to serve.
    path: PathBuf,
    /// The address to serve on, as clients reach it (port 0: any free port; the torrent names
    /// the one chosen).
    #[arg(long, value_name = "ADDR")]
    addr: SocketAddr,
    /// Where to write the .torrent (replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    torrent_out: PathBuf,
    /// Piece length: a power of two from 16K to 256M (default: chosen for 1,250-2,500 pieces).
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    piece_length: Option<u64>,
    /// Bytes of whole pieces kept in memory for repeated requests (0: read the disk every time).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "64M")]
    cache: u64,
}

pub(crate) fn run_webseed(args: &WebseedArgs) -> anyhow::Result<()> {
    let path = args
        .path
        .canonicalize()
        .with_context(|| format!("{}", args.path.display()))?;
    let root = path
        .parent()
        .context("the path has no parent folder")?
        .to_path_buf();
    let listener = std::net::TcpListener::bind(args.addr)
        .with_context(|| format!("listening on {}", args.addr))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let url = format!("http://{local}/");

    let mut builder = TorrentBuilder::new(&path).web_seed(&url);
    if let Some(length) = args.piece_length {
        builder = builder.piece_length(length);
    }
    let created = builder
        .build()
        .with_context(|| format!("{}", path.display()))?;
    write_atomically(&args.torrent_out, &created.bytes)?;
    let torrent = Arc::new(created.torrent);
    eprintln!(
        "webseed: wrote {} ({}, {} pieces of {})",
        args.torrent_out.display(),
        size(torrent.data_length()),
        torrent.piece_count(),
        size(u64::from(torrent.piece_length()))
    );

    let source = DirectorySource::new().with(torrent.name(), Arc::clone(&torrent), root);
    let cache = (args.cache > 0).then(|| Arc::new(PieceCache::new(args.cache)));
    let served = cache.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        // Local files, most likely in the page cache: read on the async workers, as nginx does.
        let mut config = ServerConfig::default();
        config.inline_reads = true;
        let app = match &cache {
            Some(cache) => {
                let cached = CachedSource::new(source, Arc::clone(&torrent), Arc::clone(cache));
                router(Arc::new(cached), config)
            }
            None => router(Arc::new(source), config),
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut server = tokio::spawn(serve(listener, app, async move {
            // A dropped sender also means stop.
            let _ = stop_rx.await;
        }));
        eprintln!("webseed: serving {} on {url}", path.display());
        tokio::select! {
            () = wait_for_signal() => {}
            ended = &mut server => return ended.context("the server task failed")?.context("serving"),
        }
        let _ = stop_tx.send(());
        // Let answers in flight finish, for a while.
        if let Ok(ended) = tokio::time::timeout(DRAIN, server).await {
            ended.context("the server task failed")?.context("serving")?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    match served {
        Some(cache) => {
            let stats = cache.stats();
            eprintln!(
                "webseed: stopped; piece cache: {} hits, {} misses ({:.1} % hit ratio)",
                stats.hits,
                stats.misses,
                100.0 * stats.hit_ratio()
            );
        }
        None => eprintln!("webseed: stopped"),
    }
    Ok(())
}
