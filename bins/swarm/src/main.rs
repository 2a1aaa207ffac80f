//! `swarm`: the Swarmgate command-line BitTorrent client.
//!
//! Thin by design: arguments are parsed here, each subcommand lives in its own module and calls
//! into the library crates. Errors print as one line, `swarm: <what>: <why>`, with exit code 1.

mod create;
mod dht;
mod download;
mod format;
mod process;
mod show;
mod tracker;
mod webseed;
mod webseed_cache;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A BitTorrent client and toolkit built on the Swarmgate crates.
#[derive(Parser, Debug)]
#[command(name = "swarm", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print what a .torrent file or a magnet link describes.
    Show(show::ShowArgs),
    /// Create a .torrent for a file or a folder.
    Create(create::CreateArgs),
    /// Download a .torrent or a magnet link, verifying every piece.
    Download(download::DownloadArgs),
    /// Run a BitTorrent tracker (HTTP and UDP) until SIGINT or SIGTERM.
    Tracker(tracker::TrackerArgs),
    /// Serve a file or a folder as a BEP 19 web seed and write its .torrent, until SIGINT or
    /// SIGTERM.
    Webseed(webseed::WebseedArgs),
    /// The mainline DHT (BEP 5): run a node, or look up the peers of a torrent.
    Dht(dht::DhtArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Show(args) => show::run(&args),
        Command::Create(args) => create::run(&args),
        Command::Download(args) => download::run_download(&args),
        Command::Tracker(args) => tracker::run_tracker(&args),
        Command::Webseed(args) => webseed::run_webseed(&args),
        Command::Dht(args) => dht::run_dht(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("swarm: {error:#}");
            ExitCode::FAILURE
        }
    }
}
