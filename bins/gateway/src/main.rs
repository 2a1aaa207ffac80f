//! `gateway`: parse the settings, start, serve until SIGINT or SIGTERM, stop cleanly.

use clap::Parser;
use swarmgate_gateway::{Config, Gateway, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = Settings::parse();
    let config = match settings.resolve() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gateway: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    // Under a file size limit an upload past it is answered 507, not the end of the process.
    swarmgate_service::survive_file_size_limit();
    raise_fd_limit();
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("gateway: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit on open files to the hard limit, as most servers do: the soft limit
/// is often 1,024, below what `[peers] max_peers` plus the half-open sockets, the HTTP
/// connections and the open stored files can add up to. The configured caps, not this limit,
/// are what bound the gateway's descriptors.
#[cfg(unix)]
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    // `None` is "unlimited": nothing to raise, or nothing to raise it to.
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), Some(maximum)) = (limit.current, limit.maximum) else {
        return;
    };
    if current < maximum {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::debug!(current, maximum, "raised the open-file limit"),
            Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
        }
    }
}

#[cfg(not(unix))]
fn raise_fd_limit() {}

async fn run(config: Config) -> anyhow::Result<()> {
    let data_dir = config.storage.data_dir.clone();
    let gateway = Gateway::start(config).await?;
    let bound = gateway.bound();
    let loaded = gateway.loaded();
    tracing::info!(
        files = loaded.files,
        broken = loaded.broken,
        swept = loaded.swept,
        data_dir = %data_dir.display(),
        "loaded the stored files"
    );
    tracing::info!("HTTP API, tracker and web seed on http://{}", bound.http);
    tracing::info!("UDP tracker on udp://{}", bound.udp);
    tracing::info!(
        "peers on {} (announced as {})",
        bound.peer,
        gateway.peer_announce()
    );
    match bound.dht {
        Some(dht) => tracing::info!("DHT node on udp://{dht}"),
        None => tracing::info!("no DHT node (--no-dht)"),
    }
    match bound.blossom {
        Some(blossom) => tracing::info!("Blossom on http://{blossom}"),
        None => tracing::info!("no Blossom server (--no-blossom)"),
    }
    tracing::info!("public URL {}", gateway.public_url());
    gateway
        .run_until(swarmgate_service::wait_for_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
