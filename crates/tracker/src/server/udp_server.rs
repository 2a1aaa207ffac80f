//! The UDP tracker's socket driver (BEP 15): worker threads blocking on one socket, each
//! datagram answered by [`Tracker::handle_udp`].
//!
//! Plain threads rather than tokio tasks: a UDP tracker's whole job is receive, look up, send,
//! and a thread blocked in `recvfrom` does that with two system calls per request and no
//! wake-up machinery in between. The workers share the socket (the kernel hands each datagram
//! to one of them) and the tracker (sharded locks), so the workers scale with the cores. Each
//! thread wakes every 200 ms to see whether it should stop.

use std::future::Future;
use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Tracker;

/// How often a blocked worker looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// Larger than any valid request (a 74-hash scrape is 1496 bytes); longer datagrams are cut
/// and then fail to parse.
const MAX_DATAGRAM: usize = 2048;

fn work(socket: &UdpSocket, tracker: &Tracker, stop: &AtomicBool) {
    let mut packet = [0u8; MAX_DATAGRAM];
    let mut answer = Vec::with_capacity(MAX_DATAGRAM);
    while !stop.load(Ordering::Relaxed) {
        let (len, source) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            // Timeouts let the loop see the stop flag; other errors (an ICMP "port
            // unreachable" reported for an earlier answer) concern one client only.
            Err(_) => continue,
        };
        if tracker
            .handle_udp(Instant::now(), &packet[..len], source, &mut answer)
            .is_send()
        {
            // A lost answer is a lost datagram: the client retransmits.
            let _ = socket.send_to(&answer, source);
        }
    }
}

/// Serves BEP 15 on `socket` with `workers` threads (at least one) until `shutdown` resolves,
/// then waits for the threads to finish (at most one poll interval).
pub async fn serve_udp(
    socket: UdpSocket,
    tracker: Arc<Tracker>,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    socket.set_read_timeout(Some(POLL))?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for n in 0..workers.max(1) {
        let socket = socket.try_clone()?;
        let tracker = Arc::clone(&tracker);
        let worker_stop = Arc::clone(&stop);
        let spawned = thread::Builder::new()
            .name(format!("udp-tracker-{n}"))
            .spawn(move || work(&socket, &tracker, &worker_stop));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
    shutdown.await;
    stop.store(true, Ordering::Relaxed);
    let joined = tokio::task::spawn_blocking(move || {
        for thread in threads {
            // A worker that panicked has nothing left to clean up.
            let _ = thread.join();
        }
    });
    joined.await.map_err(io::Error::other)
}
