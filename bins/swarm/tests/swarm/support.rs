//! The `swarm` binary as the interop tests run it; the third-party programs (python3-libtorrent
//! peers, opentracker, aria2c) and the helpers around them come from
//! `swarmgate_testkit::programs`, shared with the gateway's tests. Every wait is bounded.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) use swarmgate_testkit::programs::{
    Opentracker, Running, answers_handshake, aria2_seed, free_port, hex_decode, lt_create,
    lt_leech, lt_seed, sha256, tree_digest, write_random,
};

/// Runs `swarm` with `args`, killing it after `timeout`.
pub(crate) fn swarm(args: &[String], timeout: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start swarm");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("swarm ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("swarm {args:?} took longer than {timeout:?}");
        }
    }
}

/// Spawns `swarm` with `args` without waiting.
pub(crate) fn spawn_swarm(args: &[String]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_swarm"));
    command.args(args);
    Running::spawn(command)
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
