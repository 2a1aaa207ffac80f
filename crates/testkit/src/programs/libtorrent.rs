//! python3-libtorrent peers for interop tests (BEP 3, BEP 9 through libtorrent): the
//! `support/lt_peer.py` script of this crate creates torrents, seeds and leeches, on 127.0.0.1
//! only, over plain TCP.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::Running;

/// The script: `lt_peer.py create|seed|leech …` (its docstring describes each command).
pub const LT_PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/support/lt_peer.py");

/// A running python3-libtorrent peer with its listening port.
#[derive(Debug)]
pub struct LtPeer {
    /// The script's process; its stdout lines are its protocol (`READY`, `DONE`, `TIMEOUT`).
    pub process: Running,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// `/usr/bin/python3 lt_peer.py ARGS…` (the system Python, which has the libtorrent module).
pub fn lt_command(args: &[&str]) -> Command {
    let mut command = Command::new("/usr/bin/python3");
    command.arg(LT_PEER).args(args);
    command
}

/// Makes a torrent of `path` at `out` with libtorrent (hybrid with pad files unless `v1_only`).
///
/// # Panics
/// If the script fails.
pub fn lt_create(path: &Path, out: &Path, trackers: &[String], v1_only: bool) {
    let mut command = lt_command(&["create"]);
    command.arg(path).arg(out);
    for tracker in trackers {
        command.arg("--tracker").arg(tracker);
    }
    if v1_only {
        command.arg("--v1-only");
    }
    let output = command.output().expect("run lt_peer.py create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A libtorrent seeder of `torrent` from `save`, once it seeds (and its tracker has it).
pub fn lt_seed(torrent: &Path, save: &Path, upload_limit: Option<u64>) -> LtPeer {
    let mut command = lt_command(&["seed"]);
    command.arg(torrent).arg(save);
    if let Some(limit) = upload_limit {
        command.arg("--upload-limit").arg(limit.to_string());
    }
    started(Running::spawn(command))
}

/// A libtorrent leecher of `source` (a .torrent path or a magnet link) into `save`, dialling
/// `peers` as well as finding peers through the torrent's trackers.
pub fn lt_leech(source: &str, save: &Path, peers: &[SocketAddr]) -> LtPeer {
    let mut command = lt_command(&["leech", source]);
    command.arg(save);
    for peer in peers {
        command.arg("--peer").arg(peer.to_string());
    }
    started(Running::spawn(command))
}

/// A libtorrent leecher of `source` into `save` with more `lt_peer.py leech` options
/// (`--timeout S`, `--linger`, …), finding peers through the torrent's trackers only.
pub fn lt_leech_with(source: &str, save: &Path, options: &[&str]) -> LtPeer {
    let mut command = lt_command(&["leech", source]);
    command.arg(save).args(options);
    started(Running::spawn(command))
}

/// The peer once it printed `READY <port>` (within 60 s).
///
/// # Panics
/// If it does not.
pub fn started(mut process: Running) -> LtPeer {
    let line = process.expect_line("READY", Duration::from_secs(60));
    let port: u16 = line
        .strip_prefix("READY ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("READY <port>, got {line:?}"));
    LtPeer {
        process,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_ships_with_the_crate() {
        let script = std::fs::read_to_string(LT_PEER).unwrap();
        assert!(script.contains("def leech(args)"));
    }

    #[test]
    fn a_peer_that_prints_its_port_is_started() {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg("echo READY 4242; exec sleep 30");
        let peer = started(Running::spawn(command));
        assert_eq!(peer.addr, SocketAddr::from(([127, 0, 0, 1], 4242)));
    }
}
